package dev.faketikv.pd.br;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.faketikv.engine.codec.BytesCodec;
import dev.faketikv.engine.region.Region;
import dev.faketikv.pd.FakeCluster;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tikv.kvproto.Kvrpcpb;
import org.tikv.kvproto.Metapb;
import org.tikv.kvproto.Pdpb;

/** {@code Tikv/SplitRegion} answered as TiKV 5.4 answers it, errors included; what it creates is PD's at once. */
class SplitRegionTest {
    static FakeCluster cluster;
    static Br54Calls br;

    @BeforeAll
    static void start() throws Exception {
        cluster = FakeCluster.builder().stores(2).seed("raw:keys=200,regions=2,seed=3").start();
        br = new Br54Calls(cluster);
    }

    @AfterAll
    static void stop() {
        br.close();
        cluster.close();
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    static Kvrpcpb.SplitRegionRequest.Builder req(Region r, long store) {
        return Kvrpcpb.SplitRegionRequest.newBuilder().setContext(Kvrpcpb.Context.newBuilder().setRegionId(r.id())
                .setRegionEpoch(Metapb.RegionEpoch.newBuilder().setConfVer(r.confVer()).setVersion(r.version()))
                .setPeer(Metapb.Peer.newBuilder().setId(r.peerOn(store).id()).setStoreId(store)));
    }

    /** The region holding raw key {@code k}. */
    static Region at(String k) {
        return cluster.regions().locate(b(k));
    }

    @Test
    void regionErrorsAsRaftstoreGivesThem() {
        Region r = at("r000000000150");
        long leader = r.leaderStoreId();
        long follower = leader == 1 ? 2 : 1;
        int regionsBefore = cluster.regions().size();

        Kvrpcpb.SplitRegionResponse notLeader = br.tikv(follower).splitRegion(req(r, follower).addSplitKeys(ByteString.copyFrom(b("r000000000160")))
                .setIsRawKv(true).build());
        assertThat(notLeader.getRegionError().getNotLeader().getRegionId()).isEqualTo(r.id());
        assertThat(notLeader.getRegionError().getNotLeader().getLeader().getStoreId()).isEqualTo(leader);

        Kvrpcpb.SplitRegionRequest.Builder stale = req(r, leader).addSplitKeys(ByteString.copyFrom(b("r000000000160"))).setIsRawKv(true);
        stale.getContextBuilder().getRegionEpochBuilder().setVersion(r.version() - 1);
        Kvrpcpb.SplitRegionResponse epoch = br.tikv(leader).splitRegion(stale.build());
        assertThat(epoch.getRegionError().getEpochNotMatch().getCurrentRegionsList()).extracting(Metapb.Region::getId).containsExactly(r.id());
        assertThat(epoch.getRegionError().getMessage()).contains("epoch changed").endsWith("retry later");

        Kvrpcpb.SplitRegionResponse outside = br.tikv(leader).splitRegion(req(r, leader).setIsRawKv(true)
                .addSplitKeys(ByteString.copyFrom(r.endKey().length == 0 ? b("a") : r.endKey())).build());
        assertThat(outside.getRegionError().hasKeyNotInRegion() || outside.getRegionError().getMessage().startsWith("invalid split request"))
                .as(outside.getRegionError().toString()).isTrue();

        Kvrpcpb.SplitRegionResponse none = br.tikv(leader).splitRegion(req(r, leader).setIsRawKv(true).build());
        assertThat(none.getRegionError().getMessage()).endsWith("no split key is specified.");

        Kvrpcpb.SplitRegionResponse emptyKey = br.tikv(leader).splitRegion(req(r, leader).setIsRawKv(true).addSplitKeys(ByteString.EMPTY).build());
        assertThat(emptyKey.getRegionError().getMessage()).endsWith("split key should not be empty");

        Kvrpcpb.SplitRegionResponse atStart = br.tikv(leader).splitRegion(req(r, leader).setIsRawKv(true)
                .addSplitKeys(ByteString.copyFrom(r.startKey())).build());
        assertThat(atStart.getRegionError().getMessage()).startsWith(r.startKey().length == 0 ? "[region" : "invalid split request");

        Kvrpcpb.SplitRegionResponse twice = br.tikv(leader).splitRegion(req(r, leader).setIsRawKv(true)
                .addSplitKeys(ByteString.copyFrom(b("r000000000160"))).addSplitKeys(ByteString.copyFrom(b("r000000000160"))).build());
        assertThat(twice.getRegionError().getMessage()).startsWith("invalid split request");

        Kvrpcpb.SplitRegionRequest.Builder lost = req(r, leader).setIsRawKv(true).addSplitKeys(ByteString.copyFrom(b("r000000000160")));
        lost.getContextBuilder().setRegionId(987654);
        assertThat(br.tikv(leader).splitRegion(lost.build()).getRegionError().getRegionNotFound().getRegionId()).isEqualTo(987654);

        assertThat(cluster.regions().size()).as("no failed call split anything").isEqualTo(regionsBefore);
        assertThat(cluster.regions().get(r.id())).isEqualTo(r);
    }

    @Test
    void singleKeyFormAnswersLeftAndRightAndPdSeesBoth() {
        Region r = at("r000000000020");
        long leader = r.leaderStoreId();
        Kvrpcpb.SplitRegionResponse resp = br.tikv(leader).splitRegion(req(r, leader).setIsRawKv(true)
                .setSplitKey(ByteString.copyFrom(b("r000000000020"))).build());
        assertThat(resp.hasRegionError()).as(resp.getRegionError().toString()).isFalse();
        assertThat(resp.getRegionsList()).hasSize(2);
        assertThat(resp.getLeft()).isEqualTo(resp.getRegions(0));
        assertThat(resp.getRight()).isEqualTo(resp.getRegions(1));
        assertThat(resp.getRight().getId()).isEqualTo(r.id());
        assertThat(resp.getLeft().getId()).isNotEqualTo(r.id());
        assertThat(resp.getLeft().getEndKey().toByteArray()).isEqualTo(b("r000000000020"));
        assertThat(resp.getLeft().getRegionEpoch().getVersion()).isEqualTo(r.version() + 1);
        Pdpb.GetRegionResponse pd = br.pd.getRegion(Pdpb.GetRegionRequest.newBuilder().setHeader(br.h())
                .setRegionKey(ByteString.copyFrom(b("r000000000019"))).build());
        assertThat(pd.getRegion()).isEqualTo(resp.getLeft());
        assertThat(pd.getLeader().getStoreId()).isEqualTo(leader);
    }

    @Test
    void txnKeysAreEncodedAndABatchBumpsEveryVersionByItsSize() {
        Region r = at("zzz");
        long leader = r.leaderStoreId();
        List<String> keys = List.of("zzz3", "zzz1", "zzz2");
        Kvrpcpb.SplitRegionRequest.Builder q = req(r, leader);
        keys.forEach(k -> q.addSplitKeys(ByteString.copyFrom(b(k))));
        Kvrpcpb.SplitRegionResponse resp = br.tikv(leader).splitRegion(q.build());
        assertThat(resp.hasRegionError()).as(resp.getRegionError().toString()).isFalse();
        assertThat(resp.getRegionsList()).hasSize(4).allSatisfy(n -> assertThat(n.getRegionEpoch().getVersion()).isEqualTo(r.version() + 3));
        assertThat(resp.getRegionsList()).extracting(n -> n.getEndKey()).containsExactly(ByteString.copyFrom(BytesCodec.encode(b("zzz1"))),
                ByteString.copyFrom(BytesCodec.encode(b("zzz2"))), ByteString.copyFrom(BytesCodec.encode(b("zzz3"))), ByteString.copyFrom(r.endKey()));
        assertThat(resp.hasLeft()).as("left/right only for exactly two regions").isFalse();
        for (Metapb.Region n : resp.getRegionsList()) {
            assertThat(cluster.regions().get(n.getId()).version()).isEqualTo(n.getRegionEpoch().getVersion());
        }
    }

    @Test
    void scatterAndOperatorsAsPdAnswersThem() {
        Region r = at("r000000000199");
        Pdpb.GetOperatorResponse none = br.pd.getOperator(Pdpb.GetOperatorRequest.newBuilder().setHeader(br.h()).setRegionId(424242).build());
        assertThat(none.getHeader().getError().getType()).isEqualTo(Pdpb.ErrorType.REGION_NOT_FOUND);
        assertThat(none.getHeader().getError().getMessage()).isEqualTo("Not Found");
        Pdpb.ScatterRegionResponse batch = br.pd.scatterRegion(Pdpb.ScatterRegionRequest.newBuilder().setHeader(br.h())
                .addRegionsId(r.id()).addRegionsId(424242).build());
        assertThat(batch.getHeader().hasError()).isFalse();
        assertThat(batch.getFinishedPercentage()).isEqualTo(50);
        Pdpb.GetOperatorResponse op = br.pd.getOperator(Pdpb.GetOperatorRequest.newBuilder().setHeader(br.h()).setRegionId(r.id()).build());
        assertThat(op.getRegionId()).isEqualTo(r.id());
        assertThat(op.getDesc().toStringUtf8()).isEqualTo("scatter-region");
        assertThat(op.getStatus()).isEqualTo(Pdpb.OperatorStatus.SUCCESS);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> br.pd.scatterRegion(Pdpb.ScatterRegionRequest.newBuilder().setHeader(br.h())
                .setRegionId(424242).build())).hasMessageContaining("region 424242 not found");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> br.pd.getOperator(Pdpb.GetOperatorRequest.newBuilder().setRegionId(r.id()).build()))
                .hasMessageContaining("mismatch cluster id");
    }
}

package dev.faketikv.pd.cluster;

import dev.faketikv.server.raftstore.Regions;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.faketikv.client.br.BrBackup;
import dev.faketikv.client.br.BrStorage;
import dev.faketikv.engine.Cf;
import dev.faketikv.engine.region.Region;
import dev.faketikv.pd.FakeCluster;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.ImportSSTGrpc;
import org.tikv.kvproto.ImportSstpb;
import org.tikv.kvproto.Kvrpcpb;
import org.tikv.kvproto.Metapb;

/**
 * {@code import_sstpb.ImportSST} on the fake, call by call: what TiKV checks on Download and on Ingest, each
 * refusal clear, nothing ingested by a refused call, and the store serving on.
 */
class ImportSstServiceTest {
    @TempDir
    static Path tmp;
    static FakeCluster source;
    static FakeCluster target;
    static Path dir;
    static Brpb.File file;
    static final List<ManagedChannel> channels = new ArrayList<>();

    @BeforeAll
    static void backUp() throws Exception {
        source = FakeCluster.builder().stores(3).seed("raw:keys=2000,regions=4,value-size=50,seed=8").start();
        target = FakeCluster.builder().stores(3).start();
        dir = tmp.resolve("backup");
        BrBackup.Result r = BrBackup.run(new BrBackup.Options(source.pdAddr(), true, null, null, "default", 0, 4, Brpb.CompressionType.LZ4,
                null, BrStorage.parse("local://" + dir), 300, 0.01, null));
        file = r.meta().getFilesList().stream().filter(f -> f.getTotalKvs() > 100 && f.getStartKey().size() > 0).findFirst().orElseThrow();
    }

    @AfterAll
    static void close() {
        channels.forEach(ManagedChannel::shutdownNow);
        source.close();
        target.close();
    }

    @AfterEach
    void nothingLeftStaged() {
        target.stores().forEach(s -> s.importer().staged().keySet().forEach(u -> s.importer().discard(java.util.HexFormat.of().parseHex(u))));
    }

    static ImportSSTGrpc.ImportSSTBlockingStub importer(long store) {
        return importer(target, store);
    }

    static ImportSSTGrpc.ImportSSTBlockingStub importer(FakeCluster c, long store) {
        ManagedChannel ch = ManagedChannelBuilder.forTarget(c.store(store).addr()).usePlaintext().build();
        channels.add(ch);
        return ImportSSTGrpc.newBlockingStub(ch);
    }

    static Region only() {
        return target.regions().all().get(0);
    }

    static ImportSstpb.SSTMeta meta(Region r, long length) {
        byte[] uuid = new byte[16];
        new SecureRandom().nextBytes(uuid);
        return ImportSstpb.SSTMeta.newBuilder().setUuid(ByteString.copyFrom(uuid)).setLength(length).setCfName("default")
                .setRegionId(r.id()).setRegionEpoch(Metapb.RegionEpoch.newBuilder().setConfVer(r.confVer()).setVersion(r.version()))
                .setEndKeyExclusive(true).setCipherIv(file.getCipherIv()).build();
    }

    static ImportSstpb.DownloadRequest download(ImportSstpb.SSTMeta m, String name) {
        return ImportSstpb.DownloadRequest.newBuilder().setSst(m).setName(name).setIsRawKv(true)
                .setStorageBackend(BrStorage.parse("local://" + dir).backend()).build();
    }

    static Kvrpcpb.Context ctx(Region r, long leaderStore) {
        return Kvrpcpb.Context.newBuilder().setRegionId(r.id())
                .setRegionEpoch(Metapb.RegionEpoch.newBuilder().setConfVer(r.confVer()).setVersion(r.version()))
                .setPeer(Metapb.Peer.newBuilder().setId(r.peerOn(leaderStore).id()).setStoreId(leaderStore)).build();
    }

    @Test
    void emptyMultiIngestIsTheProbeBrSendsAndUnknownRpcsAreUnimplemented() {
        // TiKV takes a snapshot of region 0 for it: a RegionNotFound body, gRPC OK (all BR looks at)
        ImportSstpb.IngestResponse probe = importer(1).multiIngest(ImportSstpb.MultiIngestRequest.getDefaultInstance());
        assertThat(probe.getError().getRegionNotFound().getRegionId()).isZero();
        assertThatThrownBy(() -> importer(1).compact(ImportSstpb.CompactRequest.getDefaultInstance()))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNIMPLEMENTED));
        importer(2).switchMode(ImportSstpb.SwitchModeRequest.newBuilder().setMode(ImportSstpb.SwitchMode.Import).build());
        assertThat(target.store(2).importer().mode()).isEqualTo(ImportSstpb.SwitchMode.Import);
        importer(2).switchMode(ImportSstpb.SwitchModeRequest.newBuilder().setMode(ImportSstpb.SwitchMode.Normal).build());
        assertThat(target.store(2).importer().mode()).isEqualTo(ImportSstpb.SwitchMode.Normal);
        importer(3).setDownloadSpeedLimit(ImportSstpb.SetDownloadSpeedLimitRequest.newBuilder().setSpeedLimit(1 << 20).build());
        assertThat(target.store(3).importer().speedLimit()).isEqualTo(1 << 20);
        importer(3).setDownloadSpeedLimit(ImportSstpb.SetDownloadSpeedLimitRequest.newBuilder().setSpeedLimit(0).build());
    }

    @Test
    void downloadRefusesBadInputClearlyAndStagesNothing() throws Exception {
        Region r = only();
        var imp = importer(1);
        assertThat(imp.download(download(meta(r, file.getSize() + 1), file.getName())).getError().getMessage())
                .contains("downloaded size " + file.getSize() + ", expected " + (file.getSize() + 1));
        assertThat(imp.download(download(meta(r, 0), "no-such-file.sst")).getError().getMessage()).contains("NotFound");
        assertThat(imp.download(download(meta(r, 0), "../../etc/passwd")).getError().getMessage()).contains("invalid file name");
        assertThat(imp.download(download(meta(r, 0).toBuilder().setUuid(ByteString.copyFromUtf8("short")).build(), file.getName()))
                .getError().getMessage()).contains("uuid must be 16 bytes");
        assertThat(imp.download(download(meta(r, 0), file.getName()).toBuilder().clearStorageBackend().build()).getError().getMessage())
                .contains("no storage_backend");
        assertThat(imp.download(download(meta(r, 0), file.getName()).toBuilder()
                .setRewriteRule(ImportSstpb.RewriteRule.newBuilder().setOldKeyPrefix(ByteString.copyFromUtf8("zz")).setNewKeyPrefix(ByteString.copyFromUtf8("yy")))
                .build()).getError().getMessage()).contains("WrongKeyPrefix");
        // a damaged copy of the same length: RocksDB's block checksums catch it
        byte[] content = Files.readAllBytes(dir.resolve(file.getName()));
        content[content.length / 3] ^= 0x21;
        Files.write(dir.resolve("damaged_default.sst"), content);
        // (RocksDB's own text, which quotes the file's bytes, is not passed on)
        assertThat(imp.download(download(meta(r, content.length), "damaged_default.sst")).getError().getMessage()).contains("not a valid SST")
                .doesNotContain("damaged_default.sst:").doesNotContain("block checksum mismatch: stored");
        assertThat(target.store(1).importer().staged()).isEmpty();
        // a range the file's keys miss: is_empty, nothing staged
        ImportSstpb.SSTMeta outside = meta(r, 0).toBuilder().setRange(ImportSstpb.Range.newBuilder()
                .setStart(ByteString.copyFromUtf8("zzz0")).setEnd(ByteString.copyFromUtf8("zzz1"))).build();
        ImportSstpb.DownloadResponse empty = imp.download(download(outside, file.getName()));
        assertThat(empty.hasError()).isFalse();
        assertThat(empty.getIsEmpty()).isTrue();
        assertThat(target.store(1).importer().staged()).isEmpty();
    }

    @Test
    void ingestChecksRegionLeaderEpochAndStagingLikeTikv() throws Exception {
        // a target of its own: "nothing ingested" below must not depend on what other tests ingest
        try (FakeCluster own = FakeCluster.builder().stores(3).start()) {
            ingestChecks(own);
        }
    }

    void ingestChecks(FakeCluster t) {
        Region r = t.regions().all().get(0);
        long leader = r.leaderStoreId();
        long follower = leader % 3 + 1;
        ImportSstpb.SSTMeta m = meta(r, file.getSize());
        for (Metapb.Peer p : Endpoint_peers(r)) {
            ImportSstpb.DownloadResponse d = importer(t, p.getStoreId()).download(download(m, file.getName()));
            assertThat(d.hasError()).as(d.getError().getMessage()).isFalse();
            assertThat(java.util.Arrays.compareUnsigned(d.getRange().getStart().toByteArray(), file.getStartKey().toByteArray())).isNotNegative();
        }
        ImportSstpb.MultiIngestRequest req = ImportSstpb.MultiIngestRequest.newBuilder().setContext(ctx(r, leader)).addSsts(m).build();

        ImportSstpb.IngestResponse notLeader = importer(t, follower).multiIngest(req);
        assertThat(notLeader.getError().getNotLeader().getLeader().getStoreId()).isEqualTo(leader);
        ImportSstpb.IngestResponse stale = importer(t, leader).multiIngest(req.toBuilder().setContext(req.getContext().toBuilder()
                .setRegionEpoch(Metapb.RegionEpoch.newBuilder().setConfVer(r.confVer()).setVersion(r.version() + 7))).build());
        assertThat(stale.getError().hasEpochNotMatch()).isTrue();
        ImportSstpb.IngestResponse lost = importer(t, leader).multiIngest(req.toBuilder().setContext(req.getContext().toBuilder().setRegionId(4242)).build());
        assertThat(lost.getError().getRegionNotFound().getRegionId()).isEqualTo(4242);
        ImportSstpb.IngestResponse unknown = importer(t, leader).multiIngest(req.toBuilder().clearSsts().addSsts(meta(r, 0)).build());
        assertThat(unknown.getError().hasStaleCommand()).isTrue();
        assertThat(unknown.getError().getMessage()).isEqualTo("The file which would be ingested doest not exist.");
        assertThat(ClusterData.count(t.engine(), Cf.DEFAULT)).isZero();

        // the context's conf_ver is not checked (a normal request checks the version only); the meta's full epoch is
        ImportSstpb.IngestResponse ok = importer(t, leader).multiIngest(req.toBuilder().setContext(req.getContext().toBuilder()
                .setRegionEpoch(Metapb.RegionEpoch.newBuilder().setConfVer(r.confVer() + 5).setVersion(r.version()))).build());
        assertThat(ok.hasError()).as(ok.getError().getMessage()).isFalse();
        assertThat(ClusterData.count(t.engine(), Cf.DEFAULT)).isEqualTo(file.getTotalKvs());
        assertThat(t.stores()).allSatisfy(s -> assertThat(s.importer().staged()).isEmpty());
        // ingesting the same uuid again: nothing staged any more
        assertThat(importer(t, leader).multiIngest(req).getError().getMessage()).isEqualTo("The file which would be ingested doest not exist.");
    }

    /** {@code check_sst_for_ingestion} (apply.rs:2768-2797): cf, the meta's region id and epoch; a refused file is deleted. */
    @Test
    void applyChecksTheMetaAsTikvDoesAndDropsTheRefusedFile() {
        Region r = only();
        long leader = r.leaderStoreId();
        record Case(ImportSstpb.SSTMeta meta, java.util.function.Consumer<org.tikv.kvproto.Errorpb.Error> check) {}
        ImportSstpb.SSTMeta base = meta(r, file.getSize());
        long before = ClusterData.count(target.engine(), Cf.DEFAULT);
        List<Case> cases = List.of(
                new Case(base.toBuilder().setCfName("lock").build(),
                        e -> assertThat(e.getMessage()).isEqualTo("\"invalid cf name lock\"")),
                new Case(base.toBuilder().setRegionId(r.id() + 100).build(),
                        e -> assertThat(e.getRegionNotFound().getRegionId()).isEqualTo(r.id() + 100)),
                new Case(base.toBuilder().setRegionEpoch(Metapb.RegionEpoch.newBuilder().setConfVer(r.confVer() + 1).setVersion(r.version())).build(),
                        e -> {
                            assertThat(e.getEpochNotMatch().getCurrentRegionsList()).singleElement()
                                    .satisfies(cur -> assertThat(cur.getId()).isEqualTo(r.id()));
                            assertThat(e.getMessage()).isEqualTo("conf_ver: " + (r.confVer() + 1) + " version: " + r.version()
                                    + " != conf_ver: " + r.confVer() + " version: " + r.version());
                        }));
        for (Case c : cases) {
            ImportSstpb.SSTMeta m = c.meta().toBuilder().setUuid(meta(r, 0).getUuid()).build();
            ImportSstpb.DownloadResponse d = importer(leader).download(download(m, file.getName()));
            assertThat(d.hasError()).as(d.getError().getMessage()).isFalse();
            ImportSstpb.IngestResponse resp = importer(leader).multiIngest(ImportSstpb.MultiIngestRequest.newBuilder()
                    .setContext(ctx(r, leader)).addSsts(m).build());
            c.check().accept(resp.getError());
            assertThat(target.store(leader).importer().staged(m.getUuid().toByteArray())).as("deleted at apply").isNull();
        }
        assertThat(ClusterData.count(target.engine(), Cf.DEFAULT)).isEqualTo(before);
        assertThat(ClusterData.count(target.engine(), Cf.LOCK)).isZero();
    }

    @Test
    void anEmptyCfNameDownloadsIntoDefaultAndTheResponseLeavesLengthUnset() {
        Region r = only();
        ImportSstpb.SSTMeta m = meta(r, file.getSize()).toBuilder().setCfName("").build();
        ImportSstpb.DownloadResponse d = importer(1).download(download(m, file.getName()));
        assertThat(d.hasError()).as(d.getError().getMessage()).isFalse();
        assertThat(d.getLength()).isZero();
        assertThat(d.getCrc32()).isZero();
        assertThat(target.store(1).importer().staged(m.getUuid().toByteArray()).cf()).isEqualTo(Cf.DEFAULT);
        assertThat(target.store(1).importer().staged(m.getUuid().toByteArray()).path().getFileName().toString()).endsWith("_.sst");
    }

    @Test
    void keysOutsideTheRegionAreRefusedAtIngest() throws Exception {
        // split a cluster so the file's keys straddle two regions, then ingest into the left one unclipped
        try (FakeCluster c = FakeCluster.builder().stores(2).start()) {
        byte[] mid = new byte[file.getStartKey().size() + 1];
        System.arraycopy(file.getStartKey().toByteArray(), 0, mid, 0, file.getStartKey().size());
        mid[mid.length - 1] = 'x';
        Region left = c.regions().split(mid)[0];
        ImportSstpb.SSTMeta m = meta(left, file.getSize());
        long leader = left.leaderStoreId();
        assertThat(importer(c, leader).download(download(m, file.getName())).hasError()).isFalse();
        var staged = c.store(leader).importer().staged(m.getUuid().toByteArray());
        assertThat(java.util.Arrays.compareUnsigned(dev.faketikv.engine.codec.Keys.originKey(staged.firstKey()), mid)).as("keys left of the split")
                .isNegative();
        assertThat(java.util.Arrays.compareUnsigned(dev.faketikv.engine.codec.Keys.originKey(staged.lastKey()), mid)).as("keys right of the split")
                .isPositive();
        ImportSstpb.IngestResponse r = importer(c, leader).multiIngest(ImportSstpb.MultiIngestRequest.newBuilder()
                .setContext(ctx(c.regions().get(left.id()), leader)).addSsts(m).build());
        assertThat(r.getError().getKeyNotInRegion().getKey().toByteArray())
                .isEqualTo(dev.faketikv.engine.codec.Keys.originKey(staged.lastKey()));
        // TiKV's text (raftstore errors.rs KeyNotInRegion)
        assertThat(r.getError().getMessage()).contains("is not in region key range").endsWith("for region " + left.id());
        assertThat(ClusterData.count(c.engine(), Cf.DEFAULT)).isZero();
        assertThat(c.store(leader).importer().staged(m.getUuid().toByteArray())).as("deleted at apply").isNull();
        }
    }

    @Test
    void singleIngestAsOldBrSendsIt() throws Exception {
        try (FakeCluster c = FakeCluster.builder().stores(2).start()) {
            Region r = c.regions().all().get(0);
            ImportSstpb.SSTMeta m = meta(r, file.getSize());
            for (Metapb.Peer p : Endpoint_peers(r)) {
                assertThat(importer(c, p.getStoreId()).download(download(m, file.getName())).hasError()).isFalse();
            }
            ImportSstpb.IngestResponse ok = importer(c, r.leaderStoreId()).ingest(ImportSstpb.IngestRequest.newBuilder()
                    .setContext(ctx(r, r.leaderStoreId())).setSst(m).build());
            assertThat(ok.hasError()).as(ok.getError().getMessage()).isFalse();
            assertThat(ClusterData.count(c.engine(), Cf.DEFAULT)).isEqualTo(file.getTotalKvs());
            assertThat(c.stores()).allSatisfy(s -> assertThat(s.importer().staged()).isEmpty());
        }
    }

    @Test
    void everyImportCallIsJournaledWithoutItsSecrets() throws Exception {
        try (FakeCluster c = FakeCluster.builder().stores(1).set("fake.s3-retry-base-delay", "1ms").start()) {
            Region r = c.regions().all().get(0);
            byte[] key = "0123456789abcdef0123456789abcdef".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            ImportSstpb.DownloadRequest d = download(meta(r, 0), file.getName()).toBuilder()
                    .setStorageBackend(Brpb.StorageBackend.newBuilder().setS3(Brpb.S3.newBuilder().setBucket("b")
                            .setEndpoint("http://127.0.0.1:1").setAccessKey("AKIAFAKE").setSecretAccessKey("very-secret-key")))
                    .setCipherInfo(Brpb.CipherInfo.newBuilder().setCipherType(org.tikv.kvproto.Encryptionpb.EncryptionMethod.AES256_CTR)
                            .setCipherKey(ByteString.copyFrom(key)))
                    .build();
            assertThat(importer(c, 1).download(d).hasError()).isTrue();
            importer(c, 1).multiIngest(ImportSstpb.MultiIngestRequest.getDefaultInstance());
            String journal = c.store(1).journal().toJson();
            assertThat(journal).contains("\"method\" : \"Download\"").contains("\"method\" : \"MultiIngest\"")
                    .contains("127.0.0.1:1").contains("<redacted>")
                    .doesNotContain("very-secret-key").doesNotContain("AKIAFAKE")
                    .doesNotContain(java.util.Base64.getEncoder().encodeToString(key));
        }
    }

    static List<Metapb.Peer> Endpoint_peers(Region r) {
        return Regions.toPb(r).getPeersList();
    }
}

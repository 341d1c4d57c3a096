package dev.faketikv.pd.br;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.faketikv.client.br.BrBackup;
import dev.faketikv.client.br.BrRestore;
import dev.faketikv.client.br.BrStorage;
import dev.faketikv.engine.Cf;
import dev.faketikv.engine.region.Region;
import dev.faketikv.pd.FakeCluster;
import dev.faketikv.pd.cluster.ClusterData;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb;

/** fake-tikv's own {@code br restore} makes BR 5.4's calls: split and scatter first, schedulers paused and put back. */
class BrRestoreFollowsBr54Test {
    @TempDir
    Path tmp;

    @Test
    void rawRestoreSplitsAtTheBackedUpRangesScattersAndPutsPdBack() throws Exception {
        Path dir = tmp.resolve("raw");
        try (FakeCluster a = FakeCluster.builder().stores(3).seed("raw:keys=600,regions=3,seed=21").start();
             FakeCluster b = FakeCluster.builder().stores(3).start();
             Br54Calls pd = new Br54Calls(b)) {
            BrBackup.run(new BrBackup.Options(a.pdAddr(), true, null, null, "default", 0, 4, Brpb.CompressionType.LZ4, null,
                    BrStorage.parse("local://" + dir), 300, 0.01, null));
            JsonNode before = Br54Calls.json(pd.get("pd/api/v1/config/schedule"));
            BrRestore.run(BrRestore.Options.builder(b.pdAddr(), BrStorage.parse("local://" + dir)).raw(true).backoffScale(0.01).build());
            List<String> calls = b.pdJournal().methods();
            assertThat(calls).contains("pdpb.PD/ScatterRegion", "pdpb.PD/GetOperator");
            assertThat(calls.indexOf("pdpb.PD/ScatterRegion")).as("split and scattered before any file was restored")
                    .isLessThan(calls.lastIndexOf("pdpb.PD/ScanRegions"));
            // the source's region boundaries are the backed-up ranges' ends: the target is split at them
            List<String> sourceStarts = a.regions().all().stream().map(r -> new String(r.startKey())).toList();
            assertThat(b.regions().all().stream().map(r -> new String(r.startKey())).toList()).containsAll(sourceStarts);
            assertThat(pd.paused()).isEmpty();
            assertThat(Br54Calls.json(pd.get("pd/api/v1/config/schedule"))).isEqualTo(before);
            ClusterData.assertSame(ClusterData.rawView(b.engine(), Cf.DEFAULT), ClusterData.rawView(a.engine(), Cf.DEFAULT));
        }
    }

    @Test
    void txnRestoreResetsTsAndSplitsAtEncodedKeys() throws Exception {
        Path dir = tmp.resolve("txn");
        try (FakeCluster a = FakeCluster.builder().stores(2).seed("txn:rows=200,regions=3,seed=22").start();
             FakeCluster b = FakeCluster.builder().stores(2).start();
             Br54Calls pd = new Br54Calls(b)) {
            BrBackup.Result backup = BrBackup.run(new BrBackup.Options(a.pdAddr(), false, null, null, "default", 0, 4, Brpb.CompressionType.LZ4,
                    null, BrStorage.parse("local://" + dir), 300, 0.01, null));
            BrRestore.run(BrRestore.Options.builder(b.pdAddr(), BrStorage.parse("local://" + dir)).backoffScale(0.01).build());
            assertThat(b.pdJournal().methods()).contains("pdpb.PD/ScatterRegion", "pdpb.PD/GetOperator");
            List<byte[]> sourceStarts = a.regions().all().stream().map(Region::startKey).toList();
            List<byte[]> targetStarts = b.regions().all().stream().map(Region::startKey).toList();
            assertThat(targetStarts).as("split at the same (encoded) keys").usingElementComparator(java.util.Arrays::compare)
                    .containsAll(sourceStarts);
            assertThat(pd.tso()).isGreaterThan(backup.meta().getEndVersion());
            assertThat(pd.paused()).isEmpty();
            ClusterData.assertSame(ClusterData.txnView(b.engine(), pd.tso()), ClusterData.txnView(a.engine(), backup.meta().getEndVersion()));
        }
    }
}

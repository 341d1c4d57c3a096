package dev.faketikv.pd.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.faketikv.client.br.BrBackup;
import dev.faketikv.client.br.BrException;
import dev.faketikv.client.br.BrRestore;
import dev.faketikv.client.br.BrStorage;
import dev.faketikv.engine.Cf;
import dev.faketikv.engine.region.Region;
import dev.faketikv.pd.FakeCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb;

/** Restore while the target cluster misbehaves: a leader moves between Download and MultiIngest, downloads fail. */
class ClusterRestoreFaultsTest {
    @TempDir
    static Path tmp;
    static Path dir;

    @BeforeAll
    static void backUp() throws Exception {
        dir = tmp.resolve("backup");
        try (FakeCluster a = FakeCluster.builder().stores(3).seed("raw:keys=1500,regions=3,seed=6").start()) {
            BrBackup.run(new BrBackup.Options(a.pdAddr(), true, null, null, "default", 0, 4, Brpb.CompressionType.LZ4, null,
                    BrStorage.parse("local://" + dir), 300, 0.01, null));
        }
    }

    static BrRestore.Options restore(FakeCluster b) {
        return BrRestore.Options.builder(b.pdAddr(), BrStorage.parse("local://" + dir)).raw(true).backoffScale(0.01).build();
    }

    @Test
    void aLeaderThatMovesBeforeIngestIsFollowed() throws Exception {
        try (FakeCluster b = FakeCluster.builder().stores(3).start()) {
            Region only = b.regions().all().get(0);
            long leader = only.leaderStoreId();
            long next = leader % 3 + 1;
            b.store(leader).faults().failPoints().set("import_before_ingest", "1*pause");
            CompletableFuture<BrRestore.Result> run = CompletableFuture.supplyAsync(() -> BrRestore.run(restore(b)));
            await().atMost(Duration.ofSeconds(30)).until(() -> b.store(leader).faults().failPoints().paused("import_before_ingest") == 1);
            // the restore split the region first (as BR does): the paused ingest is on one of its parts, all led by `leader`
            for (Region part : b.regions().all()) {
                if (part.leaderStoreId() == leader) {
                    b.transferLeader(part.id(), next);
                }
            }
            b.store(leader).faults().failPoints().remove("import_before_ingest");
            BrRestore.Result r = run.get(60, TimeUnit.SECONDS);
            assertThat(r.retried()).isGreaterThanOrEqualTo(1);
            assertThat(ClusterData.count(b.engine(), Cf.DEFAULT)).isEqualTo(1500);
            assertThat(b.stores()).allSatisfy(s -> assertThat(s.importer().staged()).isEmpty());
            assertThat(b.stores()).allSatisfy(s -> assertThat(s.importer().mode()).hasToString("Normal"));
        }
    }

    @Test
    void aTransientDownloadFailureIsRetriedAndAPermanentOneFailsClearly() throws Exception {
        try (FakeCluster b = FakeCluster.builder().stores(3).start()) {
            b.store(2).faults().failPoints().set("import_download", "2*return(Io(Custom { kind: TimedOut, error: \"read timeout\" }))");
            BrRestore.Result r = BrRestore.run(restore(b));
            assertThat(r.retried()).isEqualTo(2);
            assertThat(ClusterData.count(b.engine(), Cf.DEFAULT)).isEqualTo(1500);
        }
        try (FakeCluster c = FakeCluster.builder().stores(3).start()) {
            c.store(3).faults().failPoints().set("import_download", "return(the downloaded file is not a valid SST (injected))");
            assertThatThrownBy(() -> BrRestore.run(restore(c))).isInstanceOf(BrException.class)
                    .hasMessageContaining("ErrKVDownloadFailed").hasMessageContaining("on store 3").hasMessageContaining("not a valid SST");
            assertThat(c.stores()).allSatisfy(s -> assertThat(s.importer().mode()).hasToString("Normal"));
        }
    }

    @Test
    void aFailingRangeEndsTheRestoreWhileAnotherIsStuck() throws Exception {
        try (FakeCluster b = FakeCluster.builder().stores(3).start()) {
            Region[] first = b.regions().split("r000000000500".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            Region[] second = b.regions().split("r000000001000".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            b.transferLeader(first[1].id(), 2);
            b.transferLeader(second[1].id(), 3);
            // the first range (in backupmeta order) goes to store 1, which never answers; the others fail fast
            b.store(1).faults().failPoints().set("import_before_ingest", "pause");
            b.store(2).faults().failPoints().set("import_before_ingest", "return(ingest broken on store 2)");
            b.store(3).faults().failPoints().set("import_before_ingest", "return(ingest broken on store 3)");
            CompletableFuture<BrRestore.Result> run = CompletableFuture.supplyAsync(() -> BrRestore.run(restore(b)));
            assertThatThrownBy(() -> run.get(30, TimeUnit.SECONDS)).hasCauseInstanceOf(BrException.class)
                    .hasMessageContaining("ErrKVIngestFailed").hasMessageContaining("ingest broken on store");
            assertThat(b.stores()).allSatisfy(st -> assertThat(st.importer().mode()).hasToString("Normal"));
            // no restore worker calls a store once the restore has returned: what each store has answered (its
            // journal), plus the calls still held by store 1's pause, is all there will ever be — also after the
            // pause is lifted and the held calls go on
            int held = b.store(1).faults().failPoints().paused("import_before_ingest");
            List<Integer> seen = b.stores().stream().map(st -> st.journal().size()).toList();
            b.store(1).faults().failPoints().remove("import_before_ingest");
            await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(20)).until(() -> {
                for (int i = 0; i < seen.size(); i++) {
                    if (b.stores().get(i).journal().size() > seen.get(i) + (i == 0 ? held : 0)) {
                        return false;
                    }
                }
                return true;
            });
        }
    }
}

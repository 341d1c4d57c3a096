package dev.faketikv.pd.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.faketikv.client.br.BrBackup;
import dev.faketikv.client.br.BrException;
import dev.faketikv.client.br.BrStorage;
import dev.faketikv.pd.FakeCluster;
import dev.faketikv.server.FakeTikvServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb;

/**
 * Issue 19 item 6: when PD and every store die under {@code br backup}, the backup ends within its time
 * limit — PD calls that time out count, not only backoff sleeps (it ran 220 s against the README's 80 s).
 * The limit here is 2 s so the test runs in seconds; PD dies as a powered-off host does (calls hang until
 * their deadline, 30 s each), the stores are stopped.
 */
class ClusterBackupTimeLimitTest {
    @TempDir
    Path tmp;

    @Test
    void aDeadClusterEndsTheBackupWithinTheTimeLimit() throws Exception {
        Duration limit = Duration.ofSeconds(2);
        try (FakeCluster a = FakeCluster.builder().stores(3).seed("txn:rows=600,regions=4,seed=2").start();
             BlackHoleProxy pd = new BlackHoleProxy(a.pdAddr())) {
            // the stores are gone (connections refused); PD still answers until the backup has listed the stores
            for (FakeTikvServer s : a.stores()) {
                s.close();
            }
            BrBackup.Options o = new BrBackup.Options(pd.addr(), false, null, null, null, 0, 4, Brpb.CompressionType.LZ4, null,
                    BrStorage.parse("local://" + tmp.resolve("b")), 300, ClusterRoundTripTest.FAST, null).withTimeLimit(limit);
            CompletableFuture<BrBackup.Result> run = CompletableFuture.supplyAsync(() -> BrBackup.run(o));
            await().atMost(Duration.ofSeconds(20)).until(() -> a.pdJournal().methods().stream().anyMatch(m -> m.endsWith("GetAllStores")));
            // then PD stops answering: every PD call of the retry paths (GetStore, GetRegion) now hangs until its deadline
            pd.die();
            long died = System.nanoTime();
            assertThatThrownBy(() -> run.get(limit.toSeconds() + 10, TimeUnit.SECONDS))
                    .hasCauseInstanceOf(BrException.class)
                    .cause().hasMessageContaining("time limit of 2.0 s").hasMessageContaining("still incomplete");
            long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - died);
            assertThat(tookMs).isLessThan(limit.toMillis() + 3000);
        }
    }
}

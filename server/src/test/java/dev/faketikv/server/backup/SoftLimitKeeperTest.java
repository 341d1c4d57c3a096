package dev.faketikv.server.backup;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faketikv.server.config.BackupConfig;
import dev.faketikv.server.metrics.BackupMetrics;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** TiKV's auto-tune decisions, with the CPU reading and the core count injected. */
class SoftLimitKeeperTest {
    static BackupConfig cfg(int threads, boolean autoTune, int remain) {
        return new BackupConfig(threads, 8, 144L << 20, autoTune, remain, Duration.ofSeconds(60), 2, 5L << 20);
    }

    @Test
    void quotaFollowsTikvsFormula() {
        // TiKV's worked example: 16 cores, others use 10, remain 3, num-threads 8 -> 3
        assertThat(SoftLimitKeeper.quota(16, 10, 3, 8)).isEqualTo(3);
        assertThat(SoftLimitKeeper.quota(16, 2, 3, 8)).isEqualTo(8);      // 11, clamped to 8
        assertThat(SoftLimitKeeper.quota(16, 15.5, 3, 8)).isEqualTo(1);   // never below 1
        assertThat(SoftLimitKeeper.quota(2, 0.4, 0, 4)).isEqualTo(1);     // floor(1.6) = 1
        assertThat(SoftLimitKeeper.quota(2, 20, 0, 4)).isEqualTo(1);      // others over the quota
    }

    @Test
    void ticksResizeTheSoftLimitAndShowItInMetrics() {
        SoftLimit limit = new SoftLimit(8);
        BackupMetrics metrics = new BackupMetrics();
        AtomicReference<BackupConfig> config = new AtomicReference<>(cfg(8, true, 3));
        AtomicReference<Double> others = new AtomicReference<>(10.0);
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
        try (SoftLimitKeeper keeper = new SoftLimitKeeper(limit, config::get, exclude -> {
            assertThat(exclude).isEqualTo("bkwkr");
            return others.get();
        }, () -> 16, metrics, timer)) {
            assertThat(keeper.onTick()).isEqualTo(3);
            assertThat(limit.cap()).isEqualTo(3);
            assertThat(metrics.scrape()).contains("tikv_backup_softlimit 3\n");
            others.set(2.0);
            assertThat(keeper.onTick()).isEqualTo(8);
            config.set(cfg(4, false, 3));           // auto-tune off: the cap is num-threads
            others.set(15.0);
            assertThat(keeper.onTick()).isEqualTo(4);
            assertThat(limit.cap()).isEqualTo(4);
        } finally {
            timer.shutdownNow();
        }
    }

    @Test
    void theProcSamplerSeesThisProcessThreadsAndExcludesByName() throws Exception {
        SoftLimitKeeper.ProcSampler s = new SoftLimitKeeper.ProcSampler();
        java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
        s.usedCoresExcluding("bkwkr");
        long wall0 = System.nanoTime();
        long cpu0 = mx.getCurrentThreadCpuTime();
        long x = 0;
        // burn 0.3 s of CPU on this thread (however long that takes on a loaded box, at most 30 s)
        while (mx.getCurrentThreadCpuTime() - cpu0 < 300_000_000L && System.nanoTime() - wall0 < 30_000_000_000L) {
            x += Long.numberOfTrailingZeros(System.nanoTime());
        }
        double used = s.usedCoresExcluding("bkwkr");
        // this thread alone used cpu/wall cores; the sampler must see at least half of that (its window is a bit longer)
        double mine = (double) (mx.getCurrentThreadCpuTime() - cpu0) / (System.nanoTime() - wall0);
        assertThat(used).as("spun %d, this thread %.3f cores", x, mine).isGreaterThan(mine * 0.5);
        assertThat(s.usedCoresExcluding("")).isZero();           // every name contains "": all excluded
    }
}

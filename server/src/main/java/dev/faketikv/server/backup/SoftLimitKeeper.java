package dev.faketikv.server.backup;

import dev.faketikv.server.config.BackupConfig;
import dev.faketikv.server.metrics.BackupMetrics;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.DoubleSupplier;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the soft limit where TiKV's auto-tune puts it: TiKV's {@code SoftLimitKeeper} and
 * {@code SoftLimitByCpu} ({@code components/backup/src/softlimit.rs}, {@code endpoint.rs}).
 *
 * <p>It ticks once at start and then every {@code auto-tune-refresh-interval} (re-read each time; a
 * fixed delay after the previous tick). On a tick: with {@code enable-auto-tune = false} the cap becomes
 * {@code num-threads}; otherwise the cap becomes {@code max(1, floor(total cores − cores used by every
 * thread whose name does not contain "bkwkr") − auto-tune-remain-threads)}, clamped to
 * {@code [1, num-threads]}, and {@code tikv_backup_softlimit} shows it. Backup's own scan threads are left
 * out of "used", as in TiKV, so a busy backup does not throttle itself.
 *
 * <p>The CPU reading and the core count are injectable so the decision can be tested; the default reads
 * {@code /proc/self/task/*}/stat like TiKV's thread statistics. Thread-safe; runs on one timer thread.
 */
public final class SoftLimitKeeper implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(SoftLimitKeeper.class);

    /** Cores used since the previous call by threads whose name does not contain {@code exclude}. */
    @FunctionalInterface
    public interface CpuSampler {
        double usedCoresExcluding(String exclude);
    }

    private final SoftLimit limit;
    private final Supplier<BackupConfig> config;
    private final CpuSampler sampler;
    private final DoubleSupplier totalCores;
    private final BackupMetrics metrics;
    private final ScheduledExecutorService timer;
    private volatile boolean closed;

    public SoftLimitKeeper(SoftLimit limit, Supplier<BackupConfig> config, CpuSampler sampler, DoubleSupplier totalCores,
                           BackupMetrics metrics, ScheduledExecutorService timer) {
        this.limit = limit;
        this.config = config;
        this.sampler = sampler;
        this.totalCores = totalCores;
        this.metrics = metrics;
        this.timer = timer;
    }

    /** First tick now, then every refresh interval. */
    public void start() {
        timer.execute(this::tickAndRearm);
    }

    private void tickAndRearm() {
        if (closed) {
            return;
        }
        try {
            onTick();
        } catch (RuntimeException e) {
            LOG.warn("soft limit tick failed: {}", e.toString());
        }
        if (!closed) {
            timer.schedule(this::tickAndRearm, config.get().autoTuneRefreshInterval().toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    /** One auto-tune decision, applied; returns the new cap. */
    public int onTick() {
        BackupConfig c = config.get();
        int target;
        if (!c.enableAutoTune()) {
            target = c.numThreads();
        } else {
            target = quota(totalCores.getAsDouble(), sampler.usedCoresExcluding("bkwkr"), c.autoTuneRemainThreads(), c.numThreads());
            metrics.setSoftLimit(target);
        }
        if (target != limit.cap()) {
            LOG.info("backup soft limit {} -> {}", limit.cap(), target);
            limit.resize(target);
        }
        return target;
    }

    /** {@code clamp(max(1, floor(total − used) − remain), 1, numThreads)}. */
    static int quota(double totalCores, double usedByOthers, int remain, int numThreads) {
        long idle = (long) Math.floor(Math.max(0, totalCores - usedByOthers));
        long q = Math.max(1, idle - remain);
        return (int) Math.max(1, Math.min(numThreads, q));
    }

    @Override
    public void close() {
        closed = true;
    }

    /** The Linux sampler: per-thread utime+stime from /proc/self/task/N/stat, 100 clock ticks a second. */
    public static final class ProcSampler implements CpuSampler {
        private static final double TICKS_PER_SECOND = 100.0;
        private Map<String, Long> last = new HashMap<>();
        private long lastNanos = System.nanoTime();

        @Override
        public synchronized double usedCoresExcluding(String exclude) {
            Map<String, Long> now = new HashMap<>();
            Path tasks = Path.of("/proc/self/task");
            if (!Files.isDirectory(tasks)) {
                return 0;
            }
            try (Stream<Path> s = Files.list(tasks)) {
                s.forEach(t -> {
                    try {
                        String stat = Files.readString(t.resolve("stat"));
                        int open = stat.indexOf('(');
                        int close = stat.lastIndexOf(')');
                        String name = stat.substring(open + 1, close);
                        String[] f = stat.substring(close + 2).split(" ");
                        long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
                        now.put(t.getFileName() + "/" + name, ticks);
                    } catch (IOException | RuntimeException e) {
                        // a thread that ended while we read
                    }
                });
            } catch (IOException e) {
                return 0;
            }
            long t = System.nanoTime();
            double secs = Math.max(1e-3, (t - lastNanos) / 1e9);
            double used = 0;
            for (Map.Entry<String, Long> e : now.entrySet()) {
                if (e.getKey().contains(exclude)) {
                    continue;
                }
                used += (e.getValue() - last.getOrDefault(e.getKey(), e.getValue())) / TICKS_PER_SECOND / secs;
            }
            last = now;
            lastNanos = t;
            return used;
        }
    }
}

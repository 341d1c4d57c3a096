package dev.faketikv.bench.jmh;

import dev.faketikv.engine.codec.Crc64;
import dev.faketikv.server.worker.yatp.LevelManager;
import dev.faketikv.server.worker.yatp.ThreadPool;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * fake-tikv's yatp-style pool (single-level and multilevel) against the JDK's ForkJoinPool and
 * ThreadPoolExecutor on backup-shaped tasks: a batch of 1,000 tasks submitted from outside, each a
 * CRC-64 over {@code work} bytes (a region's worth of checksum work scaled down), half of them
 * re-submitting a follow-up from inside the pool (as a scan worker re-submits itself after a batch).
 * Throughput = batches per second, 2 worker threads. Run (after {@code ./mvnw -B -ntp -DskipTests package}):
 * {@code java -cp "bench/target/fake-tikv-bench-jmh.jar:bench/target/fake-tikv-bench.jar:bench/target/lib/*:bench/target/jmh-lib/*" org.openjdk.jmh.Main PoolBench}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class PoolBench {
    static final int TASKS = 1000;

    @Param({"yatp-single", "yatp-multilevel", "forkjoin", "threadpool"})
    String pool;

    @Param({"4096", "65536"})
    int work;

    byte[] data;
    Consumer<Runnable> submit;
    Runnable close;

    @Setup(Level.Trial)
    public void setUp() {
        data = new byte[work];
        ThreadLocalRandom.current().nextBytes(data);
        switch (pool) {
            case "yatp-single" -> {
                ThreadPool p = new ThreadPool("bench", 2);
                submit = p::spawn;
                close = p::shutdown;
            }
            case "yatp-multilevel" -> {
                ThreadPool p = new ThreadPool("bench", 2, new LevelManager(Math::random));
                submit = r -> p.spawn(ThreadLocalRandom.current().nextLong(16), r);
                close = p::shutdown;
            }
            case "forkjoin" -> {
                ForkJoinPool p = new ForkJoinPool(2, ForkJoinPool.defaultForkJoinWorkerThreadFactory, null, true);
                submit = p::execute;
                close = p::shutdown;
            }
            default -> {
                ExecutorService p = new ThreadPoolExecutor(2, 2, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>());
                submit = p::execute;
                close = p::shutdown;
            }
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        close.run();
    }

    @Benchmark
    public void batchOf1000() throws InterruptedException {
        CountDownLatch done = new CountDownLatch(TASKS + TASKS / 2);
        for (int i = 0; i < TASKS; i++) {
            final boolean followUp = (i & 1) == 0;
            submit.accept(() -> {
                Crc64.ofPair(data, data);
                if (followUp) {
                    submit.accept(() -> {
                        Crc64.ofPair(data, data);
                        done.countDown();
                    });
                }
                done.countDown();
            });
        }
        done.await();
    }
}

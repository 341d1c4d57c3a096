package dev.faketikv.server.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.faketikv.client.BackupClient;
import dev.faketikv.client.RetryingBackup;
import dev.faketikv.engine.gen.DataGenerator;
import dev.faketikv.engine.gen.SeedSpec;
import dev.faketikv.server.FakeTikv;
import dev.faketikv.server.TestServers;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.tikv.kvproto.Brpb.BackupRequest;

/**
 * 32 concurrent BR-style clients over 1,000 regions with faults firing at random (busy regions, storage
 * timeouts, slow ranges): every client completes its range, the heap kept afterwards stays bounded, and a
 * watchdog fails the test with a thread dump if progress (responses sent) stops for 15 s.
 */
class LoadTest {
    static final String SEED = "txn:rows=20000,regions=1000,value-size=32,seed=3";
    static final String FAULTS = """
            [[rule]]
            name = "busy"
            match = { start = "74", end = "75" }
            action = "server_is_busy"
            probability = 0.05

            [[rule]]
            name = "timeout"
            match = { start = "74", end = "75" }
            action = "storage_error"
            message = "Io(Custom { kind: Other, error: \\"put object timeout\\" })"
            probability = 0.02

            [[rule]]
            name = "slow"
            match = { start = "74", end = "75" }
            action = "delay"
            duration = "5ms"
            probability = 0.05
            """;

    @Test
    void thirtyTwoStreamsWithFaultsAllComplete() throws Exception {
        SeedSpec spec = SeedSpec.parse(SEED);
        System.gc();
        long heapBefore = Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory();
        try (FakeTikv tikv = FakeTikv.builder().seed(SEED).faults(FAULTS).set("backup.num-threads", 2).start();
             BackupClient client = new BackupClient(tikv.addr())) {
            int k = 32;
            ExecutorService pool = Executors.newFixedThreadPool(k);
            List<CompletableFuture<RetryingBackup.Outcome>> runs = new ArrayList<>();
            List<BackupRequest> reqs = new ArrayList<>();
            for (int i = 0; i < k; i++) {
                BackupRequest.Builder b = TestServers.txn(TestServers.noop());
                if (i > 0) {
                    b.setStartKey(ByteString.copyFrom(DataGenerator.txnRowKey(spec, 20000L * i / k)));
                }
                if (i < k - 1) {
                    b.setEndKey(ByteString.copyFrom(DataGenerator.txnRowKey(spec, 20000L * (i + 1) / k)));
                }
                BackupRequest req = b.build();
                reqs.add(req);
                runs.add(CompletableFuture.supplyAsync(() -> RetryingBackup.run(client, req, 30), pool));
            }
            CompletableFuture<Void> all = CompletableFuture.allOf(runs.toArray(CompletableFuture[]::new));
            long lastCount = -1;
            long lastChange = System.nanoTime();
            while (!all.isDone()) {
                long count = tikv.server().journal().size();
                if (count != lastCount) {
                    lastCount = count;
                    lastChange = System.nanoTime();
                } else if (System.nanoTime() - lastChange > TimeUnit.SECONDS.toNanos(15)) {
                    throw new AssertionError("no progress for 15 s; threads:\n" + threadDump());
                }
                try {
                    all.get(200, TimeUnit.MILLISECONDS);
                } catch (java.util.concurrent.TimeoutException ignored) {
                    // watchdog tick
                }
            }
            pool.shutdown();
            long kvs = 0;
            long retried = 0;
            for (int i = 0; i < k; i++) {
                RetryingBackup.Outcome o = runs.get(i).join();
                assertThat(o.gaveUp()).isNull();
                assertThat(o.complete(reqs.get(i))).as("client %d", i).isTrue();
                kvs += TestServers.totalKvs(o.responses());
                retried += o.retried().size();
            }
            assertThat(kvs).isEqualTo(20000);
            long fired = tikv.server().faults().rules().rules().stream().mapToLong(dev.faketikv.server.control.FaultRules.Rule::fired).sum();
            System.out.printf("load: %d clients, %d faults fired, %d retried errors, %d journal entries%n",
                    k, fired, retried, tikv.server().journal().size());
            assertThat(retried).as("faults fired and were retried").isPositive();
            assertThat(tikv.server().endpoint().busyWorkers()).isZero();
        }
        System.gc();
        Runtime rt = Runtime.getRuntime();
        assertThat(rt.totalMemory() - rt.freeMemory()).as("heap kept after the load, after GC").isLessThan(heapBefore + (128L << 20));
    }

    static String threadDump() {
        StringBuilder sb = new StringBuilder();
        for (ThreadInfo t : ManagementFactory.getThreadMXBean().dumpAllThreads(true, true)) {
            sb.append(t);
        }
        return sb.toString();
    }
}

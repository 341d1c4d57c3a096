package dev.faketikv.server.backup;

import static dev.faketikv.server.TestServers.bs;
import static dev.faketikv.server.TestServers.local;
import static dev.faketikv.server.TestServers.problems;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.faketikv.client.BackupClient;
import dev.faketikv.engine.codec.BytesCodec;
import dev.faketikv.engine.gen.DataGenerator;
import dev.faketikv.engine.gen.SeedSpec;
import dev.faketikv.engine.region.Region;
import dev.faketikv.server.FakeTikvServer;
import dev.faketikv.server.TestServers;
import dev.faketikv.server.config.TikvConfig;
import dev.faketikv.server.storage.ExternalStorage;
import dev.faketikv.server.storage.ExternalStorages;
import dev.faketikv.server.storage.ForwardingStorage;
import dev.faketikv.server.storage.StorageException;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.BackupGrpc;
import org.tikv.kvproto.Brpb.BackupRequest;
import org.tikv.kvproto.Brpb.BackupResponse;
import org.tikv.kvproto.Brpb.StorageBackend;
import org.tikv.kvproto.Errorpb.EpochNotMatch;
import org.tikv.kvproto.Metapb;

/**
 * The error branches of {@link Endpoint} (TiKV v5.4.0 {@code components/backup/src/endpoint.rs}), each
 * reached over real gRPC on loopback against a real RocksDB store: a task whose client left while it was
 * queued, a handler that throws, a scan pool that refuses work because the endpoint closed, the sibling
 * regions an {@code EpochNotMatch} lists (raftstore's {@code collect_sibling_region}), the per-thread scan
 * throttle, and a close that gives up on a stuck save. Failures come from a storage factory with doors
 * (a folder name picks the door), failpoints, region splits, and config.
 */
class EndpointErrorsTest {
    static final String SEED = "txn:rows=400,regions=4,value-size=20,seed=5";
    static final Duration BOUND = Duration.ofSeconds(20);

    @TempDir
    Path tmp;

    /**
     * Local storage, with doors picked by the folder's name: {@code block-create} holds the
     * backup-endpoint thread inside storage creation until released; {@code factory-throws} throws a
     * RuntimeException (a bug in the factory); {@code stuck-write} makes every upload wait for a release
     * and ignore interrupts. Records the folder name of every storage it is asked for.
     */
    static final class Doors implements Endpoint.StorageFactory {
        final CountDownLatch createEntered = new CountDownLatch(1);
        final CountDownLatch createRelease = new CountDownLatch(1);
        final CountDownLatch writeEntered = new CountDownLatch(1);
        final CountDownLatch writeRelease = new CountDownLatch(1);
        final AtomicBoolean writeInterrupted = new AtomicBoolean();
        final List<String> asked = new CopyOnWriteArrayList<>();

        @Override
        public ExternalStorage create(StorageBackend backend) throws StorageException {
            String leaf = Path.of(backend.getLocal().getPath()).getFileName().toString();
            asked.add(leaf);
            if (leaf.equals("block-create")) {
                createEntered.countDown();
                awaitIgnoringInterrupts(createRelease, null);
            } else if (leaf.equals("factory-throws")) {
                throw new IllegalStateException("injected: a storage factory bug");
            }
            ExternalStorage real = ExternalStorages.create(backend);
            return leaf.equals("stuck-write") ? stuck(real) : real;
        }

        private ExternalStorage stuck(ExternalStorage real) {
            return new ForwardingStorage(real) {
                @Override
                public void write(String name, InputStream data, long contentLength) throws IOException {
                    writeEntered.countDown();
                    awaitIgnoringInterrupts(writeRelease, writeInterrupted);
                    super.write(name, data, contentLength);
                }
            };
        }

        private static void awaitIgnoringInterrupts(CountDownLatch latch, AtomicBoolean sawInterrupt) {
            while (true) {
                try {
                    if (latch.await(60, TimeUnit.SECONDS)) {
                        return;
                    }
                    throw new IllegalStateException("test door never released");
                } catch (InterruptedException e) {
                    if (sawInterrupt != null) {
                        sawInterrupt.set(true);
                    }
                }
            }
        }
    }

    /** One streaming call: its responses and how it ended (the client-side status). */
    static final class Call implements StreamObserver<BackupResponse> {
        final List<BackupResponse> responses = new CopyOnWriteArrayList<>();
        final CompletableFuture<Status> done = new CompletableFuture<>();
        final Context.CancellableContext ctx = Context.current().withCancellation();

        static Call start(BackupClient client, BackupRequest req) {
            Call c = new Call();
            c.ctx.run(() -> BackupGrpc.newStub(client.channel()).backup(req, c));
            return c;
        }

        Status status() throws Exception {
            return done.get(BOUND.toSeconds(), TimeUnit.SECONDS);
        }

        @Override
        public void onNext(BackupResponse value) {
            responses.add(value);
        }

        @Override
        public void onError(Throwable t) {
            done.complete(Status.fromThrowable(t));
        }

        @Override
        public void onCompleted() {
            done.complete(Status.OK);
        }
    }

    FakeTikvServer start(Doors doors, List<String> seeds, String... extra) throws IOException {
        return FakeTikvServer.builder(TestServers.config(tmp.resolve("data"), extra).with(TikvConfig.SEED.name(), seeds))
                .storages(doors).start();
    }

    static void servesAGoodRequestInFull(FakeTikvServer server, BackupClient client, Path out, long kvs) {
        await().atMost(BOUND).until(() -> server.endpoint().busyWorkers() == 0);
        BackupRequest good = TestServers.txn(local(out)).build();
        List<BackupResponse> r = client.backup(good);
        assertThat(problems(good, r, out)).isEmpty();
        assertThat(TestServers.totalKvs(r)).isEqualTo(kvs);
    }

    static List<String> files(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** How the journal says request {@code number} ended, or null while it has not. */
    static String journalEnd(FakeTikvServer server, long number) throws IOException {
        for (JsonNode e : new ObjectMapper().readTree(server.journal().toJson())) {
            if (e.path("kind").asText().equals("end") && e.path("request").asLong() == number) {
                return e.path("status").asText();
            }
        }
        return null;
    }

    static long errorCount(FakeTikvServer server, String label) {
        Matcher m = Pattern.compile("tikv_backup_error_counter\\{error=\"" + label + "\"} ([0-9.]+)").matcher(server.metrics().scrape());
        return m.find() ? (long) Double.parseDouble(m.group(1)) : 0;
    }

    /**
     * endpoint.rs {@code Runnable::run} (endpoint.rs:989-993 at b5262299): a task whose client left while it
     * waited is dropped before any work, so its storage is never even created.
     */
    @Test
    void aTaskCancelledWhileQueuedIsDroppedWithoutTouchingStorage() throws Exception {
        Doors doors = new Doors();
        try (FakeTikvServer server = start(doors, List.of(SEED));
             BackupClient client = new BackupClient(server.addr())) {
            long n0 = server.requestCount();
            // the first request holds the one backup-endpoint thread inside storage creation
            Path blocked = tmp.resolve("block-create");
            BackupRequest first = TestServers.txn(local(blocked)).build();
            Call holder = Call.start(client, first);
            assertThat(doors.createEntered.await(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();

            // the second waits behind it; its client leaves
            Call queued = Call.start(client, TestServers.txn(local(tmp.resolve("never"))).build());
            await().atMost(BOUND).until(() -> server.requestCount() == n0 + 2);
            queued.ctx.cancel(null);
            assertThat(queued.status().getCode()).isEqualTo(Status.Code.CANCELLED);
            await().atMost(BOUND).until(() -> "CANCELLED by client".equals(journalEnd(server, n0 + 2)));

            doors.createRelease.countDown();
            assertThat(holder.status().getCode()).isEqualTo(Status.Code.OK);
            assertThat(problems(first, holder.responses, blocked)).isEmpty();
            assertThat(TestServers.totalKvs(holder.responses)).isEqualTo(400);
            assertThat(journalEnd(server, n0 + 1)).isEqualTo("OK");

            // the dropped task never asked for its storage, so nothing was created or written for it
            servesAGoodRequestInFull(server, client, tmp.resolve("after"), 400);
            assertThat(doors.asked).containsExactly("block-create", "after");
            assertThat(tmp.resolve("never")).doesNotExist();
        }
    }

    /**
     * endpoint.rs {@code handle_backup_task} (endpoint.rs:951-961 at b5262299): storage creation that fails
     * answers one response carrying the error and ends the stream with OK; here the factory throws an unchecked exception (a bug), which
     * {@code Endpoint.run}'s catch turns into the same answer.
     */
    @Test
    void aHandlerThatThrowsAnswersOneErrorResponseAndTheEndpointServesOn() throws Exception {
        Doors doors = new Doors();
        try (FakeTikvServer server = start(doors, List.of(SEED));
             BackupClient client = new BackupClient(server.addr())) {
            long before = errorCount(server, "other");
            List<BackupResponse> r = client.backup(TestServers.txn(local(tmp.resolve("factory-throws"))).build());
            assertThat(r).hasSize(1);
            assertThat(r.get(0).getFilesCount()).isZero();
            assertThat(r.get(0).getError().getMsg())
                    .isEqualTo("Other(\"IllegalStateException: injected: a storage factory bug\")");
            assertThat(errorCount(server, "other")).isEqualTo(before + 1);
            assertThat(journalEnd(server, server.requestCount())).isEqualTo("OK");
            assertThat(server.endpoint().busyWorkers()).isZero();
            servesAGoodRequestInFull(server, client, tmp.resolve("after"), 400);
        }
    }

    /**
     * The scan pool refuses work once the endpoint is closed. TiKV answers a request its stopped endpoint
     * cannot take with {@code INVALID_ARGUMENT "Stopped(..)"} (service.rs:40-41 at b5262299); an empty OK
     * stream would tell the client this store holds nothing in the range.
     */
    @Test
    void aScanPoolThatRefusesWorkFailsTheCallAsStopped() throws Exception {
        Doors doors = new Doors();
        try (FakeTikvServer server = start(doors, List.of(SEED));
             BackupClient client = new BackupClient(server.addr())) {
            // a first request builds the bkwkr pool
            servesAGoodRequestInFull(server, client, tmp.resolve("warm"), 400);

            Path out = tmp.resolve("block-create");
            Call during = Call.start(client, TestServers.txn(local(out)).build());
            assertThat(doors.createEntered.await(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            long t0 = System.nanoTime();
            server.endpoint().close();
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(BOUND);
            doors.createRelease.countDown();

            Status s = during.status();
            assertThat(s.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(s.getDescription()).isEqualTo("Stopped(..)");
            assertThat(during.responses).isEmpty();
            assertThat(journalEnd(server, server.requestCount())).isEqualTo("INVALID_ARGUMENT: Stopped(..)");
            assertThat(files(out)).isEmpty();

            // a request after the close gets the same answer, at once
            Call after = Call.start(client, TestServers.txn(local(tmp.resolve("after-close"))).build());
            assertThat(after.status().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(files(tmp.resolve("after-close"))).isEmpty();
            assertThat(files(tmp.resolve("data").resolve("backup-scratch"))).isEmpty();
        }
    }

    /** A closed endpoint that never built its scan pool must not build one (and scan a closing engine) for a late task. */
    @Test
    void aTaskRunAfterCloseIsRefusedBeforeAnyPoolIsBuilt() throws Exception {
        Doors doors = new Doors();
        try (FakeTikvServer server = start(doors, List.of(SEED));
             BackupClient client = new BackupClient(server.addr())) {
            server.endpoint().close();
            Path out = tmp.resolve("late");
            Call late = Call.start(client, TestServers.txn(local(out)).build());
            Status s = late.status();
            assertThat(s.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(s.getDescription()).isEqualTo("Stopped(..)");
            assertThat(late.responses).isEmpty();
            assertThat(doors.asked).isEmpty();
            assertThat(server.metrics().scrape()).doesNotContain("tikv_backup_thread_pool_size");
        }
    }

    /** Splits the region holding {@code key} (raw TiDB key) and returns the {left, right} halves. */
    static Region[] split(FakeTikvServer server, byte[] rawKey) {
        return server.regions().split(BytesCodec.encode(rawKey));
    }

    /**
     * Backs up the whole (one-region) keyspace while its scan worker is paused before the range, runs
     * {@code change} (splits), then lets the scan go on; returns the one response.
     */
    static BackupResponse backupAcross(FakeTikvServer server, BackupClient client, Runnable change) throws Exception {
        server.faults().failPoints().set("backup_before_scan", "pause");
        try {
            Call call = Call.start(client, TestServers.txn(TestServers.noop()).build());
            await().atMost(BOUND).until(() -> server.faults().failPoints().paused("backup_before_scan") == 1);
            change.run();
            server.faults().failPoints().remove("backup_before_scan");
            assertThat(call.status().getCode()).isEqualTo(Status.Code.OK);
            assertThat(call.responses).hasSize(1);
            return call.responses.get(0);
        } finally {
            server.faults().failPoints().remove("backup_before_scan");
        }
    }

    static List<Long> ids(List<Metapb.Region> regions) {
        return regions.stream().map(Metapb.Region::getId).toList();
    }

    /**
     * raftstore's {@code collect_sibling_region} (fsm/peer.rs:3848-3887 at b5262299): a region twelve
     * splits ahead of the request lists itself and at most {@code MAX_REGIONS_IN_ERROR} = 10 regions to its
     * left, nearest first.
     */
    @Test
    void anEpochTwelveSplitsAheadListsItselfAndAtMostTenSiblings() throws Exception {
        SeedSpec spec = SeedSpec.parse("txn:rows=200,regions=1,value-size=20,seed=6");
        try (FakeTikvServer server = start(new Doors(), List.of(spec.text()));
             BackupClient client = new BackupClient(server.addr())) {
            Region region = server.regions().locate(BytesCodec.encode(DataGenerator.txnRowKey(spec, 0)));
            List<Region> lefts = new ArrayList<>();
            BackupResponse r = backupAcross(server, client, () -> {
                for (int i = 1; i <= 12; i++) {
                    lefts.add(split(server, DataGenerator.txnRowKey(spec, i * 10L))[0]);
                }
            });
            EpochNotMatch enm = r.getError().getRegionError().getEpochNotMatch();
            assertThat(enm.getCurrentRegionsCount()).isEqualTo(11);
            assertThat(enm.getCurrentRegions(0).getId()).isEqualTo(region.id());
            assertThat(enm.getCurrentRegions(0).getRegionEpoch().getVersion()).isEqualTo(region.version() + 12);
            // the ten split off last, newest first; the two oldest are left out
            List<Long> expected = new ArrayList<>();
            for (int i = 11; i >= 2; i--) {
                expected.add(lefts.get(i).id());
            }
            assertThat(ids(enm.getCurrentRegionsList().subList(1, 11))).isEqualTo(expected);
            assertThat(r.getError().getRegionError().getMessage()).startsWith("EpochNotMatch current epoch of region " + region.id());
            assertThat(r.getFilesCount()).isZero();
        }
    }

    /**
     * collect_sibling_region counts by version, not by region: A is split into B, A, then B into C, B. A
     * request holding A one version behind gets A, B and C (B's newer version makes room for C,
     * fsm/peer.rs:3874-3877 at b5262299), not only A and B.
     */
    @Test
    void aSiblingThatSplitAgainWidensTheListAsRaftstoreCountsIt() throws Exception {
        SeedSpec spec = SeedSpec.parse("txn:rows=200,regions=1,value-size=20,seed=7");
        try (FakeTikvServer server = start(new Doors(), List.of(spec.text()));
             BackupClient client = new BackupClient(server.addr())) {
            Region a = server.regions().locate(BytesCodec.encode(DataGenerator.txnRowKey(spec, 0)));
            Region[][] splits = new Region[2][];
            BackupResponse r = backupAcross(server, client, () -> {
                splits[0] = split(server, DataGenerator.txnRowKey(spec, 100));
                splits[1] = split(server, DataGenerator.txnRowKey(spec, 50));
            });
            long b = splits[0][0].id();
            long c = splits[1][0].id();
            assertThat(splits[1][1].id()).isEqualTo(b);
            EpochNotMatch enm = r.getError().getRegionError().getEpochNotMatch();
            assertThat(ids(enm.getCurrentRegionsList())).containsExactly(a.id(), b, c);
        }
    }

    /** Whether a scan thread is sleeping off its debt in {@code Endpoint.throttleScan} right now. */
    static boolean aThreadWaitsInTheScanThrottle() {
        return Thread.getAllStackTraces().values().stream().anyMatch(stack -> Stream.of(stack).anyMatch(
                f -> f.getClassName().equals(Endpoint.class.getName()) && f.getMethodName().equals("throttleScan"))
                && Stream.of(stack).anyMatch(f -> f.getMethodName().equals("sleep")));
    }

    static byte[] after(byte[] key) {
        byte[] out = new byte[key.length + 1];
        System.arraycopy(key, 0, out, 0, key.length);
        return out;
    }

    /**
     * {@code fake.scan-rate-per-thread} ({@code Endpoint.throttleScan}): one scan thread at 2 KiB/s needs
     * at least (bytes - burst) / rate for a small table, and a client that leaves while the thread waits
     * out a debt of about a minute frees it within the 100 ms cancel check.
     */
    @Test
    void theScanThrottleHoldsAThreadToItsRateAndACancelEndsItsWait() throws Exception {
        SeedSpec small = SeedSpec.parse("txn:rows=8,regions=1,value-size=100,table-id=10,seed=8");
        SeedSpec big = SeedSpec.parse("txn:rows=2000,regions=1,value-size=100,table-id=20,seed=9");
        int rate = 2048;
        try (FakeTikvServer server = start(new Doors(), List.of(small.text(), big.text()),
                TikvConfig.SCAN_RATE_PER_THREAD.name() + "=" + rate, TikvConfig.NUM_THREADS.name() + "=1");
             BackupClient client = new BackupClient(server.addr())) {
            Path out = tmp.resolve("small");
            BackupRequest req = TestServers.txn(local(out)).setStartKey(bs(DataGenerator.txnRowKey(small, 0)))
                    .setEndKey(bs(after(DataGenerator.txnRowKey(small, 7)))).build();
            long t0 = System.nanoTime();
            List<BackupResponse> r = client.backup(req);
            double secs = (System.nanoTime() - t0) / 1e9;
            assertThat(problems(req, r, out)).isEmpty();
            assertThat(TestServers.totalKvs(r)).isEqualTo(8);
            long bytes = r.stream().flatMap(x -> x.getFilesList().stream()).mapToLong(f -> f.getTotalBytes()).sum();
            double floor = (bytes - 0.1 * rate) / rate;
            assertThat(floor).isGreaterThan(0.3);
            assertThat(secs).as("%d logical bytes at %d B/s", bytes, rate).isGreaterThanOrEqualTo(floor * 0.9);

            // the big table's first batch (~130 KB) owes about a minute; the client leaves while it is owed
            Path slow = tmp.resolve("slow");
            Call call = Call.start(client, TestServers.txn(local(slow)).setStartKey(bs(DataGenerator.txnRowKey(big, 0)))
                    .setEndKey(bs(after(DataGenerator.txnRowKey(big, 1999)))).build());
            await().atMost(BOUND).until(EndpointErrorsTest::aThreadWaitsInTheScanThrottle);
            call.ctx.cancel(null);
            assertThat(call.status().getCode()).isEqualTo(Status.Code.CANCELLED);
            await().atMost(Duration.ofSeconds(15)).untilAsserted(() -> {
                assertThat(server.endpoint().busyWorkers()).isZero();
                assertThat(files(tmp.resolve("data").resolve("backup-scratch"))).isEmpty();
            });
            assertThat(files(slow)).isEmpty();
        }
    }

    /**
     * {@code Endpoint.close}: a save stuck in an upload that ignores interrupts is waited for, interrupted,
     * waited for again, then abandoned and reported; close returns within its timeouts and a second close
     * returns at once.
     */
    @Test
    void closeGivesUpOnAStuckSaveWithinItsTimeoutsAndReportsIt() throws Exception {
        Doors doors = new Doors();
        try (FakeTikvServer server = start(doors, List.of(SEED), TikvConfig.NUM_THREADS.name() + "=1");
             BackupClient client = new BackupClient(server.addr())) {
            Path out = tmp.resolve("stuck-write");
            Call call = Call.start(client, TestServers.txn(local(out)).build());
            assertThat(doors.writeEntered.await(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            call.ctx.cancel(null);
            assertThat(call.status().getCode()).isEqualTo(Status.Code.CANCELLED);

            long t0 = System.nanoTime();
            int abandoned = server.endpoint().close(Duration.ofMillis(150), Duration.ofMillis(150));
            Duration took = Duration.ofNanos(System.nanoTime() - t0);
            assertThat(abandoned).isGreaterThanOrEqualTo(1);
            assertThat(doors.writeInterrupted).isTrue();
            assertThat(took).isGreaterThanOrEqualTo(Duration.ofMillis(300)).isLessThan(BOUND);

            long t1 = System.nanoTime();
            assertThat(server.endpoint().close(Duration.ofSeconds(30), Duration.ofSeconds(10))).isZero();
            assertThat(Duration.ofNanos(System.nanoTime() - t1)).isLessThan(Duration.ofSeconds(1));

            // the stuck upload ends; seeing the cancel, its worker writes nothing more and cleans up
            doors.writeRelease.countDown();
            await().atMost(BOUND).untilAsserted(() -> {
                assertThat(server.endpoint().busyWorkers()).isZero();
                assertThat(files(tmp.resolve("data").resolve("backup-scratch"))).isEmpty();
            });
            assertThat(files(out)).noneMatch(n -> n.contains(".tmp"));
        }
    }
}

package dev.faketikv.interop;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.tikv.common.BytePairWrapper;
import org.tikv.common.ByteWrapper;
import org.tikv.common.TiConfiguration;
import org.tikv.common.TiSession;
import org.tikv.common.region.TiRegion;
import org.tikv.common.region.TiStore;
import org.tikv.common.util.ConcreteBackOffer;
import org.tikv.common.util.Pair;
import org.tikv.kvproto.Kvrpcpb;
import org.tikv.kvproto.TikvGrpc;
import org.tikv.raw.RawKVClient;
import org.tikv.shade.com.google.protobuf.ByteString;
import org.tikv.shade.io.grpc.ManagedChannel;
import org.tikv.shade.io.grpc.health.v1.HealthCheckRequest;
import org.tikv.shade.io.grpc.health.v1.HealthCheckResponse;
import org.tikv.shade.io.grpc.health.v1.HealthGrpc;
import org.tikv.shade.io.grpc.netty.NettyChannelBuilder;
import org.tikv.txn.KVClient;
import org.tikv.txn.TwoPhaseCommitter;

/**
 * PingCAP's own Java client, {@code org.tikv:tikv-client-java} 3.3.5, against {@code fake-tikv serve --stores 3}
 * in a child process: health checks, RawKV, two-phase commit and lock resolution, a moved leader, and the
 * round trip client writes → {@code br backup} → {@code br restore} into a second cluster → client reads.
 * Where the client has no API (a reverse raw scan, a bare KvGet to see a lock as TiKV reports it) the
 * client's own kvproto stubs are called on its own channels. Tests run in order on one cluster.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TikvClientJavaInteropTest {
    /**
     * RawKV keys written: 8,000 by default to keep the default suite within 5 minutes on a 2-core box;
     * {@code -Dfaketikv.interop.rawKeys=100000} runs the 100,000 (about 12 s more).
     */
    static final int RAW_KEYS = Integer.getInteger("faketikv.interop.rawKeys", 8_000);
    static final int TXN_ROWS = Integer.getInteger("faketikv.interop.txnRows", 10_000);

    Path root;
    FakeTikvCluster cluster;
    TiSession raw;
    TiSession txn;
    long rawSessionMillis;
    final NavigableMap<String, String> rawModel = new TreeMap<>();
    final NavigableMap<String, String> txnModel = new TreeMap<>();
    final List<ManagedChannel> channels = new ArrayList<>();

    @BeforeAll
    void start() throws Exception {
        root = Files.createTempDirectory("client-java-interop");
        cluster = new FakeTikvCluster(root.resolve("a"), 3);
        // region boundaries are memcomparable-encoded keys (as TiDB's are), so the txn codec of the client
        // can decode every one of them; raw keys "raw..." and txn keys "row..." each span four regions
        for (int i = 1; i < 4; i++) {
            cluster.split(bytes(rawKey(RAW_KEYS * i / 4)), false);
            cluster.split(bytes(txnKey(TXN_ROWS * i / 4)), false);
        }
        // the first session in a JVM loads the client's classes; time the second, as an application would see it
        txn = TiSession.create(TiConfiguration.createDefault(cluster.pd));
        long t0 = System.nanoTime();
        raw = TiSession.create(rawConf(cluster.pd));
        rawSessionMillis = (System.nanoTime() - t0) / 1_000_000;
    }

    /**
     * The client's RawKV defaults, except batch deadlines: 2 s (tikv.rawkv.batch_write_timeout_in_ms) is
     * too short for 10,000 keys on a loaded 2-core box while both JVMs are cold.
     */
    static TiConfiguration rawConf(String pd) {
        TiConfiguration c = TiConfiguration.createRawDefault(pd);
        c.setRawKVBatchWriteTimeoutInMS(20_000);
        c.setRawKVBatchReadTimeoutInMS(20_000);
        c.setRawKVScanTimeoutInMS(20_000);
        c.setRawKVCleanTimeoutInMS(20_000);
        return c;
    }

    @AfterAll
    void stop() throws Exception {
        for (ManagedChannel c : channels) {
            c.shutdownNow();
        }
        if (raw != null) {
            raw.close();
        }
        if (txn != null) {
            txn.close();
        }
        if (cluster != null) {
            cluster.close();
        }
        try (java.util.stream.Stream<Path> all = Files.walk(root)) {
            all.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    static String rawKey(int i) {
        return String.format("raw%07d", i);
    }

    static String txnKey(int i) {
        return String.format("row%07d", i);
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static ByteString bs(String s) {
        return ByteString.copyFromUtf8(s);
    }

    ManagedChannel channel(String addr) {
        String[] hp = addr.split(":");
        ManagedChannel c = NettyChannelBuilder.forAddress(hp[0], Integer.parseInt(hp[1])).usePlaintext().build();
        channels.add(c);
        return c;
    }

    /** The client's stub to the store that leads {@code key}'s region, and that region's leader context. */
    Pair<TikvGrpc.TikvBlockingStub, Kvrpcpb.Context> leaderOf(TiSession s, ByteString key) {
        Pair<TiRegion, TiStore> p = s.getRegionManager().getRegionStorePairByKey(key);
        return Pair.create(TikvGrpc.newBlockingStub(channel(p.second.getAddress())).withDeadlineAfter(10, TimeUnit.SECONDS),
                p.first.getLeaderContext());
    }

    @Test
    @Order(1)
    void everyStoreAndPdIsHealthyAndTheSessionStartsQuickly() {
        List<String> addrs = new ArrayList<>();
        cluster.stores.forEach(s -> addrs.add(s.addr()));
        addrs.add(cluster.pd);
        for (String a : addrs) {
            HealthCheckResponse r = HealthGrpc.newBlockingStub(channel(a)).withDeadlineAfter(5, TimeUnit.SECONDS)
                    .check(HealthCheckRequest.getDefaultInstance());
            assertThat(r.getStatus()).as(a).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
        }
        for (FakeTikvCluster.Store s : cluster.stores) {
            assertThat(raw.getRegionManager().getStoreById(s.id()).isReachable()).as("store %d", s.id()).isTrue();
        }
        // the first RawKV session of this JVM also loads and JIT-compiles the client's RawKV path; the
        // round-trip test times a later one against a fresh cluster (under 2 s)
        assertThat(rawSessionMillis).as("first TiSession.create (raw, with warm-up), ms").isLessThan(5_000);
        System.out.println("first raw TiSession.create: " + rawSessionMillis + " ms");
    }

    @Test
    @Order(2)
    void rawKvLikeAMap() {
        RawKVClient client = raw.createRawClient();
        Map<ByteString, ByteString> batch = new HashMap<>();
        for (int i = 0; i < RAW_KEYS; i++) {
            String v = "v" + i + "-" + Integer.toHexString(i * 31);
            rawModel.put(rawKey(i), v);
            batch.put(bs(rawKey(i)), bs(v));
            // load in chunks, as an application would
            if (batch.size() == 10_000 || i == RAW_KEYS - 1) {
                client.batchPut(batch);
                batch.clear();
            }
        }
        client.put(bs("raw-single"), bs("one"));
        rawModel.put("raw-single", "one");
        assertThat(client.get(bs(rawKey(RAW_KEYS / 2))).map(ByteString::toStringUtf8)).contains(rawModel.get(rawKey(RAW_KEYS / 2)));
        assertThat(client.get(bs("raw-missing"))).isEmpty();

        client.delete(bs(rawKey(7)));
        rawModel.remove(rawKey(7));
        client.batchDelete(new ArrayList<>(List.of(bs(rawKey(8)), bs(rawKey(9)))));
        rawModel.remove(rawKey(8));
        rawModel.remove(rawKey(9));
        // across a region boundary
        int from = RAW_KEYS / 4 - 50;
        int to = RAW_KEYS / 4 + 50;
        client.deleteRange(bs(rawKey(from)), bs(rawKey(to)));
        rawModel.subMap(rawKey(from), rawKey(to)).clear();

        // scans cross the region boundaries
        int s0 = RAW_KEYS / 4 - 100;
        List<String> scanned = new ArrayList<>();
        client.scan(bs(rawKey(s0)), bs(rawKey(s0 + 300)), 1000).forEach(p -> scanned.add(p.getKey().toStringUtf8() + "=" + p.getValue().toStringUtf8()));
        List<String> expected = new ArrayList<>();
        rawModel.subMap(rawKey(s0), rawKey(s0 + 300)).forEach((k, v) -> expected.add(k + "=" + v));
        assertThat(scanned).isEqualTo(expected);
        assertThat(client.scan(bs("raw"), bs("rax"), true)).hasSize(rawModel.size());
        List<org.tikv.kvproto.Kvrpcpb.KvPair> got = client.batchGet(new ArrayList<>(List.of(bs(rawKey(1)), bs(rawKey(7)), bs(rawKey(RAW_KEYS - 1)))));
        assertThat(got).extracting(p -> p.getKey().toStringUtf8()).containsExactlyInAnyOrder(rawKey(1), rawKey(RAW_KEYS - 1));

        // a reverse scan (no RawKVClient API in 3.3.5): the client's stub on the leader of the last region
        ByteString start = bs(rawKey(RAW_KEYS - 1) + "~");
        Pair<TikvGrpc.TikvBlockingStub, Kvrpcpb.Context> leader = leaderOf(raw, start);
        Kvrpcpb.RawScanResponse rev = leader.first.rawScan(Kvrpcpb.RawScanRequest.newBuilder().setContext(leader.second)
                .setStartKey(start).setEndKey(bs(rawKey(RAW_KEYS - 5))).setLimit(3).setReverse(true).build());
        assertThat(rev.hasRegionError()).isFalse();
        assertThat(rev.getKvsList()).extracting(p -> p.getKey().toStringUtf8())
                .containsExactlyElementsOf(new ArrayList<>(rawModel.descendingMap().subMap(start.toStringUtf8(), false, rawKey(RAW_KEYS - 5), true)
                        .keySet()).subList(0, 3));
        // TTL with storage.api-version = 1 is refused as TiKV refuses it
        Kvrpcpb.RawPutResponse ttl = leader.first.rawPut(Kvrpcpb.RawPutRequest.newBuilder().setContext(leader.second)
                .setKey(start).setValue(bs("x")).setTtl(60).build());
        assertThat(ttl.getError()).isEqualTo("ttl is not enabled, but get put request with ttl");
    }

    long ts() {
        return txn.getTimestamp().getVersion();
    }

    /** Writes {@code rows} with the client's two-phase committer (primary first, then the secondaries). */
    void commit(NavigableMap<String, String> rows) throws Exception {
        long startTs = ts();
        String primary = rows.firstKey();
        try (TwoPhaseCommitter c = new TwoPhaseCommitter(txn, startTs)) {
            c.prewritePrimaryKey(ConcreteBackOffer.newCustomBackOff(20_000), bytes(primary), bytes(rows.get(primary)));
            Iterator<BytePairWrapper> secondaries = rows.tailMap(primary, false).entrySet().stream()
                    .map(e -> new BytePairWrapper(bytes(e.getKey()), bytes(e.getValue()))).iterator();
            c.prewriteSecondaryKeys(bytes(primary), secondaries, 20_000);
            long commitTs = ts();
            c.commitPrimaryKey(ConcreteBackOffer.newCustomBackOff(20_000), bytes(primary), commitTs);
            Iterator<ByteWrapper> keys = rows.tailMap(primary, false).keySet().stream().map(k -> new ByteWrapper(bytes(k))).iterator();
            c.commitSecondaryKeys(keys, commitTs, 20_000);
        }
    }

    @Test
    @Order(3)
    void twoPhaseCommitIsReadBackAtItsTimestamp() throws Exception {
        NavigableMap<String, String> rows = new TreeMap<>();
        for (int i = 0; i < TXN_ROWS; i++) {
            rows.put(txnKey(i), "value-" + i + "-" + "x".repeat(i % 7 == 0 ? 300 : 8));
        }
        long before = ts();
        commit(rows);
        txnModel.putAll(rows);
        try (KVClient kv = txn.createKVClient()) {
            long now = ts();
            List<Kvrpcpb.KvPair> all = kv.scan(bs(txnKey(0)), bs(txnKey(TXN_ROWS)), now);
            assertThat(all).hasSize(TXN_ROWS);
            for (Kvrpcpb.KvPair p : all) {
                assertThat(p.getValue().toStringUtf8()).isEqualTo(txnModel.get(p.getKey().toStringUtf8()));
            }
            assertThat(kv.get(bs(txnKey(TXN_ROWS - 1)), now).toStringUtf8()).isEqualTo(txnModel.get(txnKey(TXN_ROWS - 1)));
            assertThat(kv.get(bs(txnKey(5)), before).isEmpty()).as("not visible before the commit").isTrue();
        }
    }

    @Test
    @Order(4)
    void aLockIsReportedAsTikvReportsItAndAnAbandonedTransactionIsResolved() throws Exception {
        // a transaction left prewritten (long TTL): a reader meets its lock
        long lockTs = ts();
        try (TwoPhaseCommitter c = new TwoPhaseCommitter(txn, lockTs)) {
            c.prewritePrimaryKey(ConcreteBackOffer.newCustomBackOff(20_000), bytes("lock-p"), bytes("1"));
            c.prewriteSecondaryKeys(bytes("lock-p"), List.of(new BytePairWrapper(bytes("lock-s"), bytes("2"))).iterator(), 20_000);
        }
        Pair<TikvGrpc.TikvBlockingStub, Kvrpcpb.Context> leader = leaderOf(txn, bs("lock-s"));
        Kvrpcpb.GetResponse got = leader.first.kvGet(Kvrpcpb.GetRequest.newBuilder().setContext(leader.second).setKey(bs("lock-s"))
                .setVersion(ts()).build());
        Kvrpcpb.LockInfo lock = got.getError().getLocked();
        assertThat(lock.getLockVersion()).isEqualTo(lockTs);
        assertThat(lock.getPrimaryLock().toStringUtf8()).isEqualTo("lock-p");
        assertThat(lock.getKey().toStringUtf8()).isEqualTo("lock-s");
        assertThat(lock.getLockTtl()).isPositive();
        assertThat(lock.getLockType()).isEqualTo(Kvrpcpb.Op.Put);
        // roll it back as a client would (BatchRollback of both keys) so later backups see no lock
        Kvrpcpb.BatchRollbackResponse rb = leader.first.kvBatchRollback(Kvrpcpb.BatchRollbackRequest.newBuilder()
                .setContext(leader.second).setStartVersion(lockTs).addKeys(bs("lock-p")).addKeys(bs("lock-s")).build());
        assertThat(rb.hasRegionError() || rb.hasError()).isFalse();

        // a transaction left prewritten with TTL 0: the client's own lock resolver rolls it back on read
        long abandonedTs = ts();
        try (TwoPhaseCommitter c = new TwoPhaseCommitter(txn, abandonedTs, 0)) {
            c.prewritePrimaryKey(ConcreteBackOffer.newCustomBackOff(20_000), bytes("gone-p"), bytes("1"));
            c.prewriteSecondaryKeys(bytes("gone-p"), List.of(new BytePairWrapper(bytes("gone-s"), bytes("2"))).iterator(), 20_000);
        }
        ts(); // the TSO moves on, so the lock's TTL has passed
        assertThat(txn.createSnapshot().get(bytes("gone-s"))).isEmpty();
        assertThat(txn.createSnapshot().get(bytes("gone-p"))).isEmpty();
        Kvrpcpb.ScanLockResponse locks = leader.first.kvScanLock(Kvrpcpb.ScanLockRequest.newBuilder().setContext(leader.second)
                .setMaxVersion(ts()).setLimit(100).build());
        assertThat(locks.getLocksList()).extracting(l -> l.getKey().toStringUtf8()).doesNotContain("gone-s", "lock-s", "lock-p");
    }

    @Test
    @Order(5)
    void aMovedLeaderIsFollowedByTheClient() throws Exception {
        ByteString key = bs(rawKey(RAW_KEYS / 2));
        Pair<TiRegion, TiStore> before = raw.getRegionManager().getRegionStorePairByKey(key);
        long to = cluster.stores.stream().mapToLong(FakeTikvCluster.Store::id).filter(id -> id != before.second.getId()).findFirst().getAsLong();
        cluster.post("/regions/" + before.first.getId() + "/leader", "{\"store\":" + to + "}");
        // the old leader answers NotLeader naming the new one
        TikvGrpc.TikvBlockingStub old = TikvGrpc.newBlockingStub(channel(before.second.getAddress())).withDeadlineAfter(10, TimeUnit.SECONDS);
        Kvrpcpb.RawGetResponse r = old.rawGet(Kvrpcpb.RawGetRequest.newBuilder().setContext(before.first.getLeaderContext()).setKey(key).build());
        assertThat(r.getRegionError().getNotLeader().getLeader().getStoreId()).isEqualTo(to);
        // the client, with the old leader cached, retries on the new one
        RawKVClient client = raw.createRawClient();
        assertThat(client.get(key).map(ByteString::toStringUtf8)).contains(rawModel.get(key.toStringUtf8()));
        client.put(key, bs("after-move"));
        rawModel.put(key.toStringUtf8(), "after-move");
        assertThat(raw.getRegionManager().getRegionStorePairByKey(key).second.getId()).isEqualTo(to);
    }

    @Test
    @Order(6)
    void clientWritesSurviveBackupAndRestoreIntoASecondCluster() throws Exception {
        Path rawDir = root.resolve("backup-raw");
        Path txnDir = root.resolve("backup-txn");
        // raw backup of the raw keys only: CF default also holds the long values of the txn rows. The two
        // backups (and then the two restores) run at once: disjoint key ranges, and br mostly waits
        FakeTikvCluster.Br rawBackup = cluster.brStart("backup", "raw", "-s", "local://" + rawDir, "--format", "raw", "--start", "raw", "--end", "rax");
        FakeTikvCluster.Br txnBackup = cluster.brStart("backup", "txn", "-s", "local://" + txnDir);
        // raw and txn data restore into clusters of their own: a restore splits regions at its files' ranges
        // first (as BR 5.4 does), and a raw restore's split keys are raw keys, not memcomparable ones, which a
        // txn checksum or scan over the same regions cannot read (API V1 keeps raw and txn data apart)
        try (FakeTikvCluster second = new FakeTikvCluster(root.resolve("b"), 3);
             FakeTikvCluster third = new FakeTikvCluster(root.resolve("c"), 3)) {
            rawBackup.await();
            txnBackup.await();
            FakeTikvCluster.Br txnRestore = second.brStart("restore", "txn", "-s", "local://" + txnDir);
            FakeTikvCluster.Br rawRestore = third.brStart("restore", "raw", "-s", "local://" + rawDir);
            txnRestore.await();
            rawRestore.await();
            long t0 = System.nanoTime();
            try (TiSession r = TiSession.create(rawConf(third.pd));
                 TiSession t = TiSession.create(TiConfiguration.createDefault(second.pd))) {
                long sessionMillis = (System.nanoTime() - t0) / 1_000_000;
                System.out.println("raw + txn TiSession.create on fresh clusters: " + sessionMillis + " ms");
                assertThat(sessionMillis).as("two TiSession.create (with warm-up) on fresh clusters, ms").isLessThan(4_000);
                NavigableMap<String, String> rawBack = new TreeMap<>();
                r.createRawClient().scan(bs("raw"), bs("rax")).forEach(p -> rawBack.put(p.getKey().toStringUtf8(), p.getValue().toStringUtf8()));
                assertSameMap(rawBack, rawModel);
                try (KVClient kv = t.createKVClient()) {
                    NavigableMap<String, String> txnBack = new TreeMap<>();
                    kv.scan(bs("row"), bs("rox"), t.getTimestamp().getVersion())
                            .forEach(p -> txnBack.put(p.getKey().toStringUtf8(), p.getValue().toStringUtf8()));
                    assertSameMap(txnBack, txnModel);
                }
            }
        }
    }

    /** Equal maps, or a failure naming the size and the first ten differing keys (not both maps). */
    static void assertSameMap(Map<String, String> actual, Map<String, String> expected) {
        List<String> diff = new ArrayList<>();
        TreeMap<String, String> all = new TreeMap<>(expected);
        all.putAll(actual);
        for (String k : all.keySet()) {
            if (diff.size() < 10 && !java.util.Objects.equals(actual.get(k), expected.get(k))) {
                diff.add(k + ": " + actual.get(k) + " != expected " + expected.get(k));
            }
        }
        assertThat(diff).as("read back %d keys, expected %d", actual.size(), expected.size()).isEmpty();
    }
}

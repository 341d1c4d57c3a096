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
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb;

/**
 * {@link BrRestore}'s refusals and retry branches (pingcap/tidb v5.4.0 {@code br/pkg/restore/client.go},
 * {@code import.go}): the wrong kind of backup, {@code noop://}, a file whose size changed, option checks, a backup
 * from a newer major, {@code --start/--end}, several rewrite rules, the download speed limit, an epoch that changes
 * between Download and MultiIngest, and an ingest that fails on every attempt. Refusals that come before PD is
 * dialled use an address nothing listens on.
 */
class BrRestoreErrorsTest {
    static final String NOBODY = "127.0.0.1:1";
    @TempDir
    static Path tmp;
    static Path raw;
    static Path txn;
    static TreeMap<String, String> rawSource;

    @BeforeAll
    static void backUp() throws Exception {
        raw = tmp.resolve("raw");
        txn = tmp.resolve("txn");
        try (FakeCluster a = FakeCluster.builder().stores(3).seed("raw:keys=600,regions=3,seed=8").start()) {
            BrBackup.run(new BrBackup.Options(a.pdAddr(), true, null, null, "default", 0, 4, Brpb.CompressionType.LZ4, null,
                    BrStorage.parse("local://" + raw), 300, 0.01, null));
            rawSource = ClusterData.rawView(a.engine(), Cf.DEFAULT);
        }
        try (FakeCluster a = FakeCluster.builder().stores(1).seed("txn:rows=100,regions=2,seed=8").start()) {
            BrBackup.run(new BrBackup.Options(a.pdAddr(), false, null, null, "default", 0, 4, Brpb.CompressionType.LZ4, null,
                    BrStorage.parse("local://" + txn), 300, 0.01, null));
        }
    }

    static BrRestore.Options.Builder restore(String pd, Path dir) {
        return BrRestore.Options.builder(pd, BrStorage.parse("local://" + dir)).raw(true).backoffScale(0.01);
    }

    static String hex(String s) {
        return HexFormat.of().formatHex(s.getBytes(StandardCharsets.US_ASCII));
    }

    @Test
    void theWrongKindOfBackupAndNoopAreRefusedBeforePdIsAsked() {
        assertThatThrownBy(() -> BrRestore.run(restore(NOBODY, txn).build())).isInstanceOf(BrException.class)
                .hasMessage("cannot do raw restore from transactional data");
        assertThatThrownBy(() -> BrRestore.run(restore(NOBODY, raw).raw(false).build())).isInstanceOf(BrException.class)
                .hasMessage("cannot do transactional restore from raw data");
        assertThatThrownBy(() -> BrRestore.run(BrRestore.Options.builder(NOBODY, BrStorage.parse("noop://")).raw(true).build()))
                .isInstanceOf(BrException.class).hasMessage("cannot restore from noop://");
    }

    @Test
    void aFileThatGrewIsRefusedBeforePdIsAsked() throws Exception {
        Path copy = tmp.resolve("grown");
        Files.createDirectories(copy);
        try (Stream<Path> files = Files.list(raw)) {
            for (Path f : files.toList()) {
                Files.copy(f, copy.resolve(f.getFileName()));
            }
        }
        Path sst;
        try (Stream<Path> files = Files.list(copy)) {
            sst = files.filter(f -> f.toString().endsWith(".sst")).findFirst().orElseThrow();
        }
        Files.write(sst, new byte[] {0}, StandardOpenOption.APPEND);
        assertThatThrownBy(() -> BrRestore.run(restore(NOBODY, copy).build())).isInstanceOf(BrException.class)
                .hasMessageContaining("backup data checksum failed: " + sst.getFileName())
                .hasMessageContaining("(size " + Files.size(sst) + ", backupmeta says " + (Files.size(sst) - 1) + ")")
                .hasMessageContaining("nothing was restored");
    }

    @Test
    void badOptionsAreRefused() {
        byte[] a = "ab".getBytes(StandardCharsets.US_ASCII);
        assertThatThrownBy(() -> restore(NOBODY, raw).concurrency(0).build()).isInstanceOf(BrException.class)
                .hasMessage("--concurrency must be in [1, 256]");
        assertThatThrownBy(() -> restore(NOBODY, raw).concurrency(257).build()).isInstanceOf(BrException.class)
                .hasMessage("--concurrency must be in [1, 256]");
        assertThat(restore(NOBODY, raw).concurrency(256).build().concurrency()).isEqualTo(256);
        assertThatThrownBy(() -> new BrRestore.Rewrite(new byte[0], new byte[0])).isInstanceOf(BrException.class)
                .hasMessageContaining("non-empty and not all 0xFF");
        assertThatThrownBy(() -> new BrRestore.Rewrite(new byte[] {(byte) 0xFF}, new byte[] {1})).isInstanceOf(BrException.class)
                .hasMessageContaining("non-empty and not all 0xFF");
        assertThatThrownBy(() -> new BrRestore.Rewrite(a, "abc".getBytes(StandardCharsets.US_ASCII))).isInstanceOf(BrException.class)
                .hasMessageContaining("must keep the prefix length (old 2 bytes, new 3");
        assertThatThrownBy(() -> restore(NOBODY, raw).rewrites(List.of(new BrRestore.Rewrite(a, "xy".getBytes(StandardCharsets.US_ASCII)),
                new BrRestore.Rewrite("a".getBytes(StandardCharsets.US_ASCII), "z".getBytes(StandardCharsets.US_ASCII)))).build())
                .isInstanceOf(BrException.class).hasMessageContaining("rewrite rules overlap");
        // prefixes side by side do not overlap
        assertThat(restore(NOBODY, raw).rewrites(List.of(new BrRestore.Rewrite(a, "xy".getBytes(StandardCharsets.US_ASCII)),
                new BrRestore.Rewrite("ac".getBytes(StandardCharsets.US_ASCII), "zz".getBytes(StandardCharsets.US_ASCII)))).build()
                .rewrites()).hasSize(2);
    }

    @Test
    void aBackupFromANewerMajorIsRefusedAndNothingIsSwitched() throws Exception {
        try (FakeCluster old = FakeCluster.builder().stores(1).set("fake.store-version", "4.0.16").start()) {
            assertThatThrownBy(() -> BrRestore.run(restore(old.pdAddr(), raw).build())).isInstanceOf(BrException.class)
                    .hasMessageContaining("the backup is from cluster version 5.4.0, newer than TiKV 4.0.16 of store 1");
            assertThat(ClusterData.count(old.engine(), Cf.DEFAULT)).isZero();
            assertThat(old.store(1).importer().mode()).hasToString("Normal");
        }
    }

    @Test
    void rawStartEndRestoresOnlyThatRangeAndTheSpeedLimitReachesEveryStore() throws Exception {
        String start = "r000000000150";
        String end = "r000000000420";
        try (FakeCluster b = FakeCluster.builder().stores(3).start()) {
            BrRestore.Result r = BrRestore.run(restore(b.pdAddr(), raw).start(start.getBytes(StandardCharsets.US_ASCII))
                    .end(end.getBytes(StandardCharsets.US_ASCII)).rateLimitMiB(3).build());
            TreeMap<String, String> expected = new TreeMap<>(rawSource.subMap(hex(start), true, hex(end), false));
            assertThat(expected).hasSize(270);
            ClusterData.assertSame(ClusterData.rawView(b.engine(), Cf.DEFAULT), expected);
            assertThat(r.kvs()).isEqualTo(270);
            assertThat(b.stores()).allSatisfy(s -> assertThat(s.importer().speedLimit()).isEqualTo(3L << 20));
        }
    }

    @Test
    void twoRewriteRulesMoveTheirPrefixesAndLeaveTheRest() throws Exception {
        List<BrRestore.Rewrite> rules = List.of(
                new BrRestore.Rewrite("r0000000001".getBytes(StandardCharsets.US_ASCII), "x0000000001".getBytes(StandardCharsets.US_ASCII)),
                new BrRestore.Rewrite("r0000000004".getBytes(StandardCharsets.US_ASCII), "y0000000004".getBytes(StandardCharsets.US_ASCII)));
        try (FakeCluster b = FakeCluster.builder().stores(1).start()) {
            BrRestore.run(restore(b.pdAddr(), raw).rewrites(rules).build());
            TreeMap<String, String> expected = new TreeMap<>();
            for (Map.Entry<String, String> e : rawSource.entrySet()) {
                String k = new String(HexFormat.of().parseHex(e.getKey()), StandardCharsets.US_ASCII);
                if (k.startsWith("r0000000001")) {
                    k = "x" + k.substring(1);
                } else if (k.startsWith("r0000000004")) {
                    k = "y" + k.substring(1);
                }
                expected.put(hex(k), e.getValue());
            }
            assertThat(expected.keySet()).filteredOn(k -> k.startsWith(hex("x"))).hasSize(100);
            ClusterData.assertSame(ClusterData.rawView(b.engine(), Cf.DEFAULT), expected);
        }
    }

    @Test
    void anEpochThatChangesBeforeIngestIsRetriedWithFreshRegions() throws Exception {
        try (FakeCluster b = FakeCluster.builder().stores(3).start()) {
            Region only = b.regions().all().get(0);
            long leader = only.leaderStoreId();
            b.store(leader).faults().failPoints().set("import_before_ingest", "1*pause");
            CompletableFuture<BrRestore.Result> run = CompletableFuture.supplyAsync(() -> BrRestore.run(restore(b.pdAddr(), raw).build()));
            await().atMost(Duration.ofSeconds(60)).until(() -> b.store(leader).faults().failPoints().paused("import_before_ingest") == 1);
            // the restore split the region first (as BR does): the paused ingest is on one of the parts `leader`
            // leads, so every one of them changes its epoch (a version bump, as a split would make)
            for (Region part : b.regions().all()) {
                if (part.leaderStoreId() == leader) {
                    b.regions().setEpoch(part.id(), part.confVer(), part.version() + 1);
                }
            }
            b.store(leader).faults().failPoints().remove("import_before_ingest");
            BrRestore.Result r = run.get(60, TimeUnit.SECONDS);
            assertThat(r.retried()).isGreaterThanOrEqualTo(1);
            ClusterData.assertSame(ClusterData.rawView(b.engine(), Cf.DEFAULT), rawSource);
        }
    }

    @Test
    void anIngestCallThatFailsWithAStatusBrDoesNotRetryEndsTheRestoreAtOnceWithNothingIngested() throws Exception {
        try (FakeCluster b = FakeCluster.builder().stores(1).start()) {
            for (var s : b.stores()) {
                // the call itself fails (gRPC UNKNOWN): BR 5.4's importerBackoffer stops at once on a status other
                // than UNAVAILABLE/ABORTED ("unexcepted error, stop to retry"); UNAVAILABLE on every attempt is
                // BrRestoreStubStoreTest's
                s.faults().failPoints().set("import_before_ingest", "panic(ingest broken)");
            }
            assertThatThrownBy(() -> BrRestore.run(restore(b.pdAddr(), raw).concurrency(1).build())).isInstanceOf(BrException.class)
                    .hasMessageContaining("MultiIngest on store 1: UNKNOWN").hasMessageNotContaining("attempts");
            assertThat(ClusterData.count(b.engine(), Cf.DEFAULT)).isZero();
            assertThat(b.stores()).allSatisfy(s -> assertThat(s.importer().mode()).hasToString("Normal"));
        }
    }
}

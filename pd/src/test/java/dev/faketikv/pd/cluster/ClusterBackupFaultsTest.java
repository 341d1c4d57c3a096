package dev.faketikv.pd.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.faketikv.client.BackupVerifier;
import dev.faketikv.client.br.BrBackup;
import dev.faketikv.client.br.BrChecksum;
import dev.faketikv.client.br.BrException;
import dev.faketikv.client.br.BrStorage;
import dev.faketikv.engine.region.Region;
import dev.faketikv.pd.FakeCluster;
import dev.faketikv.server.control.FaultRules;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb;

/**
 * A backup through PD while the cluster misbehaves: a store holds a region until its leader has moved,
 * leaders move mid-backup, stores answer busy / not-leader / epoch-not-match / a retryable storage error.
 * The BR-like client must still produce a complete backupmeta whose files all verify.
 */
class ClusterBackupFaultsTest {
    @TempDir
    Path tmp;

    static FaultRules.Rule rule(FakeCluster c, long store, String name) {
        return c.store(store).faults().rules().rules().stream().filter(r -> r.name().equals(name)).findFirst().orElseThrow();
    }

    @Test
    void leadersMovingAndFaultsMidBackupStillYieldACompleteVerifiedBackup() throws Exception {
        Path dir = tmp.resolve("backup");
        try (FakeCluster a = FakeCluster.builder().stores(3).set("backup.num-threads", 2)
                .seed("txn:rows=6000,regions=24,value-size=32,long-ratio=0.1,long-value-size=300,versions=2,deletes=0.02,seed=11").start()) {
            List<Region> regions = a.regions().all();
            Region held = regions.stream().filter(r -> r.leaderStoreId() == 1 && r.startKey().length > 0).findFirst().orElseThrow();
            a.store(1).faults().rules().replace("[[rule]]\nname = \"hold\"\nmatch = { region = " + held.id() + " }\naction = \"hang\"\ntimes = 1\n");
            a.store(2).faults().rules().replace("""
                    [[rule]]
                    name = "busy"
                    match = { start = "74", end = "75" }
                    action = "server_is_busy"
                    times = 2
                    [[rule]]
                    name = "s3-timeout"
                    match = { start = "74", end = "75" }
                    action = "storage_error"
                    message = "Io(Custom { kind: Other, error: \\"put object timeout\\" })"
                    times = 1
                    """);
            a.store(3).faults().rules().replace("""
                    [[rule]]
                    name = "stale-leader"
                    match = { start = "74", end = "75" }
                    action = "not_leader"
                    leader-store = 1
                    times = 1
                    [[rule]]
                    name = "epoch"
                    match = { start = "74", end = "75" }
                    action = "epoch_not_match"
                    times = 1
                    """);
            BrBackup.Options o = new BrBackup.Options(a.pdAddr(), false, null, null, null, 0, 4, Brpb.CompressionType.LZ4, null,
                    BrStorage.parse("local://" + dir), 300, 0.01, null);
            CompletableFuture<BrBackup.Result> run = CompletableFuture.supplyAsync(() -> BrBackup.run(o));

            // store 1 is holding `held`: move its leader and a third of the others, then let it go
            await().atMost(Duration.ofSeconds(30)).until(() -> rule(a, 1, "hold").fired() == 1);
            assertThat(a.pd().serviceSafePoints()).as("BR keeps a service safe point while it runs").hasSize(1);
            a.transferLeader(held.id(), 2);
            for (int i = 0; i < regions.size(); i += 3) {
                Region r = a.regions().get(regions.get(i).id());
                if (r.id() != held.id()) {
                    a.transferLeader(r.id(), r.leaderStoreId() % 3 + 1);
                }
            }
            assertThat(a.store(1).faults().rules().release("hold")).isTrue();
            BrBackup.Result r = run.get(120, TimeUnit.SECONDS);

            assertThat(rule(a, 2, "busy").fired()).isEqualTo(2);
            assertThat(rule(a, 2, "s3-timeout").fired()).isEqualTo(1);
            assertThat(rule(a, 3, "stale-leader").fired()).isEqualTo(1);
            assertThat(rule(a, 3, "epoch").fired()).isEqualTo(1);
            assertThat(r.retried()).isGreaterThanOrEqualTo(5);

            // complete: every visible row once, no range twice, every file verifies
            long backupTs = r.meta().getEndVersion();
            assertThat(r.kvs()).isEqualTo(ClusterData.txnView(a.engine(), backupTs).size());
            Map<String, List<Brpb.File>> byRange = new LinkedHashMap<>();
            Set<String> seen = new HashSet<>();
            for (Brpb.File f : r.meta().getFilesList()) {
                assertThat(seen.add(BrBackupHex.of(f) + "/" + f.getCf())).as("one file per range and cf: " + f.getName()).isTrue();
                byRange.computeIfAbsent(BrBackupHex.of(f), k -> new ArrayList<>()).add(f);
            }
            BackupVerifier verifier = new BackupVerifier(dir, null, false, 0, backupTs);
            int checked = 0;
            for (List<Brpb.File> files : byRange.values()) {
                Brpb.BackupResponse resp = Brpb.BackupResponse.newBuilder().setStartKey(files.get(0).getStartKey())
                        .setEndKey(files.get(0).getEndKey()).addAllFiles(files).build();
                for (BackupVerifier.FileCheck fc : verifier.verify(resp)) {
                    assertThat(fc.problems()).as(fc.name()).isEmpty();
                    checked++;
                }
            }
            assertThat(checked).isEqualTo(r.files());
            BrChecksum.Result sum = BrChecksum.run(a.pdAddr(), false, BrStorage.parse("local://" + dir), null, null, null);
            assertThat(sum.ok()).as(sum.summary()).isTrue();
            assertThat(a.pd().serviceSafePoints()).isEmpty();
        }
    }

    @Test
    void clusterIdMismatchAndPermissionDeniedGiveUpAtOnce() throws Exception {
        try (FakeCluster a = FakeCluster.builder().stores(2).seed("raw:keys=500,regions=4").start()) {
            a.store(2).faults().rules().replace("[[rule]]\nname = \"cid\"\naction = \"cluster_id_mismatch\"\ntimes = 1\n");
            BrBackup.Options o = new BrBackup.Options(a.pdAddr(), true, null, null, "default", 0, 4, Brpb.CompressionType.LZ4, null,
                    BrStorage.parse("local://" + tmp.resolve("cid")), 300, 0.01, null);
            assertThatThrownBy(() -> BrBackup.run(o)).isInstanceOf(BrException.class).hasMessageContaining("ErrKVClusterIDMismatch");
            a.store(2).faults().rules().replace("[[rule]]\nname = \"denied\"\nmatch = { start = \"72\", end = \"73\" }\naction = \"storage_error\"\n"
                    + "message = \"Io(Os { code: 13, kind: PermissionDenied, message: \\\"Permission denied\\\" })\"\ntimes = 1\n");
            BrBackup.Options o2 = new BrBackup.Options(a.pdAddr(), true, null, null, "default", 0, 4, Brpb.CompressionType.LZ4, null,
                    BrStorage.parse("local://" + tmp.resolve("denied")), 300, 0.01, null);
            assertThatThrownBy(() -> BrBackup.run(o2)).isInstanceOf(BrException.class).hasMessageContaining("permission denied");
            assertThat(a.pd().serviceSafePoints()).isEmpty();
        }
    }

    @Test
    void aFatalErrorOnOneStoreEndsTheBackupWhileAnotherStoreHangs() throws Exception {
        try (FakeCluster a = FakeCluster.builder().stores(2).seed("raw:keys=500,regions=4").start()) {
            a.store(1).faults().rules().replace("[[rule]]\nname = \"hold\"\nmatch = { start = \"72\", end = \"73\" }\naction = \"hang\"\n");
            a.store(2).faults().rules().replace("[[rule]]\nname = \"cid\"\naction = \"cluster_id_mismatch\"\n");
            BrBackup.Options o = new BrBackup.Options(a.pdAddr(), true, null, null, "default", 0, 4, Brpb.CompressionType.LZ4, null,
                    BrStorage.parse("noop://"), 300, 0.01, null);
            CompletableFuture<BrBackup.Result> run = CompletableFuture.supplyAsync(() -> BrBackup.run(o));
            // BR cancels the whole push-down on a fatal error: the hung stream on store 1 does not hold it
            assertThatThrownBy(() -> run.get(30, TimeUnit.SECONDS)).hasCauseInstanceOf(BrException.class)
                    .hasMessageContaining("ErrKVClusterIDMismatch");
            assertThat(rule(a, 1, "hold").released()).isFalse();
            await().atMost(Duration.ofSeconds(10)).until(() -> a.store(1).endpoint().busyWorkers() == 0);
            assertThat(a.pd().serviceSafePoints()).isEmpty();
        }
    }

    @Test
    void aLockThatStaysIsReportedNotResolved() throws Exception {
        try (FakeCluster a = FakeCluster.builder().stores(2).seed("txn:rows=300,regions=3,seed=4").start()) {
            for (var s : a.stores()) {
                s.faults().rules().replace("[[rule]]\nname = \"locked\"\nmatch = { start = \"74\", end = \"75\" }\naction = \"key_locked\"\nlock-key = \"7480000000000000645f728000000000000001\"\n"
                        + "lock-version = 42\n");
            }
            BrBackup.Options o = new BrBackup.Options(a.pdAddr(), false, null, null, null, 0, 4, Brpb.CompressionType.LZ4, null,
                    BrStorage.parse("noop://"), 300, 0.0, null);
            assertThatThrownBy(() -> BrBackup.run(o)).isInstanceOf(BrException.class)
                    .hasMessageContaining("still incomplete")
                    .hasMessageContaining("KeyLocked: key 7480000000000000645f728000000000000001 is locked by the txn with start ts 42")
                    .hasMessageContaining("resolves no locks");
        }
    }

    /** The range part of a file, as hex. */
    static final class BrBackupHex {
        static String of(Brpb.File f) {
            return java.util.HexFormat.of().formatHex(f.getStartKey().toByteArray()) + "-" + java.util.HexFormat.of().formatHex(f.getEndKey().toByteArray());
        }
    }
}

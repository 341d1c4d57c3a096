package dev.faketikv.server.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.faketikv.client.BackupCheck;
import dev.faketikv.client.BackupClient;
import dev.faketikv.client.RetryingBackup;
import dev.faketikv.server.TestServers;
import dev.faketikv.server.FakeTikv;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb.BackupRequest;

/** Every shipped scenario in config/faults/, driven through a BR-style retrying client. */
class ScenarioFilesTest {
    /** One store for the class; {@link #reset} clears its rules, failpoints and journal before each test. */
    static FakeTikv TIKV;

    @TempDir
    Path tmp;
    static BackupClient client;

    @BeforeAll
    static void dial() throws IOException {
        TIKV = FakeTikv.builder().seed("txn:rows=4000,regions=6,value-size=30,seed=5").start();
        client = new BackupClient(TIKV.addr());
    }

    @BeforeEach
    void reset() {
        TIKV.reset();
    }

    @AfterAll
    static void hangUp() {
        client.close();
        TIKV.close();
    }

    static String scenario(String name) throws Exception {
        return Files.readString(Path.of("..", "config", "faults", name));
    }

    BackupRequest request() {
        return TestServers.txn(TestServers.local(tmp.resolve("out"))).build();
    }

    /** Runs the scenario; returns the outcome after checking every file of the good responses. */
    RetryingBackup.Outcome run(String file) throws Exception {
        TIKV.faults(scenario(file));
        BackupRequest req = request();
        RetryingBackup.Outcome o = RetryingBackup.run(client, req, 5);
        // a client that gave up cancelled its call: let the store's workers finish before the folder goes
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(5))
                .until(() -> TIKV.server().endpoint().busyWorkers() == 0);
        if (o.gaveUp() == null) {
            assertThat(BackupCheck.run(req, o.responses(), tmp.resolve("out")).problems()).isEmpty();
        }
        return o;
    }

    long fired(String rule) {
        return TIKV.server().faults().rules().rules().stream().filter(r -> r.name().equals(rule))
                .mapToLong(FaultRules.Rule::fired).sum();
    }

    @Test
    void notLeaderIsRetriedAndTheBackupCompletes() throws Exception {
        RetryingBackup.Outcome o = run("not-leader.toml");
        assertThat(o.complete(request())).isTrue();
        assertThat(o.retried()).containsExactly("retry on region error", "retry on region error");
        assertThat(o.rounds()).isEqualTo(2);
        assertThat(fired("not-leader-twice")).isEqualTo(2);
    }

    @Test
    void serverIsBusyEpochNotFoundAndStaleAreRetried() throws Exception {
        assertThat(run("server-is-busy.toml").retried()).hasSize(3);
        assertThat(run("epoch-not-match.toml").retried()).hasSize(3).allMatch(r -> r.equals("retry on region error"));
    }

    @Test
    void keyLockedIsRetried() throws Exception {
        RetryingBackup.Outcome o = run("key-locked.toml");
        assertThat(o.complete(request())).isTrue();
        assertThat(o.retried()).containsExactly("retry on kv error");
    }

    @Test
    void putObjectTimeoutIsARetryableStorageError() throws Exception {
        RetryingBackup.Outcome o = run("put-object-timeout.toml");
        assertThat(o.complete(request())).isTrue();
        assertThat(o.retried()).containsExactly("retryable storage error", "retryable storage error");
    }

    @Test
    void permissionDeniedIsFatal() throws Exception {
        RetryingBackup.Outcome o = run("permission-denied.toml");
        assertThat(o.gaveUp()).startsWith("permission denied");
    }

    @Test
    void clusterIdMismatchIsFatal() throws Exception {
        RetryingBackup.Outcome o = run("cluster-id-mismatch.toml");
        assertThat(o.gaveUp()).startsWith("cluster id mismatch");
    }

    @Test
    void unavailableEndsTheFirstCallAndTheSecondSucceeds() throws Exception {
        RetryingBackup.Outcome o = run("unavailable.toml");
        assertThat(o.complete(request())).isTrue();
        assertThat(o.retried()).containsExactly("retry on UNAVAILABLE");
        assertThat(TIKV.journal()).contains("UNAVAILABLE: connection reset by fake-tikv");
    }

    @Test
    void aHangingRangeWaitsForItsRelease() throws Exception {
        TIKV.faults(scenario("slow-and-hanging.toml"));
        BackupRequest req = request();
        CompletableFuture<RetryingBackup.Outcome> f = CompletableFuture.supplyAsync(() -> RetryingBackup.run(client, req, 3));
        await().atMost(Duration.ofSeconds(5)).until(() -> fired("hold") == 1);
        assertThat(f).isNotDone();
        TIKV.release("hold");
        RetryingBackup.Outcome o = f.get(10, TimeUnit.SECONDS);
        assertThat(o.complete(req)).isTrue();
        assertThat(o.retried()).isEmpty();
        assertThat(fired("slow")).isEqualTo(1);
    }

    @Test
    void throttledUploadsTakeAtLeastTheirSizeOverTheRate() throws Exception {
        long t0 = System.nanoTime();
        RetryingBackup.Outcome o = run("throttled-uploads.toml");
        double secs = (System.nanoTime() - t0) / 1e9;
        long bytes = o.responses().stream().flatMap(r -> r.getFilesList().stream()).mapToLong(f -> f.getSize()).sum();
        assertThat(o.complete(request())).isTrue();
        assertThat(secs).isGreaterThanOrEqualTo(0.95 * (bytes - 0.1 * (256 << 10)) / (256 << 10));
    }
}

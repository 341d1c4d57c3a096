package dev.faketikv.server.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.faketikv.client.BackupCheck;
import dev.faketikv.client.BackupClient;
import dev.faketikv.server.FakeTikv;
import dev.faketikv.server.TestServers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb.BackupRequest;
import org.tikv.kvproto.Brpb.BackupResponse;

/**
 * A backup into a full disk (a 768 KiB tmpfs, mounted by the test; skipped where mounting is not
 * allowed): the ranges that did not fit answer an error naming the I/O failure, every file a response
 * lists is there whole with its sha256, and no temp file is left behind.
 */
class FullDiskTest {
    @TempDir
    Path tmp;

    static boolean run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        return p.waitFor(20, TimeUnit.SECONDS) && p.exitValue() == 0;
    }

    @Test
    void aFullDiskFailsRangesCleanly() throws Exception {
        Path mnt = Files.createDirectories(tmp.resolve("small-disk"));
        assumeTrue(run("mount", "-t", "tmpfs", "-o", "size=768k", "tmpfs", mnt.toString()), "cannot mount a tmpfs here");
        try (FakeTikv tikv = FakeTikv.builder().seed("txn:rows=8000,regions=8,value-size=200,seed=3").start();
             BackupClient client = new BackupClient(tikv.addr())) {
            BackupRequest req = TestServers.txn(TestServers.local(mnt)).build();
            List<BackupResponse> responses = client.backup(req);
            List<BackupResponse> failed = responses.stream().filter(BackupResponse::hasError).toList();
            List<BackupResponse> saved = responses.stream().filter(r -> !r.hasError()).toList();
            assertThat(failed).as("some ranges did not fit").isNotEmpty()
                    .allSatisfy(r -> assertThat(r.getError().getMsg()).startsWith("Io(").containsIgnoringCase("space"));
            assertThat(saved).as("some ranges fitted").isNotEmpty();
            // every listed file is whole: the independent check passes on the successful responses
            assertThat(BackupCheck.run(req, saved, mnt).problems()).allMatch(p -> p.startsWith("range not covered"));
            try (Stream<Path> s = Files.list(mnt)) {
                assertThat(s.map(p -> p.getFileName().toString())).noneMatch(n -> n.contains(".tmp"));
            }
            // the server serves on, once there is room
            BackupRequest again = TestServers.txn(TestServers.local(tmp.resolve("roomy"))).build();
            assertThat(BackupCheck.run(again, client.backup(again), tmp.resolve("roomy")).problems()).isEmpty();
        } finally {
            run("umount", mnt.toString());
        }
    }
}

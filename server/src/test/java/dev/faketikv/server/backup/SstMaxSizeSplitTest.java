package dev.faketikv.server.backup;

import static dev.faketikv.server.TestServers.local;
import static dev.faketikv.server.TestServers.problems;
import static org.assertj.core.api.Assertions.assertThat;

import dev.faketikv.client.BackupClient;
import dev.faketikv.client.BackupVerifier;
import dev.faketikv.server.FakeTikvServer;
import dev.faketikv.server.TestServers;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Brpb.BackupRequest;
import org.tikv.kvproto.Brpb.BackupResponse;

/**
 * One region of ~40 MB of logical KV bytes with sst-max-size at its floor (144MB / 10 = 15099494 bytes):
 * the region is cut into contiguous groups at 1024-entry batch boundaries, each group's files named by
 * the hash of its own start key.
 */
class SstMaxSizeSplitTest {
    @TempDir
    Path tmp;

    @Test
    void aBigRegionIsCutAtSstMaxSize() throws Exception {
        // 10000 rows x 4000-byte values ~ 40 MB in one region; 1 KB below the floor is clamped up to it
        try (FakeTikvServer server = TestServers.start(tmp.resolve("data"),
                List.of("txn:rows=10000,regions=1,value-size=4000,seed=9"), "backup.sst-max-size=1KB");
             BackupClient client = new BackupClient(server.addr())) {
            assertThat(server.config().backup().sstMaxSize()).isEqualTo(15099494L);
            Path out = tmp.resolve("out");
            BackupRequest req = TestServers.txn(local(out)).build();
            List<BackupResponse> responses = client.backup(req);
            assertThat(problems(req, responses, out)).isEmpty();
            assertThat(responses).hasSize(3);
            List<BackupResponse> sorted = responses.stream()
                    .sorted(Comparator.comparing(r -> r.getStartKey().toByteArray(), (a, b) -> a.length == 0 ? -1 : b.length == 0 ? 1 : Arrays.compareUnsigned(a, b)))
                    .toList();
            for (int i = 1; i < sorted.size(); i++) {
                assertThat(sorted.get(i).getStartKey()).isEqualTo(sorted.get(i - 1).getEndKey());
                Brpb.File f = sorted.get(i).getFiles(0);
                assertThat(f.getName()).contains("_" + BackupVerifier.sha256Hex(sorted.get(i).getStartKey().toByteArray()) + "_");
            }
            // each group reached the limit before it was cut, and exceeds it by at most one batch
            for (int i = 0; i < sorted.size() - 1; i++) {
                long bytes = sorted.get(i).getFilesList().stream().mapToLong(Brpb.File::getTotalBytes).sum();
                assertThat(bytes).isBetween(15099494L, 15099494L + 1024L * 4100);
                assertThat(sorted.get(i).getFilesList().stream().mapToLong(Brpb.File::getTotalKvs).sum() % 1024).isZero();
            }
            assertThat(TestServers.totalKvs(responses)).isEqualTo(10000);
        }
    }
}

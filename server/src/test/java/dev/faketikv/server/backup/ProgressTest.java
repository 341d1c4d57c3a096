package dev.faketikv.server.backup;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faketikv.engine.Cf;
import dev.faketikv.engine.Engine;
import dev.faketikv.engine.region.RegionMap;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProgressTest {
    @TempDir
    Path dir;

    private static byte[] k(String s) {
        return s.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    }

    private static String str(byte[] b) {
        return b == null ? "-" : new String(b, java.nio.charset.StandardCharsets.US_ASCII);
    }

    @Test
    void forwardHandsOutClippedLeaderRangesInBatches() {
        try (Engine e = Engine.open(dir)) {
            RegionMap m = RegionMap.load(e);
            m.bootstrapIfEmpty(1);
            List<byte[]> splits = new ArrayList<>();
            for (char c = 'b'; c <= 'y'; c++) {
                splits.add(k(String.valueOf(c)));
            }
            m.splitAll(splits);
            // region [f, g) is led elsewhere
            long foreign = m.locate(k("f")).id();
            m.addPeer(foreign, 2);
            m.transferLeader(foreign, 2);

            Progress p = new Progress(1, m, k("cc"), k("hh"), false, Cf.DEFAULT);
            List<String> got = new ArrayList<>();
            List<BackupRange> batch;
            int batches = 0;
            while (!(batch = p.forward(2)).isEmpty()) {
                batches++;
                batch.forEach(r -> got.add(str(r.startKey()) + ".." + str(r.endKey())));
            }
            assertThat(got).containsExactly("cc..d", "d..e", "e..f", "g..h", "h..hh");
            assertThat(batches).isEqualTo(3);

            Progress all = new Progress(1, m, null, null, false, Cf.DEFAULT);
            List<BackupRange> first = all.forward(100);
            assertThat(first).hasSize(24);
            assertThat(first.get(0).startKey()).isNull();
            assertThat(first.get(first.size() - 1).endKey()).isNull();
            assertThat(all.forward(100)).isEmpty();
        }
    }
}

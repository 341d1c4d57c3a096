package dev.faketikv.engine.region;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.faketikv.engine.Engine;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RegionMapTest {
    @TempDir
    Path dir;

    private static byte[] k(String s) {
        return s.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    }

    @Test
    void splitBumpsVersionRightDerivesAndSurvivesRestart() {
        long firstId;
        try (Engine engine = Engine.open(dir)) {
            RegionMap m = RegionMap.load(engine);
            assertThat(m.bootstrapIfEmpty(1)).isTrue();
            assertThat(m.bootstrapIfEmpty(1)).isFalse();
            Region whole = m.all().get(0);
            firstId = whole.id();
            assertThat(whole.version()).isEqualTo(1);
            Region[] lr = m.split(k("m"));
            assertThat(lr[1].id()).isEqualTo(firstId);
            assertThat(lr[1].startKey()).containsExactly('m');
            assertThat(lr[0].endKey()).containsExactly('m');
            assertThat(lr[0].version()).isEqualTo(2);
            assertThat(lr[1].version()).isEqualTo(2);
            assertThat(lr[0].peers().get(0).id()).isNotEqualTo(lr[1].peers().get(0).id());
            m.splitAll(List.of(k("t"), k("c")));
            assertThatThrownBy(() -> m.split(k("m"))).isInstanceOf(IllegalArgumentException.class);
            m.transferLeader(firstId, 1);
            assertThatThrownBy(() -> m.transferLeader(firstId, 9)).hasMessageContaining("no peer on store 9");
        }
        try (Engine engine = Engine.open(dir)) {
            RegionMap m = RegionMap.load(engine);
            List<Region> all = m.all();
            assertThat(all).hasSize(4);
            assertThat(all.stream().map(r -> new String(r.startKey()))).containsExactly("", "c", "m", "t");
            for (int i = 1; i < all.size(); i++) {
                assertThat(all.get(i - 1).endKey()).isEqualTo(all.get(i).startKey());
            }
            assertThat(all.get(3).endKey()).isEmpty();
            assertThat(m.locate(k("u")).id()).isEqualTo(firstId);
            assertThat(m.scanFrom(k("d"), 2)).extracting(r -> new String(r.startKey())).containsExactly("c", "m");
            assertThat(m.scanFrom(null, 10)).hasSize(4);
            // ids allocated after restart do not collide
            Region[] lr = m.split(k("x"));
            assertThat(all.stream().map(Region::id)).doesNotContain(lr[0].id());
        }
    }
}

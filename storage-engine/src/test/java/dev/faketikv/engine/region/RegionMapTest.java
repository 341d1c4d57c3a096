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

    @Test
    void updateAllChangesEveryRegionInOneWriteAndKeepsIdsAndRanges() {
        try (Engine engine = Engine.open(dir)) {
            RegionMap m = RegionMap.load(engine);
            m.bootstrapIfEmpty(1);
            m.splitAll(List.of(k("c"), k("m"), k("t")));
            // a second peer on store 2 for every other region, the leader moved there
            int changed = m.updateAll((i, r, newId) -> {
                if (i % 2 == 1) {
                    return r;
                }
                List<Peer> peers = new java.util.ArrayList<>(r.peers());
                peers.add(new Peer(newId.getAsLong(), 2));
                return new Region(r.id(), r.startKey(), r.endKey(), r.confVer() + 1, r.version(), peers, 2);
            });
            assertThat(changed).isEqualTo(2);
            assertThatThrownBy(() -> m.updateAll((i, r, newId) -> r.withRange(k("a"), r.endKey(), r.version())))
                    .hasMessageContaining("keep the id and range");
            assertThat(m.updateAll((i, r, newId) -> r)).isZero();
        }
        try (Engine engine = Engine.open(dir)) {
            RegionMap m = RegionMap.load(engine);
            List<Region> all = m.all();
            assertThat(all).extracting(Region::leaderStoreId).containsExactly(2L, 1L, 2L, 1L);
            assertThat(all).extracting(r -> r.peers().size()).containsExactly(2, 1, 2, 1);
            assertThat(all.get(0).leader().storeId()).isEqualTo(2);
            // the ids handed out by the bulk change are taken: a later split does not reuse them
            long maxPeer = all.stream().flatMap(r -> r.peers().stream()).mapToLong(Peer::id).max().orElseThrow();
            Region[] lr = m.split(k("x"));
            assertThat(lr[0].id()).isGreaterThan(maxPeer);
        }
    }
}

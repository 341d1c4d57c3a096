package dev.faketikv.pd.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.faketikv.client.br.BrBackup;
import dev.faketikv.client.br.BrStorage;
import dev.faketikv.engine.region.Region;
import dev.faketikv.pd.FakeCluster;
import dev.faketikv.server.config.ConfigException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb;

/** How a cluster lays regions over its stores, across restarts with another store count, and its ports. */
class ClusterLayoutTest {
    @TempDir
    Path tmp;

    @Test
    void leadersAndPeersFollowTheStoresThatRun() throws Exception {
        Path data = tmp.resolve("data");
        java.util.Map<Long, Long> leadersOnThree = new java.util.HashMap<>();
        try (FakeCluster c = FakeCluster.builder().stores(3).seed("raw:keys=600,regions=6,seed=2").dataDir(data).start()) {
            c.regions().all().forEach(r -> leadersOnThree.put(r.id(), r.leaderStoreId()));
            assertThat(c.regions().all()).allSatisfy(r -> assertThat(r.peers()).hasSize(3))
                    .extracting(Region::leaderStoreId).containsOnly(1L, 2L, 3L).contains(1L, 2L, 3L);
        }
        // the same data dir with two stores: nothing may stay on store 3
        try (FakeCluster c = FakeCluster.builder().stores(2).dataDir(data).start()) {
            assertThat(c.regions().all()).hasSize(6).allSatisfy(r -> {
                assertThat(r.leaderStoreId()).isIn(1L, 2L);
                assertThat(r.peers()).extracting(p -> p.storeId()).containsExactlyInAnyOrder(1L, 2L);
            });
            BrBackup.Result r = BrBackup.run(new BrBackup.Options(c.pdAddr(), true, null, null, "default", 0, 4, Brpb.CompressionType.LZ4,
                    null, BrStorage.parse("noop://"), 300, 0.01, null));
            assertThat(r.kvs()).isEqualTo(600);
        }
        // and back to three: store 3 gets its peers again and the leaders are spread as on the first start (the
        // layout is a function of the store count, not of where the leaders were on two stores)
        try (FakeCluster c = FakeCluster.builder().stores(3).dataDir(data).start()) {
            assertThat(c.regions().all()).hasSize(6).allSatisfy(r -> {
                assertThat(r.peers()).extracting(p -> p.storeId()).containsExactlyInAnyOrder(1L, 2L, 3L);
                assertThat(r.leaderStoreId()).as("leader of region %d", r.id()).isEqualTo(leadersOnThree.get(r.id()));
            });
        }
    }

    @Test
    void overlappingPortRangesAndWildcardAdvertisingAreRefused() {
        assertThatThrownBy(() -> FakeCluster.builder().stores(25).set("server.addr", "127.0.0.1:31160")
                .set("server.status-addr", "127.0.0.1:31180").start())
                .isInstanceOf(ConfigException.class).hasMessageContaining("overlap for 25 stores");
        assertThatThrownBy(() -> FakeCluster.builder().stores(2).set("server.addr", "0.0.0.0:0").start())
                .isInstanceOf(ConfigException.class).hasMessageContaining("server.advertise-addr must be set");
    }

    @Test
    void theAdvertisedHostIsWhatPdHandsOut() throws Exception {
        try (FakeCluster c = FakeCluster.builder().stores(2).set("server.addr", "0.0.0.0:0")
                .set("server.advertise-addr", "127.0.0.1:0").set("fake.pd-addr", "0.0.0.0:0").start()) {
            assertThat(c.storesPb()).allSatisfy(s -> assertThat(s.getAddress()).startsWith("127.0.0.1:"));
            assertThat(c.pdAddr()).startsWith("127.0.0.1:");
            BrBackup.Result r = BrBackup.run(new BrBackup.Options(c.pdAddr(), true, null, null, "default", 0, 4, Brpb.CompressionType.LZ4,
                    null, BrStorage.parse("noop://"), 300, 0.01, null));
            assertThat(r.kvs()).isZero();
        }
    }
}

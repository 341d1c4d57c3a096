package dev.faketikv.pd.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.faketikv.client.br.BrBackup;
import dev.faketikv.client.br.BrStorage;
import dev.faketikv.engine.region.Peer;
import dev.faketikv.engine.region.Region;
import dev.faketikv.pd.FakeCluster;
import dev.faketikv.server.config.ConfigException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb;

/**
 * {@code replication.max-replicas}: with more stores than replicas each region has max-replicas peers on
 * consecutive stores and its leader on the first of them; a backup through PD still covers every key.
 */
class MaxReplicasLayoutTest {
    @TempDir
    Path tmp;

    @Test
    void fiveStoresHoldThreePeersOfEachRegionAndBackUpEverything() throws Exception {
        Path data = tmp.resolve("data");
        try (FakeCluster c = FakeCluster.builder().stores(5).seed("raw:keys=400,regions=10,seed=3").dataDir(data).start()) {
            List<Region> all = c.regions().all();
            assertThat(all).hasSize(10);
            for (int i = 0; i < all.size(); i++) {
                Region r = all.get(i);
                long first = 1 + i % 5;
                assertThat(r.leaderStoreId()).isEqualTo(first);
                assertThat(r.peers()).extracting(Peer::storeId)
                        .containsExactly(first, 1 + (i + 1) % 5L, 1 + (i + 2) % 5L);
            }
            BrBackup.Result r = BrBackup.run(new BrBackup.Options(c.pdAddr(), true, null, null, "default", 0, 4, Brpb.CompressionType.LZ4,
                    null, BrStorage.parse("noop://"), 300, 0.01, null));
            assertThat(r.kvs()).isEqualTo(400);
            assertThat(r.retried()).isZero();
        }
        // a restart with one replica keeps each region's leader and drops the other peers
        try (FakeCluster c = FakeCluster.builder().stores(5).set("replication.max-replicas", 1).dataDir(data).start()) {
            List<Region> all = c.regions().all();
            for (int i = 0; i < all.size(); i++) {
                assertThat(all.get(i).peers()).extracting(Peer::storeId).containsExactly(1L + i % 5);
                assertThat(all.get(i).leaderStoreId()).isEqualTo(1L + i % 5);
            }
        }
        assertThatThrownBy(() -> FakeCluster.builder().stores(2).set("replication.max-replicas", 0).start())
                .isInstanceOf(ConfigException.class).hasMessageContaining("max");
    }
}

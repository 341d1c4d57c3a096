package dev.faketikv.pd.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faketikv.client.br.PdClient;
import dev.faketikv.pd.FakeCluster;
import org.junit.jupiter.api.Test;

/**
 * The BR-like client's PD HTTP calls gather no threads: Java 17's {@code HttpClient} has no {@code close()}, and
 * each one keeps a selector thread until it is collected, so a PdClient that built its own left one behind per
 * backup or restore (ClusterFuzzTest's thread bound saw 10 more after two restores).
 */
class PdClientThreadsTest {
    static long selectors() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().endsWith("SelectorManager")).count();
    }

    @Test
    void twentyClientsThatCallPdOverHttpLeaveNoSelectorThreads() throws Exception {
        try (FakeCluster cluster = FakeCluster.builder().stores(1).start()) {
            try (PdClient first = PdClient.connect(cluster.pdAddr())) {
                assertThat(first.clusterVersion()).isNotEmpty();
            }
            long before = selectors();
            for (int i = 0; i < 20; i++) {
                try (PdClient pd = PdClient.connect(cluster.pdAddr())) {
                    assertThat(pd.clusterVersion()).isNotEmpty();
                }
            }
            assertThat(selectors()).isLessThanOrEqualTo(before);
        }
    }
}

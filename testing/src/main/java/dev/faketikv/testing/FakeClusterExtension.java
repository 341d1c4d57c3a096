package dev.faketikv.testing;

import dev.faketikv.pd.FakeCluster;
import dev.faketikv.server.FakeTikvServer;
import java.io.IOException;
import java.util.List;

/**
 * A fake TiKV cluster (N stores and a PD facade, {@link FakeCluster}) for JUnit 5 tests of a BR-like
 * client, the cluster counterpart of {@link FakeTikvExtension}:
 *
 * <pre>{@code
 * @RegisterExtension
 * static final FakeClusterExtension CLUSTER = FakeClusterExtension.builder().stores(3)
 *         .seed("txn:rows=10000,regions=12")
 *         .build();
 *
 * @Test
 * void followsAMovedLeader() {
 *     CLUSTER.faults(2, "[[rule]]\nmatch = { start = \"74\", end = \"75\" }\naction = \"not_leader\"\ntimes = 1\n");
 *     ... your BR client against CLUSTER.pdAddr() ...
 * }
 * }</pre>
 *
 * As a static field the cluster starts once per class; before every test each store's fault rules,
 * failpoints, journal and request numbers, and the PD journal, are reset (data, regions and leaders are not: what one test
 * restores or moves the next one sees). As an instance field each test gets a fresh cluster. It stops the
 * cluster and removes its temporary data folder afterwards.
 */
public final class FakeClusterExtension extends ManagedExtension<FakeCluster> {
    private final FakeCluster.Builder builder;

    private FakeClusterExtension(FakeCluster.Builder builder) {
        this.builder = builder;
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    FakeCluster start() throws IOException {
        return builder.start();
    }

    @Override
    void reset(FakeCluster cluster) {
        for (FakeTikvServer s : cluster.stores()) {
            s.resetRequestNumbers();
            s.faults().rules().clear();
            s.faults().failPoints().clear();
            s.journal().clear();
        }
        cluster.pdJournal().clear();
    }

    @Override
    String what() {
        return "fake cluster";
    }

    /** The running cluster, for everything else (regions, leaders, engine, each store). */
    public FakeCluster cluster() {
        return running();
    }

    /** {@code host:port} of the PD facade: what a BR client is given as {@code --pd}. */
    public String pdAddr() {
        return cluster().pdAddr();
    }

    public long clusterId() {
        return cluster().clusterId();
    }

    public List<FakeTikvServer> stores() {
        return cluster().stores();
    }

    /** Replaces the fault rules (TOML or JSON) of store {@code storeId}. */
    public FakeClusterExtension faults(long storeId, String rules) {
        cluster().store(storeId).faults().rules().replace(rules);
        return this;
    }

    /** Sets a failpoint of store {@code storeId} to fail-rs actions. */
    public FakeClusterExtension failPoint(long storeId, String name, String actions) {
        cluster().store(storeId).faults().failPoints().set(name, actions);
        return this;
    }

    /** Moves the leader of {@code regionId} to {@code storeId}. */
    public FakeClusterExtension transferLeader(long regionId, long storeId) {
        cluster().transferLeader(regionId, storeId);
        return this;
    }

    public static final class Builder {
        private final FakeCluster.Builder inner = FakeCluster.builder();

        public Builder stores(int n) {
            inner.stores(n);
            return this;
        }

        public Builder seed(String spec) {
            inner.seed(spec);
            return this;
        }

        public Builder set(String key, Object value) {
            inner.set(key, value);
            return this;
        }

        public FakeClusterExtension build() {
            return new FakeClusterExtension(inner);
        }
    }
}

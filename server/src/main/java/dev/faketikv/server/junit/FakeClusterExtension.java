package dev.faketikv.server.junit;

import dev.faketikv.server.FakeCluster;
import dev.faketikv.server.FakeTikvServer;
import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

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
 * failpoints, journal and request numbers are reset (data, regions and leaders are not: what one test
 * restores or moves the next one sees). As an instance field each test gets a fresh cluster. It stops the
 * cluster and removes its temporary data folder afterwards.
 */
public final class FakeClusterExtension implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback, AfterEachCallback {
    private final FakeCluster.Builder builder;
    private FakeCluster cluster;
    private boolean perClass;
    private String startedBy;

    private FakeClusterExtension(FakeCluster.Builder builder) {
        this.builder = builder;
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public void beforeAll(ExtensionContext context) throws IOException {
        perClass = true;
        if (cluster == null) {
            cluster = builder.start();
            startedBy = context.getUniqueId();
        }
    }

    @Override
    public void afterAll(ExtensionContext context) {
        if (context.getUniqueId().equals(startedBy)) {
            stop();
            startedBy = null;
        }
    }

    @Override
    public void beforeEach(ExtensionContext context) throws IOException {
        if (perClass) {
            for (FakeTikvServer s : cluster.stores()) {
                s.resetRequestNumbers();
                s.faults().rules().clear();
                s.faults().failPoints().clear();
                s.journal().clear();
            }
        } else {
            cluster = builder.start();
        }
    }

    @Override
    public void afterEach(ExtensionContext context) {
        if (!perClass) {
            stop();
        }
    }

    private void stop() {
        if (cluster != null) {
            cluster.close();
            cluster = null;
        }
    }

    /** The running cluster, for everything else (regions, leaders, engine, each store). */
    public FakeCluster cluster() {
        if (cluster == null) {
            throw new IllegalStateException("the fake cluster runs only while a test runs");
        }
        return cluster;
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

package dev.faketikv.testing;

import dev.faketikv.server.FakeTikv;
import java.io.IOException;

/**
 * A fake TiKV store for JUnit 5 tests, in the style of S3Proxy's {@code S3ProxyExtension}:
 *
 * <pre>{@code
 * @RegisterExtension
 * static final FakeTikvExtension TIKV = FakeTikvExtension.builder()
 *         .seed("txn:rows=10000,regions=8")
 *         .build();
 *
 * @Test
 * void retriesServerIsBusy() {
 *     TIKV.faults("[[rule]]\nmatch = { region = 3 }\naction = \"server_is_busy\"\ntimes = 1\n");
 *     ... new BackupClient(TIKV.addr()) ...
 * }
 * }</pre>
 *
 * As a static field the store starts once per class, and fault rules, failpoints and the journal are
 * reset before every test; as an instance field each test gets a fresh store. It stops the store and
 * removes its temporary data folder afterwards.
 */
public final class FakeTikvExtension extends ManagedExtension<FakeTikv> {
    private final FakeTikv.Builder builder;

    private FakeTikvExtension(FakeTikv.Builder builder) {
        this.builder = builder;
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    FakeTikv start() throws IOException {
        return builder.start();
    }

    @Override
    void reset(FakeTikv tikv) {
        tikv.reset();
    }

    @Override
    String what() {
        return "fake TiKV";
    }

    private FakeTikv tikv() {
        return running();
    }

    /** {@code host:port} for a gRPC client. */
    public String addr() {
        return tikv().addr();
    }

    /** {@code http://host:port} of the status server. */
    public String statusUrl() {
        return tikv().statusUrl();
    }

    public long clusterId() {
        return tikv().clusterId();
    }

    /** Replaces the fault rules (TOML or JSON). */
    public FakeTikvExtension faults(String rules) {
        tikv().faults(rules);
        return this;
    }

    /** Sets a failpoint to fail-rs actions. */
    public FakeTikvExtension failPoint(String name, String actions) {
        tikv().failPoint(name, actions);
        return this;
    }

    /** Releases a {@code hang} rule. */
    public void release(String rule) {
        tikv().release(rule);
    }

    /** The journal as JSON. */
    public String journal() {
        return tikv().journal();
    }

    /** The running store, for everything else. */
    public FakeTikv store() {
        return tikv();
    }

    public static final class Builder {
        private final FakeTikv.Builder inner = FakeTikv.builder();

        public Builder seed(String spec) {
            inner.seed(spec);
            return this;
        }

        public Builder faults(String rules) {
            inner.faults(rules);
            return this;
        }

        public Builder set(String key, Object value) {
            inner.set(key, value);
            return this;
        }

        public FakeTikvExtension build() {
            return new FakeTikvExtension(inner);
        }
    }
}

package dev.faketikv.server;

import dev.faketikv.server.config.TikvConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The plain Java way to run a fake TiKV store in a test or a tool:
 *
 * <pre>{@code
 * try (FakeTikv tikv = FakeTikv.builder()
 *         .seed("txn:rows=10000,regions=8")
 *         .faults("[[rule]]\nmatch = { region = 3 }\naction = \"server_is_busy\"\ntimes = 1\n")
 *         .set("backup.num-threads", 2)
 *         .start()) {
 *     BackupClient client = new BackupClient(tikv.addr());
 *     ...
 * }
 * }</pre>
 *
 * Real gRPC on a loopback port chosen by the OS, a status server likewise, a temporary data folder
 * removed on {@link #close()} (unless {@link Builder#dataDir} named one). The JUnit 5 extension
 * ({@code FakeTikvExtension} in the {@code testing} module) and {@code bin/fake-tikv} build on the same
 * {@link FakeTikvServer}.
 */
public final class FakeTikv implements AutoCloseable {
    private final FakeTikvServer server;
    private final Path tempDir;
    private final String initialFaults;

    private FakeTikv(FakeTikvServer server, Path tempDir, String initialFaults) {
        this.server = server;
        this.tempDir = tempDir;
        this.initialFaults = initialFaults;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** {@code host:port} of the gRPC server. */
    public String addr() {
        return server.addr();
    }

    /** {@code http://host:port} of the status server. */
    public String statusUrl() {
        return server.statusUrl();
    }

    public long clusterId() {
        return server.clusterId();
    }

    public long storeId() {
        return server.storeId();
    }

    /** The store itself: engine, regions, metrics, faults, journal. */
    public FakeTikvServer server() {
        return server;
    }

    /** Replaces the fault rules (TOML or JSON). */
    public FakeTikv faults(String rules) {
        server.faults().rules().replace(rules);
        return this;
    }

    /** Sets failpoint {@code name} to fail-rs {@code actions}. */
    public FakeTikv failPoint(String name, String actions) {
        server.faults().failPoints().set(name, actions);
        return this;
    }

    /** Releases a {@code hang} rule. */
    public void release(String rule) {
        server.faults().rules().release(rule);
    }

    /**
     * Back to the builder's fault rules; clears failpoints and the journal, and numbers the next request
     * 1 again (between tests sharing one store).
     */
    public void reset() {
        server.resetRequestNumbers();
        server.faults().rules().clear();
        if (initialFaults != null) {
            server.faults().rules().replace(initialFaults);
        }
        server.faults().failPoints().list().keySet().forEach(server.faults().failPoints()::remove);
        server.journal().clear();
    }

    /** The journal as JSON. */
    public String journal() {
        return server.journal().toJson();
    }

    @Override
    public void close() {
        server.close();
        deleteTree(tempDir);
    }

    /** Removes a temporary data folder and everything in it (null: nothing). */
    public static void deleteTree(Path dir) {
        if (dir == null) {
            return;
        }
        try (var s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // temp folder
        }
    }

    /** Configures a store; every setting has a test-friendly default (ports 0, temp data dir). */
    public static final class Builder {
        private final List<String> seeds = new ArrayList<>();
        private final Map<String, Object> settings = new LinkedHashMap<>();
        private String faults;
        private Path dataDir;
        private Path configFile;
        private TikvConfig exact;

        public Builder seed(String spec) {
            seeds.add(spec);
            return this;
        }

        /** Fault rules (TOML or JSON) active from the start. */
        public Builder faults(String rules) {
            this.faults = rules;
            return this;
        }

        /** Any config key, e.g. {@code set("backup.num-threads", 2)} or {@code set("fake.store-id", 3)}. */
        public Builder set(String key, Object value) {
            settings.put(key, value);
            return this;
        }

        public Builder dataDir(Path dir) {
            this.dataDir = dir;
            return this;
        }

        public Builder config(Path tomlFile) {
            this.configFile = tomlFile;
            return this;
        }

        /**
         * Uses {@code config} exactly as given (addresses, data dir and all) instead of the test-friendly
         * defaults; seeds, settings and faults given here still apply. This is what {@code bin/fake-tikv} does.
         */
        public Builder config(TikvConfig config) {
            this.exact = config;
            return this;
        }

        public FakeTikv start() throws IOException {
            Path temp = exact == null && dataDir == null ? Files.createTempDirectory("fake-tikv") : null;
            TikvConfig c;
            if (exact != null) {
                c = exact;
            } else {
                c = configFile != null ? TikvConfig.load(configFile) : TikvConfig.defaults();
                c = c.with(TikvConfig.SERVER_ADDR.name(), "127.0.0.1:0")
                        .with(TikvConfig.STATUS_ADDR.name(), "127.0.0.1:0")
                        .with(TikvConfig.DATA_DIR.name(), (dataDir != null ? dataDir : temp).toString());
            }
            for (Map.Entry<String, Object> e : settings.entrySet()) {
                c = c.with(e.getKey(), e.getValue());
            }
            if (!seeds.isEmpty()) {
                List<String> all = new ArrayList<>(c.get(TikvConfig.SEED));
                all.addAll(seeds);
                c = c.with(TikvConfig.SEED.name(), all);
            }
            String initial = faults;
            if (initial == null && !c.get(TikvConfig.FAULTS_FILE).isEmpty()) {
                initial = Files.readString(Path.of(c.get(TikvConfig.FAULTS_FILE)));
            }
            FakeTikvServer server = FakeTikvServer.start(c);
            if (faults != null) {
                try {
                    server.faults().rules().replace(faults);
                } catch (RuntimeException e) {
                    server.close();
                    throw e;
                }
            }
            return new FakeTikv(server, temp, initial);
        }
    }
}

package dev.faketikv.cli;

import dev.faketikv.server.config.ConfigException;
import dev.faketikv.server.config.TikvConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * Options shared by {@code serve} and {@code demo}: a config file, then flags that override it. An example in a
 * description is a line of its own, so that help at 80 columns never wraps inside it.
 */
final class ServerOptions {
    @Option(names = "--config", description = "TOML config file (TiKV key names; see config/fake-tikv.toml)")
    Path config;

    @Option(names = "--addr", description = "gRPC address HOST:PORT (port 0 = any free port)")
    String addr;

    @Option(names = "--status-addr", description = "status server address HOST:PORT")
    String statusAddr;

    @Option(names = "--data-dir", description = "data folder (RocksDB and scratch space)")
    String dataDir;

    @Option(names = "--seed", description = {"seed spec, repeatable (applied once per data dir)", "e.g. txn:rows=100000,regions=16"})
    List<String> seeds = new ArrayList<>();

    @Option(names = "--faults", description = "fault rules file (TOML), see config/faults/")
    String faults;

    @Option(names = "--trace", description = "log the life of each request, one line per step")
    boolean trace;

    @Option(names = "--status-readonly", description = "refuse every mutating status-server request")
    boolean statusReadonly;

    @Option(names = "--stores", description = "stores in this process (a cluster with a PD facade when > 1)")
    Integer stores;

    @Option(names = "--pd-addr", description = {"PD facade address HOST:PORT", "(default 127.0.0.1:2379 when --stores > 1)"})
    String pdAddr;

    @Option(names = "--set", description = {"any config key, repeatable", "e.g. --set backup.num-threads=4"})
    List<String> sets = new ArrayList<>();

    TikvConfig build(TikvConfig base) {
        TikvConfig cfg = config != null ? TikvConfig.load(config) : base;
        if (addr != null) {
            cfg = cfg.with(TikvConfig.SERVER_ADDR.name(), addr);
        }
        if (statusAddr != null) {
            cfg = cfg.with(TikvConfig.STATUS_ADDR.name(), statusAddr);
        }
        if (trace) {
            cfg = cfg.with(TikvConfig.TRACE.name(), true);
        }
        if (statusReadonly) {
            cfg = cfg.with(TikvConfig.STATUS_READONLY.name(), true);
        }
        if (faults != null) {
            cfg = cfg.with(TikvConfig.FAULTS_FILE.name(), faults);
        }
        if (stores != null) {
            cfg = cfg.with(TikvConfig.STORES.name(), stores);
        }
        if (pdAddr != null) {
            cfg = cfg.with(TikvConfig.PD_ADDR.name(), pdAddr);
        }
        if (dataDir != null) {
            cfg = cfg.with(TikvConfig.DATA_DIR.name(), dataDir);
        }
        for (String s : sets) {
            int eq = s.indexOf('=');
            if (eq <= 0) {
                throw new ConfigException("--set " + s + ": expected key=value");
            }
            cfg = cfg.with(s.substring(0, eq).trim(), s.substring(eq + 1).trim());
        }
        if (!seeds.isEmpty()) {
            List<String> all = new ArrayList<>(cfg.get(TikvConfig.SEED));
            all.addAll(seeds);
            cfg = cfg.with(TikvConfig.SEED.name(), all);
        }
        return cfg;
    }
}

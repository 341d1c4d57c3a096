package dev.faketikv.server;

import dev.faketikv.server.config.BackupConfig;
import dev.faketikv.server.config.ConfigException;
import dev.faketikv.server.config.TikvConfig;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One store's live configuration and its online-change policy: TiKV 5.4's {@code ConfigController}
 * ({@code src/config.rs:3420-3512}, {@code update} → {@code update_impl}) for the keys backup needs. Only
 * {@code backup.*} keys change online. As in TiKV the whole new config is validated first
 * ({@code incoming.validate()}, {@code :3451-3455}; nothing changes when a value is bad, and the error is
 * TiKV's validate text, e.g. {@code backup.num_threads cannot be 0}), and then the backup section is handed
 * to the backup endpoint as given: TiKV's backup {@code ConfigManager::dispatch}
 * ({@code components/backup/src/endpoint.rs:537-544}) only writes the change into its
 * {@code RwLock<BackupConfig>}. So the start-up clamp of {@code sst-max-size} ({@code compatible_adjust},
 * {@code src/config.rs:2972-2984}, {@link TikvConfig#adjusted()}) does <em>not</em> apply online: 1MB set
 * online is 1MB. New values take effect on the next request ({@code num-threads} resizes the {@code bkwkr}
 * pool then); {@code io-thread-size} only at restart, as in TiKV ({@code endpoint.rs:750}).
 *
 * <p>Thread-safe: readers see one whole config; {@link #update} is serialised.
 */
public final class ConfigController {
    private static final Logger LOG = LoggerFactory.getLogger(ConfigController.class);

    /** Read by every request; replaced whole by {@link #update}, hence volatile. */
    private volatile TikvConfig config;
    /** The backup section of {@link #config}, replaced together with it (read per backup request). */
    private volatile BackupConfig backup;

    /** Starts from {@code initial}, already {@linkplain TikvConfig#adjusted() adjusted}. */
    public ConfigController(TikvConfig initial) {
        this.config = initial;
        this.backup = initial.backup();
    }

    public TikvConfig config() {
        return config;
    }

    public BackupConfig backup() {
        return backup;
    }

    /**
     * Applies {@code changes} (flat TiKV key names, e.g. {@code backup.num-threads}) all or nothing.
     *
     * @throws ConfigException naming the first key that is unknown, not changeable online, or badly valued
     */
    public synchronized void update(Map<String, Object> changes) {
        if (changes.isEmpty()) {
            throw new ConfigException("no configuration change given");
        }
        TikvConfig next = config;
        for (Map.Entry<String, Object> e : changes.entrySet()) {
            if (TikvConfig.key(e.getKey()) == null) {
                throw new ConfigException(e.getKey() + ": unknown configuration key");
            }
            if (e.getKey().equals(TikvConfig.LOCAL_ROOT.name())) {
                throw new ConfigException(e.getKey()
                        + " can not be changed online (it confines writes; set it at start)");
            }
            if (!e.getKey().startsWith("backup.")) {
                throw new ConfigException(e.getKey() + " can not be changed online (only backup.* can)");
            }
            next = next.with(e.getKey(), e.getValue());
        }
        // TiKV: validate the whole incoming config, then dispatch the change as given (no start-up clamp)
        next.validate();
        // backup first: a reader of config() after this sees at least the new backup section
        backup = next.backup();
        config = next;
        LOG.info("online config change: {}", changes);
    }
}

package dev.faketikv.server;

import dev.faketikv.engine.region.RegionMap;
import dev.faketikv.server.backup.Endpoint;
import dev.faketikv.server.config.TikvConfig;
import dev.faketikv.server.control.Faults;
import dev.faketikv.server.control.Journal;
import dev.faketikv.server.control.Trace;
import dev.faketikv.server.metrics.BackupMetrics;
import dev.faketikv.server.status.StatusServer;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The parts of one store the status server shows and changes, handed to it by {@link FakeTikvServer}
 * once they all exist (the status server never sees the store object itself). The addresses are the
 * advertised ones, fixed once both servers are bound. Thread-safe as its parts are.
 */
record StoreStatusView(ConfigController configs, String addr, String statusAddr, Endpoint endpoint, RegionMap regions,
                       BackupMetrics metrics, Faults faults, Trace trace, Journal journal, AtomicLong requests)
        implements StatusServer.Store {
    @Override
    public TikvConfig config() {
        return configs.config();
    }

    @Override
    public void updateConfig(Map<String, Object> changes) {
        configs.update(changes);
    }

    @Override
    public int busyWorkers() {
        return endpoint.busyWorkers();
    }

    @Override
    public void resetRequestNumbers() {
        requests.set(0);
    }

    @Override
    public String scrapeMetrics() {
        return metrics.scrape();
    }
}

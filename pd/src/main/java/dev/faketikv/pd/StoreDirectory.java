package dev.faketikv.pd;

import dev.faketikv.server.pd.PdClient;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.function.LongSupplier;
import org.tikv.kvproto.Metapb;

/**
 * PD's store directory: what each store registered ({@code put_store}) plus the state PD assigns
 * (Up, Offline, Tombstone), in store-id order. After PD's {@code server/core/basic_cluster.go} store
 * bookkeeping and {@code server/grpc_service.go} {@code PutStore}; stores reach it only through
 * {@link PdClient}. A store that registers again (a restart) keeps the state PD gave it.
 *
 * <p>{@code last_heartbeat} is stamped with the current time when read: the fake's stores are alive
 * while the process is, so PD always sees a fresh heartbeat. Thread-safe.
 */
public final class StoreDirectory implements PdClient {
    private final Map<Long, Metapb.Store> stores = new ConcurrentSkipListMap<>();
    private final LongSupplier clockMillis;

    public StoreDirectory(LongSupplier clockMillis) {
        this.clockMillis = clockMillis;
    }

    @Override
    public void putStore(Metapb.Store store) {
        stores.merge(store.getId(), store, (old, now) -> now.toBuilder().setState(old.getState()).build());
    }

    /** Sets the state PD reports for a registered store. */
    public void setState(long storeId, Metapb.StoreState state) {
        if (stores.computeIfPresent(storeId, (id, s) -> s.toBuilder().setState(state).build()) == null) {
            throw new IllegalArgumentException("no store " + storeId);
        }
    }

    /** Every registered store, as {@code GetAllStores} reports them. */
    public List<Metapb.Store> all() {
        long nowNanos = clockMillis.getAsLong() * 1_000_000L;
        List<Metapb.Store> out = new ArrayList<>(stores.size());
        for (Metapb.Store s : stores.values()) {
            out.add(s.toBuilder().setLastHeartbeat(nowNanos).build());
        }
        return out;
    }
}

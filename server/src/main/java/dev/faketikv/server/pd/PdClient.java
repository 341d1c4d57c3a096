package dev.faketikv.server.pd;

import org.tikv.kvproto.Metapb;

/**
 * What a store asks of PD: the narrow boundary between a fake TiKV store and the fake PD, after TiKV's
 * {@code components/pd_client/src/lib.rs} ({@code trait PdClient}), of which a store here needs one call.
 * A store registers itself when it starts ({@code put_store}, as TiKV's {@code components/server/src/node.rs}
 * {@code Node::start} does) with its id, addresses, version and start time; PD hands those to clients.
 *
 * <p>The region directory is not behind this interface: the stores of a fake cluster share one region map
 * (it stands in for raft and for the region heartbeats that keep PD's copy current), and PD reads that
 * same map. The {@code pd} module implements this for a fake cluster; a lone store uses {@link #NONE}.
 * Implementations are thread-safe.
 */
public interface PdClient {
    /** A store with no PD: registrations go nowhere. */
    PdClient NONE = store -> { };

    /** Registers (or re-registers, after a restart) a store: TiKV's {@code PdClient::put_store}. */
    void putStore(Metapb.Store store);
}

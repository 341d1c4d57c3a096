package dev.faketikv.engine.region;

import dev.faketikv.engine.codec.Keys;
import java.util.List;

/**
 * A region as TiKV's region-info accessor sees it ({@code metapb.Region} plus the leader): id, key range
 * in the engine's encoded form without {@code z} (memcomparable keys for txn data, raw keys for raw
 * data; empty = unbounded), epoch, peers, and the store whose peer leads.
 *
 * <p>Immutable.
 */
public record Region(long id, byte[] startKey, byte[] endKey, long confVer, long version, List<Peer> peers,
                     long leaderStoreId) {

    public Region {
        peers = List.copyOf(peers);
    }

    /** Whether {@code key} (encoded, no {@code z}) lies in {@code [startKey, endKey)}. */
    public boolean contains(byte[] key) {
        return Keys.compare(key, startKey) >= 0 && (endKey.length == 0 || Keys.compare(key, endKey) < 0);
    }

    /** The peer of this region on {@code storeId}, or null. */
    public Peer peerOn(long storeId) {
        for (Peer p : peers) {
            if (p.storeId() == storeId) {
                return p;
            }
        }
        return null;
    }

    /** The leader's peer, or null when no peer lives on the leader store. */
    public Peer leader() {
        return peerOn(leaderStoreId);
    }

    public Region withRange(byte[] start, byte[] end, long newVersion) {
        return new Region(id, start, end, confVer, newVersion, peers, leaderStoreId);
    }

    public Region withLeader(long storeId) {
        return new Region(id, startKey, endKey, confVer, version, peers, storeId);
    }

    public Region withEpoch(long newConfVer, long newVersion) {
        return new Region(id, startKey, endKey, newConfVer, newVersion, peers, leaderStoreId);
    }

    @Override
    public String toString() {
        return "Region{id=" + id + ", start=" + Keys.hex(startKey) + ", end=" + Keys.hex(endKey) + ", epoch=("
                + confVer + "," + version + "), peers=" + peers + ", leaderStore=" + leaderStoreId + "}";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Region r && r.id == id && java.util.Arrays.equals(r.startKey, startKey)
                && java.util.Arrays.equals(r.endKey, endKey) && r.confVer == confVer && r.version == version
                && r.peers.equals(peers) && r.leaderStoreId == leaderStoreId;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(id) * 31 + Long.hashCode(version);
    }
}

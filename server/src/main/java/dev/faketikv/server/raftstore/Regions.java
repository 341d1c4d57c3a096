package dev.faketikv.server.raftstore;

import com.google.protobuf.ByteString;
import dev.faketikv.engine.region.Peer;
import dev.faketikv.engine.region.Region;
import org.tikv.kvproto.Metapb;

/**
 * The {@code metapb} form of the engine's region map, as raftstore reports a region (in region errors)
 * and PD hands it out: keys in the engine's encoded form, the epoch, one {@code metapb.Peer} per peer.
 * Mirrors how TiKV's {@code components/raftstore} stores {@code metapb::Region} itself; here the engine's
 * {@link Region} is the source and this is the one conversion. Stateless.
 */
public final class Regions {
    private Regions() {
    }

    /** {@code metapb.Region} of a region (keys in the engine's encoded form, as TiKV reports them). */
    public static Metapb.Region toPb(Region r) {
        Metapb.Region.Builder b = Metapb.Region.newBuilder()
                .setId(r.id())
                .setStartKey(ByteString.copyFrom(r.startKey()))
                .setEndKey(ByteString.copyFrom(r.endKey()))
                .setRegionEpoch(Metapb.RegionEpoch.newBuilder().setConfVer(r.confVer()).setVersion(r.version()));
        for (Peer p : r.peers()) {
            b.addPeers(toPb(p));
        }
        return b.build();
    }

    /** {@code metapb.Peer} of a peer. */
    public static Metapb.Peer toPb(Peer p) {
        return Metapb.Peer.newBuilder().setId(p.id()).setStoreId(p.storeId()).build();
    }
}

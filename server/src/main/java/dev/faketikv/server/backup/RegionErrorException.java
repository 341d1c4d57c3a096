package dev.faketikv.server.backup;

import dev.faketikv.server.raftstore.Regions;
import org.tikv.kvproto.Errorpb;

/**
 * A region error raised where raftstore's read path would raise it (the snapshot of a range), carrying
 * the {@code errorpb.Error} TiKV would send and the {@code tikv_backup_error_counter} label.
 */
public final class RegionErrorException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final transient Errorpb.Error error;
    private final String label;

    public RegionErrorException(Errorpb.Error error, String label) {
        super(error.getMessage(), null, false, false);
        this.error = error;
        this.label = label;
    }

    public Errorpb.Error error() {
        return error;
    }

    /** The error-counter label, or null for kinds TiKV does not count. */
    public String label() {
        return label;
    }

    /** NotLeader as raftstore builds it: the hinted leader peer, or none. */
    public static RegionErrorException notLeader(long regionId, dev.faketikv.engine.region.Peer leader) {
        Errorpb.NotLeader.Builder nl = Errorpb.NotLeader.newBuilder().setRegionId(regionId);
        String may = "None";
        if (leader != null) {
            nl.setLeader(org.tikv.kvproto.Metapb.Peer.newBuilder().setId(leader.id()).setStoreId(leader.storeId()));
            may = "Some(id: " + leader.id() + " store_id: " + leader.storeId() + ")";
        }
        return new RegionErrorException(Errorpb.Error.newBuilder()
                .setMessage("peer is not leader for region " + regionId + ", leader may " + may).setNotLeader(nl).build(), "not_leader");
    }

    public static RegionErrorException regionNotFound(long regionId) {
        return new RegionErrorException(Errorpb.Error.newBuilder().setMessage("region " + regionId + " not found")
                .setRegionNotFound(Errorpb.RegionNotFound.newBuilder().setRegionId(regionId)).build(), "region_not_found");
    }

    /** EpochNotMatch carrying the current region first, then {@code siblings}. */
    public static RegionErrorException epochNotMatch(dev.faketikv.engine.region.Region current, java.util.List<dev.faketikv.engine.region.Region> siblings,
                                              long sentConfVer, long sentVersion) {
        Errorpb.EpochNotMatch.Builder enm = Errorpb.EpochNotMatch.newBuilder().addCurrentRegions(Regions.toPb(current));
        siblings.forEach(r -> enm.addCurrentRegions(Regions.toPb(r)));
        String msg = "EpochNotMatch current epoch of region " + current.id() + " is conf_ver: " + current.confVer() + " version: "
                + current.version() + ", but you sent conf_ver: " + sentConfVer + " version: " + sentVersion;
        return new RegionErrorException(Errorpb.Error.newBuilder().setMessage(msg).setEpochNotMatch(enm).build(), "epoch_not_match");
    }
}

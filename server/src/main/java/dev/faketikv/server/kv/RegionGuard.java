package dev.faketikv.server.kv;

import com.google.protobuf.ByteString;
import dev.faketikv.engine.codec.Keys;
import dev.faketikv.engine.region.Region;
import dev.faketikv.engine.region.RegionMap;
import dev.faketikv.server.backup.RegionErrorException;
import java.util.List;
import org.tikv.kvproto.Errorpb;
import org.tikv.kvproto.Kvrpcpb;

/**
 * The checks raftstore makes before a request reaches storage, in its order: the region exists on this
 * store ({@code RegionNotFound}), this store's peer leads it ({@code NotLeader} with the leader),
 * the epoch's version matches ({@code EpochNotMatch}, current region first, then the left sibling a
 * split derived, as {@code PeerFsmDelegate::pre_propose_raft_command} attaches it), and each key lies
 * in the region ({@code KeyNotInRegion}, from {@code RegionSnapshot}'s {@code check_key_in_range} on
 * reads and the apply's {@code check_key_in_region} on writes). Mirrors
 * {@code components/raftstore/src/store/fsm/peer.rs} and {@code components/raftstore/src/store/util.rs}
 * ({@code check_region_epoch}: normal reads and writes check the version only).
 *
 * <p>Keys are in the region's key space: raw keys as sent for RawKV (API V1), memcomparable-encoded user
 * keys for transactional requests. Stateless apart from the shared region map; thread-safe.
 */
final class RegionGuard {
    private final long storeId;
    private final RegionMap regions;

    RegionGuard(long storeId, RegionMap regions) {
        this.storeId = storeId;
        this.regions = regions;
    }

    /** The region {@code ctx} names, if this store leads it and the epoch version matches. */
    Region check(Kvrpcpb.Context ctx) {
        Region r = regions.get(ctx.getRegionId());
        if (r == null || r.peerOn(storeId) == null) {
            throw RegionErrorException.regionNotFound(ctx.getRegionId());
        }
        if (r.leaderStoreId() != storeId) {
            throw RegionErrorException.notLeader(r.id(), r.leader());
        }
        long sentVersion = ctx.getRegionEpoch().getVersion();
        if (sentVersion != r.version()) {
            Region left = regions.leftOf(r);
            throw RegionErrorException.epochNotMatch(r, left == null || sentVersion >= r.version() ? List.of() : List.of(left),
                    ctx.getRegionEpoch().getConfVer(), sentVersion);
        }
        return r;
    }

    /** {@code check_key_in_region}: {@code start <= key < end}. */
    static void checkKey(Region r, byte[] key) {
        if (!r.contains(key)) {
            throw keyNotInRegion(r, key);
        }
    }

    /** {@code check_key_in_region_inclusive}: {@code start <= key <= end} (a scan's seek key, a range end). */
    static void checkKeyInclusive(Region r, byte[] key) {
        boolean ok = Keys.compare(key, r.startKey()) >= 0 && (r.endKey().length == 0 || Keys.compare(key, r.endKey()) <= 0);
        if (!ok) {
            throw keyNotInRegion(r, key);
        }
    }

    /** {@code errorpb.KeyNotInRegion} with raftstore's message. */
    static RegionErrorException keyNotInRegion(Region r, byte[] key) {
        String msg = "key " + Keys.hex(key) + " is not in region key range [" + Keys.hex(r.startKey()) + ", "
                + Keys.hex(r.endKey()) + ") for region " + r.id();
        return new RegionErrorException(Errorpb.Error.newBuilder().setMessage(msg)
                .setKeyNotInRegion(Errorpb.KeyNotInRegion.newBuilder().setKey(ByteString.copyFrom(key)).setRegionId(r.id())
                        .setStartKey(ByteString.copyFrom(r.startKey())).setEndKey(ByteString.copyFrom(r.endKey())))
                .build(), null);
    }

    /** The larger of a scan's lower bound and the region start (both in region key space). */
    static byte[] clampLower(Region r, byte[] lower) {
        return lower == null || Keys.compare(lower, r.startKey()) < 0 ? r.startKey() : lower;
    }

    /** The smaller of a scan's upper bound (empty = unbounded) and the region end (empty = unbounded). */
    static byte[] clampUpper(Region r, byte[] upper) {
        if (upper == null || upper.length == 0) {
            return r.endKey();
        }
        return r.endKey().length == 0 || Keys.compare(upper, r.endKey()) < 0 ? upper : r.endKey();
    }
}

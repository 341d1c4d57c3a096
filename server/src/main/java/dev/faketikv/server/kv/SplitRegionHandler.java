package dev.faketikv.server.kv;

import com.google.protobuf.ByteString;
import dev.faketikv.engine.codec.BytesCodec;
import dev.faketikv.engine.codec.Keys;
import dev.faketikv.engine.region.Region;
import dev.faketikv.engine.region.RegionMap;
import dev.faketikv.server.backup.RegionErrorException;
import dev.faketikv.server.raftstore.Regions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.tikv.kvproto.Errorpb;
import org.tikv.kvproto.Kvrpcpb;
import org.tikv.kvproto.Metapb;

/**
 * {@code tikvpb.Tikv/SplitRegion} on one store, as TiKV 5.4 answers it: {@code src/server/service/kv.rs:758-850}
 * {@code split_region} (keys: {@code split_key} alone, else the batch {@code split_keys}; memcomparable-encoded
 * unless {@code is_raw_kv}; sorted), raftstore's {@code PeerFsmDelegate::validate_split_region}
 * ({@code components/raftstore/src/store/fsm/peer.rs:4159-4220}: no key → "no split key is specified", an empty
 * key → "split key should not be empty", not the leader → NotLeader, epoch version differs → EpochNotMatch with
 * the current region), and the apply's {@code exec_batch_split} ({@code components/raftstore/src/store/fsm/apply.rs}:
 * keys must rise strictly above the region start → else "invalid split request", the last must lie in the region
 * → else KeyNotInRegion).
 *
 * <p>The split itself: {@link RegionMap#splitAll} — what TiKV gets by asking PD {@code AskBatchSplit} for new
 * region and peer ids (the region map's allocator is the cluster's id allocator, shared with the PD facade) and
 * reporting it with {@code ReportBatchSplit}: {@code right_derive_when_split = true} (the region's id keeps the
 * right-most part), every resulting region at epoch version {@code v + n} as {@code exec_batch_split} sets it,
 * peers on the same stores, the leader on this store. PD's {@code GetRegion}/{@code ScanRegions} see the new
 * regions as soon as the call returns. The answer lists the regions in key order ({@code regions}), and also
 * {@code left}/{@code right} when there are exactly two, with keys in region-key form (encoded for txn keys).
 *
 * <p>Thread-safe: splits of all stores of a cluster serialize on the shared region map.
 */
final class SplitRegionHandler {
    private final long storeId;
    private final RegionMap regions;

    SplitRegionHandler(long storeId, RegionMap regions) {
        this.storeId = storeId;
        this.regions = regions;
    }

    /** Fills {@code b} with the split's regions; region errors are thrown as {@link RegionErrorException}. */
    void split(Kvrpcpb.SplitRegionRequest req, Kvrpcpb.SplitRegionResponse.Builder b) {
        List<byte[]> keys = keys(req);
        long regionId = req.getContext().getRegionId();
        synchronized (regions) {
            Region r = regions.get(regionId);
            if (r == null || r.peerOn(storeId) == null) {
                throw RegionErrorException.regionNotFound(regionId);
            }
            String tag = "[region " + r.id() + "] " + r.peerOn(storeId).id();
            if (keys.isEmpty()) {
                throw other(tag + " no split key is specified.");
            }
            for (byte[] k : keys) {
                if (k.length == 0) {
                    throw other(tag + " split key should not be empty");
                }
            }
            if (r.leaderStoreId() != storeId) {
                throw RegionErrorException.notLeader(r.id(), r.leader());
            }
            Metapb.RegionEpoch sent = req.getContext().getRegionEpoch();
            if (sent.getVersion() != r.version()) {
                throw new RegionErrorException(Errorpb.Error.newBuilder()
                        .setMessage(tag + " epoch changed conf_ver: " + r.confVer() + " version: " + r.version() + " != conf_ver: "
                                + sent.getConfVer() + " version: " + sent.getVersion() + ", retry later")
                        .setEpochNotMatch(Errorpb.EpochNotMatch.newBuilder().addCurrentRegions(Regions.toPb(r))).build(), "epoch_not_match");
            }
            byte[] prev = r.startKey();
            for (byte[] k : keys) {
                if (Keys.compare(k, prev) <= 0) {
                    throw other("invalid split request: " + hexAll(keys));
                }
                prev = k;
            }
            byte[] last = keys.get(keys.size() - 1);
            if (!r.contains(last)) {
                throw RegionGuard.keyNotInRegion(r, last);
            }
            long version = r.version() + keys.size();
            regions.splitAll(keys);
            List<Region> out = new ArrayList<>();
            for (Region n : regions.scanFrom(r.startKey(), keys.size() + 1)) {
                Region fixed = n.version() == version ? n : regions.setEpoch(n.id(), n.confVer(), version);
                out.add(fixed);
            }
            for (Region n : out) {
                b.addRegions(Regions.toPb(n));
            }
            if (out.size() == 2) {
                b.setLeft(Regions.toPb(out.get(0))).setRight(Regions.toPb(out.get(1)));
            }
        }
    }

    /** The split keys in region-key form, sorted as {@code kv.rs} sorts them. */
    private static List<byte[]> keys(Kvrpcpb.SplitRegionRequest req) {
        List<ByteString> given = req.getSplitKey().isEmpty() ? req.getSplitKeysList() : List.of(req.getSplitKey());
        List<byte[]> keys = new ArrayList<>(given.size());
        for (ByteString k : given) {
            keys.add(req.getIsRawKv() ? k.toByteArray() : BytesCodec.encode(k.toByteArray()));
        }
        keys.sort(Arrays::compareUnsigned);
        return keys;
    }

    private static RegionErrorException other(String message) {
        return new RegionErrorException(Errorpb.Error.newBuilder().setMessage(message).build(), null);
    }

    private static String hexAll(List<byte[]> keys) {
        StringBuilder s = new StringBuilder("[");
        for (byte[] k : keys) {
            s.append(s.length() > 1 ? ", " : "").append(Keys.hex(k));
        }
        return s.append(']').toString();
    }
}

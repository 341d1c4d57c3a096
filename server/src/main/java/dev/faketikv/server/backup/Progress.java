package dev.faketikv.server.backup;

import dev.faketikv.engine.Cf;
import dev.faketikv.engine.codec.Keys;
import dev.faketikv.engine.region.Peer;
import dev.faketikv.engine.region.Region;
import dev.faketikv.engine.region.RegionMap;
import java.util.ArrayList;
import java.util.List;

/**
 * Hands out the regions of a request's range that this store leads, a batch at a time: TiKV's
 * {@code Progress} and {@code Progress::forward} ({@code components/backup/src/endpoint.rs}).
 *
 * <p>{@link #forward(int)} walks regions in key order from the next unhanded key, clips each to the
 * request range, skips silently the ones whose leader is elsewhere (no response is produced for them),
 * and stops after {@code limit} ranges or at the end of the range. A range whose clipped start equals
 * its clipped end is not produced (5.4 would abort the process on an assertion there).
 *
 * <p>Thread-safe: scan workers call {@link #forward} under this object's lock, as TiKV's workers lock the
 * shared {@code Mutex<Progress>}.
 */
public final class Progress {
    private static final int SCAN_CHUNK = 64;

    private final long storeId;
    private final RegionMap regions;
    private final byte[] endKey;
    private final boolean rawKv;
    private final Cf cf;
    private byte[] nextStart;
    private boolean finished;

    public Progress(long storeId, RegionMap regions, byte[] startKey, byte[] endKey, boolean rawKv, Cf cf) {
        this.storeId = storeId;
        this.regions = regions;
        this.nextStart = startKey;
        this.endKey = endKey;
        this.rawKv = rawKv;
        this.cf = cf;
        // start == end (both set) is an empty range: nothing to hand out.
        this.finished = startKey != null && endKey != null && Keys.compare(startKey, endKey) >= 0;
    }

    /** Up to {@code limit} leader ranges; empty when the range is exhausted. */
    public synchronized List<BackupRange> forward(int limit) {
        List<BackupRange> out = new ArrayList<>();
        if (finished) {
            return out;
        }
        byte[] cursor = nextStart;
        boolean stop = false;
        while (!stop && out.size() < limit) {
            List<Region> chunk = regions.scanFrom(cursor, SCAN_CHUNK);
            for (Region r : chunk) {
                if (endKey != null && Keys.compare(endKey, r.startKey()) <= 0) {
                    stop = true;
                    break;
                }
                if (r.leaderStoreId() == storeId) {
                    Peer leader = r.peerOn(storeId);
                    byte[] start = nextStart == null || Keys.compare(nextStart, r.startKey()) < 0 ? r.startKey() : nextStart;
                    byte[] end = r.endKey().length == 0 ? endKey
                            : endKey == null || Keys.compare(r.endKey(), endKey) < 0 ? r.endKey() : endKey;
                    if (end == null || Keys.compare(start, end) < 0) {
                        out.add(new BackupRange(start.length == 0 ? null : start, end, r, leader, rawKv, cf));
                    }
                    if (out.size() >= limit) {
                        break;
                    }
                }
            }
            if (chunk.size() < SCAN_CHUNK) {
                stop = true;
            } else {
                Region last = chunk.get(chunk.size() - 1);
                if (last.endKey().length == 0) {
                    stop = true;
                } else {
                    cursor = last.endKey();
                }
            }
        }
        if (out.isEmpty()) {
            finished = true;
        } else {
            BackupRange last = out.get(out.size() - 1);
            finished = last.region().endKey().length == 0 || (last.endKey() != null && endKey != null
                    && Keys.compare(last.endKey(), endKey) == 0);
            nextStart = last.endKey();
        }
        return out;
    }
}

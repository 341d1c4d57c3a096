package dev.faketikv.server.backup;

import dev.faketikv.engine.Cf;
import dev.faketikv.engine.EngineIterator;
import dev.faketikv.engine.EngineSnapshot;
import dev.faketikv.engine.codec.BytesCodec;
import dev.faketikv.engine.codec.Keys;
import dev.faketikv.engine.mvcc.EntryScanner;
import dev.faketikv.engine.mvcc.TxnEntry;
import dev.faketikv.engine.region.Peer;
import dev.faketikv.engine.region.Region;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One region's slice of a request, and the scan that turns it into file groups: TiKV's
 * {@code BackupRange} with {@code backup} (txn) and {@code backup_raw_kv_to_file} (raw)
 * ({@code components/backup/src/endpoint.rs}).
 *
 * <p>Txn: take a snapshot (region checks as raftstore's read path does them), scan with
 * {@link EntryScanner} in batches of {@value #BATCH_LIMIT} entries; before writing a batch, when the
 * group's logical bytes reached {@code sst-max-size}, cut the group at the first key of the batch and hand
 * it to a save worker; at the end hand over the last group (possibly without files). Raw: one group with
 * every stored pair of the cf in the range, never split.
 *
 * <p>Keys are in the engine's form (encoded for txn, raw for raw); null = unbounded. fake-tikv also
 * checks the cancel flag between batches (5.4 only between ranges). Immutable; {@link #backup} runs on
 * one scan worker thread.
 */
public record BackupRange(byte[] startKey, byte[] endKey, Region region, Peer leader, boolean rawKv, Cf cf) {
    private static final Logger LOG = LoggerFactory.getLogger(BackupRange.class);
    /** {@code BACKUP_BATCH_LIMIT}. */
    static final int BATCH_LIMIT = 1024;
    private static final Duration SLOW_SCAN = Duration.ofSeconds(30);

    /** Scans this range and hands its file groups to {@code ctx}; throws what the scan met. */
    public void backup(RequestContext ctx) {
        if (rawKv) {
            backupRaw(ctx);
        } else {
            backupTxn(ctx);
        }
    }

    private void backupTxn(RequestContext ctx) {
        long snapStart = System.nanoTime();
        byte[] groupStart = startKey == null ? new byte[0] : toRaw(startKey);
        byte[] rangeEnd = endKey == null ? new byte[0] : toRaw(endKey);
        try (EngineSnapshot snap = ctx.snapshot(this)) {
            ctx.metrics().observeRange("snapshot", Duration.ofNanos(System.nanoTime() - snapStart));
            long scanStart = System.nanoTime();
            long afterTs = ctx.task().startVersion();
            List<TxnEntry> batch = new ArrayList<>(BATCH_LIMIT);
            String prefix = ctx.fileNamePrefix(this, groupStart);
            BackupWriter writer = ctx.newTxnWriter();
            try (EntryScanner scanner = new EntryScanner(snap, startKey, endKey, ctx.task().endVersion(), afterTs, afterTs != 0)) {
                boolean more = true;
                while (more) {
                    batch.clear();
                    more = scanner.nextBatch(batch, BATCH_LIMIT);
                    ctx.checkCancelled();
                    if (!batch.isEmpty() && writer.totalBytes() >= ctx.config().sstMaxSize()) {
                        byte[] splitKey = batch.get(0).rawKey();
                        ctx.save(new FileGroup(prefix, writer.finish(), groupStart, splitKey,
                                ctx.task().startVersion(), ctx.task().endVersion(), false));
                        writer.close();
                        writer = ctx.newTxnWriter();
                        groupStart = splitKey;
                        prefix = ctx.fileNamePrefix(this, groupStart);
                    }
                    long before = writer.totalBytes();
                    writer.write(batch, true);
                    ctx.throttleScan(writer.totalBytes() - before);
                }
                ctx.save(new FileGroup(prefix, writer.finish(), groupStart, rangeEnd,
                        ctx.task().startVersion(), ctx.task().endVersion(), false));
            } finally {
                writer.close();
            }
            Duration took = Duration.ofNanos(System.nanoTime() - scanStart);
            ctx.metrics().observeRange("scan", took);
            ctx.trace("region %d scanned and its SSTs built in %d ms", region.id(), took.toMillis());
            if (took.compareTo(SLOW_SCAN) > 0) {
                LOG.warn("backup scan takes long time. region={} take={}", region.id(), took);
            }
        }
    }

    private void backupRaw(RequestContext ctx) {
        byte[] start = startKey == null ? new byte[0] : startKey;
        byte[] end = endKey == null ? new byte[0] : endKey;
        try (EngineSnapshot snap = ctx.snapshot(this)) {
            long scanStart = System.nanoTime();
            boolean found = false;
            String prefix = ctx.fileNamePrefix(this, startKey);
            try (BackupRawKvWriter writer = ctx.newRawWriter(cf.cfName());
                 EngineIterator it = snap.iterator(cf, Keys.dataKey(start),
                         endKey == null ? new byte[] {Keys.DATA_PREFIX + 1} : Keys.dataKey(endKey))) {
                int inBatch = 0;
                long batchBytes = 0;
                for (it.seek(Keys.dataKey(start)); it.valid(); it.next()) {
                    found = true;
                    byte[] k = it.key();
                    byte[] v = it.value();
                    writer.write(k, v);
                    batchBytes += k.length - 1 + v.length;
                    if (++inBatch == BATCH_LIMIT) {
                        inBatch = 0;
                        ctx.checkCancelled();
                        ctx.throttleScan(batchBytes);
                        batchBytes = 0;
                    }
                }
                ctx.throttleScan(batchBytes);
                it.checkStatus();
                ctx.checkCancelled();
                ctx.save(new FileGroup(prefix, writer.finish(), start, end, 0, 0, true));
            }
            if (found) {
                // as endpoint.rs backup_raw: a range whose first seek finds nothing returns before this
                ctx.metrics().observeRange("raw_scan", Duration.ofNanos(System.nanoTime() - scanStart));
            }
        }
    }

    /** {@code Key::into_raw}: decodes the memcomparable key and ignores bytes after it (e.g. a ts suffix). */
    static byte[] toRaw(byte[] encoded) {
        return BytesCodec.decodePrefix(encoded, 0, encoded.length).raw();
    }

    @Override
    public String toString() {
        return "BackupRange{region=" + region.id() + ", start=" + (startKey == null ? "" : Keys.hex(startKey))
                + ", end=" + (endKey == null ? "" : Keys.hex(endKey)) + "}";
    }
}

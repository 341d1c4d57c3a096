package dev.faketikv.server.coprocessor;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.pingcap.tidb.tipb.ChecksumAlgorithm;
import com.pingcap.tidb.tipb.ChecksumRequest;
import com.pingcap.tidb.tipb.ChecksumResponse;
import dev.faketikv.engine.Engine;
import dev.faketikv.engine.EngineSnapshot;
import dev.faketikv.engine.codec.BytesCodec;
import dev.faketikv.engine.codec.Crc64;
import dev.faketikv.engine.codec.Keys;
import dev.faketikv.engine.region.Region;
import dev.faketikv.server.backup.RegionErrorException;
import java.util.Arrays;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.tikv.kvproto.Coprocessor;
import org.tikv.kvproto.Errorpb;
import org.tikv.kvproto.Kvrpcpb;

/**
 * {@code tikvpb.Tikv/Coprocessor} on one store, for the one request type BR sends: the table/index
 * checksum ({@code tp} 105, {@code REQ_TYPE_CHECKSUM}, data a {@code tipb.ChecksumRequest}). Mirrors
 * TiKV 5.4's {@code src/coprocessor/endpoint.rs} ({@code parse_request_and_check_memory_locks} :147-320,
 * {@code make_error_response} :605-640) and {@code src/coprocessor/checksum.rs} ({@code ChecksumContext}):
 *
 * <ol>
 *   <li>the request type is read first: any other {@code tp} is answered {@code other_error}
 *       {@code "unsupported tp <tp>"} (endpoint.rs:317; TiKV serves DAG 103 and analyze 104 too, this fake
 *       does not — they get the same answer); {@code data} that is no ChecksumRequest is an other error;
 *       {@code start_ts} 0 falls back to the request's deprecated {@code start_ts_fallback} (:283-285);</li>
 *   <li>the region is checked as every KV read is (the caller's region check: RegionNotFound, NotLeader,
 *       EpochNotMatch → {@code region_error}); a range starting outside the region is KeyNotInRegion, a range
 *       end past the region end is cut at it (the region snapshot's iterator bounds);</li>
 *   <li>the ranges are scanned in order at {@code start_ts} ({@link SnapshotScanner}); a lock met is
 *       {@code locked} (endpoint.rs:617-620), for the client to resolve and retry;</li>
 *   <li>each visible pair, raw key and value, adds {@code crc64(old_prefix ++ key[new_prefix.len..] ++ value)}
 *       by XOR, one kv and {@code key.len + value.len + old_prefix.len - new_prefix.len} bytes
 *       (checksum.rs:59-101, {@code checksum_crc64_xor} :114-123; prefixes from the request's rewrite rule,
 *       empty without one); a key without the rule's new prefix is other error {@code "Wrong prefix expect: [..]"}
 *       (:89-91). CRC-64 is {@link Crc64} (crc64fast's ECMA/XZ digest), the same digest backup's files carry,
 *       so BR's coprocessor checksum of a table equals the XOR of its backup files' {@code crc64xor}.</li>
 * </ol>
 *
 * The answer's {@code data} is the {@code tipb.ChecksumResponse}. The memory-lock check of
 * {@code check_memory_locks} (async-commit locks not yet written) has nothing to find here: this fake writes
 * locks synchronously. {@code committed_locks} (TiKV's access locks) are not read through.
 *
 * <p>Thread-safe: each call takes its own engine snapshot.
 */
public final class CoprocessorEndpoint {
    private static final Logger LOG = LoggerFactory.getLogger(CoprocessorEndpoint.class);
    /** {@code REQ_TYPE_DAG}, {@code REQ_TYPE_ANALYZE}, {@code REQ_TYPE_CHECKSUM} ({@code src/coprocessor/mod.rs}). */
    public static final long REQ_TYPE_DAG = 103;
    public static final long REQ_TYPE_ANALYZE = 104;
    public static final long REQ_TYPE_CHECKSUM = 105;

    private final Engine engine;

    public CoprocessorEndpoint(Engine engine) {
        this.engine = engine;
    }

    /**
     * Answers {@code req}; {@code regionCheck} returns the region the request's context names if this store
     * may serve it, or throws {@link RegionErrorException}. Never throws: every failure is in the response.
     */
    public Coprocessor.Response handle(Coprocessor.Request req, Function<Kvrpcpb.Context, Region> regionCheck) {
        Coprocessor.Response.Builder resp = Coprocessor.Response.newBuilder();
        try {
            if (req.getTp() != REQ_TYPE_CHECKSUM) {
                return resp.setOtherError("unsupported tp " + req.getTp()).build();
            }
            ChecksumRequest checksum;
            try {
                checksum = ChecksumRequest.parseFrom(req.getData());
            } catch (InvalidProtocolBufferException e) {
                return resp.setOtherError(String.valueOf(e.getMessage())).build();
            }
            long startTs = req.getStartTs() != 0 ? req.getStartTs() : checksum.getStartTsFallback();
            Region region = regionCheck.apply(req.getContext());
            return resp.setData(checksum(region, req, checksum, startTs).toByteString()).build();
        } catch (RegionErrorException e) {
            return resp.setRegionError(e.error()).build();
        } catch (SnapshotScanner.LockedException e) {
            return resp.setLocked(e.info()).build();
        } catch (OtherError e) {
            return resp.setOtherError(e.getMessage()).build();
        } catch (RuntimeException e) {
            LOG.warn("coprocessor request failed", e);
            return Coprocessor.Response.newBuilder().setOtherError(String.valueOf(e.getMessage())).build();
        }
    }

    private ChecksumResponse checksum(Region region, Coprocessor.Request req, ChecksumRequest checksum, long startTs) {
        if (checksum.getAlgorithm() != ChecksumAlgorithm.Crc64_Xor) {
            throw new OtherError("unknown checksum algorithm " + checksum.getAlgorithm());
        }
        byte[] oldPrefix = checksum.hasRule() ? checksum.getRule().getOldPrefix().toByteArray() : new byte[0];
        byte[] newPrefix = checksum.hasRule() ? checksum.getRule().getNewPrefix().toByteArray() : new byte[0];
        long[] sum = new long[3];
        try (EngineSnapshot snap = engine.snapshot()) {
            SnapshotScanner scanner = new SnapshotScanner(snap, startTs, req.getContext());
            for (Coprocessor.KeyRange r : req.getRangesList()) {
                byte[] lower = BytesCodec.encode(r.getStart().toByteArray());
                if (!region.contains(lower)) {
                    throw keyNotInRegion(region, lower);
                }
                byte[] upper = clampUpper(region, r.getEnd().isEmpty() ? new byte[0] : BytesCodec.encode(r.getEnd().toByteArray()));
                scanner.scan(lower, upper, (key, value) -> {
                    if (!Keys.startsWith(key, newPrefix)) {
                        throw new OtherError("Wrong prefix expect: " + debugBytes(newPrefix));
                    }
                    Crc64 digest = new Crc64().update(oldPrefix);
                    digest.update(key, newPrefix.length, key.length - newPrefix.length).update(value);
                    sum[0] ^= digest.getValue();
                    sum[1]++;
                    sum[2] += key.length + value.length + oldPrefix.length - newPrefix.length;
                });
            }
        }
        return ChecksumResponse.newBuilder().setChecksum(sum[0]).setTotalKvs(sum[1]).setTotalBytes(sum[2]).build();
    }

    /** The smaller of a range end (empty = unbounded) and the region end (empty = unbounded). */
    private static byte[] clampUpper(Region r, byte[] upper) {
        if (upper.length == 0) {
            return r.endKey();
        }
        return r.endKey().length == 0 || Keys.compare(upper, r.endKey()) < 0 ? upper : r.endKey();
    }

    /**
     * KeyNotInRegion with raftstore's message, as the region snapshot's seek raises it ({@code RegionIterator::should_seekable},
     * {@code components/raftstore/src/store/region_snapshot.rs:369}; {@code check_key_in_range},
     * {@code components/engine_traits/src/util.rs:7}: {@code start <= key < end}).
     */
    private static RegionErrorException keyNotInRegion(Region r, byte[] key) {
        String msg = "key " + Keys.hex(key) + " is not in region key range [" + Keys.hex(r.startKey()) + ", "
                + Keys.hex(r.endKey()) + ") for region " + r.id();
        return new RegionErrorException(Errorpb.Error.newBuilder().setMessage(msg)
                .setKeyNotInRegion(Errorpb.KeyNotInRegion.newBuilder().setKey(ByteString.copyFrom(key)).setRegionId(r.id())
                        .setStartKey(ByteString.copyFrom(r.startKey())).setEndKey(ByteString.copyFrom(r.endKey())))
                .build(), null);
    }

    /** Rust's {@code {:?}} of a {@code Vec<u8>}: {@code [116, 128, 0]}. */
    private static String debugBytes(byte[] b) {
        int[] u = new int[b.length];
        for (int i = 0; i < b.length; i++) {
            u[i] = b[i] & 0xFF;
        }
        return Arrays.toString(u);
    }

    /** A failure TiKV answers as {@code other_error} with this text. */
    private static final class OtherError extends RuntimeException {
        private static final long serialVersionUID = 1L;

        OtherError(String message) {
            super(message, null, false, false);
        }
    }
}

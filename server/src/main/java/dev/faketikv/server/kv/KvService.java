package dev.faketikv.server.kv;

import com.google.protobuf.ByteString;
import com.google.protobuf.Message;
import dev.faketikv.engine.Cf;
import dev.faketikv.engine.Engine;
import dev.faketikv.engine.codec.BytesCodec;
import dev.faketikv.engine.codec.Keys;
import dev.faketikv.engine.region.Region;
import dev.faketikv.engine.region.RegionMap;
import dev.faketikv.server.backup.RegionErrorException;
import dev.faketikv.server.coprocessor.BatchCommandsStream;
import dev.faketikv.server.coprocessor.CoprocessorEndpoint;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.tikv.kvproto.Coprocessor;
import org.tikv.kvproto.Errorpb;
import org.tikv.kvproto.Kvrpcpb;
import org.tikv.kvproto.TikvGrpc;
import org.tikv.kvproto.Tikvpb;

/**
 * {@code tikvpb.Tikv} on one store: RawKV (API V1), the optimistic Percolator commands, {@code SplitRegion}
 * ({@link SplitRegionHandler}), the coprocessor's checksum request ({@link CoprocessorEndpoint}) and
 * client-go's {@code BatchCommands} stream ({@link BatchCommandsStream}), each answered only for a region
 * this store leads, with raftstore's region errors ({@link RegionGuard}); every other
 * method is UNIMPLEMENTED at once (grpc-java's default). A call carrying {@code tikv-forwarded-host} is sent on to
 * that store ({@link KvForwarder}). Mirrors {@code src/server/service/kv.rs}
 * ({@code future_raw_*}, {@code future_get}, {@code future_scan}, {@code future_batch_get} and the
 * {@code txn_command_future!} handlers): region errors go in {@code region_error}, RawKV storage errors in
 * the {@code error} string, transactional ones as {@code kvrpcpb.KeyError}. Reads and writes go to the
 * store's engine in TiKV's layout, so a backup of the engine holds exactly what clients wrote.
 *
 * <p>Thread-safe: handlers run on gRPC's executor; transactional writes serialize on key latches.
 */
public final class KvService extends TikvGrpc.TikvImplBase {
    private static final Logger LOG = LoggerFactory.getLogger(KvService.class);
    private final RegionGuard guard;
    private final RawKv raw;
    private final Engine engine;
    private final Percolator txn;
    private final SplitRegionHandler splitter;
    private final CoprocessorEndpoint copr;

    KvService(long storeId, Engine engine, RegionMap regions) {
        this.guard = new RegionGuard(storeId, regions);
        this.splitter = new SplitRegionHandler(storeId, regions);
        this.engine = engine;
        this.raw = new RawKv(engine);
        this.txn = new Percolator(engine);
        this.copr = new CoprocessorEndpoint(engine);
    }

    /** The service of one store with TiKV's forwarding in front ({@link KvForwarder}): what a gRPC server registers. */
    public static ServerServiceDefinition definition(long storeId, Engine engine, RegionMap regions, KvForwarder forwarder) {
        return ServerInterceptors.intercept(new KvService(storeId, engine, regions), forwarder);
    }

    // ---------------------------------------------------------------- plumbing

    /** Runs {@code body} on {@code b}, mapping region errors and storage errors into the response. */
    private static <B extends Message.Builder> void answer(StreamObserver<?> out, B b, BiConsumer<B, Errorpb.Error> regionError,
                                                           BiConsumer<B, RuntimeException> error, Consumer<B> body) {
        try {
            body.accept(b);
        } catch (RegionErrorException e) {
            regionError.accept(b, e.error());
        } catch (TxnError | RawKv.RawError e) {
            error.accept(b, e);
        } catch (RuntimeException e) {
            LOG.warn("kv request failed", e);
            error.accept(b, e);
        }
        @SuppressWarnings("unchecked")
        StreamObserver<Message> o = (StreamObserver<Message>) out;
        try {
            o.onNext(b.build());
            o.onCompleted();
        } catch (RuntimeException e) {
            o.onError(Status.INTERNAL.withDescription(String.valueOf(e.getMessage())).asRuntimeException());
        }
    }

    private static String text(RuntimeException e) {
        return e instanceof TxnError || e instanceof RawKv.RawError ? e.getMessage() : String.valueOf(e.getMessage());
    }

    private static Kvrpcpb.KeyError keyError(RuntimeException e) {
        return e instanceof TxnError t ? t.keyError() : Kvrpcpb.KeyError.newBuilder().setAbort(String.valueOf(e.getMessage())).build();
    }

    private static byte[] enc(ByteString raw) {
        return BytesCodec.encode(raw.toByteArray());
    }

    private static List<byte[]> encAll(List<ByteString> raws, Region r) {
        List<byte[]> out = new ArrayList<>(raws.size());
        for (ByteString k : raws) {
            byte[] e = enc(k);
            RegionGuard.checkKey(r, e);
            out.add(e);
        }
        return out;
    }

    private static ByteString bs(byte[] b) {
        return ByteString.copyFrom(b);
    }

    // ---------------------------------------------------------------- RawKV

    @Override
    public void rawGet(Kvrpcpb.RawGetRequest req, StreamObserver<Kvrpcpb.RawGetResponse> out) {
        answer(out, Kvrpcpb.RawGetResponse.newBuilder(), Kvrpcpb.RawGetResponse.Builder::setRegionError, (b, e) -> b.setError(text(e)), b -> {
            Region r = guard.check(req.getContext());
            Cf cf = RawKv.cf(req.getCf());
            RegionGuard.checkKey(r, req.getKey().toByteArray());
            byte[] v = raw.get(cf, req.getKey().toByteArray());
            if (v == null) {
                b.setNotFound(true);
            } else {
                b.setValue(bs(v));
            }
        });
    }

    @Override
    public void rawBatchGet(Kvrpcpb.RawBatchGetRequest req, StreamObserver<Kvrpcpb.RawBatchGetResponse> out) {
        answer(out, Kvrpcpb.RawBatchGetResponse.newBuilder(), Kvrpcpb.RawBatchGetResponse.Builder::setRegionError,
                (b, e) -> b.clearPairs().addPairs(Kvrpcpb.KvPair.newBuilder().setError(keyError(e))), b -> {
                    Region r = guard.check(req.getContext());
                    Cf cf = RawKv.cf(req.getCf());
                    List<byte[]> keys = new ArrayList<>();
                    for (ByteString k : req.getKeysList()) {
                        RegionGuard.checkKey(r, k.toByteArray());
                        keys.add(k.toByteArray());
                    }
                    List<byte[]> values = raw.batchGet(cf, keys);
                    for (int i = 0; i < keys.size(); i++) {
                        if (values.get(i) != null) {
                            b.addPairs(Kvrpcpb.KvPair.newBuilder().setKey(bs(keys.get(i))).setValue(bs(values.get(i))));
                        }
                    }
                });
    }

    @Override
    public void rawPut(Kvrpcpb.RawPutRequest req, StreamObserver<Kvrpcpb.RawPutResponse> out) {
        answer(out, Kvrpcpb.RawPutResponse.newBuilder(), Kvrpcpb.RawPutResponse.Builder::setRegionError, (b, e) -> b.setError(text(e)), b -> {
            Region r = guard.check(req.getContext());
            Cf cf = RawKv.cf(req.getCf());
            if (req.getTtl() != 0) {
                throw new RawKv.RawError(RawKv.TTL_NOT_ENABLED);
            }
            RegionGuard.checkKey(r, req.getKey().toByteArray());
            raw.write(cf, List.of(new AbstractMap.SimpleEntry<>(req.getKey().toByteArray(), req.getValue().toByteArray())));
        });
    }

    @Override
    public void rawBatchPut(Kvrpcpb.RawBatchPutRequest req, StreamObserver<Kvrpcpb.RawBatchPutResponse> out) {
        answer(out, Kvrpcpb.RawBatchPutResponse.newBuilder(), Kvrpcpb.RawBatchPutResponse.Builder::setRegionError,
                (b, e) -> b.setError(text(e)), b -> {
                    Region r = guard.check(req.getContext());
                    Cf cf = RawKv.cf(req.getCf());
                    if (req.getTtlsList().stream().anyMatch(t -> t != 0)) {
                        throw new RawKv.RawError(RawKv.TTL_NOT_ENABLED);
                    }
                    List<Map.Entry<byte[], byte[]>> ops = new ArrayList<>();
                    for (Kvrpcpb.KvPair p : req.getPairsList()) {
                        RegionGuard.checkKey(r, p.getKey().toByteArray());
                        ops.add(new AbstractMap.SimpleEntry<>(p.getKey().toByteArray(), p.getValue().toByteArray()));
                    }
                    raw.write(cf, ops);
                });
    }

    @Override
    public void rawDelete(Kvrpcpb.RawDeleteRequest req, StreamObserver<Kvrpcpb.RawDeleteResponse> out) {
        answer(out, Kvrpcpb.RawDeleteResponse.newBuilder(), Kvrpcpb.RawDeleteResponse.Builder::setRegionError, (b, e) -> b.setError(text(e)), b -> {
            Region r = guard.check(req.getContext());
            Cf cf = RawKv.cf(req.getCf());
            RegionGuard.checkKey(r, req.getKey().toByteArray());
            raw.write(cf, List.of(new AbstractMap.SimpleEntry<>(req.getKey().toByteArray(), null)));
        });
    }

    @Override
    public void rawBatchDelete(Kvrpcpb.RawBatchDeleteRequest req, StreamObserver<Kvrpcpb.RawBatchDeleteResponse> out) {
        answer(out, Kvrpcpb.RawBatchDeleteResponse.newBuilder(), Kvrpcpb.RawBatchDeleteResponse.Builder::setRegionError,
                (b, e) -> b.setError(text(e)), b -> {
                    Region r = guard.check(req.getContext());
                    Cf cf = RawKv.cf(req.getCf());
                    List<Map.Entry<byte[], byte[]>> ops = new ArrayList<>();
                    for (ByteString k : req.getKeysList()) {
                        RegionGuard.checkKey(r, k.toByteArray());
                        ops.add(new AbstractMap.SimpleEntry<>(k.toByteArray(), null));
                    }
                    raw.write(cf, ops);
                });
    }

    @Override
    public void rawDeleteRange(Kvrpcpb.RawDeleteRangeRequest req, StreamObserver<Kvrpcpb.RawDeleteRangeResponse> out) {
        answer(out, Kvrpcpb.RawDeleteRangeResponse.newBuilder(), Kvrpcpb.RawDeleteRangeResponse.Builder::setRegionError,
                (b, e) -> b.setError(text(e)), b -> {
                    Region r = guard.check(req.getContext());
                    Cf cf = RawKv.cf(req.getCf());
                    byte[] start = req.getStartKey().toByteArray();
                    byte[] end = req.getEndKey().toByteArray();
                    RegionGuard.checkKey(r, start);
                    // exec_delete_range: the data end key may not pass the region's (empty = the max key)
                    if (r.endKey().length != 0 && (end.length == 0 || Keys.compare(end, r.endKey()) > 0)) {
                        throw RegionGuard.keyNotInRegion(r, end);
                    }
                    raw.deleteRange(cf, start, end);
                });
    }

    /** One region's part of a raw scan: forward {@code [start, end)}, reverse {@code [end, start)}. */
    private List<RawKv.Pair> rawScanIn(Region r, Cf cf, byte[] start, byte[] end, int limit, boolean keyOnly, boolean reverse) {
        if (!reverse) {
            RegionGuard.checkKeyInclusive(r, start);
            return raw.scan(cf, start, RegionGuard.clampUpper(r, end), limit, keyOnly, false);
        }
        byte[] upper = start.length == 0 ? r.endKey() : start;
        if (start.length != 0) {
            RegionGuard.checkKeyInclusive(r, start);
        }
        return raw.scan(cf, RegionGuard.clampLower(r, end), upper, limit, keyOnly, true);
    }

    @Override
    public void rawScan(Kvrpcpb.RawScanRequest req, StreamObserver<Kvrpcpb.RawScanResponse> out) {
        answer(out, Kvrpcpb.RawScanResponse.newBuilder(), Kvrpcpb.RawScanResponse.Builder::setRegionError,
                (b, e) -> b.clearKvs().addKvs(Kvrpcpb.KvPair.newBuilder().setError(keyError(e))), b -> {
                    Region r = guard.check(req.getContext());
                    Cf cf = RawKv.cf(req.getCf());
                    for (RawKv.Pair p : rawScanIn(r, cf, req.getStartKey().toByteArray(), req.getEndKey().toByteArray(), req.getLimit(),
                            req.getKeyOnly(), req.getReverse())) {
                        b.addKvs(Kvrpcpb.KvPair.newBuilder().setKey(bs(p.key())).setValue(bs(p.value())));
                    }
                });
    }

    @Override
    public void rawBatchScan(Kvrpcpb.RawBatchScanRequest req, StreamObserver<Kvrpcpb.RawBatchScanResponse> out) {
        answer(out, Kvrpcpb.RawBatchScanResponse.newBuilder(), Kvrpcpb.RawBatchScanResponse.Builder::setRegionError,
                (b, e) -> b.clearKvs().addKvs(Kvrpcpb.KvPair.newBuilder().setError(keyError(e))), b -> {
                    Region r = guard.check(req.getContext());
                    Cf cf = RawKv.cf(req.getCf());
                    List<Kvrpcpb.KeyRange> ranges = req.getRangesList();
                    boolean reverse = req.getReverse();
                    for (int i = 0; i < ranges.size(); i++) {
                        byte[] s = ranges.get(i).getStartKey().toByteArray();
                        byte[] e = ranges.get(i).getEndKey().toByteArray();
                        if (e.length == 0 && i + 1 < ranges.size()) {
                            e = ranges.get(i + 1).getStartKey().toByteArray();
                        }
                        if (e.length != 0 && (!reverse && Keys.compare(s, e) >= 0 || reverse && Keys.compare(s, e) <= 0)) {
                            throw new RawKv.RawError("Invalid KeyRanges");
                        }
                        for (RawKv.Pair p : rawScanIn(r, cf, s, e, req.getEachLimit(), req.getKeyOnly(), reverse)) {
                            b.addKvs(Kvrpcpb.KvPair.newBuilder().setKey(bs(p.key())).setValue(bs(p.value())));
                        }
                    }
                });
    }

    // ---------------------------------------------------------------- transactional reads

    @Override
    public void kvGet(Kvrpcpb.GetRequest req, StreamObserver<Kvrpcpb.GetResponse> out) {
        answer(out, Kvrpcpb.GetResponse.newBuilder(), Kvrpcpb.GetResponse.Builder::setRegionError, (b, e) -> b.setError(keyError(e)), b -> {
            Region r = guard.check(req.getContext());
            byte[] key = enc(req.getKey());
            RegionGuard.checkKey(r, key);
            try (MvccReader reader = new MvccReader(engine)) {
                byte[] v = reader.get(key, req.getVersion(), req.getContext());
                if (v == null) {
                    b.setNotFound(true);
                } else {
                    b.setValue(bs(v));
                }
            }
        });
    }

    @Override
    public void kvBatchGet(Kvrpcpb.BatchGetRequest req, StreamObserver<Kvrpcpb.BatchGetResponse> out) {
        answer(out, Kvrpcpb.BatchGetResponse.newBuilder(), Kvrpcpb.BatchGetResponse.Builder::setRegionError, (b, e) -> b.setError(keyError(e)), b -> {
            Region r = guard.check(req.getContext());
            List<byte[]> keys = encAll(req.getKeysList(), r);
            try (MvccReader reader = new MvccReader(engine)) {
                for (int i = 0; i < keys.size(); i++) {
                    try {
                        byte[] v = reader.get(keys.get(i), req.getVersion(), req.getContext());
                        if (v != null) {
                            b.addPairs(Kvrpcpb.KvPair.newBuilder().setKey(req.getKeys(i)).setValue(bs(v)));
                        }
                    } catch (TxnError e) {
                        b.addPairs(Kvrpcpb.KvPair.newBuilder().setError(e.keyError()));
                    }
                }
            }
        });
    }

    @Override
    public void kvScan(Kvrpcpb.ScanRequest req, StreamObserver<Kvrpcpb.ScanResponse> out) {
        answer(out, Kvrpcpb.ScanResponse.newBuilder(), Kvrpcpb.ScanResponse.Builder::setRegionError, (b, e) -> b.setError(keyError(e)), b -> {
            Region r = guard.check(req.getContext());
            byte[] start = req.getStartKey().isEmpty() ? null : enc(req.getStartKey());
            byte[] end = req.getEndKey().isEmpty() ? new byte[0] : enc(req.getEndKey());
            List<MvccReader.Entry> entries;
            try (MvccReader reader = new MvccReader(engine)) {
                if (!req.getReverse()) {
                    byte[] lower = start == null ? r.startKey() : start;
                    RegionGuard.checkKeyInclusive(r, lower);
                    entries = reader.scan(lower, RegionGuard.clampUpper(r, end), req.getLimit(), req.getVersion(), req.getKeyOnly(), req.getContext());
                } else {
                    byte[] upper = start == null ? r.endKey() : start;
                    if (start != null) {
                        RegionGuard.checkKeyInclusive(r, upper);
                    }
                    entries = reader.scan(RegionGuard.clampLower(r, end.length == 0 ? null : end), upper, Integer.MAX_VALUE,
                            req.getVersion(), req.getKeyOnly(), req.getContext());
                    Collections.reverse(entries);
                    entries = entries.subList(0, Math.min(req.getLimit(), entries.size()));
                }
            }
            for (MvccReader.Entry e : entries) {
                b.addPairs(e.error() != null ? Kvrpcpb.KvPair.newBuilder().setError(e.error().keyError())
                        : Kvrpcpb.KvPair.newBuilder().setKey(bs(e.rawKey())).setValue(bs(e.value())));
            }
        });
    }

    @Override
    public void kvScanLock(Kvrpcpb.ScanLockRequest req, StreamObserver<Kvrpcpb.ScanLockResponse> out) {
        answer(out, Kvrpcpb.ScanLockResponse.newBuilder(), Kvrpcpb.ScanLockResponse.Builder::setRegionError, (b, e) -> b.setError(keyError(e)), b -> {
            Region r = guard.check(req.getContext());
            byte[] lower = req.getStartKey().isEmpty() ? r.startKey() : enc(req.getStartKey());
            RegionGuard.checkKeyInclusive(r, lower);
            byte[] upper = RegionGuard.clampUpper(r, req.getEndKey().isEmpty() ? new byte[0] : enc(req.getEndKey()));
            b.addAllLocks(txn.scanLock(req.getMaxVersion(), lower, upper, req.getLimit()));
        });
    }

    // ---------------------------------------------------------------- transactional writes

    @Override
    public void kvPrewrite(Kvrpcpb.PrewriteRequest req, StreamObserver<Kvrpcpb.PrewriteResponse> out) {
        answer(out, Kvrpcpb.PrewriteResponse.newBuilder(), Kvrpcpb.PrewriteResponse.Builder::setRegionError, (b, e) -> b.addErrors(keyError(e)), b -> {
            Region r = guard.check(req.getContext());
            List<byte[]> keys = new ArrayList<>();
            for (Kvrpcpb.Mutation m : req.getMutationsList()) {
                byte[] k = enc(m.getKey());
                RegionGuard.checkKey(r, k);
                keys.add(k);
            }
            try {
                txn.prewrite(req, keys);
            } catch (Percolator.Locked locked) {
                b.addAllErrors(locked.errors);
            }
        });
    }

    @Override
    public void kvCommit(Kvrpcpb.CommitRequest req, StreamObserver<Kvrpcpb.CommitResponse> out) {
        answer(out, Kvrpcpb.CommitResponse.newBuilder(), Kvrpcpb.CommitResponse.Builder::setRegionError, (b, e) -> b.setError(keyError(e)), b -> {
            Region r = guard.check(req.getContext());
            txn.commit(encAll(req.getKeysList(), r), req.getStartVersion(), req.getCommitVersion());
            b.setCommitVersion(req.getCommitVersion());
        });
    }

    @Override
    public void kvBatchRollback(Kvrpcpb.BatchRollbackRequest req, StreamObserver<Kvrpcpb.BatchRollbackResponse> out) {
        answer(out, Kvrpcpb.BatchRollbackResponse.newBuilder(), Kvrpcpb.BatchRollbackResponse.Builder::setRegionError,
                (b, e) -> b.setError(keyError(e)), b -> {
                    Region r = guard.check(req.getContext());
                    txn.batchRollback(encAll(req.getKeysList(), r), req.getStartVersion());
                });
    }

    @Override
    public void kvCleanup(Kvrpcpb.CleanupRequest req, StreamObserver<Kvrpcpb.CleanupResponse> out) {
        answer(out, Kvrpcpb.CleanupResponse.newBuilder(), Kvrpcpb.CleanupResponse.Builder::setRegionError, (b, e) -> {
            if (e instanceof TxnError t && t.committedTs() != 0) {
                b.setCommitVersion(t.committedTs());
            } else {
                b.setError(keyError(e));
            }
        }, b -> {
            Region r = guard.check(req.getContext());
            byte[] key = enc(req.getKey());
            RegionGuard.checkKey(r, key);
            txn.cleanup(key, req.getStartVersion(), req.getCurrentTs());
        });
    }

    @Override
    public void kvCheckTxnStatus(Kvrpcpb.CheckTxnStatusRequest req, StreamObserver<Kvrpcpb.CheckTxnStatusResponse> out) {
        answer(out, Kvrpcpb.CheckTxnStatusResponse.newBuilder(), Kvrpcpb.CheckTxnStatusResponse.Builder::setRegionError,
                (b, e) -> b.setError(keyError(e)), b -> {
                    Region r = guard.check(req.getContext());
                    byte[] key = enc(req.getPrimaryKey());
                    RegionGuard.checkKey(r, key);
                    b.mergeFrom(txn.checkTxnStatus(key, req).build());
                });
    }

    @Override
    public void kvTxnHeartBeat(Kvrpcpb.TxnHeartBeatRequest req, StreamObserver<Kvrpcpb.TxnHeartBeatResponse> out) {
        answer(out, Kvrpcpb.TxnHeartBeatResponse.newBuilder(), Kvrpcpb.TxnHeartBeatResponse.Builder::setRegionError,
                (b, e) -> b.setError(keyError(e)), b -> {
                    Region r = guard.check(req.getContext());
                    byte[] key = enc(req.getPrimaryLock());
                    RegionGuard.checkKey(r, key);
                    b.setLockTtl(txn.heartBeat(key, req.getStartVersion(), req.getAdviseLockTtl()));
                });
    }

    @Override
    public void kvResolveLock(Kvrpcpb.ResolveLockRequest req, StreamObserver<Kvrpcpb.ResolveLockResponse> out) {
        answer(out, Kvrpcpb.ResolveLockResponse.newBuilder(), Kvrpcpb.ResolveLockResponse.Builder::setRegionError,
                (b, e) -> b.setError(keyError(e)), b -> {
                    Region r = guard.check(req.getContext());
                    Map<Long, Long> status = new HashMap<>();
                    if (req.getStartVersion() != 0) {
                        status.put(req.getStartVersion(), req.getCommitVersion());
                    }
                    for (Kvrpcpb.TxnInfo t : req.getTxnInfosList()) {
                        status.put(t.getTxn(), t.getStatus());
                    }
                    if (status.isEmpty()) {
                        throw TxnError.abort("no txn status in ResolveLockRequest");
                    }
                    txn.resolveLock(status, encAll(req.getKeysList(), r), r.startKey(), r.endKey());
                });
    }

    // ---------------------------------------------------------------- split

    /** {@link SplitRegionHandler}: region errors in {@code region_error}, as {@code kv.rs} answers. */
    @Override
    public void splitRegion(Kvrpcpb.SplitRegionRequest req, StreamObserver<Kvrpcpb.SplitRegionResponse> out) {
        answer(out, Kvrpcpb.SplitRegionResponse.newBuilder(), Kvrpcpb.SplitRegionResponse.Builder::setRegionError,
                (b, e) -> b.setRegionError(Errorpb.Error.newBuilder().setMessage(text(e))), b -> splitter.split(req, b));
    }

    // ---------------------------------------------------------------- coprocessor (BR's checksum only)

    @Override
    public void coprocessor(Coprocessor.Request req, StreamObserver<Coprocessor.Response> out) {
        out.onNext(copr.handle(req, guard::check));
        out.onCompleted();
    }

    /** client-go's batch stream, each command answered by the unary handler above ({@link BatchCommandsStream}). */
    @Override
    public StreamObserver<Tikvpb.BatchCommandsRequest> batchCommands(StreamObserver<Tikvpb.BatchCommandsResponse> out) {
        return BatchCommandsStream.open(this, out);
    }
}

package dev.faketikv.server.coprocessor;

import com.google.protobuf.Message;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.tikv.kvproto.TikvGrpc;
import org.tikv.kvproto.Tikvpb.BatchCommandsEmptyResponse;
import org.tikv.kvproto.Tikvpb.BatchCommandsRequest;
import org.tikv.kvproto.Tikvpb.BatchCommandsResponse;

/**
 * {@code tikvpb.Tikv/BatchCommands}: the stream TiDB's client (client-go, which BR 5.4 links) sends its
 * KV reads, lock resolution and coprocessor requests through whenever {@code tikv-client.max-batch-size}
 * is above 0 — the default, 128 ({@code client-go config/client.go:131}, {@code internal/client/client.go:384}),
 * so BR's snapshot reads of TiDB's schema and its checksum requests arrive here, not as unary calls.
 * Mirrors TiKV 5.4's {@code batch_commands} and {@code handle_batch_commands_request}
 * ({@code src/server/service/kv.rs:948-1030, :1171-1290}): every request of a {@code BatchCommandsRequest} is
 * answered under its {@code request_id} with the response the unary method gives; a request with no command
 * gets an empty response ({@code GrpcTypeKind::invalid}); {@code Empty} echoes {@code test_id}. A command
 * this fake has no unary handler for (its unary call is UNIMPLEMENTED) also gets an empty response — TiKV
 * serves those; client-go reports an empty response as an error. The answers of one request message go out
 * as one response message (TiKV may split or merge them; the ids pair them up either way). Forwarding
 * ({@code tikv-forwarded-host}) is not applied to the stream.
 *
 * <p>Threading: gRPC delivers a stream's messages one at a time; each is answered on the calling thread
 * by the store's own (synchronous) unary handlers.
 */
public final class BatchCommandsStream implements StreamObserver<BatchCommandsRequest> {
    private static final Logger LOG = LoggerFactory.getLogger(BatchCommandsStream.class);
    private final TikvGrpc.TikvImplBase kv;
    private final StreamObserver<BatchCommandsResponse> out;

    private BatchCommandsStream(TikvGrpc.TikvImplBase kv, StreamObserver<BatchCommandsResponse> out) {
        this.kv = kv;
        this.out = out;
    }

    /** The inbound side of one {@code BatchCommands} call answered by {@code kv}'s unary handlers. */
    public static StreamObserver<BatchCommandsRequest> open(TikvGrpc.TikvImplBase kv, StreamObserver<BatchCommandsResponse> out) {
        return new BatchCommandsStream(kv, out);
    }

    @Override
    public void onNext(BatchCommandsRequest req) {
        BatchCommandsResponse.Builder b = BatchCommandsResponse.newBuilder();
        int n = Math.min(req.getRequestsCount(), req.getRequestIdsCount());
        for (int i = 0; i < n; i++) {
            b.addRequestIds(req.getRequestIds(i));
            b.addResponses(answer(req.getRequests(i)));
        }
        try {
            out.onNext(b.build());
        } catch (RuntimeException e) {
            LOG.debug("batch_commands response not sent", e);
        }
    }

    private BatchCommandsResponse.Response answer(BatchCommandsRequest.Request r) {
        BatchCommandsResponse.Response.Builder b = BatchCommandsResponse.Response.newBuilder();
        try {
            switch (r.getCmdCase()) {
                case GET -> b.setGet(call(kv::kvGet, r.getGet()));
                case SCAN -> b.setScan(call(kv::kvScan, r.getScan()));
                case PREWRITE -> b.setPrewrite(call(kv::kvPrewrite, r.getPrewrite()));
                case COMMIT -> b.setCommit(call(kv::kvCommit, r.getCommit()));
                case CLEANUP -> b.setCleanup(call(kv::kvCleanup, r.getCleanup()));
                case BATCHGET -> b.setBatchGet(call(kv::kvBatchGet, r.getBatchGet()));
                case BATCHROLLBACK -> b.setBatchRollback(call(kv::kvBatchRollback, r.getBatchRollback()));
                case SCANLOCK -> b.setScanLock(call(kv::kvScanLock, r.getScanLock()));
                case RESOLVELOCK -> b.setResolveLock(call(kv::kvResolveLock, r.getResolveLock()));
                case GC -> b.setGC(call(kv::kvGC, r.getGC()));
                case DELETERANGE -> b.setDeleteRange(call(kv::kvDeleteRange, r.getDeleteRange()));
                case RAWGET -> b.setRawGet(call(kv::rawGet, r.getRawGet()));
                case RAWBATCHGET -> b.setRawBatchGet(call(kv::rawBatchGet, r.getRawBatchGet()));
                case RAWPUT -> b.setRawPut(call(kv::rawPut, r.getRawPut()));
                case RAWBATCHPUT -> b.setRawBatchPut(call(kv::rawBatchPut, r.getRawBatchPut()));
                case RAWDELETE -> b.setRawDelete(call(kv::rawDelete, r.getRawDelete()));
                case RAWBATCHDELETE -> b.setRawBatchDelete(call(kv::rawBatchDelete, r.getRawBatchDelete()));
                case RAWSCAN -> b.setRawScan(call(kv::rawScan, r.getRawScan()));
                case RAWDELETERANGE -> b.setRawDeleteRange(call(kv::rawDeleteRange, r.getRawDeleteRange()));
                case RAWBATCHSCAN -> b.setRawBatchScan(call(kv::rawBatchScan, r.getRawBatchScan()));
                case COPROCESSOR -> b.setCoprocessor(call(kv::coprocessor, r.getCoprocessor()));
                case PESSIMISTICLOCK -> b.setPessimisticLock(call(kv::kvPessimisticLock, r.getPessimisticLock()));
                case PESSIMISTICROLLBACK -> b.setPessimisticRollback(call(kv::kVPessimisticRollback, r.getPessimisticRollback()));
                case CHECKTXNSTATUS -> b.setCheckTxnStatus(call(kv::kvCheckTxnStatus, r.getCheckTxnStatus()));
                case TXNHEARTBEAT -> b.setTxnHeartBeat(call(kv::kvTxnHeartBeat, r.getTxnHeartBeat()));
                case CHECKSECONDARYLOCKS -> b.setCheckSecondaryLocks(call(kv::kvCheckSecondaryLocks, r.getCheckSecondaryLocks()));
                case RAWCOPROCESSOR -> b.setRawCoprocessor(call(kv::rawCoprocessor, r.getRawCoprocessor()));
                case EMPTY -> b.setEmpty(BatchCommandsEmptyResponse.newBuilder().setTestId(r.getEmpty().getTestId()));
                default -> {
                    // no command (or one this kvproto does not know): TiKV's answer to an invalid request
                }
            }
        } catch (Unanswered e) {
            b.clear();
        }
        return b.build();
    }

    /** Runs a unary handler and returns its one answer. */
    private static <Q, A extends Message> A call(BiConsumer<Q, StreamObserver<A>> method, Q req) {
        Capture<A> c = new Capture<>();
        method.accept(req, c);
        if (c.value == null) {
            throw new Unanswered(c.error);
        }
        return c.value;
    }

    private static final class Capture<A> implements StreamObserver<A> {
        A value;
        Throwable error;

        @Override
        public void onNext(A v) {
            value = v;
        }

        @Override
        public void onError(Throwable t) {
            error = t;
        }

        @Override
        public void onCompleted() {
            // the value is all there is
        }
    }

    /** A unary handler that gave no answer (UNIMPLEMENTED or another status). */
    private static final class Unanswered extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Unanswered(Throwable cause) {
            super(cause == null ? "no answer" : String.valueOf(Status.fromThrowable(cause)), cause, false, false);
        }
    }

    @Override
    public void onError(Throwable t) {
        LOG.debug("batch_commands stream failed", t);
    }

    @Override
    public void onCompleted() {
        try {
            out.onCompleted();
        } catch (RuntimeException e) {
            LOG.debug("batch_commands stream not closed", e);
        }
    }
}

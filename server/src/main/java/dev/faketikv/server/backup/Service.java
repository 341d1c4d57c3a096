package dev.faketikv.server.backup;

import dev.faketikv.server.control.FailPoints;
import dev.faketikv.server.control.Journal;
import dev.faketikv.server.control.Trace;
import dev.faketikv.server.worker.ScheduleException;
import dev.faketikv.server.worker.Scheduler;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.tikv.kvproto.BackupGrpc;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Brpb.BackupRequest;
import org.tikv.kvproto.Brpb.BackupResponse;

/**
 * The gRPC {@code backup.Backup} service: TiKV's {@code Service} ({@code components/backup/src/service.rs}).
 * It builds a {@link Task} with a response sink over the call's stream and schedules it on the
 * {@code backup-endpoint} worker; responses reach the client as the workers send them, and the stream
 * ends with OK when the request is done. Per-range failures travel inside {@code BackupResponse.error};
 * only these fail the call itself:
 * <ul>
 *   <li>an unknown {@code cf}: {@code UNKNOWN}, {@code InvalidCf { cf: "..." }} (as 5.4);
 *   <li>{@code start_key > end_key} (both set): {@code INVALID_ARGUMENT} naming both keys (fake-tikv's
 *       choice; 5.4 answers an empty or near-empty OK stream);
 *   <li>a txn request with {@code start_version > end_version}: {@code INVALID_ARGUMENT} (fake-tikv's choice;
 *       5.4 answers responses without files);
 *   <li>the endpoint is stopped: {@code INVALID_ARGUMENT} with {@code Stopped(..)} (as 5.4).
 * </ul>
 * A client that cancels or disconnects sets the task's cancel flag.
 *
 * <p>Thread-safe.
 */
public final class Service extends BackupGrpc.BackupImplBase {
    private static final Logger LOG = LoggerFactory.getLogger(Service.class);

    private final Scheduler<Task> scheduler;
    private final Journal journal;
    private final FailPoints failPoints;
    private final AtomicLong requests;
    private final Trace trace;

    /**
     * @param requests numbers the requests (1-based) for fault rules and the journal; shared so a test
     *                 harness can restart the count
     */
    public Service(Scheduler<Task> scheduler, Journal journal, FailPoints failPoints, AtomicLong requests,
                   Trace trace) {
        this.trace = trace;
        this.scheduler = scheduler;
        this.journal = journal;
        this.failPoints = failPoints;
        this.requests = requests;
    }

    @Override
    public void backup(BackupRequest request, StreamObserver<BackupResponse> observer) {
        ServerCallStreamObserver<BackupResponse> call = (ServerCallStreamObserver<BackupResponse>) observer;
        long number = requests.incrementAndGet();
        journal.request(number, request);
        GrpcSink sink = new GrpcSink(call, number, journal, failPoints);
        Task task;
        try {
            task = Task.create(request, sink, number);
        } catch (InvalidCfException e) {
            sink.fail(Status.Code.UNKNOWN, e.getMessage());
            return;
        }
        byte[] start = request.getStartKey().toByteArray();
        byte[] end = request.getEndKey().toByteArray();
        if (start.length > 0 && end.length > 0 && Arrays.compareUnsigned(start, end) > 0) {
            sink.fail(Status.Code.INVALID_ARGUMENT, "start_key " + HexFormat.of().formatHex(start)
                    + " is greater than end_key " + HexFormat.of().formatHex(end));
            return;
        }
        if (!request.getIsRawKv() && Long.compareUnsigned(request.getStartVersion(), request.getEndVersion()) > 0) {
            sink.fail(Status.Code.INVALID_ARGUMENT, "start_version " + Long.toUnsignedString(request.getStartVersion())
                    + " is greater than end_version " + Long.toUnsignedString(request.getEndVersion()));
            return;
        }
        try {
            trace.step(number, "accepted on the gRPC thread; scheduling on backup-endpoint");
            scheduler.schedule(task);
        } catch (ScheduleException e) {
            sink.fail(Status.Code.INVALID_ARGUMENT, e.debug());
        }
    }

    /**
     * Forwards responses into the call, records them in the journal (each response and the call's end before
     * the client can see them, so a client that has its answer finds it journaled), evaluates the
     * {@code backup_before_response} failpoint, and remembers a client that went away.
     */
    private static final class GrpcSink extends ResponseSink {
        private final ServerCallStreamObserver<BackupResponse> call;
        private final long number;
        private final Journal journal;
        private final FailPoints failPoints;
        /** Guarded by {@code this}: the call has been completed, failed or cancelled. */
        private boolean ended;

        GrpcSink(ServerCallStreamObserver<BackupResponse> call, long number, Journal journal, FailPoints failPoints) {
            this.call = call;
            this.number = number;
            this.journal = journal;
            this.failPoints = failPoints;
            call.setOnCancelHandler(() -> {
                LOG.info("backup canceled");
                cancel();
                synchronized (this) {
                    if (!ended) {
                        ended = true;
                        journal.end(number, "CANCELLED by client");
                    }
                }
            });
        }

        @Override
        public boolean send(BackupResponse response) {
            if (cancelled()) {
                return false;
            }
            BackupResponse out = response;
            Optional<String> injected;
            try {
                injected = failPoints.eval("backup_before_response", this::cancelled);
            } catch (FailPoints.FailPointPanic e) {
                // TiKV would crash: the client sees the connection go away
                fail(Status.Code.UNAVAILABLE, e.getMessage());
                return false;
            }
            if (injected.isPresent()) {
                out = BackupResponse.newBuilder().setError(Brpb.Error.newBuilder().setMsg(injected.get())).build();
            }
            synchronized (this) {
                if (ended) {
                    return false;
                }
                try {
                    // journaled first, as ImportSST's answers are: a client that has seen it can read it there
                    journal.response(number, out);
                    call.onNext(out);
                    return true;
                } catch (StatusRuntimeException | IllegalStateException e) {
                    cancel();
                    return false;
                }
            }
        }

        @Override
        protected void complete() {
            synchronized (this) {
                if (ended || cancelled()) {
                    return;
                }
                ended = true;
                journal.end(number, "OK");
                try {
                    call.onCompleted();
                } catch (StatusRuntimeException | IllegalStateException e) {
                    cancel();
                }
            }
        }

        @Override
        public void fail(Status.Code code, String description) {
            synchronized (this) {
                cancel();
                if (ended) {
                    return;
                }
                ended = true;
                journal.end(number, code + ": " + description);
                try {
                    call.onError(Status.fromCode(code).withDescription(description).asRuntimeException());
                } catch (StatusRuntimeException | IllegalStateException e) {
                    // the call is already gone
                }
            }
        }
    }
}

package dev.faketikv.server.backup;

import dev.faketikv.server.worker.ScheduleException;
import dev.faketikv.server.worker.Scheduler;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.Arrays;
import java.util.HexFormat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.tikv.kvproto.BackupGrpc;
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
 *   <li>the endpoint is stopped: {@code INVALID_ARGUMENT} with {@code Stopped(..)} (as 5.4).
 * </ul>
 * A client that cancels or disconnects sets the task's cancel flag.
 *
 * <p>Thread-safe.
 */
public final class Service extends BackupGrpc.BackupImplBase {
    private static final Logger LOG = LoggerFactory.getLogger(Service.class);

    private final Scheduler<Task> scheduler;

    public Service(Scheduler<Task> scheduler) {
        this.scheduler = scheduler;
    }

    @Override
    public void backup(BackupRequest request, StreamObserver<BackupResponse> observer) {
        ServerCallStreamObserver<BackupResponse> call = (ServerCallStreamObserver<BackupResponse>) observer;
        GrpcSink sink = new GrpcSink(call);
        Task task;
        try {
            task = Task.create(request, sink);
        } catch (InvalidCfException e) {
            call.onError(Status.UNKNOWN.withDescription(e.getMessage()).asRuntimeException());
            return;
        }
        byte[] start = request.getStartKey().toByteArray();
        byte[] end = request.getEndKey().toByteArray();
        if (start.length > 0 && end.length > 0 && Arrays.compareUnsigned(start, end) > 0) {
            call.onError(Status.INVALID_ARGUMENT.withDescription("start_key " + HexFormat.of().formatHex(start)
                    + " is greater than end_key " + HexFormat.of().formatHex(end)).asRuntimeException());
            return;
        }
        try {
            scheduler.schedule(task);
        } catch (ScheduleException e) {
            call.onError(Status.INVALID_ARGUMENT.withDescription(e.debug()).asRuntimeException());
        }
    }

    /** Forwards responses into the call; remembers a client that went away. */
    private static final class GrpcSink extends ResponseSink {
        private final ServerCallStreamObserver<BackupResponse> call;

        GrpcSink(ServerCallStreamObserver<BackupResponse> call) {
            this.call = call;
            call.setOnCancelHandler(() -> {
                LOG.info("backup canceled");
                cancel();
            });
        }

        @Override
        public boolean send(BackupResponse response) {
            if (cancelled()) {
                return false;
            }
            synchronized (this) {
                try {
                    call.onNext(response);
                    return true;
                } catch (StatusRuntimeException | IllegalStateException e) {
                    cancel();
                    return false;
                }
            }
        }

        @Override
        protected void complete() {
            if (cancelled()) {
                return;
            }
            synchronized (this) {
                try {
                    call.onCompleted();
                } catch (StatusRuntimeException | IllegalStateException e) {
                    cancel();
                }
            }
        }
    }
}

package dev.faketikv.server.kv;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.TimeUnit;

/**
 * gRPC forwarding as TiKV's {@code src/server/proxy.rs} does it ({@code get_target_address},
 * {@code forward_unary!}): a unary {@code tikvpb.Tikv} call carrying the metadata
 * {@code tikv-forwarded-host: HOST:PORT} is not served here but sent on, unchanged, to that address, and its
 * answer (or status) is returned. Clients use it when they cannot reach a leader directly: tikv-client-java
 * forwards through a follower once its health check has marked the leader's store unreachable.
 *
 * <p>One plaintext channel per target address, kept while used (idle connections are dropped after a
 * minute; the channel threads are daemons) and shut down by {@link #close()}, which the store calls when it
 * stops. Thread-safe.
 */
public final class KvForwarder implements ServerInterceptor, AutoCloseable {
    /** {@code FORWARD_METADATA_KEY}. */
    static final Metadata.Key<String> FORWARDED_HOST = Metadata.Key.of("tikv-forwarded-host", Metadata.ASCII_STRING_MARSHALLER);
    private final ConcurrentMap<String, ManagedChannel> channels = new ConcurrentHashMap<>();

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        String addr = headers.get(FORWARDED_HOST);
        if (addr == null || addr.isEmpty() || call.getMethodDescriptor().getType() != MethodDescriptor.MethodType.UNARY) {
            return next.startCall(call, headers);
        }
        call.request(2);
        return new ServerCall.Listener<>() {
            private Q request;
            private ClientCall<Q, R> out;

            @Override
            public void onMessage(Q message) {
                request = message;
            }

            @Override
            public void onHalfClose() {
                if (request == null) {
                    call.close(Status.INTERNAL.withDescription("no request"), new Metadata());
                    return;
                }
                try {
                    CallOptions options = CallOptions.DEFAULT;
                    if (Context.current().getDeadline() != null) {
                        options = options.withDeadline(Context.current().getDeadline());
                    }
                    out = channel(addr).newCall(call.getMethodDescriptor(), options);
                } catch (RuntimeException e) {
                    call.close(Status.UNAVAILABLE.withDescription("cannot forward to " + addr + ": " + e.getMessage()), new Metadata());
                    return;
                }
                ClientCalls.asyncUnaryCall(out, request, new StreamObserver<R>() {
                    private R response;

                    @Override
                    public void onNext(R value) {
                        response = value;
                    }

                    @Override
                    public void onError(Throwable t) {
                        call.close(Status.fromThrowable(t), new Metadata());
                    }

                    @Override
                    public void onCompleted() {
                        call.sendHeaders(new Metadata());
                        call.sendMessage(response);
                        call.close(Status.OK, new Metadata());
                    }
                });
            }

            @Override
            public void onCancel() {
                if (out != null) {
                    out.cancel("the forwarding client cancelled", null);
                }
            }
        };
    }

    private ManagedChannel channel(String addr) {
        return channels.computeIfAbsent(addr, a -> NettyChannelBuilder.forTarget(a).usePlaintext()
                .idleTimeout(1, TimeUnit.MINUTES).maxInboundMessageSize(64 << 20).build());
    }

    /** Shuts every forwarding channel down; a call forwarded afterwards opens a new one. */
    @Override
    public void close() {
        for (ManagedChannel c : channels.values()) {
            c.shutdownNow();
        }
        channels.clear();
    }
}

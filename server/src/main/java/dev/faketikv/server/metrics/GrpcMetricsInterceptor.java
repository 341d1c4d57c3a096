package dev.faketikv.server.metrics;

import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

/**
 * gRPC-level metrics for every call the store serves: {@code fake_tikv_grpc_server_started_total{method}},
 * {@code fake_tikv_grpc_server_handled_total{method,code}} and
 * {@code fake_tikv_grpc_server_handling_seconds{method}} (call start to status). Thread-safe.
 */
public final class GrpcMetricsInterceptor implements ServerInterceptor {
    private final MeterRegistry registry;

    public GrpcMetricsInterceptor(MeterRegistry registry) {
        this.registry = registry;
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        String method = call.getMethodDescriptor().getFullMethodName();
        Counter.builder("fake.tikv.grpc.server.started").tag("method", method).register(registry).increment();
        long t0 = System.nanoTime();
        return next.startCall(new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
            @Override
            public void close(Status status, Metadata trailers) {
                Counter.builder("fake.tikv.grpc.server.handled").tag("method", method).tag("code", status.getCode().name())
                        .register(registry).increment();
                Timer.builder("fake.tikv.grpc.server.handling").tag("method", method).register(registry)
                        .record(System.nanoTime() - t0, java.util.concurrent.TimeUnit.NANOSECONDS);
                super.close(status, trailers);
            }
        }, headers);
    }
}

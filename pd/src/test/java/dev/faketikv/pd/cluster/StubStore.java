package dev.faketikv.pd.cluster;

import dev.faketikv.pd.FakeCluster;
import dev.faketikv.server.RawBytes;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Grpc;
import io.grpc.HandlerRegistry;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCalls;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.Supplier;
import org.tikv.kvproto.ImportSSTGrpc;
import org.tikv.kvproto.ImportSstpb;

/**
 * A stand-in TiKV store for restore tests: a real gRPC server on loopback port 0 that the fake PD reports in
 * place of one of a {@link FakeCluster}'s stores ({@link FakeCluster#advertiseStoreAddress}), so BR-like clients
 * that look the store up in PD reach it. Every call is forwarded to the real store as it is (any service, unary
 * or streaming, as raw bytes: SwitchMode, SplitRegion, the checksum's Backup stream, ...), except ImportSST
 * {@code Download}, {@code Ingest} and {@code MultiIngest}, which first go through a {@link Script}: it returns
 * null to forward the call, a response to answer with, or throws {@link StatusRuntimeException} to fail it with
 * that status (e.g. UNIMPLEMENTED, as a TiKV older than 5.0 answers {@code MultiIngest}).
 *
 * <p>Every call is recorded ({@link #methods()}, {@link #requests}). Thread-safe: scripts are set from the test
 * thread and run on gRPC threads; {@link #close()} stops the server and the channel to the real store.
 */
final class StubStore implements AutoCloseable {
    /**
     * What to do with the {@code n}-th call (from 1) of one method: null forwards it to the real store;
     * {@code realStore} sends a request there and returns its answer (to answer with a changed copy).
     */
    @FunctionalInterface
    interface Script<Q, A> {
        A answer(Q request, int n, Function<Q, A> realStore);
    }

    /** One call the stub received: the method's short name and, for the scripted methods, the request. */
    record Seen(String method, Object request) {}

    private static final RawBytes BYTES = new RawBytes();

    private final ManagedChannel backend;
    private final Server server;
    private final List<Seen> seen = new CopyOnWriteArrayList<>();
    private final Map<String, AtomicInteger> counts = new ConcurrentHashMap<>();
    private volatile Script<ImportSstpb.DownloadRequest, ImportSstpb.DownloadResponse> download = (q, n, real) -> null;
    private volatile Script<ImportSstpb.IngestRequest, ImportSstpb.IngestResponse> ingest = (q, n, real) -> null;
    private volatile Script<ImportSstpb.MultiIngestRequest, ImportSstpb.IngestResponse> multiIngest = (q, n, real) -> null;

    private StubStore(String realStore) throws IOException {
        this.backend = Grpc.newChannelBuilder(realStore, InsecureChannelCredentials.create()).maxInboundMessageSize(64 << 20).build();
        ServerServiceDefinition scripted = ServerServiceDefinition.builder(ImportSSTGrpc.SERVICE_NAME)
                .addMethod(scripted(ImportSSTGrpc.getDownloadMethod(), () -> download, (s, q) -> s.download(q)))
                .addMethod(scripted(ImportSSTGrpc.getIngestMethod(), () -> ingest, (s, q) -> s.ingest(q)))
                .addMethod(scripted(ImportSSTGrpc.getMultiIngestMethod(), () -> multiIngest, (s, q) -> s.multiIngest(q)))
                .build();
        this.server = NettyServerBuilder.forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                .addService(scripted)
                .fallbackHandlerRegistry(new Forwarding())
                .maxInboundMessageSize(64 << 20)
                .build().start();
    }

    /** A stub in front of store {@code storeId} of {@code cluster}, which PD reports from now on. */
    static StubStore inFrontOf(FakeCluster cluster, long storeId) throws IOException {
        StubStore stub = new StubStore(cluster.store(storeId).addr());
        cluster.advertiseStoreAddress(storeId, stub.addr());
        return stub;
    }

    String addr() {
        return "127.0.0.1:" + server.getPort();
    }

    StubStore onDownload(Script<ImportSstpb.DownloadRequest, ImportSstpb.DownloadResponse> s) {
        this.download = s;
        return this;
    }

    StubStore onIngest(Script<ImportSstpb.IngestRequest, ImportSstpb.IngestResponse> s) {
        this.ingest = s;
        return this;
    }

    StubStore onMultiIngest(Script<ImportSstpb.MultiIngestRequest, ImportSstpb.IngestResponse> s) {
        this.multiIngest = s;
        return this;
    }

    /** Short names of the methods called so far, in arrival order (e.g. {@code SwitchMode}, {@code Download}). */
    List<String> methods() {
        return seen.stream().map(Seen::method).toList();
    }

    /** How many calls of {@code method} (short name) arrived. */
    int count(String method) {
        return (int) seen.stream().filter(s -> s.method().equals(method)).count();
    }

    /** The requests of a scripted method, in arrival order. */
    <Q> List<Q> requests(String method, Class<Q> type) {
        return seen.stream().filter(s -> s.method().equals(method)).map(s -> type.cast(s.request())).toList();
    }

    private <Q, A> ServerMethodDefinition<Q, A> scripted(MethodDescriptor<Q, A> method, Supplier<Script<Q, A>> script,
                                                         BiFunction<ImportSSTGrpc.ImportSSTBlockingStub, Q, A> forward) {
        String name = method.getBareMethodName();
        return ServerMethodDefinition.create(method, ServerCalls.asyncUnaryCall((request, out) -> {
            seen.add(new Seen(name, request));
            int n = counts.computeIfAbsent(name, k -> new AtomicInteger()).incrementAndGet();
            Function<Q, A> realStore = q -> forward.apply(ImportSSTGrpc.newBlockingStub(backend).withDeadlineAfter(60, TimeUnit.SECONDS), q);
            try {
                A answer = script.get().answer(request, n, realStore);
                if (answer == null) {
                    answer = realStore.apply(request);
                }
                out.onNext(answer);
                out.onCompleted();
            } catch (StatusRuntimeException e) {
                out.onError(e);
            }
        }));
    }

    /** Any other method: relayed to the real store message by message, headers and trailers included. */
    private final class Forwarding extends HandlerRegistry {
        @Override
        public ServerMethodDefinition<?, ?> lookupMethod(String fullName, String authority) {
            MethodDescriptor<byte[], byte[]> m = MethodDescriptor.newBuilder(BYTES, BYTES)
                    .setFullMethodName(fullName).setType(MethodDescriptor.MethodType.UNKNOWN).build();
            return ServerMethodDefinition.create(m, (call, headers) -> relay(m, call, headers));
        }
    }

    /**
     * Relays one call. The backend's listener is the only caller of {@code call}'s send/close methods and the
     * server listener the only caller of {@code out}'s send methods; {@code request} may come from any thread.
     */
    private ServerCall.Listener<byte[]> relay(MethodDescriptor<byte[], byte[]> m, ServerCall<byte[], byte[]> call, Metadata headers) {
        seen.add(new Seen(m.getBareMethodName(), null));
        ClientCall<byte[], byte[]> out = backend.newCall(m, CallOptions.DEFAULT);
        out.start(new ClientCall.Listener<>() {
            @Override
            public void onHeaders(Metadata h) {
                call.sendHeaders(h);
            }

            @Override
            public void onMessage(byte[] message) {
                call.sendMessage(message);
                out.request(1);
            }

            @Override
            public void onClose(Status status, Metadata trailers) {
                call.close(status, trailers);
            }
        }, headers);
        out.request(1);
        call.request(1);
        return new ServerCall.Listener<>() {
            @Override
            public void onMessage(byte[] message) {
                out.sendMessage(message);
                call.request(1);
            }

            @Override
            public void onHalfClose() {
                out.halfClose();
            }

            @Override
            public void onCancel() {
                out.cancel("cancelled by the caller", null);
            }
        };
    }

    @Override
    public void close() {
        server.shutdownNow();
        backend.shutdownNow();
        try {
            server.awaitTermination(10, TimeUnit.SECONDS);
            backend.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

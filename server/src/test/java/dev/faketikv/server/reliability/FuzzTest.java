package dev.faketikv.server.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.faketikv.client.BackupClient;
import dev.faketikv.server.FakeTikv;
import dev.faketikv.server.TestServers;
import io.grpc.CallOptions;
import io.grpc.MethodDescriptor;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import org.tikv.kvproto.BackupGrpc;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Brpb.BackupRequest;
import org.tikv.kvproto.Encryptionpb.EncryptionMethod;

/**
 * Property tests: 10,000 random BackupRequests and 10,000 random byte strings sent as the request
 * message. The server answers each (responses, or a status naming the bad input — never DEADLINE_EXCEEDED,
 * UNAVAILABLE or INTERNAL, nor UNKNOWN "Application error processing RPC", gRPC's text for an exception the handler
 * did not catch; UNKNOWN with TiKV's own text, e.g. InvalidCf, is what TiKV sends. Bytes that do not parse as a
 * BackupRequest are refused by gRPC before any handler runs, with any of those), never crashes, leaks no thread,
 * keeps its heap steady, writes no file outside {@code backup.local-root}, and answers a good request
 * afterwards.
 */
class FuzzTest {
    static Path sandbox;
    static Path root;
    static FakeTikv tikv;
    static BackupClient client;
    static int threadsBefore;
    static java.util.Set<String> rootBefore;
    static java.util.Set<String> etcBefore;
    static long heapBefore;

    static final MethodDescriptor<byte[], byte[]> RAW = dev.faketikv.server.RawBytes.method(
            BackupGrpc.getBackupMethod().getFullMethodName(), MethodDescriptor.MethodType.SERVER_STREAMING);

    @BeforeContainer
    static void start() throws Exception {
        sandbox = Files.createTempDirectory("fake-tikv-fuzz");
        root = Files.createDirectories(sandbox.resolve("root"));
        tikv = FakeTikv.builder().seed("txn:rows=400,regions=4,value-size=20,seed=1")
                .set("backup.local-root", root.toString()).set("fake.s3-retry-base-delay", "1ms")
                .dataDir(sandbox.resolve("data")).start();
        client = new BackupClient(tikv.addr());
        rootBefore = names(Path.of("/"));
        etcBefore = names(Path.of("/etc"));
        System.gc();
        threadsBefore = Thread.activeCount();
        heapBefore = usedHeap();
    }

    @AfterContainer
    static void checkAndStop() throws Exception {
        try {
            // the server still answers a good request in full
            assertThat(client.backup(TestServers.txn(TestServers.noop()).build())).isNotEmpty().noneMatch(r -> r.hasError());
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
                    .until(() -> tikv.server().endpoint().busyWorkers() == 0);
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
                    .untilAsserted(() -> assertThat(Thread.activeCount()).isLessThanOrEqualTo(threadsBefore + 16));
            System.gc();
            assertThat(usedHeap()).isLessThan(heapBefore + (256L << 20));
            // nothing outside the sandbox root but the server's own data; nothing new in / or /etc
            try (var s = Files.list(sandbox)) {
                assertThat(s.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("root", "data");
            }
            assertThat(names(Path.of("/"))).isEqualTo(rootBefore);
            assertThat(names(Path.of("/etc"))).isEqualTo(etcBefore);
        } finally {
            client.close();
            tikv.close();
        }
    }

    static java.util.Set<String> names(Path dir) throws IOException {
        try (var s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).collect(java.util.stream.Collectors.toSet());
        }
    }

    static long usedHeap() {
        Runtime r = Runtime.getRuntime();
        return r.totalMemory() - r.freeMemory();
    }

    @Provide
    Arbitrary<BackupRequest> requests() {
        Arbitrary<ByteString> keys = Arbitraries.bytes().array(byte[].class).ofMaxSize(24).map(ByteString::copyFrom);
        Arbitrary<String> paths = Arbitraries.oneOf(
                Arbitraries.strings().ofMaxLength(12).map(s -> root.resolve("d" + Math.abs(s.hashCode() % 50)).toString()),
                Arbitraries.strings().ofMaxLength(40),
                Arbitraries.of("/etc", "/", "../x", root + "/../escape", "/proc/self", ""));
        Arbitrary<Brpb.StorageBackend> backends = Arbitraries.oneOf(
                Arbitraries.just(Brpb.StorageBackend.newBuilder().setNoop(Brpb.Noop.getDefaultInstance()).build()),
                paths.map(p -> Brpb.StorageBackend.newBuilder().setLocal(Brpb.Local.newBuilder().setPath(p)).build()),
                Arbitraries.just(Brpb.StorageBackend.getDefaultInstance()),
                Arbitraries.strings().ofMaxLength(8).map(b -> Brpb.StorageBackend.newBuilder().setS3(Brpb.S3.newBuilder()
                        .setBucket(b).setEndpoint("http://127.0.0.1:1").setAccessKey("a").setSecretAccessKey("s")).build()));
        Arbitrary<Brpb.CipherInfo> ciphers = Combinators.combine(Arbitraries.integers().between(-1, 6),
                Arbitraries.bytes().array(byte[].class).ofMaxSize(40)).as((t, k) -> Brpb.CipherInfo.newBuilder()
                .setCipherTypeValue(Math.max(0, t)).setCipherKey(ByteString.copyFrom(k)).build());
        return Combinators.combine(keys, keys, Arbitraries.longs(), Arbitraries.longs(), backends, ciphers,
                Arbitraries.of("", "default", "write", "lock", "raft", "x", "DEFAULT"), Arbitraries.integers())
                .as((start, end, v1, v2, backend, cipher, cf, n) -> {
                    BackupRequest.Builder b = BackupRequest.newBuilder().setStartKey(start).setEndKey(end)
                            .setStartVersion(n % 3 == 0 ? 0 : v1).setEndVersion(v2).setStorageBackend(backend)
                            .setIsRawKv(n % 4 == 0).setCf(cf).setCompressionTypeValue(Math.floorMod(n, 5))
                            .setCompressionLevel(n % 7 == 0 ? n : 0).setRateLimit(n % 11 == 0 ? 1L << 40 : 0)
                            .setConcurrency(n).setClusterId(n % 13 == 0 ? v1 : 0);
                    if (n % 2 == 0) {
                        b.setCipherInfo(cipher);
                    }
                    return b.build();
                });
    }

    @Property
    void randomRequestsGetAnAnswer(@ForAll("requests") BackupRequest req) {
        try {
            Iterator<Brpb.BackupResponse> it = BackupGrpc.newBlockingStub(client.channel()).withDeadlineAfter(10, TimeUnit.SECONDS).backup(req);
            while (it.hasNext()) {
                it.next();
            }
        } catch (StatusRuntimeException e) {
            assertHandled(e.getStatus());
        }
    }

    /** A status the handler chose: no hang, no crash, no exception it let escape. */
    static void assertHandled(io.grpc.Status st) {
        assertThat(st.getCode()).as(st.toString()).isNotIn(io.grpc.Status.Code.DEADLINE_EXCEEDED, io.grpc.Status.Code.UNAVAILABLE,
                io.grpc.Status.Code.INTERNAL);
        if (st.getCode() == io.grpc.Status.Code.UNKNOWN) {
            assertThat(st.getDescription()).as(st.toString()).isNotNull().isNotEqualTo("Application error processing RPC");
        }
    }

    @Property
    void randomBytesAreRejectedOrAnswered(@ForAll byte[] bytes) {
        try {
            Iterator<byte[]> it = ClientCalls.blockingServerStreamingCall(client.channel(), RAW,
                    CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), bytes);
            while (it.hasNext()) {
                it.next();
            }
        } catch (StatusRuntimeException e) {
            io.grpc.Status st = e.getStatus();
            boolean parses;
            try {
                BackupRequest.parseFrom(bytes);
                parses = true;
            } catch (com.google.protobuf.InvalidProtocolBufferException notABackupRequest) {
                parses = false;
            }
            if (parses) {
                assertHandled(st);
            } else {
                // refused by gRPC itself (its parse error ends the call as UNKNOWN or INTERNAL): never a hang
                assertThat(st.getCode()).as(st.toString()).isIn(io.grpc.Status.Code.UNKNOWN, io.grpc.Status.Code.INTERNAL);
            }
        }
    }
}

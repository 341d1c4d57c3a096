package dev.faketikv.pd.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.faketikv.client.br.BrBackup;
import dev.faketikv.client.br.BrRestore;
import dev.faketikv.client.br.BrStorage;
import dev.faketikv.engine.Cf;
import dev.faketikv.pd.FakeCluster;
import dev.faketikv.server.RawBytes;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import java.nio.file.Files;
import java.time.Duration;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import org.awaitility.Awaitility;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.ImportSSTGrpc;
import org.tikv.kvproto.ImportSstpb;
import org.tikv.kvproto.Kvrpcpb;
import org.tikv.kvproto.Metapb;
import org.tikv.kvproto.PDGrpc;

/**
 * Untrusted input on the restore side and on PD: random byte strings sent as the request of every unary
 * ImportSST and PD method fake-tikv serves (PD's {@code Tso} is a stream and is not among them), and random
 * structured Download / MultiIngest requests (names of real backup files and hostile ones, random ranges,
 * rewrite rules, ciphers, contexts). Each gets an answer; afterwards nothing has been ingested by them, no file
 * was read outside {@code backup.local-root}, threads are bounded, and the fuzzed stores still restore the
 * backup into a fresh cluster key for key.
 */
class ClusterFuzzTest {
    static Path sandbox;
    static Path root;
    static FakeCluster cluster;
    static ManagedChannel store;
    static ManagedChannel pd;
    static Brpb.BackupMeta meta;
    static TreeMap<String, String> before;
    static int threadsBefore;
    static final AtomicInteger staged = new AtomicInteger();

    static final List<MethodDescriptor<?, ?>> UNARY = List.of(ImportSSTGrpc.getDownloadMethod(), ImportSSTGrpc.getIngestMethod(),
            ImportSSTGrpc.getMultiIngestMethod(), ImportSSTGrpc.getSwitchModeMethod(), ImportSSTGrpc.getSetDownloadSpeedLimitMethod(),
            PDGrpc.getGetRegionMethod(), PDGrpc.getScanRegionsMethod(), PDGrpc.getGetStoreMethod(), PDGrpc.getGetAllStoresMethod(),
            PDGrpc.getUpdateServiceGCSafePointMethod(), PDGrpc.getUpdateGCSafePointMethod(), PDGrpc.getGetMembersMethod(),
            PDGrpc.getGetRegionByIDMethod(), PDGrpc.getGetPrevRegionMethod(), PDGrpc.getGetGCSafePointMethod());

    @BeforeContainer
    static void start() throws Exception {
        sandbox = Files.createTempDirectory("fake-tikv-cluster-fuzz");
        root = Files.createDirectories(sandbox.resolve("root"));
        cluster = FakeCluster.builder().stores(2).seed("raw:keys=400,regions=3,seed=5").set("backup.local-root", root.toString())
                .dataDir(sandbox.resolve("data")).start();
        meta = BrBackup.run(new BrBackup.Options(cluster.pdAddr(), true, null, null, "default", 0, 4, Brpb.CompressionType.LZ4, null,
                BrStorage.parse("local://" + root.resolve("b")), 300, 0.01, null)).meta();
        store = ManagedChannelBuilder.forTarget(cluster.store(1).addr()).usePlaintext().build();
        pd = ManagedChannelBuilder.forTarget(cluster.pdAddr()).usePlaintext().build();
        before = ClusterData.rawView(cluster.engine(), Cf.DEFAULT);
        threadsBefore = Thread.activeCount();
    }

    @AfterContainer
    static void checkAndStop() throws Exception {
        try {
            assertThat(staged.get()).as("some random downloads were good enough to stage").isPositive();
            // nothing the fuzz sent was ingested; the PD facade and the importer still do their jobs
            assertThat(ClusterData.rawView(cluster.engine(), Cf.DEFAULT)).isEqualTo(before);
            assertThat(ClusterData.count(cluster.engine(), Cf.WRITE)).isZero();
            assertThat(before).hasSize(400);
            // the fuzzed stores still restore: the backup under a rewrite r → s lands on keys they did not hold, so a
            // restore that ingests nothing fails here
            BrRestore.run(BrRestore.Options.builder(cluster.pdAddr(), BrStorage.parse("local://" + root.resolve("b")))
                    .raw(true).backoffScale(0.01).rewrites(List.of(new BrRestore.Rewrite(new byte[] {'r'}, new byte[] {'s'}))).build());
            TreeMap<String, String> expected = new TreeMap<>(before);
            before.forEach((k, v) -> expected.put("73" + k.substring(2), v));
            ClusterData.assertSame(ClusterData.rawView(cluster.engine(), Cf.DEFAULT), expected);
            // and the backup restores into a fresh cluster key for key
            try (FakeCluster fresh = FakeCluster.builder().stores(2).set("backup.local-root", root.toString()).start()) {
                BrRestore.run(BrRestore.Options.builder(fresh.pdAddr(), BrStorage.parse("local://" + root.resolve("b"))).raw(true)
                        .backoffScale(0.01).build());
                ClusterData.assertSame(ClusterData.rawView(fresh.engine(), Cf.DEFAULT), before);
            }
            Awaitility.await().atMost(Duration.ofSeconds(30))
                    .untilAsserted(() -> assertThat(Thread.activeCount()).as(ClusterFuzzTest::threadNames)
                            .isLessThanOrEqualTo(threadsBefore + 16));
            try (var s = Files.list(sandbox)) {
                assertThat(s.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("root", "data");
            }
        } finally {
            store.shutdownNow();
            pd.shutdownNow();
            cluster.close();
        }
    }

    /** Live threads by name with digits dropped, most common first: what a failed thread bound grew by. */
    static String threadNames() {
        Map<String, Long> byName = Thread.getAllStackTraces().keySet().stream()
                .collect(Collectors.groupingBy(t -> t.getName().replaceAll("[0-9]+", "#"), TreeMap::new, Collectors.counting()));
        return "threads before: " + threadsBefore + ", now: " + byName;
    }

    @Property(tries = 1_000)
    void randomBytesToEveryMethodGetAnAnswer(@ForAll byte[] bytes, @ForAll("methods") MethodDescriptor<?, ?> m) {
        MethodDescriptor<byte[], byte[]> raw = RawBytes.method(m.getFullMethodName(), MethodDescriptor.MethodType.UNARY);
        ManagedChannel ch = m.getServiceName().startsWith("pdpb") ? pd : store;
        try {
            ClientCalls.blockingUnaryCall(ch, raw, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), bytes);
        } catch (StatusRuntimeException e) {
            assertThat(e.getStatus().getCode()).isNotIn(Status.Code.DEADLINE_EXCEEDED, Status.Code.UNAVAILABLE);
        }
    }

    @Provide
    Arbitrary<MethodDescriptor<?, ?>> methods() {
        return Arbitraries.of(UNARY);
    }

    @Provide
    Arbitrary<ImportSstpb.DownloadRequest> downloads() {
        Arbitrary<ByteString> bytes = Arbitraries.bytes().array(byte[].class).ofMaxSize(20).map(ByteString::copyFrom);
        Arbitrary<String> names = Arbitraries.oneOf(Arbitraries.of(meta.getFilesList()).map(Brpb.File::getName),
                Arbitraries.of("../../etc/passwd", "/etc/passwd", "backupmeta", "backup.lock", "", "x\0y", "b/../../root"),
                Arbitraries.strings().ofMaxLength(30));
        Arbitrary<String> dirs = Arbitraries.of(root.resolve("b").toString(), root.toString(), "/etc", "/", "", "relative", root + "/../data");
        Arbitrary<Brpb.CipherInfo> ciphers = Combinators.combine(Arbitraries.integers().between(0, 5), bytes)
                .as((t, k) -> Brpb.CipherInfo.newBuilder().setCipherTypeValue(t).setCipherKey(k).build());
        return Combinators.combine(bytes, names, dirs, bytes, bytes, ciphers, Arbitraries.longs(), Arbitraries.integers())
                .as((uuid, name, dir, k1, k2, cipher, n, i) -> {
                    ImportSstpb.SSTMeta.Builder sst = ImportSstpb.SSTMeta.newBuilder()
                            .setUuid(i % 3 == 0 ? uuid : ByteString.copyFrom(new byte[16]))
                            .setRange(ImportSstpb.Range.newBuilder().setStart(k1).setEnd(k2)).setLength(i % 2 == 0 ? 0 : Math.abs(n) % 100_000)
                            .setCfName(i % 5 == 0 ? "write" : i % 7 == 0 ? "raft" : "default").setRegionId(Math.abs(n) % 40)
                            .setEndKeyExclusive(i % 2 == 0).setCipherIv(k2);
                    ImportSstpb.DownloadRequest.Builder b = ImportSstpb.DownloadRequest.newBuilder().setSst(sst).setName(name)
                            .setIsRawKv(i % 4 != 0)
                            .setStorageBackend(Brpb.StorageBackend.newBuilder().setLocal(Brpb.Local.newBuilder().setPath(dir)))
                            .setRewriteRule(ImportSstpb.RewriteRule.newBuilder().setOldKeyPrefix(i % 6 == 0 ? k1 : ByteString.EMPTY)
                                    .setNewKeyPrefix(i % 6 == 0 ? k2 : ByteString.EMPTY).setNewTimestamp(i % 9 == 0 ? n : 0));
                    if (i % 8 == 0) {
                        b.setCipherInfo(cipher);
                    }
                    return b.build();
                });
    }

    @Property(tries = 1_000)
    void randomDownloadsAndIngestsAreAnsweredAndIngestNothing(@ForAll("downloads") ImportSstpb.DownloadRequest d, @ForAll long region,
                                                              @ForAll int epoch) {
        var stub = ImportSSTGrpc.newBlockingStub(store).withDeadlineAfter(10, TimeUnit.SECONDS);
        // the random-bytes property may have set a speed limit of a few bytes per second on this store (a valid
        // SetDownloadSpeedLimit is one varint), which a real file's Download then obeys for minutes, as TiKV's would:
        // lift it, so a slow answer here means a slow importer
        stub.setDownloadSpeedLimit(ImportSstpb.SetDownloadSpeedLimitRequest.newBuilder().setSpeedLimit(0).build());
        assertThat(cluster.store(1).importer().speedLimit()).isZero();
        ImportSstpb.DownloadResponse r = stub.download(d);
        assertThat(r.hasError() || r.getIsEmpty() || r.hasRange()).isTrue();
        if (r.hasRange()) {
            staged.incrementAndGet();
        }
        // an ingest of a random uuid (never the one just staged) under a random context
        ImportSstpb.IngestResponse in = stub.multiIngest(ImportSstpb.MultiIngestRequest.newBuilder()
                .setContext(Kvrpcpb.Context.newBuilder().setRegionId(Math.abs(region) % 12)
                        .setRegionEpoch(Metapb.RegionEpoch.newBuilder().setConfVer(epoch & 7).setVersion(epoch >>> 29)))
                .addSsts(d.getSst().toBuilder().setUuid(ByteString.copyFromUtf8("fuzz-" + epoch).concat(ByteString.copyFrom(new byte[16])).substring(0, 16)))
                .build());
        assertThat(in.hasError()).isTrue();
        // drop what a valid download staged, as a real restore would have ingested or abandoned it
        cluster.store(1).importer().discard(d.getSst().getUuid().toByteArray());
    }
}

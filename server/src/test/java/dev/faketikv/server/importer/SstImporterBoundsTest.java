package dev.faketikv.server.importer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import dev.faketikv.engine.Engine;
import dev.faketikv.engine.codec.Keys;
import dev.faketikv.engine.sst.SstCompression;
import dev.faketikv.engine.sst.SstFileBuilder;
import dev.faketikv.server.FakeTikvServer;
import dev.faketikv.server.TestServers;
import dev.faketikv.server.backup.Endpoint;
import dev.faketikv.server.storage.ExternalStorage;
import dev.faketikv.server.storage.ExternalStorages;
import dev.faketikv.server.storage.ForwardingStorage;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.ImportSSTGrpc;
import org.tikv.kvproto.ImportSstpb;
import org.tikv.kvproto.ImportSstpb.RewriteRule;
import org.tikv.kvproto.ImportSstpb.SSTMeta;

/**
 * Download's bounds (issue 19 items 1 and 4): an object that never ends (what a link to {@code /dev/zero}
 * was) is read only to one byte past {@code SSTMeta.length}, or to the unsized cap when the length is 0; a
 * cancelled call stops the copy and the rewrite, over gRPC too; a rewrite that could grow a file past the cap
 * is refused before it writes. Nothing is left in the import folder after any of them.
 */
class SstImporterBoundsTest {
    /** A storage object of zeros that never ends (a safety EOF at 256 MiB), counting what was read. */
    static final class Endless implements ExternalStorage {
        final AtomicLong read = new AtomicLong();

        @Override
        public String name() {
            return "endless";
        }

        @Override
        public void write(String name, InputStream data, long contentLength) {
            throw new UnsupportedOperationException();
        }

        @Override
        public InputStream read(String name) {
            return new InputStream() {
                @Override
                public int read() {
                    byte[] one = new byte[1];
                    return read(one, 0, 1) < 0 ? -1 : 0;
                }

                @Override
                public int read(byte[] b, int off, int len) {
                    if (read.get() >= 256L << 20) {
                        return -1;
                    }
                    java.util.Arrays.fill(b, off, off + len, (byte) 0);
                    read.addAndGet(len);
                    return len;
                }
            };
        }
    }

    @TempDir
    Path tmp;
    Engine engine;
    Endless endless = new Endless();
    /** Set once a real file's stream reached its end (the copy is over, the rewrite starts). */
    AtomicBoolean copied = new AtomicBoolean();

    @BeforeEach
    void open() {
        engine = Engine.open(tmp.resolve("engine"));
    }

    @AfterEach
    void close() {
        engine.close();
    }

    /** Local paths ending in "endless" read {@link #endless}; others are real local storage. */
    Endpoint.StorageFactory storages() {
        return backend -> {
            if (backend.getLocal().getPath().endsWith("endless")) {
                return endless;
            }
            ExternalStorage real = ExternalStorages.create(backend);
            return new ForwardingStorage(real) {
                @Override
                public InputStream read(String name) throws IOException {
                    return new FilterInputStream(super.read(name)) {
                        @Override
                        public int read(byte[] b, int off, int len) throws IOException {
                            int n = super.read(b, off, len);
                            if (n < 0) {
                                copied.set(true);
                            }
                            return n;
                        }
                    };
                }
            };
        };
    }

    SstImporter importer(SstImporter.Limits limits) throws IOException {
        return new SstImporter(1, tmp.resolve("import"), engine, storages(), limits);
    }

    static SSTMeta meta(long length) {
        byte[] uuid = new byte[16];
        new SecureRandom().nextBytes(uuid);
        return SSTMeta.newBuilder().setUuid(ByteString.copyFrom(uuid)).setLength(length).setCfName("default").setRegionId(1).build();
    }

    static Brpb.StorageBackend local(Path p) {
        return Brpb.StorageBackend.newBuilder().setLocal(Brpb.Local.newBuilder().setPath(p.toString())).build();
    }

    long importEntries() throws IOException {
        try (Stream<Path> s = Files.list(tmp.resolve("import"))) {
            return s.count();
        }
    }

    /** An SST of {@code n} raw keys {@code t1_00000...} with 64-byte values. */
    Path sst(int n) {
        Path f = tmp.resolve("backup/1_2_default.sst");
        try {
            Files.createDirectories(f.getParent());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        try (SstFileBuilder b = new SstFileBuilder(f, SstCompression.LZ4, 0)) {
            for (int i = 0; i < n; i++) {
                b.put(Keys.dataKey(String.format("t1_%05d", i).getBytes(StandardCharsets.US_ASCII)), new byte[64]);
            }
            b.finish();
        }
        return f;
    }

    @Test
    void anEndlessObjectIsReadOnlyToOneBytePastTheLength() throws Exception {
        SstImporter imp = importer(SstImporter.Limits.defaults());
        assertThatThrownBy(() -> imp.download(meta(1000), "1_2_default.sst", RewriteRule.getDefaultInstance(),
                local(tmp.resolve("endless")), true, null, () -> false))
                .hasMessageContaining("downloaded size at least 1001, expected 1000");
        assertThat(endless.read.get()).isLessThanOrEqualTo(1001);
        assertThat(importEntries()).isZero();
    }

    @Test
    void anUnsizedDownloadStopsAtTheCap() throws Exception {
        SstImporter imp = importer(new SstImporter.Limits(1 << 20, 256, 64L << 20));
        assertThatThrownBy(() -> imp.download(meta(0), "1_2_default.sst", RewriteRule.getDefaultInstance(),
                local(tmp.resolve("endless")), true, null, () -> false))
                .hasMessageContaining("over the 1048576 bytes fake-tikv reads when SSTMeta.length is 0");
        assertThat(endless.read.get()).isLessThanOrEqualTo((1 << 20) + 1);
        assertThat(importEntries()).isZero();
    }

    @Test
    void aCancelledCopyStopsAtOnceAndLeavesNothing() throws Exception {
        SstImporter imp = importer(SstImporter.Limits.defaults());
        BooleanSupplier cancelledAfter8MiB = () -> endless.read.get() >= 8 << 20;
        assertThatThrownBy(() -> imp.download(meta(0), "1_2_default.sst", RewriteRule.getDefaultInstance(),
                local(tmp.resolve("endless")), true, null, cancelledAfter8MiB))
                .hasMessageContaining("download cancelled");
        assertThat(endless.read.get()).isLessThan((8 << 20) + (64 << 10) + 1);
        assertThat(importEntries()).isZero();
    }

    @Test
    void aCancelledRewriteStopsAndLeavesNothing() throws Exception {
        Path f = sst(5000);
        SstImporter imp = importer(SstImporter.Limits.defaults());
        RewriteRule rule = RewriteRule.newBuilder().setOldKeyPrefix(ByteString.copyFromUtf8("t1_"))
                .setNewKeyPrefix(ByteString.copyFromUtf8("t2_")).build();
        assertThatThrownBy(() -> imp.download(meta(Files.size(f)), f.getFileName().toString(), rule, local(f.getParent()), true, null,
                copied::get))
                .hasMessageContaining("download cancelled");
        assertThat(copied).isTrue();
        assertThat(imp.staged()).isEmpty();
        assertThat(importEntries()).isZero();
    }

    @Test
    void aRewriteThatCouldGrowTheFilePastTheCapIsRefusedBeforeWriting() throws Exception {
        Path f = sst(100);
        SstImporter imp = importer(new SstImporter.Limits(1L << 30, 256, 1024));
        RewriteRule grow = RewriteRule.newBuilder().setOldKeyPrefix(ByteString.copyFromUtf8("t1_"))
                .setNewKeyPrefix(ByteString.copyFromUtf8("t".repeat(200))).build();
        assertThatThrownBy(() -> imp.download(meta(Files.size(f)), f.getFileName().toString(), grow, local(f.getParent()), true, null,
                () -> false))
                .hasMessageContaining("would grow the SST by up to 100 keys × 197 bytes");
        assertThat(importEntries()).isZero();
        // the same growth within the cap, and a rule that does not grow, are staged
        SstImporter roomy = new SstImporter(2, tmp.resolve("import2"), engine, storages(), SstImporter.Limits.defaults());
        assertThat(roomy.download(meta(Files.size(f)), f.getFileName().toString(), grow, local(f.getParent()), true, null, () -> false)
                .empty()).isFalse();
        RewriteRule same = RewriteRule.newBuilder().setOldKeyPrefix(ByteString.copyFromUtf8("t1_"))
                .setNewKeyPrefix(ByteString.copyFromUtf8("t2_")).build();
        assertThat(imp.download(meta(Files.size(f)), f.getFileName().toString(), same, local(f.getParent()), true, null, () -> false)
                .first()).startsWith("t2_".getBytes(StandardCharsets.US_ASCII));
    }

    @Test
    void overGrpcAClientDeadlineStopsTheCopyAndDeletesTheTempFile() throws Exception {
        Path data = tmp.resolve("data");
        try (FakeTikvServer server = FakeTikvServer.builder(TestServers.config(data)).storages(storages()).start()) {
            ManagedChannel ch = ManagedChannelBuilder.forTarget(server.addr()).usePlaintext().build();
            try {
                // 64 KiB/s: the endless object would take 4,000 s to reach the safety EOF
                ImportSSTGrpc.newBlockingStub(ch).setDownloadSpeedLimit(ImportSstpb.SetDownloadSpeedLimitRequest.newBuilder()
                        .setSpeedLimit(64 << 10).build());
                ImportSstpb.DownloadRequest req = ImportSstpb.DownloadRequest.newBuilder().setSst(meta(0)).setName("1_2_default.sst")
                        .setIsRawKv(true).setStorageBackend(local(tmp.resolve("endless"))).build();
                assertThatThrownBy(() -> ImportSSTGrpc.newBlockingStub(ch).withDeadlineAfter(1, TimeUnit.SECONDS).download(req))
                        .isInstanceOfSatisfying(StatusRuntimeException.class,
                                e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED));
                await().atMost(Duration.ofSeconds(2)).untilAsserted(() -> {
                    try (Stream<Path> s = Files.list(data.resolve("import"))) {
                        assertThat(s.toList()).isEmpty();
                    }
                });
                long stopped = endless.read.get();
                assertThat(stopped).isLessThan(1L << 20);
                // unthrottled, the same object (length 0) is cut off by a 1 s deadline as well
                ImportSSTGrpc.newBlockingStub(ch).setDownloadSpeedLimit(ImportSstpb.SetDownloadSpeedLimitRequest.getDefaultInstance());
                endless.read.set(0);
                ImportSstpb.DownloadResponse r = ImportSSTGrpc.newBlockingStub(ch).withDeadlineAfter(5, TimeUnit.SECONDS)
                        .download(req.toBuilder().setSst(meta(4096)).build());
                assertThat(r.getError().getMessage()).contains("downloaded size at least 4097, expected 4096");
            } finally {
                ch.shutdownNow();
            }
        }
    }
}

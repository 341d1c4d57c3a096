package dev.faketikv.server.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.faketikv.engine.codec.Keys;
import dev.faketikv.engine.sst.SstCompression;
import dev.faketikv.engine.sst.SstFileBuilder;
import dev.faketikv.server.FakeTikvServer;
import dev.faketikv.server.TestServers;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.ImportSSTGrpc;
import org.tikv.kvproto.ImportSstpb.DownloadRequest;
import org.tikv.kvproto.ImportSstpb.DownloadResponse;
import org.tikv.kvproto.ImportSstpb.RewriteRule;
import org.tikv.kvproto.ImportSstpb.SSTMeta;

/**
 * Hostile {@code ImportSST/Download} requests (issue 19, items 1, 2, 4 and the folder-creation minor), each
 * reproduced over real gRPC against a store with {@code backup.local-root} and one without: a link to
 * {@code /dev/zero}, a link to a file outside the root, a non-SST file whose last bytes RocksDB would quote,
 * a missing folder, and a 1 MiB rewrite prefix. Each is answered at once with an error that quotes no byte of
 * the file, and leaves nothing in the import folder.
 */
class DownloadAttackTest {
    @TempDir
    static Path tmp;
    static Path root;
    static Path outside;
    static FakeTikvServer confined;
    static FakeTikvServer open;
    static ManagedChannel confinedChannel;
    static ManagedChannel openChannel;

    @BeforeAll
    static void start() throws IOException {
        root = Files.createDirectories(tmp.resolve("root"));
        outside = Files.createDirectories(tmp.resolve("outside"));
        confined = TestServers.start(tmp.resolve("data-confined"), List.of(), "backup.local-root=" + root);
        open = TestServers.start(tmp.resolve("data-open"), List.of());
        confinedChannel = ManagedChannelBuilder.forTarget(confined.addr()).usePlaintext().build();
        openChannel = ManagedChannelBuilder.forTarget(open.addr()).usePlaintext().build();
    }

    @AfterAll
    static void stop() {
        confinedChannel.shutdownNow();
        openChannel.shutdownNow();
        confined.close();
        open.close();
    }

    @AfterEach
    void importFoldersHoldNothing() throws IOException {
        for (Path data : List.of(tmp.resolve("data-confined"), tmp.resolve("data-open"))) {
            try (Stream<Path> s = Files.list(data.resolve("import"))) {
                assertThat(s.toList()).as("left in " + data.resolve("import")).isEmpty();
            }
        }
    }

    static SSTMeta meta(long length) {
        byte[] uuid = new byte[16];
        new SecureRandom().nextBytes(uuid);
        return SSTMeta.newBuilder().setUuid(ByteString.copyFrom(uuid)).setLength(length).setCfName("default").setRegionId(1)
                .setEndKeyExclusive(true).build();
    }

    static DownloadRequest download(Path folder, String name, long length) {
        return DownloadRequest.newBuilder().setSst(meta(length)).setName(name).setIsRawKv(true)
                .setStorageBackend(Brpb.StorageBackend.newBuilder().setLocal(Brpb.Local.newBuilder().setPath(folder.toString()))).build();
    }

    static DownloadResponse call(ManagedChannel ch, DownloadRequest req) {
        return ImportSSTGrpc.newBlockingStub(ch).withDeadlineAfter(5, TimeUnit.SECONDS).download(req);
    }

    /** What RocksDB prints as the "found" magic number of a file that ends with {@code tail}: the last 8 bytes, LE. */
    static String magicOf(byte[] content) {
        return Long.toUnsignedString(ByteBuffer.wrap(content, content.length - 8, 8).order(ByteOrder.LITTLE_ENDIAN).getLong());
    }

    @Test
    void aLinkToDevZeroIsRefusedAtOnceAndNothingIsCopied() throws IOException {
        Path folder = Files.createDirectories(root.resolve("zero"));
        Files.createSymbolicLink(folder.resolve("1_2_default.sst"), Path.of("/dev/zero"));
        Path openFolder = Files.createDirectories(tmp.resolve("open-zero"));
        Files.createSymbolicLink(openFolder.resolve("1_2_default.sst"), Path.of("/dev/zero"));
        long t0 = System.nanoTime();
        DownloadResponse confinedAnswer = call(confinedChannel, download(folder, "1_2_default.sst", 1000));
        DownloadResponse openAnswer = call(openChannel, download(openFolder, "1_2_default.sst", 0));
        assertThat(confinedAnswer.getError().getMessage()).contains("symbolic link");
        assertThat(openAnswer.getError().getMessage()).contains("symbolic link");
        assertThat(System.nanoTime() - t0).as("answered well within the deadline").isLessThan(TimeUnit.SECONDS.toNanos(3));
    }

    @Test
    void aLinkToAFileOutsideTheRootIsRefusedAndItsBytesAreNotQuoted() throws IOException {
        byte[] secret = "root:$6$saltsalt$0123456789abcdefghijklmnopqrstuvwxyz:19000:0:99999:7:::\n".repeat(20)
                .getBytes(StandardCharsets.US_ASCII);
        Files.write(outside.resolve("shadow"), secret);
        Path folder = Files.createDirectories(root.resolve("leak"));
        Files.createSymbolicLink(folder.resolve("1_2_default.sst"), outside.resolve("shadow"));
        DownloadResponse r = call(confinedChannel, download(folder, "1_2_default.sst", secret.length));
        assertThat(r.getError().getMessage()).contains("symbolic link").doesNotContain(magicOf(secret)).doesNotContain("root:");
        // without a root the link is refused too
        Path openFolder = Files.createDirectories(tmp.resolve("open-leak"));
        Files.createSymbolicLink(openFolder.resolve("1_2_default.sst"), outside.resolve("shadow"));
        assertThat(call(openChannel, download(openFolder, "1_2_default.sst", 0)).getError().getMessage()).contains("symbolic link");
    }

    @Test
    void aFileThatIsNoSstFailsWithoutQuotingItsBytes() throws IOException {
        byte[] secret = "password=correct-horse-battery-staple\n".repeat(10).getBytes(StandardCharsets.US_ASCII);
        Path folder = Files.createDirectories(tmp.resolve("open-notes"));
        Files.write(folder.resolve("notes.txt"), secret);
        DownloadResponse r = call(openChannel, download(folder, "notes.txt", 0));
        assertThat(r.getError().getMessage()).contains("not a valid SST").doesNotContain(magicOf(secret)).doesNotContain("magic")
                .doesNotContain("password");
        // a short file: RocksDB's text would give its size away
        Files.write(folder.resolve("short.txt"), new byte[] {1, 2, 3});
        assertThat(call(openChannel, download(folder, "short.txt", 0)).getError().getMessage()).contains("not a valid SST")
                .doesNotContain("3 bytes").doesNotContain("too short");
    }

    @Test
    void aDownloadDoesNotCreateItsFolder() {
        Path missing = tmp.resolve("never/made");
        assertThat(call(openChannel, download(missing, "1_2_default.sst", 0)).getError().getMessage()).contains("NotFound");
        assertThat(tmp.resolve("never")).doesNotExist();
        Path missingInRoot = root.resolve("never/made");
        assertThat(call(confinedChannel, download(missingInRoot, "1_2_default.sst", 0)).getError().getMessage()).contains("NotFound");
        assertThat(root.resolve("never")).doesNotExist();
    }

    @Test
    void aHugeRewritePrefixIsRefusedBeforeAnythingIsWritten() throws IOException {
        Path folder = Files.createDirectories(root.resolve("rewrite"));
        try (SstFileBuilder b = new SstFileBuilder(folder.resolve("1_2_default.sst"), SstCompression.LZ4, 0)) {
            for (int i = 0; i < 200; i++) {
                b.put(Keys.dataKey(String.format("t1_%05d", i).getBytes(StandardCharsets.US_ASCII)), new byte[64]);
            }
            b.finish();
        }
        long size = Files.size(folder.resolve("1_2_default.sst"));
        byte[] huge = new byte[1 << 20];
        java.util.Arrays.fill(huge, (byte) 't');
        DownloadRequest req = download(folder, "1_2_default.sst", size).toBuilder()
                .setRewriteRule(RewriteRule.newBuilder().setOldKeyPrefix(ByteString.copyFromUtf8("t1_")).setNewKeyPrefix(ByteString.copyFrom(huge)))
                .setSst(meta(size).toBuilder().setRange(org.tikv.kvproto.ImportSstpb.Range.newBuilder()
                        .setStart(ByteString.copyFrom(huge)).build()))
                .build();
        long t0 = System.nanoTime();
        DownloadResponse r = call(confinedChannel, req);
        assertThat(r.getError().getMessage()).contains("new_key_prefix of 1048576 bytes is longer than the 256 bytes");
        assertThat(System.nanoTime() - t0).isLessThan(TimeUnit.SECONDS.toNanos(3));
        assertThat(confined.importer().staged()).isEmpty();
        // the same file with an ordinary rule is staged (the refusal is the prefix, not the file)
        DownloadResponse ok = call(confinedChannel, download(folder, "1_2_default.sst", size).toBuilder()
                .setRewriteRule(RewriteRule.newBuilder().setOldKeyPrefix(ByteString.copyFromUtf8("t1_")).setNewKeyPrefix(ByteString.copyFromUtf8("t2_")))
                .build());
        assertThat(ok.hasError()).as(ok.getError().getMessage()).isFalse();
        assertThat(ok.getRange().getStart().toStringUtf8()).isEqualTo("t2_00000");
        confined.importer().staged().keySet().forEach(u -> confined.importer().discard(java.util.HexFormat.of().parseHex(u)));
    }
}

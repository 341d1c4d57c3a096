package dev.faketikv.client;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.faketikv.engine.codec.Crc64;
import dev.faketikv.engine.codec.Keys;
import dev.faketikv.engine.mvcc.Write;
import dev.faketikv.engine.sst.SstCompression;
import dev.faketikv.engine.sst.SstFileBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Brpb.BackupResponse;

/** The verifier must catch what a broken server would get wrong. */
class BackupVerifierTest {
    @TempDir
    Path dir;
    BackupResponse good;
    static final String PREFIX = "1_2_3_" + BackupVerifier.sha256Hex(new byte[0]) + "_1700000000000";

    @BeforeEach
    void writeAGoodBackup() throws Exception {
        // two short-value keys in one write file, as TiKV would back them up at ts 20
        byte[] a = "a".getBytes();
        byte[] b = "b".getBytes();
        Path sst = dir.resolve(PREFIX + "_write.sst");
        try (SstFileBuilder w = new SstFileBuilder(sst, SstCompression.LZ4, 0)) {
            w.put(Keys.appendTs(Keys.dataKeyOfRaw(a), 11), Write.put(10, "va".getBytes()).toBytes());
            w.put(Keys.appendTs(Keys.dataKeyOfRaw(b), 11), Write.put(10, "vb".getBytes()).toBytes());
            w.finish();
        }
        byte[] bytes = Files.readAllBytes(sst);
        Brpb.File f = Brpb.File.newBuilder().setName(sst.getFileName().toString()).setCf("write")
                .setSha256(ByteString.copyFrom(MessageDigest.getInstance("SHA-256").digest(bytes)))
                .setSize(bytes.length).setTotalKvs(2).setTotalBytes(1 + 2 + 1 + 2)
                .setCrc64Xor(Crc64.ofPair(a, "va".getBytes()) ^ Crc64.ofPair(b, "vb".getBytes()))
                .setEndVersion(20).setCipherIv(ByteString.copyFrom(new byte[16])).build();
        good = BackupResponse.newBuilder().addFiles(f).build();
    }

    private List<String> problems(BackupResponse r) {
        return new BackupVerifier(dir, null, false, 0, 20).verify(r).stream().flatMap(c -> c.problems().stream()).toList();
    }

    @Test
    void aCorrectFilePasses() {
        assertThat(problems(good)).isEmpty();
    }

    @Test
    void wrongStatisticsAreCaught() {
        Brpb.File f = good.getFiles(0);
        assertThat(problems(good.toBuilder().setFiles(0, f.toBuilder().setTotalKvs(3)).build())).anyMatch(p -> p.contains("total_kvs"));
        assertThat(problems(good.toBuilder().setFiles(0, f.toBuilder().setTotalBytes(7)).build())).anyMatch(p -> p.contains("total_bytes"));
        assertThat(problems(good.toBuilder().setFiles(0, f.toBuilder().setCrc64Xor(1)).build())).anyMatch(p -> p.contains("crc64xor"));
        assertThat(problems(good.toBuilder().setFiles(0, f.toBuilder().setSize(1)).build())).anyMatch(p -> p.contains("size"));
        assertThat(problems(good.toBuilder().setFiles(0, f.toBuilder().setEndVersion(19)).build())).anyMatch(p -> p.contains("versions"));
        assertThat(problems(good.toBuilder().setFiles(0, f.toBuilder().setCipherIv(ByteString.EMPTY)).build())).anyMatch(p -> p.contains("cipher_iv"));
    }

    @Test
    void tamperedBytesAndBadNamesAreCaught() throws Exception {
        Path p = dir.resolve(good.getFiles(0).getName());
        byte[] bytes = Files.readAllBytes(p);
        bytes[bytes.length / 2] ^= 1;
        Files.write(p, bytes);
        assertThat(problems(good)).anyMatch(x -> x.contains("sha256"));
        Brpb.File renamed = good.getFiles(0).toBuilder().setName("whatever.sst").build();
        assertThat(problems(good.toBuilder().setFiles(0, renamed).build())).anyMatch(x -> x.contains("pattern"));
    }

    @Test
    void keysOutsideTheResponseRangeAreCaught() {
        assertThat(new BackupVerifier(dir, null, false, 0, 20).verify(good.toBuilder()
                .setStartKey(ByteString.copyFromUtf8("c")).setFiles(0, good.getFiles(0).toBuilder().setStartKey(ByteString.copyFromUtf8("c")))
                .build()).stream().flatMap(c -> c.problems().stream())).anyMatch(x -> x.contains("outside the response range"));
    }

    @Test
    void missingFilesAreCaught() throws Exception {
        Files.delete(dir.resolve(good.getFiles(0).getName()));
        assertThat(problems(good)).anyMatch(p -> p.contains("missing"));
    }

    @Test
    void rangeTreeFindsGapsAndOverlaps() {
        RangeTree t = new RangeTree();
        t.add(new byte[0], "c".getBytes());
        t.add("d".getBytes(), "f".getBytes());
        t.add("e".getBytes(), new byte[0]);
        assertThat(t.gaps(new byte[0], new byte[0])).singleElement()
                .satisfies(g -> assertThat(new String(g[0]) + ".." + new String(g[1])).isEqualTo("c..d"));
        assertThat(t.overlaps()).hasSize(1);
        RangeTree full = new RangeTree();
        full.add("a".getBytes(), "m".getBytes());
        full.add("m".getBytes(), "z".getBytes());
        assertThat(full.gaps("b".getBytes(), "y".getBytes())).isEmpty();
        assertThat(full.gaps("a".getBytes(), new byte[0])).singleElement()
                .satisfies(g -> assertThat(new String(g[0])).isEqualTo("z"));
    }
}

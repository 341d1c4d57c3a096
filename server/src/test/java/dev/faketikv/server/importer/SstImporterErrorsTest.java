package dev.faketikv.server.importer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.faketikv.engine.Cf;
import dev.faketikv.engine.Engine;
import dev.faketikv.engine.codec.Keys;
import dev.faketikv.engine.mvcc.Write;
import dev.faketikv.engine.sst.SstCompression;
import dev.faketikv.engine.sst.SstFileBuilder;
import dev.faketikv.server.storage.ExternalStorages;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Encryptionpb.EncryptionMethod;
import org.tikv.kvproto.ImportSstpb.RewriteRule;
import org.tikv.kvproto.ImportSstpb.SSTMeta;

/**
 * {@link SstImporter}'s refusals and the branches a restore rarely takes (TiKV v5.4.0
 * {@code components/sst_importer/src/sst_importer.rs} {@code download}/{@code do_download},
 * {@code import_file.rs}): bad metas and names, a CF that is not default/write/lock, {@code new_timestamp} on
 * a lock SST, a key that is no data key or lacks the old prefix or a timestamp, a wrong IV length, a wrong
 * length, a missing file, the {@code new_timestamp} rewrite of default and write SSTs, an ingest of something never
 * downloaded, an ingest that fails part-way, and an ingest after {@link SstImporter#close()}. Real RocksDB, real
 * local storage.
 */
class SstImporterErrorsTest {
    @TempDir
    Path tmp;
    Engine engine;
    SstImporter importer;

    @BeforeEach
    void open() throws IOException {
        engine = Engine.open(tmp.resolve("engine"));
        importer = new SstImporter(1, tmp.resolve("import"), engine, ExternalStorages::create);
    }

    @AfterEach
    void close() {
        engine.close();
    }

    static SSTMeta.Builder meta(long length, String cf) {
        byte[] uuid = new byte[16];
        new SecureRandom().nextBytes(uuid);
        return SSTMeta.newBuilder().setUuid(ByteString.copyFrom(uuid)).setLength(length).setCfName(cf).setRegionId(1);
    }

    Brpb.StorageBackend local() {
        return Brpb.StorageBackend.newBuilder().setLocal(Brpb.Local.newBuilder().setPath(tmp.resolve("backup").toString())).build();
    }

    /** An SST named {@code name} in the backup folder holding {@code kvs} (data keys as given, in order). */
    Path sst(String name, Map<byte[], byte[]> kvs) throws IOException {
        Path f = tmp.resolve("backup").resolve(name);
        Files.createDirectories(f.getParent());
        try (SstFileBuilder b = new SstFileBuilder(f, SstCompression.LZ4, 0)) {
            kvs.forEach(b::put);
            b.finish();
        }
        return f;
    }

    /** Raw keys {@code prefix00000 ...} with 16 random bytes each as values (LZ4 cannot shrink them). */
    Path rawSst(String name, String prefix, int n) throws IOException {
        Map<byte[], byte[]> kvs = new java.util.LinkedHashMap<>();
        java.util.Random random = new java.util.Random(n);
        for (int i = 0; i < n; i++) {
            byte[] v = new byte[16];
            random.nextBytes(v);
            kvs.put(Keys.dataKey((prefix + String.format("%05d", i)).getBytes(StandardCharsets.US_ASCII)), v);
        }
        return sst(name, kvs);
    }

    long importEntries() throws IOException {
        try (Stream<Path> s = Files.list(tmp.resolve("import"))) {
            return s.count();
        }
    }

    SstImporter.Downloaded download(SSTMeta m, String name, RewriteRule rule, boolean raw, Brpb.CipherInfo cipher) throws Exception {
        return importer.download(m, name, rule, local(), raw, cipher, () -> false);
    }

    @Test
    void badMetasNamesAndCfsAreRefusedBeforeAnythingIsRead() throws Exception {
        Path f = rawSst("1_default.sst", "k", 3);
        long n = Files.size(f);
        RewriteRule none = RewriteRule.getDefaultInstance();
        assertThatThrownBy(() -> download(meta(n, "default").setUuid(ByteString.copyFrom(new byte[15])).build(), "1_default.sst", none, true, null))
                .hasMessage("invalid SST meta: uuid must be 16 bytes, got 15");
        for (String bad : List.of("", "../1_default.sst", "a/../../b", "x\0y")) {
            assertThatThrownBy(() -> download(meta(n, "default").build(), bad, none, true, null)).as(bad)
                    .hasMessageStartingWith("invalid file name");
        }
        assertThatThrownBy(() -> download(meta(n, "raft").build(), "1_default.sst", none, true, null))
                .hasMessage("InvalidCf { cf: \"raft\" }");
        // new_timestamp is for the default and write CFs of a txn restore
        RewriteRule ts = RewriteRule.newBuilder().setNewTimestamp(42).build();
        assertThatThrownBy(() -> download(meta(n, "lock").build(), "1_default.sst", ts, false, null))
                .hasMessage("new_timestamp applies to default and write SSTs only");
        assertThatThrownBy(() -> download(meta(n, "default").build(), "1_default.sst", none, true,
                Brpb.CipherInfo.newBuilder().setCipherType(EncryptionMethod.AES256_CTR).setCipherKey(ByteString.copyFrom(new byte[32])).build()))
                .hasMessage("cipher_iv must be 16 bytes for AES256_CTR, got 0");
        assertThatThrownBy(() -> download(meta(n + 1, "default").build(), "1_default.sst", none, true, null))
                .hasMessageContaining("downloaded size " + n + ", expected " + (n + 1));
        assertThatThrownBy(() -> download(meta(n, "default").build(), "nope.sst", none, true, null))
                .hasMessage("Io(Os { code: 2, kind: NotFound, message: \"No such file or directory\" }): nope.sst");
        assertThat(importer.staged()).isEmpty();
        assertThat(importEntries()).isZero();
    }

    @Test
    void keysThatAreNoDataKeysOrLackThePrefixOrATimestampAreRefused() throws Exception {
        Path noZ = sst("noz.sst", Map.of("k1".getBytes(StandardCharsets.US_ASCII), new byte[1]));
        assertThatThrownBy(() -> download(meta(Files.size(noZ), "default").build(), "noz.sst", RewriteRule.getDefaultInstance(), true, null))
                .hasMessageContaining("is not a data key (no 'z' prefix)");
        Path f = rawSst("k.sst", "k", 3);
        RewriteRule kToW = RewriteRule.newBuilder().setOldKeyPrefix(ByteString.copyFromUtf8("j")).setNewKeyPrefix(ByteString.copyFromUtf8("w")).build();
        SSTMeta whole = meta(Files.size(f), "default").build();
        assertThatThrownBy(() -> download(whole, "k.sst", kToW, true, null))
                .hasMessageContaining("WrongKeyPrefix: Key in SST").hasMessageContaining("does not start with the old prefix 6a");
        // a txn key too short to carry a timestamp, with new_timestamp set
        Path shortKey = sst("short.sst", Map.of(Keys.dataKey(new byte[] {'a', 'b'}), new byte[1]));
        assertThatThrownBy(() -> download(meta(Files.size(shortKey), "default").build(), "short.sst",
                RewriteRule.newBuilder().setNewTimestamp(9).build(), false, null))
                .hasMessageContaining("has no timestamp");
        assertThat(importer.staged()).isEmpty();
        assertThat(importEntries()).isZero();
    }

    @Test
    void newTimestampRewritesDefaultKeysAndWriteRecords() throws Exception {
        byte[] user = "user-key".getBytes(StandardCharsets.US_ASCII);
        Path write = sst("1_write.sst", Map.of(Keys.dataKey(Keys.appendTs(user, 20)), Write.put(10, "v".getBytes(StandardCharsets.US_ASCII)).toBytes()));
        Path dflt = sst("1_default.sst", Map.of(Keys.dataKey(Keys.appendTs(user, 10)), "a long value".getBytes(StandardCharsets.US_ASCII)));
        RewriteRule ts = RewriteRule.newBuilder().setNewTimestamp(500).build();
        SSTMeta wm = meta(Files.size(write), "write").build();
        SSTMeta dm = meta(Files.size(dflt), "default").build();
        SstImporter.Downloaded w = download(wm, "1_write.sst", ts, false, null);
        SstImporter.Downloaded d = download(dm, "1_default.sst", ts, false, null);
        assertThat(w.first()).isEqualTo(Keys.appendTs(user, 500));
        assertThat(d.first()).isEqualTo(Keys.appendTs(user, 500));
        importer.ingest(List.of(wm.getUuid().toByteArray(), dm.getUuid().toByteArray()));
        Write stored = Write.parse(engine.get(Cf.WRITE, Keys.dataKey(Keys.appendTs(user, 500))));
        assertThat(stored.startTs()).isEqualTo(500);
        assertThat(stored.shortValue()).isEqualTo("v".getBytes(StandardCharsets.US_ASCII));
        assertThat(engine.get(Cf.DEFAULT, Keys.dataKey(Keys.appendTs(user, 500)))).asString(StandardCharsets.US_ASCII).isEqualTo("a long value");
        assertThat(engine.get(Cf.WRITE, Keys.dataKey(Keys.appendTs(user, 20)))).isNull();
        assertThat(importer.staged()).isEmpty();
    }

    @Test
    void anIngestOfSomethingNeverDownloadedIngestsNothing() throws Exception {
        Path f = rawSst("1_default.sst", "k", 3);
        SSTMeta good = meta(Files.size(f), "default").build();
        download(good, "1_default.sst", RewriteRule.getDefaultInstance(), true, null);
        byte[] never = new byte[16];
        assertThatThrownBy(() -> importer.ingest(List.of(good.getUuid().toByteArray(), never)))
                .hasMessageContaining("was not downloaded to store 1");
        // all or nothing: the good one is still staged and nothing reached the engine
        assertThat(importer.staged()).hasSize(1);
        assertThat(engine.get(Cf.DEFAULT, Keys.dataKey("k00000".getBytes(StandardCharsets.US_ASCII)))).isNull();
    }

    @Test
    void anIngestThatFailsPartWayKeepsWhatWasIngestedAndTheRestStaged() throws Exception {
        Path a = rawSst("a_default.sst", "a", 3);
        Path b = rawSst("b_default.sst", "b", 3);
        SSTMeta am = meta(Files.size(a), "default").build();
        SSTMeta bm = meta(Files.size(b), "default").build();
        download(am, "a_default.sst", RewriteRule.getDefaultInstance(), true, null);
        download(bm, "b_default.sst", RewriteRule.getDefaultInstance(), true, null);
        // the second staged file vanishes: RocksDB's ingest of it fails (an engine error)
        Files.delete(importer.staged(bm.getUuid().toByteArray()).path());
        assertThatThrownBy(() -> importer.ingest(List.of(am.getUuid().toByteArray(), bm.getUuid().toByteArray())))
                .isInstanceOf(SstImporter.ImportException.class);
        // one file per ingest call: the first is in, no longer staged; the failed one stays staged (Known limits)
        assertThat(engine.get(Cf.DEFAULT, Keys.dataKey("a00000".getBytes(StandardCharsets.US_ASCII)))).isNotNull();
        assertThat(engine.get(Cf.DEFAULT, Keys.dataKey("b00000".getBytes(StandardCharsets.US_ASCII)))).isNull();
        assertThat(importer.staged()).containsOnlyKeys(java.util.HexFormat.of().formatHex(bm.getUuid().toByteArray()));
    }

    @Test
    void noIngestRunsAfterClose() throws Exception {
        Path f = rawSst("1_default.sst", "k", 3);
        SSTMeta m = meta(Files.size(f), "default").build();
        download(m, "1_default.sst", RewriteRule.getDefaultInstance(), true, null);
        importer.close();
        assertThatThrownBy(() -> importer.ingest(List.of(m.getUuid().toByteArray()))).hasMessage("store 1 is shutting down");
        assertThat(engine.get(Cf.DEFAULT, Keys.dataKey("k00000".getBytes(StandardCharsets.US_ASCII)))).isNull();
    }

    /** PIT: the growth check's boundary (keys × growth exactly at the cap is accepted, one byte less of cap refused). */
    @Test
    void theGrowthCapIsExactAtItsBoundary() throws Exception {
        Path f = rawSst("g_default.sst", "t1_", 100);
        assertThat(Files.size(f)).isLessThan(19_699);
        RewriteRule grow = RewriteRule.newBuilder().setOldKeyPrefix(ByteString.copyFromUtf8("t1_"))
                .setNewKeyPrefix(ByteString.copyFromUtf8("t".repeat(200))).build();
        SstImporter at = new SstImporter(1, tmp.resolve("import-at"), engine, ExternalStorages::create,
                new SstImporter.Limits(1L << 30, 256, 100 * 197));
        assertThat(at.download(meta(Files.size(f), "default").build(), "g_default.sst", grow, local(), true, null, () -> false).empty()).isFalse();
        SstImporter below = new SstImporter(1, tmp.resolve("import-below"), engine, ExternalStorages::create,
                new SstImporter.Limits(1L << 30, 256, 100 * 197 - 1));
        assertThatThrownBy(() -> below.download(meta(Files.size(f), "default").build(), "g_default.sst", grow, local(), true, null, () -> false))
                .hasMessageContaining("would grow the SST by up to 100 keys × 197 bytes");
    }

    @Test
    void aSpeedLimitSlowsTheCopyAndZeroLiftsIt() throws Exception {
        Path f = rawSst("big_default.sst", "k", 6000);
        long n = Files.size(f);
        assertThat(n).isGreaterThan(30_000);
        importer.setSpeedLimit(4 * n);
        assertThat(importer.speedLimit()).isEqualTo(4 * n);
        long t0 = System.nanoTime();
        download(meta(n, "default").build(), "big_default.sst", RewriteRule.getDefaultInstance(), true, null);
        download(meta(n, "default").build(), "big_default.sst", RewriteRule.getDefaultInstance(), true, null);
        download(meta(n, "default").build(), "big_default.sst", RewriteRule.getDefaultInstance(), true, null);
        // 3 file lengths at 4 per second, less the limiter's first burst (0.1 s of rate): at least 0.65 s
        assertThat((System.nanoTime() - t0) / 1_000_000).isGreaterThanOrEqualTo(450);
        importer.setSpeedLimit(0);
        assertThat(importer.speedLimit()).isZero();
    }
}

package dev.faketikv.interop;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.faketikv.interop.Rocks64.Kv;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.stream.Collectors;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.rocksdb.CompressionType;
import org.rocksdb.TableProperties;
import org.rocksdb.TickerType;
import org.tikv.kvproto.BackupGrpc;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Brpb.BackupRequest;
import org.tikv.kvproto.Brpb.BackupResponse;
import org.tikv.kvproto.Encryptionpb.EncryptionMethod;
import org.tikv.kvproto.ImportSSTGrpc;
import org.tikv.kvproto.ImportSstpb;
import org.tikv.kvproto.Kvrpcpb;
import org.tikv.kvproto.Metapb;
import org.tikv.shade.com.google.protobuf.ByteString;

/**
 * Both directions between fake-tikv and TiKV 5.4's engine, RocksDB 6.4 (rocksdbjni 6.4.6):
 *
 * <ol>
 *   <li>SSTs written here with RocksDB 6.4 the way TiKV 5.4's backup writer writes them (TiKV's table
 *       options, keys in TiKV's encoding, no CF handle) are restored into a fake-tikv child process through
 *       its ImportSST service (Download from a local backend, then MultiIngest/Ingest on the region's leader):
 *       a small txn table (short values inline in the write CF, long ones in the default CF), a 20 MB txn
 *       table, and raw keys; LZ4, Snappy and no compression, so fake-tikv's RocksDB 10 reads every one 6.4 writes.</li>
 *   <li>fake-tikv then backs that data up, in every codec it writes (LZ4, Snappy, ZSTD, unset), encrypted
 *       with AES-256-CTR, split by {@code backup.sst-max-size}, and raw; every file is ingested into a scratch
 *       RocksDB 6.4 with TiKV's options (which checks the external-file properties TiKV's importer relies on),
 *       every block checksum is verified, and what 6.4 reads back equals what was restored, byte for byte.</li>
 * </ol>
 *
 * One fake-tikv process serves every test (about 10 s in all, most of it the 20 MB table).
 */
class TikvEngineRoundTripTest {
    static final long START_TS = 430_000_000_000_000L;
    static final long BACKUP_TS = START_TS + 1_000_000;
    static final int SMALL_ROWS = 1500;
    static final int BIG_ROWS = 5000; // 20 MB: cut after the 4th 1024-row batch (16 MB >= 14.4 MB)
    static final int RAW_KEYS = 1000;

    @TempDir
    static Path tmp;

    static FakeTikvProcess tikv;
    static Expected small;
    static Expected big;
    static List<Kv> raw;

    /** What a txn backup of a table must hold: its write CF and default CF entries. */
    record Expected(byte[] start, byte[] end, List<Kv> write, List<Kv> dflt) {}

    @BeforeAll
    static void restoreRocksDb64FilesIntoFakeTikv() throws Exception {
        Random rnd = new Random(54);
        small = table(100, SMALL_ROWS, i -> i % 3 == 0 ? 600 : 40, rnd);
        big = table(200, BIG_ROWS, i -> 4000, rnd);
        raw = new ArrayList<>();
        for (int i = 0; i < RAW_KEYS; i++) {
            raw.add(Kv.of(TikvKeys.rawDataKey(String.format("r%08d", i).getBytes()), bytes(rnd, 100)));
        }
        Path restoreDir = Files.createDirectories(tmp.resolve("from-rocksdb-6.4"));
        Rocks64.writeSst(restoreDir.resolve("small_default.sst"), "default", CompressionType.LZ4_COMPRESSION, small.dflt());
        Rocks64.writeSst(restoreDir.resolve("small_write.sst"), "write", CompressionType.LZ4_COMPRESSION, small.write());
        // ZSTD is read by both sides in the backups below; rocksdbjni 6.4.6's own SstFileWriter crashes
        // (SIGSEGV in ZSTD_decompressBegin) when it finishes a ZSTD file, so 6.4 writes LZ4, Snappy, none here.
        Rocks64.writeSst(restoreDir.resolve("big_default.sst"), "default", CompressionType.LZ4_COMPRESSION, big.dflt());
        Rocks64.writeSst(restoreDir.resolve("big_write.sst"), "write", CompressionType.SNAPPY_COMPRESSION, big.write());
        Rocks64.writeSst(restoreDir.resolve("raw_default.sst"), "default", CompressionType.NO_COMPRESSION, raw);

        // sst-max-size is clamped to its floor, 14.4 MB: the 20 MB table is cut, the others are not
        tikv = new FakeTikvProcess(tmp.resolve("fake-tikv"), "--set", "backup.sst-max-size=1KB");
        JsonNode regions = tikv.regions();
        assertThat(regions).hasSize(1);
        JsonNode region = regions.get(0);
        Metapb.RegionEpoch epoch = Metapb.RegionEpoch.newBuilder()
                .setConfVer(region.get("region_epoch").get("conf_ver").asLong())
                .setVersion(region.get("region_epoch").get("version").asLong()).build();
        Kvrpcpb.Context ctx = Kvrpcpb.Context.newBuilder().setRegionId(region.get("id").asLong()).setRegionEpoch(epoch)
                .setPeer(Metapb.Peer.newBuilder().setId(region.get("peers").get(0).get("id").asLong())
                        .setStoreId(tikv.storeId)).build();
        ImportSSTGrpc.ImportSSTBlockingStub importer = ImportSSTGrpc.newBlockingStub(tikv.channel);
        for (String t : List.of("small", "big")) {
            ImportSstpb.SSTMeta d = download(importer, restoreDir, t + "_default.sst", "default", ctx, false);
            ImportSstpb.SSTMeta w = download(importer, restoreDir, t + "_write.sst", "write", ctx, false);
            ImportSstpb.IngestResponse r = importer.multiIngest(ImportSstpb.MultiIngestRequest.newBuilder()
                    .setContext(ctx).addSsts(d).addSsts(w).build());
            assertThat(r.hasError()).as("%s", r.getError()).isFalse();
        }
        ImportSstpb.SSTMeta m = download(importer, restoreDir, "raw_default.sst", "default", ctx, true);
        ImportSstpb.IngestResponse r = importer.ingest(ImportSstpb.IngestRequest.newBuilder().setContext(ctx).setSst(m).build());
        assertThat(r.hasError()).as("%s", r.getError()).isFalse();
    }

    @AfterAll
    static void stop() throws Exception {
        if (tikv != null) {
            tikv.close();
        }
    }

    @ParameterizedTest
    @EnumSource(value = Brpb.CompressionType.class, names = {"UNKNOWN", "LZ4", "SNAPPY", "ZSTD"})
    void txnBackupInEachCodecReadsBackEqualInRocksDb64(Brpb.CompressionType codec) throws Exception {
        Path dir = tmp.resolve("backup-" + codec);
        List<Brpb.File> files = backup(txn(small, dir).setCompressionType(codec).build());
        assertThat(files).extracting(Brpb.File::getCf).containsExactlyInAnyOrder("default", "write");
        String expected = switch (codec) {
            case SNAPPY -> "Snappy";
            case ZSTD -> "ZSTD";
            default -> "LZ4"; // TiKV resolves an unset codec to LZ4 (to_sst_compression_type)
        };
        assertReadsBack(dir, files, null, small, expected);
    }

    @Test
    void encryptedBackupDecryptsToFilesRocksDb64Reads() throws Exception {
        Path dir = tmp.resolve("backup-aes256");
        byte[] key = bytes(new Random(7), 32);
        List<Brpb.File> files = backup(txn(small, dir).setCipherInfo(Brpb.CipherInfo.newBuilder()
                .setCipherType(EncryptionMethod.AES256_CTR).setCipherKey(ByteString.copyFrom(key))).build());
        assertThat(files).allSatisfy(f -> assertThat(f.getCipherIv().size()).isEqualTo(16));
        assertReadsBack(dir, files, key, small, "LZ4");
    }

    @Test
    void filesCutBySstMaxSizeReadBackEqualInRocksDb64() throws Exception {
        Path dir = tmp.resolve("backup-split");
        List<Brpb.File> files = backup(txn(big, dir).setCompressionType(Brpb.CompressionType.ZSTD).build());
        assertThat(files.stream().filter(f -> f.getCf().equals("default")).count()).isGreaterThanOrEqualTo(2);
        assertReadsBack(dir, files, null, big, "ZSTD");
    }

    @Test
    void rawBackupReadsBackEqualInRocksDb64() throws Exception {
        Path dir = tmp.resolve("backup-raw");
        List<Brpb.File> files = backup(BackupRequest.newBuilder().setClusterId(tikv.clusterId).setIsRawKv(true).setCf("default")
                .setStartKey(ByteString.copyFromUtf8("r")).setEndKey(ByteString.copyFromUtf8("s"))
                .setStorageBackend(local(dir)).setCompressionType(Brpb.CompressionType.SNAPPY).build());
        try (Rocks64 db = ingestAll(dir, files, null)) {
            assertThat(db.scan("default")).isEqualTo(raw);
            assertTables(db, "default", "Snappy");
        }
    }

    @Test
    void rocksDb64UsesTheBloomFilterOfFakeTikvsDefaultCfFile() throws Exception {
        Path dir = tmp.resolve("backup-bloom");
        List<Brpb.File> files = backup(txn(small, dir).build());
        try (Rocks64 db = ingestAll(dir, files, null)) {
            for (Kv kv : small.dflt()) {
                assertThat(db.get("default", kv.keyBytes())).isNotNull();
            }
            long before = db.ticker(TickerType.BLOOM_FILTER_USEFUL);
            for (Kv kv : small.write()) { // same user keys, commit ts instead of start ts: absent from default
                assertThat(db.get("default", kv.keyBytes())).isNull();
            }
            assertThat(db.ticker(TickerType.BLOOM_FILTER_USEFUL) - before).isGreaterThan(small.write().size() * 9L / 10);
        }
    }

    // ---- helpers

    interface Size {
        int of(int row);
    }

    /** A TiDB-like table: row keys t{id}_r{i}, one committed Put each; values over 255 bytes go to default. */
    static Expected table(long tableId, int rows, Size size, Random rnd) {
        List<Kv> write = new ArrayList<>();
        List<Kv> dflt = new ArrayList<>();
        for (int i = 0; i < rows; i++) {
            byte[] userKey = ByteBuffer.allocate(19).put((byte) 't').putLong(tableId ^ Long.MIN_VALUE)
                    .put((byte) '_').put((byte) 'r').putLong(i ^ Long.MIN_VALUE).array();
            long startTs = START_TS + i * 10L;
            byte[] value = bytes(rnd, size.of(i));
            boolean inline = value.length <= 255;
            write.add(Kv.of(TikvKeys.txnDataKey(userKey, startTs + 5), TikvKeys.putRecord(startTs, inline ? value : null)));
            if (!inline) {
                dflt.add(Kv.of(TikvKeys.txnDataKey(userKey, startTs), value));
            }
        }
        byte[] start = ByteBuffer.allocate(9).put((byte) 't').putLong(tableId ^ Long.MIN_VALUE).array();
        byte[] end = ByteBuffer.allocate(9).put((byte) 't').putLong((tableId + 1) ^ Long.MIN_VALUE).array();
        return new Expected(start, end, write, dflt);
    }

    static byte[] bytes(Random rnd, int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    static Brpb.StorageBackend local(Path dir) {
        return Brpb.StorageBackend.newBuilder().setLocal(Brpb.Local.newBuilder().setPath(dir.toString())).build();
    }

    static BackupRequest.Builder txn(Expected t, Path dir) {
        return BackupRequest.newBuilder().setClusterId(tikv.clusterId).setStartVersion(0).setEndVersion(BACKUP_TS)
                .setStartKey(ByteString.copyFrom(t.start())).setEndKey(ByteString.copyFrom(t.end()))
                .setStorageBackend(local(dir));
    }

    static List<Brpb.File> backup(BackupRequest req) {
        List<Brpb.File> files = new ArrayList<>();
        Iterator<BackupResponse> it = BackupGrpc.newBlockingStub(tikv.channel).backup(req);
        while (it.hasNext()) {
            BackupResponse r = it.next();
            assertThat(r.hasError()).as("%s", r.getError()).isFalse();
            files.addAll(r.getFilesList());
        }
        assertThat(files).isNotEmpty();
        return files;
    }

    static ImportSstpb.SSTMeta download(ImportSSTGrpc.ImportSSTBlockingStub importer, Path dir, String name, String cf,
                                        Kvrpcpb.Context ctx, boolean rawKv) throws Exception {
        UUID u = UUID.randomUUID();
        ImportSstpb.SSTMeta meta = ImportSstpb.SSTMeta.newBuilder()
                .setUuid(ByteString.copyFrom(ByteBuffer.allocate(16).putLong(u.getMostSignificantBits())
                        .putLong(u.getLeastSignificantBits()).array()))
                .setCfName(cf).setRegionId(ctx.getRegionId()).setRegionEpoch(ctx.getRegionEpoch())
                .setLength(Files.size(dir.resolve(name))).build();
        ImportSstpb.DownloadResponse r = importer.download(ImportSstpb.DownloadRequest.newBuilder().setSst(meta)
                .setStorageBackend(local(dir)).setName(name).setIsRawKv(rawKv).build());
        assertThat(r.hasError()).as("download %s: %s", name, r.getError()).isFalse();
        assertThat(r.getIsEmpty()).isFalse();
        return meta;
    }

    /** Ingests every file (decrypted first when {@code key} is set) into a fresh RocksDB 6.4, by CF. */
    static Rocks64 ingestAll(Path dir, List<Brpb.File> files, byte[] key) throws Exception {
        Path plain = Files.createDirectories(dir.resolve("plain"));
        Map<String, List<Path>> byCf = new java.util.TreeMap<>();
        for (Brpb.File f : files) {
            byte[] bytes = Files.readAllBytes(dir.resolve(f.getName()));
            assertThat(MessageDigest.getInstance("SHA-256").digest(bytes)).as(f.getName())
                    .isEqualTo(f.getSha256().toByteArray());
            if (key != null) {
                Cipher c = Cipher.getInstance("AES/CTR/NoPadding");
                c.init(Cipher.DECRYPT_MODE, new SecretKeySpec(key, "AES"), new IvParameterSpec(f.getCipherIv().toByteArray()));
                bytes = c.doFinal(bytes);
            }
            Path p = plain.resolve(f.getName().replace('/', '_'));
            Files.write(p, bytes);
            byCf.computeIfAbsent(f.getCf(), x -> new ArrayList<>()).add(p);
        }
        Rocks64 db = new Rocks64(Files.createDirectories(dir.resolve("rocksdb-6.4")));
        try {
            for (var e : byCf.entrySet()) {
                db.ingest(e.getKey(), e.getValue());
            }
            db.verifyChecksum();
        } catch (Exception | AssertionError e) {
            db.close();
            throw e;
        }
        return db;
    }

    static void assertReadsBack(Path dir, List<Brpb.File> files, byte[] key, Expected t, String codec) throws Exception {
        try (Rocks64 db = ingestAll(dir, files, key)) {
            assertThat(db.scan("write")).isEqualTo(t.write());
            assertThat(db.scan("default")).isEqualTo(t.dflt());
            assertTables(db, "write", codec);
            assertTables(db, "default", codec);
        }
    }

    /** What RocksDB 6.4 reads from each table's properties: TiKV's format, no CF, the codec asked for. */
    static void assertTables(Rocks64 db, String cf, String codec) throws Exception {
        Map<String, TableProperties> tables = db.tables(cf);
        assertThat(tables).isNotEmpty();
        for (TableProperties p : tables.values()) {
            assertThat(p.getFormatVersion()).isEqualTo(2);
            assertThat(p.getColumnFamilyId()).isEqualTo(Integer.MAX_VALUE);
            assertThat(p.getColumnFamilyName()).isNullOrEmpty();
            assertThat(p.getCompressionName()).isEqualTo(codec);
            assertThat(p.getComparatorName()).isEqualTo("leveldb.BytewiseComparator");
            // TiKV's write CF has whole-key-filtering = false (its filter is on the key without the timestamp)
            assertThat(p.getUserCollectedProperties()).containsEntry("rocksdb.block.based.table.whole.key.filtering",
                    cf.equals("write") ? "0" : "1");
        }
        assertThat(tables.values().stream().map(TableProperties::getNumEntries).collect(Collectors.summingLong(x -> x)))
                .isEqualTo(db.scan(cf).size());
    }
}

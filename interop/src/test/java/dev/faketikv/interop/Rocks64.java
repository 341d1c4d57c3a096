package dev.faketikv.interop;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.BloomFilter;
import org.rocksdb.ChecksumType;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.CompressionType;
import org.rocksdb.DBOptions;
import org.rocksdb.EnvOptions;
import org.rocksdb.IngestExternalFileOptions;
import org.rocksdb.Options;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.SstFileWriter;
import org.rocksdb.Statistics;
import org.rocksdb.TableProperties;
import org.rocksdb.TickerType;

/**
 * A scratch RocksDB 6.4 (rocksdbjni 6.4.6, the engine line of TiKV 5.4: tikv/rocksdb {@code f236fe44})
 * with TiKV's three data CFs, and a 6.4 {@code SstFileWriter} configured as TiKV 5.4's backup writer is.
 * rocksdbjni 6.4.6 has no {@code SstFileReader}, so an SST is read by ingesting it here
 * ({@code ingestExternalFile}, which also checks the external-file properties TiKV's importer checks) and
 * iterating with checksum verification, after {@link #verifyChecksum()} has read every block of every file.
 *
 * <p>Table options are TiKV 5.4's ({@code src/config.rs} {@code build_cf_opt!}, RocksDB 6.4 defaults for
 * the rest): format_version 2, CRC32c, 64 KiB blocks (lock CF 16 KiB), full bloom filter 10 bits/key,
 * whole-key filtering off for the write CF. The write CF's {@code FixedSuffixSliceTransform} cannot be
 * set from Java, so no prefix extractor is set. Owns native handles: close it. Not thread-safe.
 */
final class Rocks64 implements AutoCloseable {
    static final List<String> CFS = List.of("default", "write", "lock");

    static {
        RocksDB.loadLibrary();
    }

    /** One key-value pair, hex, so lists compare and print well. */
    record Kv(String key, String value) {
        static Kv of(byte[] k, byte[] v) {
            return new Kv(HexFormat.of().formatHex(k), HexFormat.of().formatHex(v));
        }

        byte[] keyBytes() {
            return HexFormat.of().parseHex(key);
        }
    }

    private final List<AutoCloseable> natives = new ArrayList<>();
    private final Statistics stats;
    private final RocksDB db;
    private final List<ColumnFamilyHandle> handles = new ArrayList<>();

    Rocks64(Path dir) throws RocksDBException {
        stats = own(new Statistics());
        DBOptions dbo = own(new DBOptions().setCreateIfMissing(true).setCreateMissingColumnFamilies(true)
                .setStatistics(stats));
        List<ColumnFamilyDescriptor> cfs = new ArrayList<>();
        for (String cf : CFS) {
            ColumnFamilyOptions o = own(new ColumnFamilyOptions());
            o.setTableFormatConfig(tableConfig(cf));
            cfs.add(new ColumnFamilyDescriptor(cf.getBytes(), o));
        }
        db = RocksDB.open(dbo, dir.toString(), cfs, handles);
    }

    /** TiKV 5.4's block-based options of {@code cf} (see class doc). */
    BlockBasedTableConfig tableConfig(String cf) {
        return new BlockBasedTableConfig()
                .setFormatVersion(2)
                .setChecksumType(ChecksumType.kCRC32c)
                .setBlockSize(cf.equals("lock") ? 16 << 10 : 64 << 10)
                .setFilterPolicy(own(new BloomFilter(10, false)))
                .setWholeKeyFiltering(!cf.equals("write"));
    }

    private <T extends AutoCloseable> T own(T t) {
        natives.add(t);
        return t;
    }

    ColumnFamilyHandle cf(String name) {
        return handles.get(CFS.indexOf(name.isEmpty() ? "default" : name));
    }

    /** Ingests {@code files} into {@code cf} as TiKV's importer does (move, no global seqno write). */
    void ingest(String cf, List<Path> files) throws RocksDBException {
        try (IngestExternalFileOptions o = new IngestExternalFileOptions().setMoveFiles(false)
                .setWriteGlobalSeqno(false)) {
            db.ingestExternalFile(cf(cf), files.stream().map(Path::toString).toList(), o);
        }
    }

    /** Reads every block of every table and checks its CRC32c ({@code DB::VerifyChecksum}). */
    void verifyChecksum() throws RocksDBException {
        db.verifyChecksum();
    }

    /** Every entry of {@code cf} in key order, blocks checksum-verified as they are read. */
    List<Kv> scan(String cf) {
        List<Kv> out = new ArrayList<>();
        try (ReadOptions ro = new ReadOptions().setVerifyChecksums(true).setFillCache(false);
             RocksIterator it = db.newIterator(cf(cf), ro)) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                out.add(Kv.of(it.key(), it.value()));
            }
        }
        return out;
    }

    byte[] get(String cf, byte[] key) throws RocksDBException {
        return db.get(cf(cf), key);
    }

    Map<String, TableProperties> tables(String cf) throws RocksDBException {
        return db.getPropertiesOfAllTables(cf(cf));
    }

    long ticker(TickerType t) {
        return stats.getTickerCount(t);
    }

    @Override
    public void close() {
        handles.forEach(ColumnFamilyHandle::close);
        db.close();
        for (int i = natives.size() - 1; i >= 0; i--) {
            try {
                natives.get(i).close();
            } catch (Exception ignored) {
                // native handles do not throw on close
            }
        }
    }

    /**
     * Writes {@code entries} (sorted, data keys) to {@code file} with RocksDB 6.4's {@code SstFileWriter} and
     * no CF handle, as TiKV 5.4's {@code RocksSstWriterBuilder} does ({@code components/engine_rocks/src/sst.rs}):
     * the CF's table options, one codec for every block.
     */
    static void writeSst(Path file, String cf, CompressionType compression, List<Kv> entries) throws RocksDBException {
        try (BloomFilter bloom = new BloomFilter(10, false);
             Options o = new Options();
             EnvOptions env = new EnvOptions()) {
            BlockBasedTableConfig t = new BlockBasedTableConfig()
                    .setFormatVersion(2)
                    .setChecksumType(ChecksumType.kCRC32c)
                    .setBlockSize(cf.equals("lock") ? 16 << 10 : 64 << 10)
                    .setFilterPolicy(bloom)
                    .setWholeKeyFiltering(!cf.equals("write"));
            o.setTableFormatConfig(t);
            o.setCompressionType(compression);
            o.setBottommostCompressionType(CompressionType.DISABLE_COMPRESSION_OPTION);
            try (SstFileWriter w = new SstFileWriter(env, o)) {
                w.open(file.toString());
                for (Kv kv : entries) {
                    w.put(kv.keyBytes(), HexFormat.of().parseHex(kv.value()));
                }
                w.finish();
            }
        }
    }
}

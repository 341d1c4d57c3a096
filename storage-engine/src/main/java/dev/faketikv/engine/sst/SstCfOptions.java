package dev.faketikv.engine.sst;

import java.util.Locale;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.BloomFilter;
import org.rocksdb.ChecksumType;
import org.rocksdb.DataBlockIndexType;
import org.rocksdb.IndexType;

/**
 * The block-based table options a TiKV v5.4.0 backup SST of one column family is written with, as far as
 * RocksJava can express them. TiKV's writer copies the live KV DB's options of the CF
 * ({@code components/engine_rocks/src/sst.rs:197-247}, {@code db.get_options_cf}); those come from
 * {@code build_cf_opt!} in {@code src/config.rs:444-521} with RocksDB 6.4's defaults for everything TiKV
 * does not set ({@code rocksdb/include/rocksdb/table.h} of tikv/rocksdb {@code f236fe44}):
 *
 * <pre>
 * option                 default CF             write CF                         lock CF
 * format_version         2 (table.h:272)        2                                2
 * checksum               kCRC32c (table.h:145)  kCRC32c                          kCRC32c
 * block_size             64 KiB (config.rs:530) 64 KiB (config.rs:634)           16 KiB (config.rs:735)
 * filter                 full bloom, 10 bits/key (config.rs:538-539, 642-643; not block-based)
 * whole_key_filtering    true (config.rs:537)   false (config.rs:641)            true
 * prefix extractor       none                   FixedSuffixSliceTransform(8)     NoopSliceTransform
 * index_type             kBinarySearch (table.h:124), data block index kDataBlockBinarySearch (table.h:132)
 * </pre>
 *
 * <p>What RocksJava cannot express, and so differs from TiKV's files (see docs/COMPATIBILITY.md): the write
 * CF's prefix extractor ({@code FixedSuffixSliceTransform} is TiKV's own C++ callback,
 * {@code components/engine_rocks/src/util.rs:164-188}) — with whole-key filtering off and no prefix
 * extractor the file carries no usable filter, where TiKV's carries a bloom over key-minus-timestamp; the
 * lock CF's {@code NoopSliceTransform}; and TiKV's table-property collectors (range, mvcc). Other CF names
 * (raw backup of e.g. {@code raft}) take the default CF's options; TiKV's options for those were not
 * checked. Immutable; the {@link BlockBasedTableConfig} it makes belongs to the caller.
 */
public enum SstCfOptions {
    DEFAULT("default", 64 << 10, true),
    WRITE("write", 64 << 10, false),
    LOCK("lock", 16 << 10, true);

    /** Block-based table format version RocksDB 6.4 writes by default; 6.4 reads at most 4. */
    public static final int FORMAT_VERSION = 2;
    /** Bits per key of TiKV's bloom filter ({@code bloom-filter-bits-per-key}). */
    public static final int BLOOM_BITS_PER_KEY = 10;

    private final String cf;
    private final long blockSize;
    private final boolean wholeKeyFiltering;

    SstCfOptions(String cf, long blockSize, boolean wholeKeyFiltering) {
        this.cf = cf;
        this.blockSize = blockSize;
        this.wholeKeyFiltering = wholeKeyFiltering;
    }

    /** The options for CF {@code cf} ({@code ""} is the default CF, as in {@code name_to_cf}). */
    public static SstCfOptions of(String cf) {
        return switch (cf.toLowerCase(Locale.ROOT)) {
            case "write" -> WRITE;
            case "lock" -> LOCK;
            default -> DEFAULT;
        };
    }

    public String cf() {
        return cf;
    }

    public long blockSize() {
        return blockSize;
    }

    public boolean wholeKeyFiltering() {
        return wholeKeyFiltering;
    }

    /**
     * A table config with these options. The bloom filter object it holds is released with the config's
     * owner (RocksJava keeps it referenced from the config).
     */
    BlockBasedTableConfig tableConfig(BloomFilter filter) {
        return new BlockBasedTableConfig()
                .setFormatVersion(FORMAT_VERSION)
                .setChecksumType(ChecksumType.kCRC32c)
                .setBlockSize(blockSize)
                .setBlockSizeDeviation(10)
                .setBlockRestartInterval(16)
                .setIndexBlockRestartInterval(1)
                .setIndexType(IndexType.kBinarySearch)
                .setDataBlockIndexType(DataBlockIndexType.kDataBlockBinarySearch)
                .setEnableIndexCompression(true)
                .setFilterPolicy(filter)
                .setWholeKeyFiltering(wholeKeyFiltering);
    }
}

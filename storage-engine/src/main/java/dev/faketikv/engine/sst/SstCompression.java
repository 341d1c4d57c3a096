package dev.faketikv.engine.sst;

import org.rocksdb.CompressionType;

/**
 * The SST codecs backup can ask for, mapped to RocksDB's. Mirrors {@code to_sst_compression_type}
 * in TiKV v5.4.0 {@code components/backup/src/endpoint.rs}: LZ4, Snappy, ZSTD; an unset choice takes
 * the fastest codec compiled into RocksDB in the order LZ4, Snappy, ZSTD. rocksdbjni bundles all three,
 * so the unset choice is always LZ4 ({@link #DEFAULT}), as it is in practice for TiKV.
 */
public enum SstCompression {
    LZ4(CompressionType.LZ4_COMPRESSION, "lz4"),
    SNAPPY(CompressionType.SNAPPY_COMPRESSION, "snappy"),
    ZSTD(CompressionType.ZSTD_COMPRESSION, "zstd"),
    NONE(CompressionType.NO_COMPRESSION, "none");

    /** What {@code CompressionType::Unknown} resolves to. */
    public static final SstCompression DEFAULT = LZ4;

    private final CompressionType rocks;
    private final String label;

    SstCompression(CompressionType rocks, String label) {
        this.rocks = rocks;
        this.label = label;
    }

    CompressionType rocks() {
        return rocks;
    }

    /** TiKV's name for the codec. */
    public String label() {
        return label;
    }

    /** The codec named by an SST's table properties ("LZ4", "Snappy", "ZSTD", "NoCompression"). */
    public static SstCompression ofPropertyName(String name) {
        return switch (name) {
            case "LZ4" -> LZ4;
            case "Snappy" -> SNAPPY;
            case "ZSTD", "ZSTDNotFinal" -> ZSTD;
            default -> NONE;
        };
    }
}

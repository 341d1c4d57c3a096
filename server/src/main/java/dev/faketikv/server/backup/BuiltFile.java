package dev.faketikv.server.backup;

import java.nio.file.Path;

/**
 * A finished SST waiting in the scratch folder to be saved, with the statistics TiKV's writer kept while
 * building it ({@code total_kvs}, {@code total_bytes}, {@code crc64xor} over the logical KVs accounted to it).
 */
public record BuiltFile(String cf, Path path, long size, long totalKvs, long totalBytes, long crc64xor) {}

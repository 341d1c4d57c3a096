package dev.faketikv.server.backup;

import java.util.List;

/**
 * The files of one (sub-)range handed from a scan worker to a save worker: TiKV's
 * {@code InMemBackupFiles} ({@code components/backup/src/endpoint.rs}). One group becomes one
 * {@code BackupResponse}; {@code files} may be empty (the response then lists no files).
 *
 * @param namePrefix {@code {store}_{region}_{version}[_{key hash}_{millis}]}; files are named
 *                   {@code {prefix}_{cf}.sst}
 * @param startKey   the response's start key (raw user key for txn, raw bytes for raw; empty = unbounded)
 * @param endKey     the response's end key (same form; empty = unbounded)
 */
public record FileGroup(String namePrefix, List<BuiltFile> files, byte[] startKey, byte[] endKey,
                        long startVersion, long endVersion, boolean rawKv) {}

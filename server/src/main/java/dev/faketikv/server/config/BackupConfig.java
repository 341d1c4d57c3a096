package dev.faketikv.server.config;

import java.time.Duration;

/**
 * TiKV's {@code BackupConfig} ({@code src/config.rs}, section {@code [backup]}) as one immutable value;
 * the endpoint reads a fresh one per request, as TiKV re-reads its {@code RwLock<BackupConfig>}.
 */
public record BackupConfig(int numThreads, int batchSize, long sstMaxSize, boolean enableAutoTune,
                           int autoTuneRemainThreads, Duration autoTuneRefreshInterval, int ioThreadSize,
                           long s3MultiPartSize) {}

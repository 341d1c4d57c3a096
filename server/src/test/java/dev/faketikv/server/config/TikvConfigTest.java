package dev.faketikv.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TikvConfigTest {
    @TempDir
    Path dir;

    @Test
    void defaultsAreTikvs() {
        TikvConfig c = TikvConfig.defaults();
        BackupConfig b = c.backup();
        assertThat(b.batchSize()).isEqualTo(8);
        assertThat(b.sstMaxSize()).isEqualTo(144L << 20);
        assertThat(b.ioThreadSize()).isEqualTo(2);
        assertThat(b.enableAutoTune()).isTrue();
        assertThat(b.autoTuneRefreshInterval()).isEqualTo(Duration.ofSeconds(60));
        assertThat(b.s3MultiPartSize()).isEqualTo(5L << 20);
        int cpus = Runtime.getRuntime().availableProcessors();
        assertThat(b.numThreads()).isEqualTo((int) Math.max(1, Math.min(8, cpus * 0.5)));
        assertThat(c.get(TikvConfig.SERVER_ADDR)).isEqualTo("127.0.0.1:20160");
        assertThat(c.get(TikvConfig.STATUS_ADDR)).isEqualTo("127.0.0.1:20180");
    }

    @Test
    void loadsTikvKeyNamesAndIgnoresSectionsItDoesNotModel() throws Exception {
        Path f = dir.resolve("c.toml");
        Files.writeString(f, """
                [server]
                addr = "127.0.0.1:0"
                grpc-concurrency = 4

                [raftstore]
                region-split-check-diff = "32MB"

                [backup]
                num-threads = 3
                batch-size = 16
                sst-max-size = "64MB"
                auto-tune-refresh-interval = "1m30s"

                [backup.hadoop]
                home = "/opt/hadoop"

                [fake]
                store-id = 4
                seed = ["txn:rows=10"]
                """);
        TikvConfig c = TikvConfig.load(f);
        assertThat(c.get(TikvConfig.SERVER_ADDR)).isEqualTo("127.0.0.1:0");
        assertThat(c.backup().numThreads()).isEqualTo(3);
        assertThat(c.backup().batchSize()).isEqualTo(16);
        assertThat(c.backup().sstMaxSize()).isEqualTo(64L << 20);
        assertThat(c.backup().autoTuneRefreshInterval()).isEqualTo(Duration.ofSeconds(90));
        assertThat(c.get(TikvConfig.HADOOP_HOME)).isEqualTo("/opt/hadoop");
        assertThat(c.get(TikvConfig.STORE_ID)).isEqualTo(4L);
        assertThat(c.get(TikvConfig.SEED)).containsExactly("txn:rows=10");
        assertThat(c.toMap()).containsEntry("backup.sst-max-size", "64MB");
    }

    @Test
    void badValuesNameTheKey() throws Exception {
        TikvConfig c = TikvConfig.defaults();
        // TiKV's BackupConfig::validate texts, word for word (src/config.rs:2233-2245)
        assertThatThrownBy(() -> c.with("backup.num-threads", 0)).hasMessage("backup.num_threads cannot be 0");
        assertThatThrownBy(() -> c.with("backup.batch-size", "0")).hasMessage("backup.batch_size cannot be 0");
        assertThatThrownBy(() -> c.with("backup.s3-multi-part-size", "6GB")).hasMessage("backup.s3_multi_part_size cannot larger than 5GB");
        // fake-tikv's own rules: same spelling, the value given appended
        assertThatThrownBy(() -> c.with("backup.io-thread-size", 0)).hasMessage("backup.io_thread_size cannot be 0 (got 0)");
        assertThatThrownBy(() -> c.with("backup.s3-multi-part-size", "0")).hasMessageContaining("backup.s3-multi-part-size: invalid value '0': cannot be 0");
        assertThat(c.with("backup.sst-max-size", "0").backup().sstMaxSize()).as("TiKV validates no sst-max-size rule").isZero();
        assertThatThrownBy(() -> c.with("backup.sst-max-size", "12 parsecs")).hasMessageContaining("backup.sst-max-size: invalid value");
        assertThatThrownBy(() -> c.with("backup.num-threads", "many")).hasMessageContaining("backup.num-threads: invalid value 'many'");
        assertThatThrownBy(() -> c.with("server.addr", "nowhere")).hasMessageContaining("server.addr").hasMessageContaining("HOST:PORT");
        assertThatThrownBy(() -> c.with("backup.nope", 1)).hasMessageContaining("backup.nope: unknown configuration key");
        Path f = dir.resolve("typo.toml");
        Files.writeString(f, "[backup]\nnum-thread = 2\n");
        assertThatThrownBy(() -> TikvConfig.load(f)).hasMessageContaining("backup.num-thread: unknown configuration key");
        Path sectionTypo = dir.resolve("section-typo.toml");
        Files.writeString(sectionTypo, "[backupp]\nnum-threads = 2\n");
        assertThatThrownBy(() -> TikvConfig.load(sectionTypo)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("backupp: not a TiKV 5.4 config section");
        Path tikvOnly = dir.resolve("tikv-only.toml");
        Files.writeString(tikvOnly, "log-level = \"info\"\n[raftstore]\nregion-split-check-diff = \"6MB\"\n");
        assertThat(TikvConfig.load(tikvOnly).backup().numThreads()).as("TiKV's own sections still load").isPositive();
        Path g = dir.resolve("broken.toml");
        Files.writeString(g, "[backup\nnum-threads = ");
        assertThatThrownBy(() -> TikvConfig.load(g)).isInstanceOf(ConfigException.class).hasMessageContaining("cannot read config");
    }

    @Test
    void sstMaxSizeIsClampedAtStartUpAsTikvDoes() {
        assertThat(TikvConfig.defaults().with("backup.sst-max-size", "1MB").adjusted().backup().sstMaxSize()).isEqualTo(15099494L);
        assertThat(TikvConfig.defaults().with("backup.sst-max-size", "1GB").adjusted().backup().sstMaxSize()).isEqualTo(301989888L);
        assertThat(TikvConfig.defaults().with("backup.sst-max-size", "96MB").adjusted().backup().sstMaxSize()).isEqualTo(96L << 20);
    }

    @Test
    void readableSizesAndDurations() {
        assertThat(ReadableSize.parse("144MB")).isEqualTo(150994944L);
        assertThat(ReadableSize.parse("5MiB")).isEqualTo(5L << 20);
        assertThat(ReadableSize.parse("1.5GB")).isEqualTo(3L << 29);
        assertThat(ReadableSize.parse("512")).isEqualTo(512);
        assertThat(ReadableSize.format(144L << 20)).isEqualTo("144MB");
        assertThat(ReadableSize.format(1000)).isEqualTo("1000B");
        assertThat(ReadableDuration.parse("500ms")).isEqualTo(Duration.ofMillis(500));
        assertThat(ReadableDuration.parse("1h2m3s")).isEqualTo(Duration.ofSeconds(3723));
        assertThatThrownBy(() -> ReadableDuration.parse("soon")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ReadableSize.parse("MB")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theShippedConfigFileLoadsAndMatchesTheDefaults() {
        Path shipped = Path.of("..", "config", "fake-tikv.toml");
        TikvConfig c = TikvConfig.load(shipped);
        TikvConfig d = TikvConfig.defaults();
        assertThat(c.backup().batchSize()).isEqualTo(d.backup().batchSize());
        assertThat(c.backup().sstMaxSize()).isEqualTo(d.backup().sstMaxSize());
        assertThat(c.get(TikvConfig.CLUSTER_ID)).isEqualTo(d.get(TikvConfig.CLUSTER_ID));
        // every key is documented in the file
        String text;
        try {
            text = Files.readString(shipped);
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
        for (ConfigKey<?> k : TikvConfig.KEYS) {
            assertThat(text).as(k.name()).contains(k.key());
        }
    }

    @Test
    void listKeysTakeAnArrayOnTheCommandLine() {
        TikvConfig c = TikvConfig.defaults().with("fake.s3-faults", "[\"SlowDown*3\", \"stall=2s*1\"]");
        assertThat(c.get(TikvConfig.S3_FAULTS)).containsExactly("SlowDown*3", "stall=2s*1");
        assertThat(TikvConfig.defaults().with("fake.seed", "txn:rows=5,regions=2").get(TikvConfig.SEED)).containsExactly("txn:rows=5,regions=2");
        assertThatThrownBy(() -> TikvConfig.defaults().with("fake.s3-faults", "[\"Gremlins\"]")).hasMessageContaining("unknown S3 fault 'Gremlins'");
        assertThatThrownBy(() -> TikvConfig.defaults().with("fake.s3-faults", "[oops")).hasMessageContaining("fake.s3-faults");
    }

    @Test
    void tlsPathsGoTogether() {
        assertThat(TikvConfig.defaults().tls()).isFalse();
        assertThatThrownBy(() -> TikvConfig.defaults().with("security.ca-path", "/ca.pem").tls())
                .hasMessageContaining("must be set together");
        assertThatThrownBy(() -> TikvConfig.defaults().with("backup.local-root", "relative/dir"))
                .hasMessageContaining("backup.local_root must be an absolute path");
    }
}

package dev.faketikv.bench.jmh;

import dev.faketikv.engine.codec.BytesCodec;
import dev.faketikv.engine.codec.Crc64;
import dev.faketikv.engine.codec.Keys;
import dev.faketikv.engine.mvcc.Write;
import dev.faketikv.engine.sst.SstCompression;
import dev.faketikv.engine.sst.SstFileBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The hot pieces of a backup, one by one: the key codec, CRC-64/XZ, MVCC record decoding and SST
 * building. Run (after {@code ./mvnw -B -ntp -DskipTests package}):
 * {@code java -cp "bench/target/fake-tikv-bench-jmh.jar:bench/target/fake-tikv-bench.jar:bench/target/lib/*:bench/target/jmh-lib/*" org.openjdk.jmh.Main HotPathBench}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class HotPathBench {
    @Param({"64", "1024"})
    int valueSize;

    byte[] rawKey;
    byte[] encodedKey;
    byte[] value;
    byte[] writeRecord;
    byte[][] keys;
    Path dir;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        rawKey = Keys.tidbRecordKey(100, 123_456_789);
        encodedKey = BytesCodec.encode(rawKey);
        value = new byte[valueSize];
        new SplittableRandom(1).nextBytes(value);
        writeRecord = Write.put(436_000_000_000_000_000L, valueSize <= 255 ? value : null).toBytes();
        keys = new byte[1000][];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = Keys.appendTs(Keys.dataKeyOfRaw(Keys.tidbRecordKey(100, i)), 436_000_000_000_000_001L);
        }
        dir = Files.createTempDirectory("jmh-sst");
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        try (var s = Files.list(dir)) {
            s.forEach(p -> p.toFile().delete());
        }
        Files.deleteIfExists(dir);
    }

    @Benchmark
    public byte[] encodeKey() {
        return BytesCodec.encode(rawKey);
    }

    @Benchmark
    public byte[] decodeKey() {
        return BytesCodec.decode(encodedKey);
    }

    @Benchmark
    public long crc64Pair() {
        return Crc64.ofPair(rawKey, value);
    }

    @Benchmark
    public Write parseWrite() {
        return Write.parse(writeRecord);
    }

    /** 1000 entries into one LZ4 SST, finished (throughput = SSTs per second). */
    @Benchmark
    public void buildSst1000(Blackhole bh) {
        Path f = dir.resolve("b.sst");
        try (SstFileBuilder b = new SstFileBuilder(f, SstCompression.LZ4, 0)) {
            for (byte[] k : keys) {
                b.put(k, value);
            }
            bh.consume(b.finish().size());
        }
        f.toFile().delete();
    }
}

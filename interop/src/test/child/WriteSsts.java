// Run by SstFileBuilderInRocksDb64Test in a child JVM on fake-tikv's classpath (cli/target/lib, RocksDB 10),
// with the JDK's single-file source launcher: java -cp 'cli/target/lib/*' WriteSsts.java DIR ROWS.
// Writes one SST per (CF options, codec) with fake-tikv's SstFileBuilder, plus one ZSTD file with level 3:
// keys z k%08d, values "v-" + i repeated to 60 bytes. The test recomputes the same entries.
import dev.faketikv.engine.sst.SstCfOptions;
import dev.faketikv.engine.sst.SstCompression;
import dev.faketikv.engine.sst.SstFileBuilder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

public class WriteSsts {
    public static void main(String[] args) {
        Path dir = Path.of(args[0]);
        int rows = Integer.parseInt(args[1]);
        for (SstCfOptions cf : SstCfOptions.values()) {
            for (SstCompression c : SstCompression.values()) {
                write(dir.resolve(cf.cf() + "_" + c.label() + "_0.sst"), c, 0, cf, rows);
            }
        }
        write(dir.resolve("default_zstd_3.sst"), SstCompression.ZSTD, 3, SstCfOptions.DEFAULT, rows);
    }

    static void write(Path file, SstCompression c, int level, SstCfOptions cf, int rows) {
        try (SstFileBuilder b = new SstFileBuilder(file, c, level, cf)) {
            for (int i = 0; i < rows; i++) {
                b.put(String.format("zk%08d", i).getBytes(StandardCharsets.UTF_8), value(i));
            }
            b.finish();
        }
    }

    static byte[] value(int i) {
        String v = ("v-" + i + "-").repeat(20);
        return v.substring(0, 60).getBytes(StandardCharsets.UTF_8);
    }
}

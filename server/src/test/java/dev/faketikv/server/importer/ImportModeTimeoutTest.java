package dev.faketikv.server.importer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faketikv.engine.Engine;
import dev.faketikv.server.config.TikvConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.ImportSstpb.SwitchMode;

/**
 * Import mode reverts by itself {@code import.import-mode-timeout} after the last switch into it, as TiKV's
 * {@code ImportModeSwitcher} does ({@code components/sst_importer/src/import_mode.rs:76-131}); a hand-moved clock.
 */
class ImportModeTimeoutTest {
    @TempDir
    Path tmp;

    @Test
    void importModeRevertsAfterTheTimeoutSinceTheLastSwitch() throws Exception {
        AtomicLong now = new AtomicLong(1_000);
        try (Engine engine = Engine.open(tmp.resolve("db"))) {
            SstImporter imp = new SstImporter(1, tmp.resolve("import"), engine, b -> {
                throw new IllegalStateException("no storage in this test");
            }, SstImporter.Settings.defaults().withImportModeTimeout(Duration.ofSeconds(30)).withClock(now::get));
            assertThat(imp.mode()).isEqualTo(SwitchMode.Normal);
            imp.switchMode(SwitchMode.Import);
            now.addAndGet(Duration.ofSeconds(29).toNanos());
            assertThat(imp.mode()).isEqualTo(SwitchMode.Import);
            // BR switches into import mode again before the timeout: the deadline moves
            imp.switchMode(SwitchMode.Import);
            now.addAndGet(Duration.ofSeconds(29).toNanos());
            assertThat(imp.mode()).isEqualTo(SwitchMode.Import);
            now.addAndGet(Duration.ofSeconds(1).toNanos());
            assertThat(imp.mode()).isEqualTo(SwitchMode.Normal);
            // normal mode does not time out into anything
            now.addAndGet(Duration.ofMinutes(5).toNanos());
            assertThat(imp.mode()).isEqualTo(SwitchMode.Normal);
        }
    }

    @Test
    void theTimeoutIsTikvsImportKeyWithTikvsDefault() throws Exception {
        assertThat(TikvConfig.defaults().get(TikvConfig.IMPORT_MODE_TIMEOUT)).isEqualTo(Duration.ofMinutes(10));
        Path f = tmp.resolve("c.toml");
        Files.writeString(f, "[import]\nimport-mode-timeout = \"2s\"\nnum-threads = 4\n");
        assertThat(TikvConfig.load(f).get(TikvConfig.IMPORT_MODE_TIMEOUT)).isEqualTo(Duration.ofSeconds(2));
    }
}

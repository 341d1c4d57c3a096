package dev.faketikv.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.faketikv.server.config.ConfigException;
import dev.faketikv.server.config.TikvConfig;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The online update path of TiKV 5.4's {@code ConfigController::update_impl} ({@code src/config.rs:3446-3494}). */
class ConfigControllerTest {
    private static ConfigController controller() {
        return new ConfigController(TikvConfig.defaults().adjusted());
    }

    @Test
    void sstMaxSizeOnlineIsTakenAsGivenNotClamped() {
        ConfigController c = controller();
        // at start-up 1MB becomes 14.4MB (compatible_adjust); online the backup ConfigManager takes it as is
        c.update(Map.of("backup.sst-max-size", "1MB"));
        assertThat(c.backup().sstMaxSize()).isEqualTo(1L << 20);
        assertThat(c.config().get(TikvConfig.SST_MAX_SIZE)).isEqualTo(1L << 20);
        c.update(Map.of("backup.sst-max-size", "1GB"));
        assertThat(c.backup().sstMaxSize()).isEqualTo(1L << 30);
    }

    @Test
    void badValueFailsWithTikvsValidateTextAndChangesNothing() {
        ConfigController c = controller();
        int threads = c.backup().numThreads();
        assertThatThrownBy(() -> c.update(Map.of("backup.batch-size", 3, "backup.num-threads", 0)))
                .isInstanceOf(ConfigException.class).hasMessage("backup.num_threads cannot be 0");
        assertThat(c.backup().batchSize()).isEqualTo(8);
        assertThat(c.backup().numThreads()).isEqualTo(threads);
        assertThatThrownBy(() -> c.update(Map.of("backup.s3-multi-part-size", "6GB")))
                .hasMessage("backup.s3_multi_part_size cannot larger than 5GB");
        assertThatThrownBy(() -> c.update(Map.of("server.addr", "127.0.0.1:1"))).hasMessageContaining("can not be changed online");
    }
}

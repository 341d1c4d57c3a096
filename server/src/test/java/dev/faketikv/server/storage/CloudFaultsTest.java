package dev.faketikv.server.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.faketikv.server.config.TikvConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

class CloudFaultsTest {
    @Test
    void countedRulesFireThatManyTimesThenStopAndAreCounted() throws Exception {
        CloudFaults f = CloudFaults.parse("GCS", List.of("SlowDown*2", "AccessDenied*1", "stall=50ms*1"));
        assertThat(f.beforeCall()).isEqualTo(CloudFaults.Fault.SLOWDOWN);
        assertThat(f.beforeCall()).isEqualTo(CloudFaults.Fault.SLOWDOWN);
        assertThat(f.beforeCall()).isEqualTo(CloudFaults.Fault.ACCESSDENIED);
        assertThat(f.beforeCall()).isNull(); // the stall, then sent
        assertThat(f.beforeCall()).isNull();
        assertThat(f.injected()).isEqualTo(3);
        assertThat(f.calls()).isEqualTo(5);
        assertThat(GcsStorage.retryable(GcsStorage.injected(CloudFaults.Fault.SLOWDOWN))).isTrue();
        assertThat(GcsStorage.retryable(GcsStorage.injected(CloudFaults.Fault.REQUESTTIMEOUT))).isTrue();
        assertThat(GcsStorage.retryable(GcsStorage.injected(CloudFaults.Fault.ACCESSDENIED))).isFalse();
        assertThat(CloudFaults.parse("Azure", List.of("throttle=1MB")).throttle()).isNotNull();
    }

    @Test
    void badRulesAndConfigKeysFailNamingThem() {
        assertThatThrownBy(() -> CloudFaults.parse("Azure", List.of("Gremlins"))).hasMessageContaining("unknown Azure fault 'Gremlins'");
        assertThatThrownBy(() -> CloudFaults.parse("GCS", List.of("stall=soon"))).isInstanceOf(IllegalArgumentException.class);
        assertThat(TikvConfig.defaults().with("fake.gcs-faults", "[\"SlowDown*3\"]").get(TikvConfig.GCS_FAULTS)).containsExactly("SlowDown*3");
        assertThatThrownBy(() -> TikvConfig.defaults().with("fake.azure-faults", "[\"Gremlins\"]")).hasMessageContaining("unknown Azure fault");
    }
}

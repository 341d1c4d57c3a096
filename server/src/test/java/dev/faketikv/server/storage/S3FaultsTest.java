package dev.faketikv.server.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.s3.model.S3Exception;

class S3FaultsTest {
    @Test
    void countedRulesFireThatManyTimesThenStop() throws Exception {
        S3Faults f = S3Faults.parse(List.of("SlowDown*2", "RequestTimeout*1"));
        for (int i = 0; i < 2; i++) {
            assertThatThrownBy(() -> f.beforeCall("put")).isInstanceOfSatisfying(S3Exception.class, e -> {
                assertThat(e.statusCode()).isEqualTo(503);
                assertThat(e.awsErrorDetails().errorCode()).isEqualTo("SlowDown");
                assertThat(S3Storage.retryable(e)).isTrue();
            });
        }
        assertThatThrownBy(() -> f.beforeCall("put")).isInstanceOfSatisfying(S3Exception.class, e -> {
            assertThat(e.statusCode()).isEqualTo(400);
            assertThat(S3Storage.retryable(e)).as("TiKV 5.4 retries 5xx and 408 only; S3's RequestTimeout is a 400").isFalse();
            assertThat(S3Storage.rusoto(e)).startsWith("Request ID: Some(\"FAKE").contains(" Body: <?xml")
                    .contains("<Code>RequestTimeout</Code>");
        });
        f.beforeCall("put"); // all used up
    }

    @Test
    void permanentAndStallAndThrottle() throws Exception {
        S3Faults denied = S3Faults.parse(List.of("AccessDenied"));
        for (int i = 0; i < 3; i++) {
            assertThatThrownBy(() -> denied.beforeCall("put")).isInstanceOfSatisfying(S3Exception.class,
                    e -> assertThat(S3Storage.retryable(e)).isFalse());
        }
        S3Faults stall = S3Faults.parse(List.of("stall=300ms*1"));
        long t0 = System.nanoTime();
        stall.beforeCall("put");
        assertThat((System.nanoTime() - t0) / 1_000_000).isGreaterThanOrEqualTo(300);
        stall.beforeCall("put"); // used up: no wait, no error
        assertThat(S3Faults.parse(List.of("throttle=1MB")).throttle()).isNotNull();
        assertThat(S3Faults.none().throttle()).isNull();
        assertThatThrownBy(() -> S3Faults.parse(List.of("stall=soon"))).isInstanceOf(IllegalArgumentException.class);
    }
}

package dev.faketikv.client;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import java.io.IOException;
import java.net.ConnectException;
import org.junit.jupiter.api.Test;

/** A dead PD or store is reported in one line: gRPC's Status.toString() would carry the cause's whole stack trace. */
class BrErrorsOneLineTest {
    @Test
    void aRefusedConnectionIsOneLineWithTheAddress() {
        Status refused = Status.UNAVAILABLE.withDescription("io exception")
                .withCause(new IOException("annotated", new ConnectException("Connection refused: /127.0.0.1:23791")));
        assertThat(refused.toString()).contains("\n");
        assertThat(BrErrors.oneLine(refused)).isEqualTo("UNAVAILABLE: io exception (Connection refused: /127.0.0.1:23791)");
        assertThat(BrErrors.oneLine(Status.UNIMPLEMENTED)).isEqualTo("UNIMPLEMENTED");
    }
}

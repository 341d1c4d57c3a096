package dev.faketikv.server.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StorageTest {
    @TempDir
    Path dir;

    private static long entries(Path d) throws IOException {
        try (Stream<Path> s = Files.list(d)) {
            return s.count();
        }
    }

    @Test
    void localStorageWritesCompleteFilesAndRefusesOverwriteAndFolders() throws Exception {
        LocalStorage s = new LocalStorage(dir.resolve("created/on/demand"));
        s.write("1_2_3_write.sst", new ByteArrayInputStream(new byte[] {1, 2, 3}), 3);
        assertThat(Files.readAllBytes(s.base().resolve("1_2_3_write.sst"))).containsExactly(1, 2, 3);
        try (InputStream in = s.read("1_2_3_write.sst")) {
            assertThat(in.readAllBytes()).hasSize(3);
        }
        assertThatThrownBy(() -> s.write("1_2_3_write.sst", new ByteArrayInputStream(new byte[1]), 1))
                .isInstanceOfSatisfying(StorageException.class, e -> {
                    assertThat(e.kind()).isEqualTo("AlreadyExists");
                    assertThat(e.debug()).startsWith("Io(Custom { kind: AlreadyExists, error: \"[1_2_3_write.sst] is already exists in ");
                });
        for (String bad : new String[] {"", "..", "a/b.sst", "../x.sst"}) {
            assertThatThrownBy(() -> s.write(bad, new ByteArrayInputStream(new byte[1]), 1))
                    .hasMessageContaining("parent is not allowed in storage");
        }
        assertThat(entries(s.base())).isEqualTo(1);
    }

    @Test
    void aFailingStreamLeavesNoFileAndNoTempFile() throws Exception {
        LocalStorage s = new LocalStorage(dir);
        InputStream failing = new InputStream() {
            int n;

            @Override
            public int read() throws IOException {
                if (n++ > 10_000) {
                    throw new IOException("source broke");
                }
                return 7;
            }
        };
        assertThatThrownBy(() -> s.write("x_write.sst", failing, 20_000)).hasMessageContaining("source broke");
        assertThat(entries(dir)).isZero();
        assertThat(LocalStorage.tempName("1_2_write.sst")).matches("1_2_write\\.tmp[0-9a-f]{16}");
    }

    @Test
    void noopDrainsTheStream() throws Exception {
        AtomicLong read = new AtomicLong();
        InputStream counting = new ByteArrayInputStream(new byte[100_000]) {
            @Override
            public synchronized int read(byte[] b, int off, int len) {
                int n = super.read(b, off, len);
                if (n > 0) {
                    read.addAndGet(n);
                }
                return n;
            }
        };
        new NoopStorage().write("f", counting, 100_000);
        assertThat(read.get()).isEqualTo(100_000);
    }

    @Test
    void limiterFollowsTheTokenBucketRule() {
        AtomicLong now = new AtomicLong(0);
        Limiter l = new Limiter(1000, now::get); // 1000 B/s, bucket 100 B
        assertThat(l.consume(50)).isZero();          // 100 -> 50
        assertThat(l.consume(50)).isEqualTo(100_000_000L); // 50 -> 0: wait 0.1 s + 0
        now.addAndGet(100_000_000L);                  // refill 100 -> capped at 100
        assertThat(l.consume(300)).isEqualTo(300_000_000L); // 100 -> -200: 0.1 + 0.2 s
        now.addAndGet(300_000_000L);
        assertThat(l.consume(10)).isZero();           // -200 + 300 = 100 -> 90
        assertThat(Limiter.forRateLimit(0).unlimited()).isTrue();
        assertThat(Limiter.forRateLimit(0).consume(1 << 30)).isZero();
    }
}

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

    private static org.tikv.kvproto.Brpb.StorageBackend local(Path p) {
        return org.tikv.kvproto.Brpb.StorageBackend.newBuilder().setLocal(org.tikv.kvproto.Brpb.Local.newBuilder().setPath(p.toString())).build();
    }

    /** Issue 19 item 3 at the storage level, deterministic: the folder is swapped between two uploads. */
    @Test
    void uploadsAfterTheFolderIsSwappedForALinkStayInTheCheckedFolder() throws Exception {
        Path root = Files.createDirectories(dir.resolve("root"));
        Path outside = Files.createDirectories(dir.resolve("outside"));
        for (Path rootOrNull : new Path[] {root, null}) {
            Path folder = root.resolve(rootOrNull == null ? "open" : "confined");
            Path moved = root.resolve(folder.getFileName() + ".moved");
            try (LocalStorage s = (LocalStorage) ExternalStorages.create(local(folder),
                    new ExternalStorages.Options(5 << 20, java.time.Duration.ofSeconds(1), S3Faults.none(), rootOrNull))) {
                s.write("1_default.sst", new ByteArrayInputStream(new byte[] {1}), 1);
                Files.move(folder, moved);
                Files.createSymbolicLink(folder, outside);
                s.write("2_default.sst", new ByteArrayInputStream(new byte[] {2}), 1);
                try (InputStream in = s.read("2_default.sst")) {
                    assertThat(in.readAllBytes()).containsExactly(2);
                }
            }
            assertThat(entries(outside)).as("written through the link").isZero();
            try (Stream<Path> l = Files.list(moved)) {
                assertThat(l.map(p -> p.getFileName().toString()).sorted().toList()).containsExactly("1_default.sst", "2_default.sst");
            }
        }
        // a new request meeting the link inside the root is refused (the walk does not follow it)
        Files.createSymbolicLink(root.resolve("later"), outside);
        assertThatThrownBy(() -> ExternalStorages.create(local(root.resolve("later")),
                new ExternalStorages.Options(5 << 20, java.time.Duration.ofSeconds(1), S3Faults.none(), root)))
                .hasMessageContaining("outside backup.local-root");
    }

    @Test
    void readsOpenOnlyRegularFilesNeverThroughALinkAndNeverCreateTheFolder() throws Exception {
        Path folder = Files.createDirectories(dir.resolve("files"));
        Files.write(folder.resolve("real.sst"), new byte[] {9});
        Files.createSymbolicLink(folder.resolve("link.sst"), folder.resolve("real.sst"));
        Files.createDirectories(folder.resolve("sub.sst"));
        try (LocalStorage s = new LocalStorage(folder)) {
            try (InputStream in = s.read("real.sst")) {
                assertThat(in.readAllBytes()).containsExactly(9);
            }
            assertThatThrownBy(() -> s.read("link.sst")).isInstanceOfSatisfying(StorageException.class, e -> {
                assertThat(e.kind()).isEqualTo("PermissionDenied");
                assertThat(e.getMessage()).contains("is a symbolic link");
            });
            assertThatThrownBy(() -> s.read("sub.sst")).hasMessageContaining("is not a regular file");
            assertThatThrownBy(() -> s.read("none.sst")).isInstanceOfSatisfying(StorageException.class,
                    e -> assertThat(e.kind()).isEqualTo("NotFound"));
        }
        try (LocalStorage s = new LocalStorage(dir.resolve("missing/folder"))) {
            assertThatThrownBy(() -> s.read("x.sst")).isInstanceOfSatisfying(StorageException.class,
                    e -> assertThat(e.kind()).isEqualTo("NotFound"));
        }
        assertThat(dir.resolve("missing")).doesNotExist();
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

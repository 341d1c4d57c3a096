package dev.faketikv.client.br;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.tikv.kvproto.Brpb;

/**
 * The backup destination as BR sees it ({@code -s local:///path} or {@code noop://}): the
 * {@code StorageBackend} sent to the stores, and the files BR itself writes there ({@code backup.lock},
 * {@code backupmeta}). {@code local://} is the stores' own disk, as in TiKV; here the stores run on this
 * machine, so BR reads and writes the same folder. Immutable.
 */
public final class BrStorage {
    /** What BR writes into {@code backup.lock}. */
    public static final String LOCK_CONTENT = "DO NOT DELETE\nThis file exists to remind other backup jobs won't use this path";

    private final String url;
    private final Path dir;

    private BrStorage(String url, Path dir) {
        this.url = url;
        this.dir = dir;
    }

    /** Parses {@code local:///abs/path}, {@code file:///abs/path}, a plain absolute path, or {@code noop://}. */
    public static BrStorage parse(String url) {
        if (url.startsWith("noop:")) {
            return new BrStorage(url, null);
        }
        Path p;
        if (url.startsWith("local://") || url.startsWith("file://")) {
            String rest = url.substring(url.indexOf("://") + 3);
            if (!rest.startsWith("/")) {
                // local://backup-rel would name the host "backup-rel" and the root folder: refuse, do not guess
                throw new BrException("local storage path must be absolute: " + url + " (write local:///abs/path, three slashes, or the "
                        + "absolute path itself)");
            }
            p = Path.of(URI.create("file://" + rest).getPath());
        } else if (url.contains("://")) {
            throw new BrException("storage " + url + " is not supported by this BR (local:// and noop:// are)");
        } else {
            p = Path.of(url);
        }
        if (!p.isAbsolute()) {
            throw new BrException("local storage path must be absolute: " + url);
        }
        return new BrStorage(url, p.normalize());
    }

    public boolean noop() {
        return dir == null;
    }

    public Path dir() {
        return dir;
    }

    public String url() {
        return url;
    }

    public Brpb.StorageBackend backend() {
        return noop() ? Brpb.StorageBackend.newBuilder().setNoop(Brpb.Noop.getDefaultInstance()).build()
                : Brpb.StorageBackend.newBuilder().setLocal(Brpb.Local.newBuilder().setPath(dir.toString())).build();
    }

    public boolean exists(String name) {
        return !noop() && Files.exists(dir.resolve(name));
    }

    public byte[] read(String name) {
        if (noop()) {
            throw new BrException("noop:// storage holds nothing to read");
        }
        try {
            return Files.readAllBytes(dir.resolve(name));
        } catch (java.nio.file.NoSuchFileException e) {
            throw new BrException("file " + name + " not found in " + url);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes {@code name} whole (temp file, then rename); noop storage discards it. */
    public void write(String name, byte[] content) {
        if (noop()) {
            return;
        }
        try {
            Files.createDirectories(dir);
            Path tmp = dir.resolve(name + ".tmp" + System.nanoTime());
            Files.write(tmp, content);
            Files.move(tmp, dir.resolve(name), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new BrException("cannot write " + name + " to " + url + ": " + e.getMessage(), e);
        }
    }

    /**
     * BR's {@code CheckBackupStorageIsLocked}: refuses a folder that already holds a backup (a
     * {@code backupmeta}, a {@code backup.lock} or SST files).
     */
    public void checkEmptyForBackup() {
        if (noop() || !Files.isDirectory(dir)) {
            return;
        }
        if (exists("backupmeta")) {
            throw new BrException("backup meta file exists in " + url + ", there may be some backup files in the path already, "
                    + "please specify a correct backup directory!");
        }
        if (exists("backup.lock")) {
            throw new BrException("backup lock file exists in " + url + ", there are some backup files in the path already, "
                    + "please specify a correct backup directory!");
        }
        try (var s = Files.walk(dir, 2)) {
            if (s.anyMatch(p -> p.getFileName().toString().endsWith(".sst"))) {
                throw new BrException("sst files exist in " + url + ", there are some backup files in the path already, "
                        + "please specify a correct backup directory!");
            }
        } catch (IOException e) {
            throw new BrException("cannot list " + url + ": " + e.getMessage(), e);
        }
    }
}

package dev.faketikv.server.storage;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Files in a folder on this host: TiKV's {@code LocalStorage} ({@code components/external_storage/src/local.rs}).
 *
 * <p>A write refuses a name with a folder part (or empty, {@code .} or {@code ..}) and refuses to replace
 * an existing object; it copies the stream into {@code <name with its extension replaced by "tmp" + 16 hex
 * digits>} in the same folder, fsyncs it, renames it onto {@code name} and fsyncs the folder, so a listed
 * object is always complete. A failed write removes its temp file.
 *
 * <p>Differs from 5.4 on purpose: the folder is created when missing (5.4 requires it to exist).
 * Thread-safe: writes of different names do not interfere.
 */
public final class LocalStorage implements ExternalStorage {
    private final Path base;

    public LocalStorage(Path base) throws StorageException {
        this.base = base.toAbsolutePath().normalize();
        try {
            Files.createDirectories(this.base);
        } catch (IOException e) {
            throw StorageException.of(e);
        }
        if (!Files.isDirectory(this.base)) {
            throw new StorageException("NotADirectory", this.base + " is not a directory");
        }
    }

    public Path base() {
        return base;
    }

    @Override
    public String name() {
        return "local";
    }

    static void checkName(String name) throws StorageException {
        if (name.isEmpty() || name.equals(".") || name.equals("..") || name.contains("/") || name.contains("\\")
                || name.indexOf('\0') >= 0) {
            throw new StorageException("Other", "[" + name + "] parent is not allowed in storage");
        }
    }

    static String tempName(String name) {
        int dot = name.lastIndexOf('.');
        String stem = dot < 0 ? name : name.substring(0, dot);
        return stem + ".tmp" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong());
    }

    @Override
    public void write(String name, InputStream data, long contentLength) throws IOException {
        checkName(name);
        Path target = base.resolve(name);
        if (Files.exists(target)) {
            throw new StorageException("AlreadyExists", "[" + name + "] is already exists in " + base);
        }
        Path tmp = base.resolve(tempName(name));
        boolean done = false;
        try {
            try (OutputStream out = Files.newOutputStream(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                data.transferTo(out);
            }
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            if (Files.exists(target)) {
                throw new StorageException("AlreadyExists", "[" + name + "] is already exists in " + base);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            done = true;
            try (FileChannel dir = FileChannel.open(base, StandardOpenOption.READ)) {
                dir.force(true);
            }
        } catch (IOException e) {
            throw StorageException.of(e);
        } finally {
            if (!done) {
                Files.deleteIfExists(tmp);
            }
        }
    }

    @Override
    public InputStream read(String name) throws IOException {
        checkName(name);
        try {
            return Files.newInputStream(base.resolve(name));
        } catch (IOException e) {
            throw StorageException.of(e);
        }
    }
}

package dev.faketikv.server.storage;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.SecureDirectoryStream;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.HexFormat;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Files in a folder on this host: TiKV's {@code LocalStorage} ({@code components/external_storage/src/local.rs},
 * v5.4.0), confined.
 *
 * <p><b>Format.</b> A write refuses a name with a folder part (or empty, {@code .} or {@code ..}) and refuses
 * to replace an existing object; it copies the stream into {@code <name with its extension replaced by "tmp"
 * + 16 hex digits>} in the same folder, fsyncs it, renames it onto {@code name} and fsyncs the folder, so a
 * listed object is always complete. A failed write removes its temp file.
 *
 * <p><b>Confinement.</b> The folder is opened once, on first use, as a {@link SecureDirectoryStream} (an
 * open directory handle; on Linux every later operation is an {@code openat}/{@code renameat}/{@code unlinkat}
 * relative to it). Every file of the request — each upload's temp file, its rename, each read — goes through
 * that handle with {@link LinkOption#NOFOLLOW_LINKS}, so a folder replaced by a link during a request cannot
 * redirect a later upload: they all land in the folder that was checked. With {@code backup.local-root} set,
 * the handle is reached from the root's own handle one folder at a time, none of them followed if it is a
 * link (the request's path was checked to lie inside the root with links resolved, see
 * {@link ExternalStorages#localPath}; a link met on the walk means the tree changed since, and is refused).
 * Without a root the folder's own path is followed once, as TiKV does; there is no confinement then.
 *
 * <p><b>Reads</b> open only a regular file, never through a link, even without a root: TiKV's {@code read}
 * ({@code local.rs:98-107}) is a plain {@code File::open} that follows links and opens devices and FIFOs; the
 * fake refuses them on purpose, since a link to {@code /dev/zero} or to a host file is never a backup file.
 * The file is checked ({@code lstat} through the handle), opened with {@code O_NOFOLLOW}, and checked again
 * (same file key), so a file swapped between check and open is refused.
 *
 * <p><b>Differs from 5.4 on purpose:</b> a write creates the folder when missing (5.4 requires it to exist);
 * a read never creates it. Missing folders are created by path ({@code mkdir}; Java has no {@code mkdirat}),
 * so a tree changed in that instant can get an empty folder elsewhere, but no file: the walk then refuses.
 * Platforms without {@code SecureDirectoryStream} (it exists on Linux) are refused ("Unsupported").
 *
 * <p>Thread-safe: writes of different names do not interfere; {@link #close} releases the handle.
 */
public final class LocalStorage implements ExternalStorage {
    private static final LinkOption[] NOFOLLOW = {LinkOption.NOFOLLOW_LINKS};

    private final Path base;
    private final Path root;
    private SecureDirectoryStream<Path> handle;
    private boolean closed;

    /** A folder with no confinement (no {@code backup.local-root}). */
    public LocalStorage(Path base) {
        this(base, null);
    }

    /**
     * @param root {@code backup.local-root}, or null; {@code base} must already have been checked to lie
     *             inside it ({@link ExternalStorages#localPath})
     */
    public LocalStorage(Path base, Path root) {
        this.base = base.toAbsolutePath().normalize();
        this.root = root == null ? null : root.toAbsolutePath().normalize();
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
        SecureDirectoryStream<Path> dir = handle(true);
        Path target = base.getFileSystem().getPath(name);
        if (attributes(dir, target) != null) {
            throw new StorageException("AlreadyExists", "[" + name + "] is already exists in " + base);
        }
        Path tmp = base.getFileSystem().getPath(tempName(name));
        boolean done = false;
        try {
            Set<OpenOption> create = Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
            try (SeekableByteChannel ch = dir.newByteChannel(tmp, create);
                 OutputStream out = Channels.newOutputStream(ch)) {
                data.transferTo(out);
                if (ch instanceof FileChannel fc) {
                    fc.force(true);
                }
            }
            if (attributes(dir, target) != null) {
                throw new StorageException("AlreadyExists", "[" + name + "] is already exists in " + base);
            }
            dir.move(tmp, dir, target);
            done = true;
            try (SeekableByteChannel self = dir.newByteChannel(base.getFileSystem().getPath("."), Set.of(StandardOpenOption.READ))) {
                if (self instanceof FileChannel fc) {
                    fc.force(true);
                }
            }
        } catch (IOException e) {
            throw StorageException.of(e);
        } finally {
            if (!done) {
                try {
                    dir.deleteFile(tmp);
                } catch (IOException ignored) {
                    // never created
                }
            }
        }
    }

    @Override
    public InputStream read(String name) throws IOException {
        checkName(name);
        SecureDirectoryStream<Path> dir = handle(false);
        Path file = base.getFileSystem().getPath(name);
        try {
            BasicFileAttributes before = attributes(dir, file);
            if (before == null) {
                throw new NoSuchFileException(base.resolve(name).toString());
            }
            checkReadable(name, before);
            SeekableByteChannel ch = dir.newByteChannel(file, Set.of(StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS));
            BasicFileAttributes after = attributes(dir, file);
            if (after == null || !Objects.equals(before.fileKey(), after.fileKey()) || !after.isRegularFile()) {
                ch.close();
                throw new StorageException("PermissionDenied", "[" + name + "] was replaced while being opened in " + base);
            }
            return Channels.newInputStream(ch);
        } catch (FileSystemException e) {
            throw linkOrIo(e, "[" + name + "] in " + base);
        } catch (IOException e) {
            throw StorageException.of(e);
        }
    }

    private void checkReadable(String name, BasicFileAttributes a) throws StorageException {
        if (a.isSymbolicLink()) {
            throw new StorageException("PermissionDenied", "[" + name + "] in " + base
                    + " is a symbolic link; fake-tikv reads only regular files from local storage");
        }
        if (!a.isRegularFile()) {
            throw new StorageException("PermissionDenied", "[" + name + "] in " + base
                    + " is not a regular file; fake-tikv reads only regular files from local storage");
        }
    }

    /** Attributes of {@code name} in {@code dir}, not following a link; null when it does not exist. */
    private static BasicFileAttributes attributes(SecureDirectoryStream<Path> dir, Path name) throws IOException {
        try {
            return dir.getFileAttributeView(name, BasicFileAttributeView.class, NOFOLLOW).readAttributes();
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    /** The folder's handle, opened (and, for a write, created) on first use. */
    private synchronized SecureDirectoryStream<Path> handle(boolean create) throws StorageException {
        if (closed) {
            throw new StorageException("Other", "local storage " + base + " is closed");
        }
        if (handle == null) {
            try {
                handle = root == null ? openUnconfined(create) : openConfined(create);
            } catch (FileSystemException e) {
                throw linkOrIo(e, base.toString());
            } catch (IOException e) {
                throw StorageException.of(e);
            }
        }
        return handle;
    }

    private SecureDirectoryStream<Path> openUnconfined(boolean create) throws IOException {
        if (create) {
            Files.createDirectories(base);
        }
        return secure(Files.newDirectoryStream(base));
    }

    /** From the root's handle down to the folder, one component at a time, never through a link. */
    private SecureDirectoryStream<Path> openConfined(boolean create) throws IOException {
        if (create) {
            Files.createDirectories(root);
        }
        Path realRoot = root.toRealPath();
        Path rel = realRoot.relativize(ExternalStorages.realPath(base));
        if (rel.startsWith("..") || rel.isAbsolute()) {
            throw new StorageException("PermissionDenied", "local storage path " + base + " is outside backup.local-root " + root);
        }
        SecureDirectoryStream<Path> cur = secure(Files.newDirectoryStream(realRoot));
        Path at = realRoot;
        try {
            for (Path part : rel) {
                if (part.toString().isEmpty()) {
                    continue;
                }
                at = at.resolve(part);
                SecureDirectoryStream<Path> next;
                try {
                    next = child(cur, part, at);
                } catch (NoSuchFileException e) {
                    if (!create) {
                        throw e;
                    }
                    try {
                        Files.createDirectory(at);
                    } catch (FileAlreadyExistsException raced) {
                        // made by a concurrent request: opened (and checked) below all the same
                    }
                    next = child(cur, part, at);
                }
                cur.close();
                cur = next;
            }
            return cur;
        } catch (IOException | RuntimeException e) {
            cur.close();
            throw e;
        }
    }

    private static SecureDirectoryStream<Path> child(SecureDirectoryStream<Path> dir, Path part, Path at) throws IOException {
        BasicFileAttributes a = attributes(dir, part);
        if (a == null) {
            throw new NoSuchFileException(at.toString());
        }
        if (a.isSymbolicLink()) {
            throw new StorageException("PermissionDenied", at + " became a symbolic link; links are not followed inside backup.local-root");
        }
        if (!a.isDirectory()) {
            throw new StorageException("NotADirectory", at + " is not a directory");
        }
        return dir.newDirectoryStream(part, LinkOption.NOFOLLOW_LINKS);
    }

    private static SecureDirectoryStream<Path> secure(DirectoryStream<Path> ds) throws IOException {
        if (ds instanceof SecureDirectoryStream<Path> s) {
            return s;
        }
        ds.close();
        throw new StorageException("Unsupported", "local storage needs openat-style directory handles (SecureDirectoryStream), "
                + "which this platform's Java does not offer");
    }

    /** A failure that is a link met with {@code O_NOFOLLOW} (ELOOP) reads as one; anything else as I/O. */
    private static StorageException linkOrIo(FileSystemException e, String what) {
        String reason = String.valueOf(e.getReason());
        if (reason.contains("symbolic link")) {
            return new StorageException("PermissionDenied", what + " is or passes through a symbolic link, which fake-tikv does not follow here", e);
        }
        return StorageException.of(e);
    }

    @Override
    public synchronized void close() {
        closed = true;
        if (handle != null) {
            try {
                handle.close();
            } catch (IOException ignored) {
                // a directory handle has nothing to flush
            }
            handle = null;
        }
    }
}

package dev.faketikv.server.storage;

import java.io.IOException;

/**
 * A storage failure with the kind TiKV's {@code std::io::Error} would carry ({@code NotFound},
 * {@code AlreadyExists}, {@code InvalidInput}, {@code PermissionDenied}, {@code Other}, ...), so the
 * response's {@code error.msg} reads like TiKV's Debug text:
 * {@code Io(Custom { kind: AlreadyExists, error: "..." })}.
 */
public class StorageException extends IOException {
    private static final long serialVersionUID = 1L;
    private final String kind;
    private final int osCode;

    public StorageException(String kind, String message) {
        this(kind, message, null);
    }

    public StorageException(String kind, String message, Throwable cause) {
        this(kind, message, cause, 0);
    }

    private StorageException(String kind, String message, Throwable cause, int osCode) {
        super(message, cause);
        this.kind = kind;
        this.osCode = osCode;
    }

    /** An OS error ({@code io::Error::from_raw_os_error}), e.g. code 2 NotFound "No such file or directory". */
    public static StorageException os(int code, String kind, String message) {
        return new StorageException(kind, message, null, code);
    }

    public String kind() {
        return kind;
    }

    /** The Rust Debug form of {@code Error::Io(io::Error::new(kind, message))}. */
    public String debug() {
        if (osCode != 0) {
            return "Io(Os { code: " + osCode + ", kind: " + kind + ", message: " + quote(getMessage()) + " })";
        }
        return "Io(Custom { kind: " + kind + ", error: " + quote(getMessage()) + " })";
    }

    /** A Rust Debug string literal. */
    public static String quote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\"";
    }

    /** Maps a JDK I/O exception to a storage exception with TiKV's error kind. */
    public static StorageException of(IOException e) {
        if (e instanceof StorageException se) {
            return se;
        }
        String kind = e instanceof java.nio.file.NoSuchFileException ? "NotFound"
                : e instanceof java.nio.file.FileAlreadyExistsException ? "AlreadyExists"
                : e instanceof java.nio.file.AccessDeniedException ? "PermissionDenied"
                : e instanceof java.nio.file.NotDirectoryException ? "NotADirectory"
                : "Other";
        String msg = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return new StorageException(kind, msg, e);
    }
}

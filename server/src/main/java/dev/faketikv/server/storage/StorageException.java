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

    public StorageException(String kind, String message) {
        super(message);
        this.kind = kind;
    }

    public StorageException(String kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public String kind() {
        return kind;
    }

    /** The Rust Debug form of {@code Error::Io(io::Error::new(kind, message))}. */
    public String debug() {
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

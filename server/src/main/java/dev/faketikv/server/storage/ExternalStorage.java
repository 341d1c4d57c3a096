package dev.faketikv.server.storage;

import java.io.IOException;
import java.io.InputStream;

/**
 * Where backup files go: TiKV's {@code ExternalStorage} trait
 * ({@code components/external_storage/src/lib.rs}). {@link #write} consumes the whole stream and must
 * leave either the complete object or nothing under {@code name}; {@link #read} opens a stored object.
 *
 * <p>Implementations are thread-safe: the save workers of one request write through one instance.
 */
public interface ExternalStorage extends AutoCloseable {
    /** The storage kind as TiKV labels it in metrics: {@code local}, {@code noop}, {@code s3}, ... */
    String name();

    /** Stores {@code contentLength} bytes read from {@code data} as {@code name}. */
    void write(String name, InputStream data, long contentLength) throws IOException;

    /** Opens the object {@code name}. */
    InputStream read(String name) throws IOException;

    /** Releases clients and connections; the request that created the storage is done with it. */
    @Override
    default void close() {}
}

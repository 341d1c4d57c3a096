package dev.faketikv.server.storage;

import java.io.IOException;
import java.io.InputStream;

/**
 * Discards what it is given, after reading it to the end so the caller's digest sees every byte:
 * TiKV's {@code NoopStorage} ({@code components/external_storage/src/noop.rs}). Reads return nothing.
 * Thread-safe.
 */
public final class NoopStorage implements ExternalStorage {
    @Override
    public String name() {
        return "noop";
    }

    @Override
    public void write(String name, InputStream data, long contentLength) throws IOException {
        byte[] buf = new byte[1 << 16];
        while (data.read(buf) >= 0) {
            // drain
        }
    }

    @Override
    public InputStream read(String name) {
        return InputStream.nullInputStream();
    }
}

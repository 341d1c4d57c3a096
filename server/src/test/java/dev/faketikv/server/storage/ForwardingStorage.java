package dev.faketikv.server.storage;

import java.io.IOException;
import java.io.InputStream;

/**
 * An {@link ExternalStorage} that passes every call to another one (Guava's {@code Forwarding*} idiom): tests
 * override the one call they break or watch, on top of a real storage.
 */
public class ForwardingStorage implements ExternalStorage {
    protected final ExternalStorage delegate;

    public ForwardingStorage(ExternalStorage delegate) {
        this.delegate = delegate;
    }

    @Override
    public String name() {
        return delegate.name();
    }

    @Override
    public void write(String name, InputStream data, long contentLength) throws IOException {
        delegate.write(name, data, contentLength);
    }

    @Override
    public InputStream read(String name) throws IOException {
        return delegate.read(name);
    }

    @Override
    public void close() {
        delegate.close();
    }
}

package dev.faketikv.testing;

import java.io.IOException;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The lifecycle shared by {@link FakeTikvExtension} and {@link FakeClusterExtension}: registered on a
 * static field, one instance starts before the class (the outermost class when {@code @Nested} classes run
 * {@code beforeAll} again) and is {@link #reset} before every test; on an instance field, each test gets a
 * fresh one. Either way it is closed afterwards.
 */
abstract class ManagedExtension<T extends AutoCloseable> implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback,
        AfterEachCallback {
    private T running;
    private boolean perClass;
    private String startedBy;

    /** Starts a new instance. */
    abstract T start() throws IOException;

    /** Makes a class-wide instance fit for the next test. */
    abstract void reset(T instance);

    /** What it is called in the message when a test asks for it outside a test. */
    abstract String what();

    @Override
    public void beforeAll(ExtensionContext context) throws IOException {
        perClass = true;
        if (running == null) {
            running = start();
            startedBy = context.getUniqueId();
        }
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        if (context.getUniqueId().equals(startedBy)) {
            stop();
            startedBy = null;
        }
    }

    @Override
    public void beforeEach(ExtensionContext context) throws IOException {
        if (perClass) {
            reset(running);
        } else {
            running = start();
        }
    }

    @Override
    public void afterEach(ExtensionContext context) throws Exception {
        if (!perClass) {
            stop();
        }
    }

    private void stop() throws Exception {
        if (running != null) {
            running.close();
            running = null;
        }
    }

    /** The running instance; only while a test runs. */
    T running() {
        if (running == null) {
            throw new IllegalStateException("the " + what() + " runs only while a test runs");
        }
        return running;
    }
}

package dev.faketikv.server.storage;

import static org.awaitility.Awaitility.await;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A cloud storage emulator run as a child process on a loopback port the emulator picks itself (port 0),
 * from the npm packages the build installs into the project's {@code target/emulators} (system property
 * {@code faketikv.emulators}; {@code src/test/emulators/install.sh}, started in the background by the parent
 * build's first step, so the tests may have to wait for it to finish):
 * Azurite's Blob service for Azure, the Cloud Storage emulator of {@code firebase-tools} (its GCS JSON API,
 * started by {@code gcs-emulator.js} without the Firebase CLI, the rules runtime or any download) for GCS.
 *
 * <p>{@link #start} returns once the emulator has printed the port it listens on (polled with Awaitility,
 * generous bound for a loaded machine); {@link #close} kills it and its children. Output goes to
 * {@code emulator.log} in the given folder. One instance per test class.
 */
final class Emulator implements AutoCloseable {
    static final Path HOME = Path.of(System.getProperty("faketikv.emulators", "../target/emulators")).toAbsolutePath().normalize();
    /** Azurite's account for the tests (a random key each run: the tests check it is never echoed). */
    static final String AZURE_ACCOUNT = "faketikv";

    private final Process process;
    private final int port;

    private Emulator(Process process, int port) {
        this.process = process;
        this.port = port;
    }

    int port() {
        return port;
    }

    /** Azurite's Blob service, serving one account with {@code key}, data in memory. */
    static Emulator azurite(Path dir, String key) throws IOException {
        Path main = HOME.resolve("node_modules/azurite/dist/src/blob/main.js");
        return start(dir, List.of("node", main.toString(), "--blobHost", "127.0.0.1", "--blobPort", "0", "--inMemoryPersistence",
                        "--extentMemoryLimit", "512", "--disableTelemetry", "--skipApiVersionCheck", "--silent"),
                Map.of("AZURITE_ACCOUNTS", AZURE_ACCOUNT + ":" + key),
                Pattern.compile("listens on http://127\\.0\\.0\\.1:(\\d+)"));
    }

    /** The Cloud Storage emulator of firebase-tools (GCS JSON API; buckets exist on first write). */
    static Emulator gcs(Path dir) throws IOException {
        Path script = Path.of("src", "test", "emulators", "gcs-emulator.js").toAbsolutePath();
        // its blobs go to $TMPDIR/firebase/storage: one folder per emulator
        return start(dir, List.of("node", script.toString(), HOME.toString()), Map.of("TMPDIR", dir.toString()),
                Pattern.compile("LISTENING (\\d+)"));
    }

    private static Emulator start(Path dir, List<String> command, Map<String, String> env, Pattern ready) throws IOException {
        awaitInstalled();
        Files.createDirectories(dir);
        ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true);
        pb.environment().putAll(env);
        Process p = pb.start();
        CompletableFuture<Integer> port = new CompletableFuture<>();
        List<String> head = new ArrayList<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
                 PrintWriter log = new PrintWriter(Files.newBufferedWriter(dir.resolve("emulator.log")), true)) {
                for (String line; (line = in.readLine()) != null; ) {
                    log.println(line);
                    if (head.size() < 20) {
                        synchronized (head) {
                            head.add(line);
                        }
                    }
                    Matcher m = ready.matcher(line);
                    if (!port.isDone() && m.find()) {
                        port.complete(Integer.parseInt(m.group(1)));
                    }
                }
            } catch (IOException e) {
                port.completeExceptionally(e);
            }
            port.completeExceptionally(new IllegalStateException("emulator exited before it was ready: " + head));
        }, "emulator-output");
        reader.setDaemon(true);
        reader.start();
        try {
            await("emulator " + command.get(1) + " ready").atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(100))
                    .until(port::isDone);
            return new Emulator(p, port.join());
        } catch (RuntimeException e) {
            kill(p);
            throw e;
        }
    }

    /**
     * Waits for the background install the build started ({@code .installing} → {@code .installed} or
     * {@code .failed}); fails at once when no install ran or is running.
     */
    private static void awaitInstalled() throws IOException {
        await("npm ci of the emulators in " + HOME).atMost(Duration.ofMinutes(10)).pollInterval(Duration.ofMillis(500))
                .until(() -> !Files.exists(HOME.resolve(".installing")) || Files.exists(HOME.resolve(".installed"))
                        || Files.exists(HOME.resolve(".failed")));
        if (Files.exists(HOME.resolve(".failed"))) {
            Path log = HOME.resolve("install.log");
            throw new IllegalStateException("npm ci of the emulators failed in " + HOME + ": "
                    + (Files.exists(log) ? Files.readString(log).strip() : "no install.log"));
        }
        if (!Files.exists(HOME.resolve(".installed"))) {
            throw new IllegalStateException("the emulators are not installed in " + HOME
                    + ": build from the project root with ./mvnw verify (without -DskipTests), whose first step installs them");
        }
    }

    private static void kill(Process p) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroy();
        try {
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        kill(process);
    }
}

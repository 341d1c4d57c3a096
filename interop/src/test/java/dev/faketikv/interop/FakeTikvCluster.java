package dev.faketikv.interop;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code fake-tikv serve --stores N} as a child process (same CLI as {@link FakeTikvProcess}), every port 0.
 * The constructor returns once the cluster ready line and the N store ready lines are read; {@link #br}
 * runs {@code fake-tikv br ...} against its PD as another child process. {@link #close()} sends SIGTERM and
 * waits. Not thread-safe.
 */
final class FakeTikvCluster implements AutoCloseable {
    private static final Pattern CLUSTER = Pattern.compile("fake-tikv cluster ready: pd=(127\\.0\\.0\\.1:\\d+) stores=(\\d+) .*");
    private static final Pattern STORE = Pattern.compile(
            "\\s*fake-tikv ready: addr=(127\\.0\\.0\\.1:\\d+) status=(127\\.0\\.0\\.1:\\d+) cluster-id=(\\d+) store-id=(\\d+)");
    private static final ObjectMapper OM = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    /** One store of the cluster. */
    record Store(long id, String addr, String status) {
    }

    private final Process process;
    private final Path log;
    final String pd;
    final List<Store> stores = new ArrayList<>();

    FakeTikvCluster(Path dataDir, int storeCount) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(FakeTikvProcess.java(), "-XX:TieredStopAtLevel=1", "-cp", FakeTikvProcess.cliClasspath(),
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "dev.faketikv.cli.Main", "serve", "--stores", String.valueOf(storeCount),
                "--pd-addr", "127.0.0.1:0", "--addr", "127.0.0.1:0", "--status-addr", "127.0.0.1:0", "--data-dir", dataDir.toString()));
        log = Files.createTempFile(dataDir.getParent(), "fake-tikv-cluster", ".log");
        process = new ProcessBuilder(cmd).redirectError(log.toFile()).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            String line = out.readLine();
            Matcher m = line == null ? null : CLUSTER.matcher(line);
            if (m == null || !m.matches()) {
                throw new IOException("fake-tikv cluster did not start: " + line + "\n" + Files.readString(log));
            }
            pd = m.group(1);
            for (int i = 0; i < storeCount; i++) {
                String s = out.readLine();
                Matcher sm = s == null ? null : STORE.matcher(s);
                if (sm == null || !sm.matches()) {
                    throw new IOException("unexpected store line: " + s);
                }
                stores.add(new Store(Long.parseLong(sm.group(4)), sm.group(1), sm.group(2)));
            }
        } catch (IOException | RuntimeException e) {
            process.destroyForcibly();
            throw e;
        }
    }

    /** {@code GET /regions} of the first store's status server (the map is the cluster's). */
    JsonNode regions() throws IOException, InterruptedException {
        return OM.readTree(call("GET", stores.get(0).status(), "/regions", null));
    }

    /** {@code POST path} with a JSON body on the first store's status server; the JSON answer. */
    JsonNode post(String path, String json) throws IOException, InterruptedException {
        return OM.readTree(call("POST", stores.get(0).status(), path, json));
    }

    private static String call(String method, String host, String path, String json) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://" + host + path));
        b = json == null ? b.GET() : b.method(method, HttpRequest.BodyPublishers.ofString(json)).header("Content-Type", "application/json");
        HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IOException(method + " " + path + ": " + r.statusCode() + " " + r.body());
        }
        return r.body();
    }

    /** Splits the cluster at raw key {@code key} (as is for RawKV, memcomparable-encoded for txn). */
    void split(byte[] key, boolean rawKv) throws IOException, InterruptedException {
        post("/regions/split", "{\"key\":\"" + HexFormat.of().formatHex(key) + "\",\"is_raw_kv\":" + rawKv + "}");
    }

    /** Runs {@code fake-tikv br ARGS --pd PD}; returns stdout, failing with stderr on a non-zero exit. */
    String br(String... args) throws IOException, InterruptedException {
        return brStart(args).await();
    }

    /** A {@code fake-tikv br} child process started by {@link #brStart}. */
    record Br(Process process, String what, Path err) {
        /** Waits for it; its stdout, or an IOException with its stderr on a non-zero exit. */
        String await() throws IOException, InterruptedException {
            byte[] out = process.getInputStream().readAllBytes();
            if (!process.waitFor(120, TimeUnit.SECONDS) || process.exitValue() != 0) {
                process.destroyForcibly();
                throw new IOException("br " + what + " failed: " + Files.readString(err));
            }
            return new String(out, StandardCharsets.UTF_8);
        }
    }

    /** Starts {@code fake-tikv br ARGS --pd PD} (br spends most of its time waiting: run two at once). */
    Br brStart(String... args) throws IOException {
        // a short-lived JVM: C1 only and the serial collector start faster on a busy box
        List<String> cmd = new ArrayList<>(List.of(FakeTikvProcess.java(), "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                "-cp", FakeTikvProcess.cliClasspath(), "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "dev.faketikv.cli.Main", "br"));
        cmd.addAll(List.of(args));
        cmd.addAll(List.of("--pd", pd));
        Path err = Files.createTempFile(log.getParent(), "br", ".log");
        return new Br(new ProcessBuilder(cmd).redirectError(err.toFile()).start(), String.join(" ", args), err);
    }

    /** The child's stderr so far (for failure messages). */
    String log() throws IOException {
        return Files.readString(log);
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
    }
}

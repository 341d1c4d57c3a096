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
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.tikv.shade.io.grpc.ManagedChannel;
import org.tikv.shade.io.grpc.netty.NettyChannelBuilder;

/**
 * {@code fake-tikv serve} as a child process, started from the built CLI ({@code cli/target/fake-tikv.jar}
 * and {@code cli/target/lib/*}; the folder comes from the system property {@code faketikv.cli.dir}) with
 * ports 0. The constructor returns once the ready line
 * {@code fake-tikv ready: addr=HOST:PORT status=HOST:PORT cluster-id=N store-id=N} is read. {@link #close()}
 * sends SIGTERM and waits. Not thread-safe.
 */
final class FakeTikvProcess implements AutoCloseable {
    private static final Pattern READY = Pattern.compile(
            "fake-tikv ready: addr=(127\\.0\\.0\\.1:\\d+) status=(127\\.0\\.0\\.1:\\d+) cluster-id=(\\d+) store-id=(\\d+)");
    private static final ObjectMapper OM = new ObjectMapper();

    private final Process process;
    final String addr;
    final String status;
    final long storeId;
    final long clusterId;
    final ManagedChannel channel;

    /** The CLI's classpath, or an error saying to build cli first. */
    static String cliClasspath() {
        Path dir = Path.of(System.getProperty("faketikv.cli.dir", "../cli/target"));
        if (!Files.isRegularFile(dir.resolve("fake-tikv.jar")) || !Files.isDirectory(dir.resolve("lib"))) {
            throw new IllegalStateException("no built CLI at " + dir.toAbsolutePath()
                    + ": build the cli module first (./mvnw verify builds it before interop)");
        }
        return dir.resolve("fake-tikv.jar") + java.io.File.pathSeparator + dir.resolve("lib") + "/*";
    }

    static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    FakeTikvProcess(Path dataDir, String... extra) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(java(), "-XX:TieredStopAtLevel=1", "-cp", cliClasspath(),
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "dev.faketikv.cli.Main", "serve",
                "--addr", "127.0.0.1:0", "--status-addr", "127.0.0.1:0", "--data-dir", dataDir.toString()));
        cmd.addAll(List.of(extra));
        Path log = Files.createTempFile(dataDir.getParent(), "fake-tikv", ".log");
        process = new ProcessBuilder(cmd).redirectError(log.toFile()).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            String line = out.readLine();
            Matcher m = line == null ? null : READY.matcher(line);
            if (m == null || !m.matches()) {
                throw new IOException("fake-tikv did not start: " + line + "\n" + Files.readString(log));
            }
            addr = m.group(1);
            status = m.group(2);
            clusterId = Long.parseUnsignedLong(m.group(3));
            storeId = Long.parseLong(m.group(4));
        } catch (IOException | RuntimeException e) {
            process.destroyForcibly();
            throw e;
        }
        String[] hp = addr.split(":");
        channel = NettyChannelBuilder.forAddress(hp[0], Integer.parseInt(hp[1])).usePlaintext()
                .maxInboundMessageSize(64 << 20).build();
    }

    /** {@code GET /regions} of the status server. */
    JsonNode regions() throws IOException, InterruptedException {
        HttpResponse<String> r = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create("http://" + status + "/regions")).build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IOException("GET /regions: " + r.statusCode() + " " + r.body());
        }
        return OM.readTree(r.body());
    }

    @Override
    public void close() throws InterruptedException {
        channel.shutdownNow();
        channel.awaitTermination(5, TimeUnit.SECONDS);
        process.destroy();
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
    }
}

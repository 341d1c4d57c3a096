package dev.faketikv.server.status;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.faketikv.server.metrics.BackupMetrics;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * TiKV's status server (HTTP, {@code server.status-addr}, 20180 by default), with what this slice needs:
 * {@code GET /metrics} (Prometheus text) and {@code GET /status} (a small JSON document). Uses the JDK's
 * HTTP server on one daemon thread. Thread-safe.
 */
public final class StatusServer implements AutoCloseable {
    private final HttpServer http;
    private final ExecutorService executor;

    public StatusServer(InetSocketAddress bind, BackupMetrics metrics, Supplier<String> statusJson) throws IOException {
        http = HttpServer.create(bind, 64);
        executor = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "status-server");
            t.setDaemon(true);
            return t;
        });
        http.setExecutor(executor);
        http.createContext("/metrics", ex -> {
            if (!ex.getRequestMethod().equals("GET")) {
                reply(ex, 405, "text/plain", "method not allowed\n");
                return;
            }
            reply(ex, 200, "text/plain; version=0.0.4; charset=utf-8", metrics.scrape());
        });
        http.createContext("/status", ex -> reply(ex, 200, "application/json", statusJson.get()));
        http.createContext("/", ex -> reply(ex, 404, "text/plain", "not found: " + ex.getRequestURI().getPath() + "\n"));
        http.start();
    }

    public InetSocketAddress address() {
        return http.getAddress();
    }

    private static void reply(HttpExchange ex, int code, String type, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", type);
        ex.sendResponseHeaders(code, b.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(b);
        }
    }

    @Override
    public void close() {
        http.stop(0);
        executor.shutdownNow();
    }
}

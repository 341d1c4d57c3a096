package dev.faketikv.server.status;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsExchange;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import dev.faketikv.engine.region.RegionMap;
import dev.faketikv.server.Security;
import dev.faketikv.server.config.ConfigException;
import dev.faketikv.server.config.TikvConfig;
import dev.faketikv.server.control.Faults;
import dev.faketikv.server.control.Journal;
import dev.faketikv.server.control.Trace;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.regex.Matcher;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;

/**
 * The status server (HTTP on {@code server.status-addr}, TiKV's 20180 by default): what TiKV's status
 * server offers for backup, plus fake-tikv's control plane.
 *
 * <pre>
 * GET    /                            this list
 * GET    /metrics                     Prometheus text
 * GET    /status                      store id, cluster id, address, regions
 * GET    /config                      effective config, nested by section, TiKV key names
 * POST   /config                      {"backup.num-threads": 4, ...}: backup.* keys, all or nothing; 400 names a bad key
 * GET    /fail                        failpoints set, and the names fake-tikv evaluates
 * GET    /fail/{name}                 its actions (404 when unset)
 * PUT    /fail/{name}                 body: fail-rs actions, e.g. 2*return(boom)->sleep(100); 404 for a name fake-tikv never evaluates
 * DELETE /fail/{name}
 * GET    /regions                     the region map
 * POST   /regions/split               {"key": "hex raw key"} (txn: memcomparable-encoded; "is_raw_kv": true = as is)
 * POST   /regions/{id}/leader         {"store": N} (a peer is added on that store when missing)
 * POST   /regions/{id}/epoch          {"conf_ver": N, "version": N}, or {} to bump the version
 * GET    /journal, DELETE /journal    requests received and responses sent; DELETE also numbers the next request 1
 * GET    /faults                      fault rules with their counters
 * PUT    /faults                      body: rules (TOML or JSON) replacing all; 400 names a bad rule; the next
 *                                     request is number 1 (match.request counts from the moment rules are loaded)
 * DELETE /faults, DELETE /faults/{name}, POST /faults/{name}/release
 * </pre>
 *
 * Mutations are answered with JSON; errors with 400/404 and a one-line reason.
 *
 * <p>Request numbers ({@code match = { request = N }} in a fault rule) restart at 1 whenever rules are
 * loaded ({@code PUT /faults}) and on {@code DELETE /journal}: a scenario file loaded into a store that has
 * already served requests fires on the next request, as it would at start-up ({@code --faults FILE}).
 *
 * <p>Structure: {@link #handle} applies the server-wide checks (client certificate common name,
 * {@code fake.status-readonly}, body size), finds the {@link Route} for the path, which picks the
 * handler for the method (405 otherwise); the handlers, grouped per resource ({@code StoreResources},
 * {@code RegionResources}, {@code ControlResources}), validate their input and call the {@link Store}.
 * The status server sees the store only through {@link Store}.
 *
 * <p>Lifecycle and threading: the constructor binds the port (so the bound address is known before the
 * store view that reports it is built) but serves nothing; {@link #start} serves, once. Requests run on the
 * JDK's HTTP server with a pool of {@value #THREADS} daemon threads named {@code status-server}, so one
 * slow request does not hold up the others (no handler waits on a paused failpoint or a hang rule).
 * Thread-safe.
 */
public final class StatusServer implements AutoCloseable {
    /** Largest request body accepted (fault rules, config changes). */
    static final int MAX_BODY = 1 << 20;
    /** Request threads. */
    static final int THREADS = 4;

    /** What the status server shows of a store and may change in it. */
    public interface Store {
        /** The current config (online changes included): identity, TLS, allowed CNs, read-only flag. */
        TikvConfig config();

        /** {@code host:port} of the gRPC server as advertised. */
        String addr();

        /** {@code host:port} of this status server as advertised. */
        String statusAddr();

        /** Applies an online config change, all or nothing; {@link ConfigException} names a bad key. */
        void updateConfig(Map<String, Object> changes);

        /** Backup scan and save jobs running or queued. */
        int busyWorkers();

        RegionMap regions();

        /** Prometheus text of the store's metrics. */
        String scrapeMetrics();

        Faults faults();

        Trace trace();

        Journal journal();

        /** Numbers the next request 1 (fault rules match on request numbers). */
        void resetRequestNumbers();
    }

    /** What {@code GET /} answers: every endpoint, one a line. */
    static final String ENDPOINTS = """
            GET    /                       this list
            GET    /metrics                Prometheus text
            GET    /status                 store id, cluster id, addresses, regions
            GET    /config                 effective config; POST /config {"backup.num-threads": 4} changes backup.* keys
            GET    /fail                   failpoints set, and the names fake-tikv evaluates
            GET    /fail/{name}            its actions; PUT /fail/{name} (body: e.g. 1*return(boom)); DELETE /fail/{name}
            GET    /regions                the region map; POST /regions/split {"key": "hex"}
            POST   /regions/{id}/leader    {"store": N}; POST /regions/{id}/epoch {"conf_ver": N, "version": N}
            GET    /journal                requests received and responses sent; DELETE /journal clears it
            GET    /faults                 fault rules with counters; PUT /faults (TOML or JSON) replaces them
            DELETE /faults, DELETE /faults/{name}, POST /faults/{name}/release
            GET    /trace                  trace lines; PUT /trace true|false; DELETE /trace
            """;

    private final HttpServer http;
    private final ExecutorService executor;
    /** Guarded by {@code this}: set by the one {@link #start}; read by request threads only after it. */
    private List<Route> routes;
    private Store store;

    /**
     * Binds {@code bind} (HTTPS requiring a client certificate when {@code tls} is given), serving nothing
     * until {@link #start}.
     */
    public StatusServer(InetSocketAddress bind, SSLContext tls) throws IOException {
        if (tls != null) {
            HttpsServer https = HttpsServer.create(bind, 64);
            https.setHttpsConfigurator(new HttpsConfigurator(tls) {
                @Override
                public void configure(HttpsParameters params) {
                    SSLParameters p = getSSLContext().getDefaultSSLParameters();
                    p.setNeedClientAuth(true);
                    params.setSSLParameters(p);
                }
            });
            http = https;
        } else {
            http = HttpServer.create(bind, 64);
        }
        executor = Executors.newFixedThreadPool(THREADS, r -> {
            Thread t = new Thread(r, "status-server");
            t.setDaemon(true);
            return t;
        });
        http.setExecutor(executor);
    }

    /** Serves {@code store}'s resources. */
    public synchronized void start(Store store) {
        if (this.store != null) {
            throw new IllegalStateException("status server already started");
        }
        this.store = Objects.requireNonNull(store, "store");
        List<Route> all = new ArrayList<>();
        all.addAll(new StoreResources(store).routes());
        all.addAll(new RegionResources(store.regions()).routes());
        all.add(Route.exact("/").on(req -> Response.text(ENDPOINTS), "GET"));
        all.addAll(new ControlResources(store.faults(), store.trace(), store.journal(), store::resetRequestNumbers).routes());
        this.routes = List.copyOf(all);
        http.createContext("/", this::handle);
        http.start();
    }

    public InetSocketAddress address() {
        return http.getAddress();
    }

    private void handle(HttpExchange ex) throws IOException {
        List<Route> table;
        Store s;
        synchronized (this) {
            table = routes;
            s = store;
        }
        String method = ex.getRequestMethod();
        String path = ex.getRequestURI().getPath();
        Response out;
        try {
            checkAccess(ex, method, s.config());
            byte[] raw = ex.getRequestBody().readNBytes(MAX_BODY + 1);
            if (raw.length > MAX_BODY) {
                throw new HttpError(413, "request body over " + MAX_BODY + " bytes");
            }
            out = dispatch(table, method, path, new String(raw, StandardCharsets.UTF_8));
        } catch (HttpError e) {
            out = new Response(e.code, Response.TEXT, e.getMessage() + "\n");
        } catch (ConfigException | IllegalArgumentException e) {
            out = new Response(400, Response.TEXT, e.getMessage() + "\n");
        } catch (RuntimeException e) {
            out = new Response(500, Response.TEXT, e + "\n");
        }
        reply(ex, out);
    }

    /** The client certificate's common name ({@code security.cert-allowed-cn}) and the read-only switch. */
    private static void checkAccess(HttpExchange ex, String method, TikvConfig config) {
        List<String> allowed = config.get(TikvConfig.CERT_ALLOWED_CN);
        if (ex instanceof HttpsExchange hx && !allowed.isEmpty()) {
            String cn = Security.clientCommonName(hx.getSSLSession());
            if (cn == null || !allowed.contains(cn)) {
                throw new HttpError(403, "Common name check fail, reason: " + cn + " is not in cert-allowed-cn " + allowed);
            }
        }
        if (!method.equals("GET") && !method.equals("HEAD") && config.get(TikvConfig.STATUS_READONLY)) {
            throw new HttpError(403, "the status server is read-only (fake.status-readonly)");
        }
    }

    private static Response dispatch(List<Route> table, String method, String path, String body) {
        for (Route r : table) {
            Matcher m = r.match(path);
            if (m != null) {
                return r.dispatch(method, path, body, m);
            }
        }
        throw new HttpError(404, "not found: " + path + " (GET / lists the endpoints)");
    }

    private static void reply(HttpExchange ex, Response r) throws IOException {
        byte[] b = r.body().getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", r.type());
        ex.sendResponseHeaders(r.code(), b.length);
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

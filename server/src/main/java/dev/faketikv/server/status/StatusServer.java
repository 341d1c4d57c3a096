package dev.faketikv.server.status;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.faketikv.engine.codec.BytesCodec;
import dev.faketikv.engine.region.Peer;
import dev.faketikv.engine.region.Region;
import dev.faketikv.server.FakeTikvServer;
import dev.faketikv.server.config.ConfigException;
import dev.faketikv.server.control.FailPoints;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The status server (HTTP on {@code server.status-addr}, TiKV's 20180 by default): what TiKV's status
 * server offers for backup, plus fake-tikv's control plane.
 *
 * <pre>
 * GET    /metrics                     Prometheus text
 * GET    /status                      store id, cluster id, address, regions
 * GET    /config                      effective config, nested by section, TiKV key names
 * POST   /config                      {"backup.num-threads": 4, ...}: backup.* keys, all or nothing; 400 names a bad key
 * GET    /fail                        failpoints set, and the names fake-tikv evaluates
 * GET    /fail/{name}                 its actions (404 when unset)
 * PUT    /fail/{name}                 body: fail-rs actions, e.g. 2*return(boom)->sleep(100)
 * DELETE /fail/{name}
 * GET    /regions                     the region map
 * POST   /regions/split               {"key": "hex raw key"} (txn: memcomparable-encoded; "is_raw_kv": true = as is)
 * POST   /regions/{id}/leader         {"store": N} (a peer is added on that store when missing)
 * POST   /regions/{id}/epoch          {"conf_ver": N, "version": N}, or {} to bump the version
 * GET    /journal, DELETE /journal    requests received and responses sent
 * GET    /faults                      fault rules with their counters
 * PUT    /faults                      body: rules (TOML or JSON) replacing all; 400 names a bad rule
 * DELETE /faults, DELETE /faults/{name}, POST /faults/{name}/release
 * </pre>
 *
 * Mutations are answered with JSON; errors with 400/404 and a one-line reason. Uses the JDK's HTTP server
 * on one daemon thread (a paused failpoint never blocks it). Thread-safe.
 */
public final class StatusServer implements AutoCloseable {
    private static final ObjectMapper OM = new ObjectMapper();
    /** Largest request body accepted (fault rules, config changes). */
    static final int MAX_BODY = 1 << 20;
    private static final Pattern FAIL = Pattern.compile("^/fail/([A-Za-z0-9_.\\-]+)$");
    private static final Pattern REGION_OP = Pattern.compile("^/regions/(\\d+)/(leader|epoch)$");
    private static final Pattern FAULT = Pattern.compile("^/faults/([^/]+)(/release)?$");

    private final HttpServer http;
    private final ExecutorService executor;
    private final FakeTikvServer server;

    /** Thrown by a handler: status code and reason. */
    private static final class HttpError extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final int code;

        HttpError(int code, String reason) {
            super(reason);
            this.code = code;
        }
    }

    public StatusServer(InetSocketAddress bind, FakeTikvServer server) throws IOException {
        this.server = server;
        dev.faketikv.server.config.TikvConfig cfg = server.config();
        if (cfg.tls()) {
            com.sun.net.httpserver.HttpsServer https = com.sun.net.httpserver.HttpsServer.create(bind, 64);
            https.setHttpsConfigurator(new com.sun.net.httpserver.HttpsConfigurator(dev.faketikv.server.Security.sslContext(cfg)) {
                @Override
                public void configure(com.sun.net.httpserver.HttpsParameters params) {
                    javax.net.ssl.SSLParameters p = getSSLContext().getDefaultSSLParameters();
                    p.setNeedClientAuth(true);
                    params.setSSLParameters(p);
                }
            });
            http = https;
        } else {
            http = HttpServer.create(bind, 64);
        }
        executor = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "status-server");
            t.setDaemon(true);
            return t;
        });
        http.setExecutor(executor);
        http.createContext("/", this::handle);
        http.start();
    }

    public InetSocketAddress address() {
        return http.getAddress();
    }

    private void handle(HttpExchange ex) throws IOException {
        String method = ex.getRequestMethod();
        String path = ex.getRequestURI().getPath();
        try {
            java.util.List<String> allowed = server.config().get(dev.faketikv.server.config.TikvConfig.CERT_ALLOWED_CN);
            if (ex instanceof com.sun.net.httpserver.HttpsExchange hx && !allowed.isEmpty()) {
                String cn = dev.faketikv.server.Security.clientCommonName(hx.getSSLSession());
                if (cn == null || !allowed.contains(cn)) {
                    throw new HttpError(403, "Common name check fail, reason: " + cn + " is not in cert-allowed-cn " + allowed);
                }
            }
            if (!method.equals("GET") && !method.equals("HEAD")
                    && server.config().get(dev.faketikv.server.config.TikvConfig.STATUS_READONLY)) {
                throw new HttpError(403, "the status server is read-only (fake.status-readonly)");
            }
            byte[] raw = ex.getRequestBody().readNBytes(MAX_BODY + 1);
            if (raw.length > MAX_BODY) {
                throw new HttpError(413, "request body over " + MAX_BODY + " bytes");
            }
            String body = new String(raw, StandardCharsets.UTF_8);
            route(ex, method, path, body);
        } catch (HttpError e) {
            reply(ex, e.code, "text/plain; charset=utf-8", e.getMessage() + "\n");
        } catch (ConfigException | IllegalArgumentException e) {
            reply(ex, 400, "text/plain; charset=utf-8", e.getMessage() + "\n");
        } catch (RuntimeException e) {
            reply(ex, 500, "text/plain; charset=utf-8", e + "\n");
        }
    }

    private void route(HttpExchange ex, String method, String path, String body) throws IOException {
        Matcher m;
        switch (path) {
            case "/metrics" -> {
                only(method, "GET");
                reply(ex, 200, "text/plain; version=0.0.4; charset=utf-8", server.metrics().scrape());
            }
            case "/status" -> {
                only(method, "GET");
                json(ex, 200, server.statusNode());
            }
            case "/config" -> {
                if (method.equals("GET")) {
                    json(ex, 200, OM.valueToTree(nested(server.effectiveConfig())));
                } else if (method.equals("POST")) {
                    Map<String, Object> changes = new LinkedHashMap<>();
                    JsonNode n = parse(body);
                    if (!n.isObject()) {
                        throw new HttpError(400, "expected a JSON object like {\"backup.num-threads\": 4}");
                    }
                    dev.faketikv.server.config.TikvConfig.flatten("", n, changes);
                    server.updateConfig(changes);
                    ObjectNode o = OM.createObjectNode();
                    o.set("changed", OM.valueToTree(changes.keySet()));
                    json(ex, 200, o);
                } else {
                    throw new HttpError(405, "method not allowed");
                }
            }
            case "/fail" -> {
                only(method, "GET");
                ObjectNode o = OM.createObjectNode();
                o.set("set", OM.valueToTree(server.faults().failPoints().list()));
                o.set("names", OM.valueToTree(new java.util.TreeMap<>(FailPoints.NAMES)));
                json(ex, 200, o);
            }
            case "/regions" -> {
                only(method, "GET");
                ArrayNode a = OM.createArrayNode();
                server.regions().all().forEach(r -> a.add(regionNode(r)));
                json(ex, 200, a);
            }
            case "/regions/split" -> {
                only(method, "POST");
                JsonNode n = parse(body);
                if (!n.hasNonNull("key")) {
                    throw new HttpError(400, "expected {\"key\": \"<hex>\"}");
                }
                byte[] key = hex(n.get("key").asText());
                if (!n.path("is_raw_kv").asBoolean(false)) {
                    key = BytesCodec.encode(key);
                }
                Region[] lr = server.regions().split(key);
                ArrayNode a = OM.createArrayNode();
                a.add(regionNode(lr[0]));
                a.add(regionNode(lr[1]));
                json(ex, 200, a);
            }
            case "/trace" -> {
                if (method.equals("GET")) {
                    reply(ex, 200, "text/plain; charset=utf-8", String.join("\n", server.trace().lines()) + "\n");
                } else if (method.equals("PUT") || method.equals("POST")) {
                    server.trace().enable(Boolean.parseBoolean(body.trim()));
                    reply(ex, 200, "text/plain; charset=utf-8", "trace " + (server.trace().enabled() ? "on" : "off") + "\n");
                } else if (method.equals("DELETE")) {
                    server.trace().clear();
                    reply(ex, 200, "text/plain; charset=utf-8", "cleared\n");
                } else {
                    throw new HttpError(405, "method not allowed");
                }
            }
            case "/journal" -> {
                if (method.equals("GET")) {
                    reply(ex, 200, "application/json", server.journal().toJson());
                } else if (method.equals("DELETE")) {
                    server.journal().clear();
                    reply(ex, 200, "application/json", "{}\n");
                } else {
                    throw new HttpError(405, "method not allowed");
                }
            }
            case "/faults" -> {
                switch (method) {
                    case "GET" -> reply(ex, 200, "application/json", server.faults().rules().toJson());
                    case "PUT", "POST" -> {
                        server.faults().rules().replace(body);
                        reply(ex, 200, "application/json", server.faults().rules().toJson());
                    }
                    case "DELETE" -> {
                        server.faults().rules().clear();
                        reply(ex, 200, "application/json", "[]\n");
                    }
                    default -> throw new HttpError(405, "method not allowed");
                }
            }
            default -> {
                if ((m = FAIL.matcher(path)).matches()) {
                    failPoint(ex, method, m.group(1), body);
                } else if ((m = REGION_OP.matcher(path)).matches()) {
                    only(method, "POST");
                    regionOp(ex, Long.parseLong(m.group(1)), m.group(2), parse(body.isBlank() ? "{}" : body));
                } else if ((m = FAULT.matcher(path)).matches()) {
                    boolean ok;
                    if (m.group(2) != null) {
                        only(method, "POST");
                        ok = server.faults().rules().release(m.group(1));
                    } else {
                        only(method, "DELETE");
                        ok = server.faults().rules().remove(m.group(1));
                    }
                    if (!ok) {
                        throw new HttpError(404, "no fault rule named " + m.group(1));
                    }
                    reply(ex, 200, "application/json", server.faults().rules().toJson());
                } else {
                    throw new HttpError(404, "not found: " + path);
                }
            }
        }
    }

    private void failPoint(HttpExchange ex, String method, String name, String body) throws IOException {
        FailPoints fp = server.faults().failPoints();
        switch (method) {
            case "GET" -> reply(ex, 200, "text/plain; charset=utf-8",
                    fp.get(name).orElseThrow(() -> new HttpError(404, "failpoint " + name + " is not set")) + "\n");
            case "PUT", "POST" -> {
                if (body.isBlank()) {
                    throw new HttpError(400, "the body must hold the actions, e.g. return(boom)");
                }
                fp.set(name, body.trim());
                reply(ex, 200, "text/plain; charset=utf-8", body.trim() + "\n");
            }
            case "DELETE" -> {
                if (!fp.remove(name)) {
                    throw new HttpError(404, "failpoint " + name + " is not set");
                }
                reply(ex, 200, "text/plain; charset=utf-8", "removed\n");
            }
            default -> throw new HttpError(405, "method not allowed");
        }
    }

    private void regionOp(HttpExchange ex, long id, String op, JsonNode n) throws IOException {
        Region r = server.regions().get(id);
        if (r == null) {
            throw new HttpError(404, "region " + id + " not found");
        }
        Region out;
        if (op.equals("leader")) {
            if (!n.hasNonNull("store")) {
                throw new HttpError(400, "expected {\"store\": <store id>}");
            }
            long store = n.get("store").asLong();
            if (store <= 0) {
                throw new HttpError(400, "store must be > 0");
            }
            server.regions().addPeer(id, store);
            out = server.regions().transferLeader(id, store);
        } else {
            long confVer = n.path("conf_ver").asLong(r.confVer());
            long version = n.has("version") ? n.get("version").asLong() : r.version() + 1;
            out = server.regions().setEpoch(id, confVer, version);
        }
        json(ex, 200, regionNode(out));
    }

    private static ObjectNode regionNode(Region r) {
        ObjectNode o = OM.createObjectNode();
        o.put("id", r.id());
        o.put("start_key", HexFormat.of().formatHex(r.startKey()));
        o.put("end_key", HexFormat.of().formatHex(r.endKey()));
        o.put("start_key_raw", rawOrNull(r.startKey()));
        o.put("end_key_raw", rawOrNull(r.endKey()));
        ObjectNode e = o.putObject("region_epoch");
        e.put("conf_ver", r.confVer());
        e.put("version", r.version());
        ArrayNode peers = o.putArray("peers");
        for (Peer p : r.peers()) {
            ObjectNode po = peers.addObject();
            po.put("id", p.id());
            po.put("store_id", p.storeId());
        }
        o.put("leader_store_id", r.leaderStoreId());
        return o;
    }

    /** The memcomparable-decoded key in hex, or null when the boundary is not a memcomparable key. */
    private static String rawOrNull(byte[] k) {
        if (k.length == 0) {
            return "";
        }
        try {
            return HexFormat.of().formatHex(BytesCodec.decode(k));
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static byte[] hex(String s) {
        try {
            return HexFormat.of().parseHex(s.trim());
        } catch (IllegalArgumentException e) {
            throw new HttpError(400, "not hex: " + s);
        }
    }

    private static JsonNode parse(String body) {
        try {
            JsonNode n = OM.readTree(body.isBlank() ? "{}" : body);
            return n == null ? OM.createObjectNode() : n;
        } catch (IOException e) {
            throw new HttpError(400, "invalid JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> nested(Map<String, Object> flat) {
        Map<String, Object> root = new LinkedHashMap<>();
        flat.forEach((k, v) -> {
            String[] parts = k.split("\\.");
            Map<String, Object> cur = root;
            for (int i = 0; i < parts.length - 1; i++) {
                cur = (Map<String, Object>) cur.computeIfAbsent(parts[i], x -> new LinkedHashMap<String, Object>());
            }
            cur.put(parts[parts.length - 1], v);
        });
        return root;
    }

    private static void only(String method, String allowed) {
        if (!method.equals(allowed)) {
            throw new HttpError(405, "method not allowed (use " + allowed + ")");
        }
    }

    private static void json(HttpExchange ex, int code, JsonNode n) throws IOException {
        reply(ex, code, "application/json", OM.writerWithDefaultPrettyPrinter().writeValueAsString(n) + "\n");
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

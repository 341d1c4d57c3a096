package dev.faketikv.pd;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import dev.faketikv.engine.region.Region;
import java.io.IOException;
import java.io.InputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.tikv.kvproto.Metapb;

/**
 * PD 5.4's HTTP API as far as BR 5.4 and its tools use it ({@code docs/BR-5.4-CALLS.md}), on the PD port next
 * to gRPC ({@link PdServer} routes the bytes). Mirrors {@code server/api/router.go} and the handlers it names;
 * JSON shapes are PD's, written compactly. Paths:
 * <ul>
 *   <li>{@code GET /pd/api/v1/version} ({@code {"version":"v5.4.0"}}), {@code GET /pd/api/v1/config/cluster-version}
 *       (a JSON string), {@code GET /pd/api/v1/health};</li>
 *   <li>{@code GET /pd/api/v1/stats/region?start_key=&end_key=} ({@code count} = regions overlapping the range,
 *       keys URL-escaped in region-key form);</li>
 *   <li>{@code GET|POST /pd/api/v1/config/schedule}, {@code GET /pd/api/v1/schedulers[?status=paused]},
 *       {@code POST /pd/api/v1/schedulers/{name}} {@code {"delay":N}} ({@link PdScheduleState});</li>
 *   <li>{@code GET /pd/api/v1/store/{id}}, {@code GET /pd/api/v1/stores} ({@code api/store.go} {@code StoreInfo});</li>
 *   <li>{@code GET /pd/api/v1/config/rules}, {@code GET /pd/api/v1/config/rule/{group}/{id}},
 *       {@code GET /pd/api/v1/config/placement-rule}: PD's default placement rule (group {@code pd}, id
 *       {@code default}, 3 voters over the whole key space) — the only one, as nothing sets others;</li>
 *   <li>{@code POST /pd/api/v1/admin/reset-ts} {@code {"tso":"<u64>"}} ({@link PdService#resetTs});</li>
 *   <li>fake-tikv's own {@code GET /fake/journal} ({@link PdJournal}).</li>
 * </ul>
 * A known path with another method answers 405, an unknown path 404. Errors carry PD's status and text: a JSON
 * string ({@code rd.JSON(w, code, err.Error())}), or for an undecodable body 400 with {@code errcode}'s
 * {@code {"code":"input","msg":…}} ({@code pkg/apiutil/apiutil.go} {@code ReadJSONRespondError}).
 *
 * <p>Thread-safe: state lives in {@link PdService} and {@link PdScheduleState}; handlers keep none.
 */
public final class PdHttpApi {
    private static final ObjectMapper OM = new ObjectMapper();
    private static final String V1 = "/pd/api/v1";
    /** Largest request body read. */
    static final int MAX_BODY = 1 << 20;
    /** PD's default {@code max-replicas}: the default rule's voter count. */
    private static final int DEFAULT_REPLICAS = 3;

    private final PdService service;
    private final PdJournal journal;
    private final PdScheduleState schedule;
    private final String version;
    private final Supplier<String> clientUrl;

    /** Wiring of the API: what it reads and changes. */
    public record Parts(PdService service, PdJournal journal, PdScheduleState schedule, String version, Supplier<String> clientUrl) {}

    public PdHttpApi(Parts p) {
        this.service = p.service();
        this.journal = p.journal();
        this.schedule = p.schedule();
        this.version = p.version();
        this.clientUrl = p.clientUrl();
    }

    /** An answer: status and body (JSON). */
    record Reply(int status, String body) {
        static Reply ok(Object json) {
            return new Reply(200, write(json));
        }

        static Reply text(int status, String message) {
            return new Reply(status, write(message));
        }
    }

    private static String write(Object json) {
        try {
            return OM.writeValueAsString(json);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The {@link com.sun.net.httpserver.HttpHandler}: routes, answers, closes. */
    public void handle(HttpExchange ex) throws IOException {
        try (ex) {
            Reply r;
            try {
                r = route(ex.getRequestMethod(), ex.getRequestURI().getPath(), ex.getRequestURI().getRawQuery(), ex.getRequestBody());
            } catch (RuntimeException e) {
                r = Reply.text(500, String.valueOf(e.getMessage()));
            }
            byte[] b = r.body().getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "application/json; charset=UTF-8");
            ex.sendResponseHeaders(r.status(), b.length);
            ex.getResponseBody().write(b);
        }
    }

    Reply route(String method, String path, String rawQuery, InputStream body) throws IOException {
        boolean get = method.equals("GET");
        boolean post = method.equals("POST");
        switch (path) {
            case V1 + "/version" -> {
                return get ? new Reply(200, "{\"version\":\"v" + version + "\"}") : notAllowed();
            }
            case V1 + "/config/cluster-version" -> {
                return get ? new Reply(200, "\"" + version + "\"") : notAllowed();
            }
            case "/fake/journal" -> {
                return get ? new Reply(200, journal.toJson()) : notAllowed();
            }
            case V1 + "/health" -> {
                return get ? new Reply(200, "[{\"name\":\"fake-pd\",\"member_id\":1,\"client_urls\":[\"" + clientUrl.get()
                        + "\"],\"health\":true}]") : notAllowed();
            }
            case V1 + "/stats/region" -> {
                return get ? regionStats(query(rawQuery)) : notAllowed();
            }
            case V1 + "/config/schedule" -> {
                if (get) {
                    return Reply.ok(schedule.schedule());
                }
                return post ? setSchedule(read(body)) : notAllowed();
            }
            case V1 + "/schedulers" -> {
                if (!get) {
                    return notAllowed();
                }
                String status = query(rawQuery).getOrDefault("status", "");
                // a nil Go slice: "paused" with none paused is null
                return status.equals("paused") ? Reply.ok(schedule.paused().isEmpty() ? null : schedule.paused())
                        : Reply.ok(schedule.schedulers());
            }
            case V1 + "/stores" -> {
                return get ? stores() : notAllowed();
            }
            case V1 + "/config/rules" -> {
                return get ? Reply.ok(List.of(defaultRule())) : notAllowed();
            }
            case V1 + "/config/placement-rule" -> {
                if (!get) {
                    return notAllowed();
                }
                ObjectNode bundle = JsonNodeFactory.instance.objectNode().put("group_id", "pd").put("group_index", 0)
                        .put("group_override", false);
                bundle.putArray("rules").add(defaultRule());
                return Reply.ok(List.of(bundle));
            }
            case V1 + "/admin/reset-ts" -> {
                return post ? resetTs(read(body)) : notAllowed();
            }
            default -> {
                // the parameterised paths
            }
        }
        if (path.startsWith(V1 + "/schedulers/")) {
            return post ? pauseOrResume(path.substring((V1 + "/schedulers/").length()), read(body)) : notAllowed();
        }
        if (path.startsWith(V1 + "/store/") && path.indexOf('/', (V1 + "/store/").length()) < 0) {
            return get ? store(path.substring((V1 + "/store/").length())) : notAllowed();
        }
        if (path.startsWith(V1 + "/config/rule/")) {
            String[] gi = path.substring((V1 + "/config/rule/").length()).split("/", -1);
            if (gi.length == 2) {
                if (!get) {
                    return notAllowed();
                }
                // rulesHandler.Get: 404 with a null body for a rule that does not exist
                return gi[0].equals("pd") && gi[1].equals("default") ? Reply.ok(defaultRule()) : new Reply(404, "null");
            }
        }
        return new Reply(404, "{\"error\":\"no such path: " + path.replace("\"", "") + "\"}");
    }

    private static Reply notAllowed() {
        return new Reply(405, "{\"error\":\"method not allowed\"}");
    }

    /** The body, at most {@link #MAX_BODY} bytes (more is a bad request). */
    private static String read(InputStream in) throws IOException {
        byte[] b = in.readNBytes(MAX_BODY + 1);
        if (b.length > MAX_BODY) {
            throw new IllegalArgumentException("request body over " + MAX_BODY + " bytes");
        }
        return new String(b, StandardCharsets.UTF_8);
    }

    /** {@code errcode}'s JSON for an invalid input, status 400. */
    private static Reply badInput(String msg) {
        ObjectNode n = JsonNodeFactory.instance.objectNode().put("code", "input").put("msg", msg);
        n.putObject("data");
        return new Reply(400, write(n));
    }

    private Reply regionStats(Map<String, String> q) {
        byte[] start = q.getOrDefault("start_key", "").getBytes(StandardCharsets.ISO_8859_1);
        byte[] end = q.getOrDefault("end_key", "").getBytes(StandardCharsets.ISO_8859_1);
        int count = service.regionCount(start, end);
        return new Reply(200, "{\"count\":" + count + ",\"empty_count\":0,\"storage_size\":0,\"storage_keys\":0}");
    }

    /** {@code confHandler.SetSchedule} ({@code server/api/config.go}). */
    private Reply setSchedule(String body) {
        try {
            schedule.updateSchedule(body);
        } catch (PdScheduleState.BadInput e) {
            return badInput(e.getMessage());
        } catch (PdScheduleState.Refused e) {
            return Reply.text(500, e.getMessage());
        }
        return Reply.ok("The config is updated.");
    }

    /** {@code schedulerHandler.PauseOrResume} ({@code server/api/scheduler.go}): body {@code map[string]int64}. */
    private Reply pauseOrResume(String name, String body) {
        JsonNode in;
        try {
            in = OM.readTree(body);
        } catch (IOException e) {
            return badInput("invalid character in JSON body: " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (in == null || in.isMissingNode()) {
            return badInput("unexpected end of JSON input");
        }
        if (!in.isObject() && !in.isNull()) {
            return badInput("json: cannot unmarshal " + (in.isArray() ? "array" : in.isTextual() ? "string" : "number")
                    + " into Go value of type map[string]int64");
        }
        JsonNode delay = in.get("delay");
        if (delay == null) {
            return Reply.text(400, "missing pause time");
        }
        if (!delay.isIntegralNumber() || !delay.canConvertToLong()) {
            return badInput("json: cannot unmarshal " + (delay.isNumber() ? "number " + delay.asText() : delay.isTextual() ? "string" : "bool")
                    + " into Go value of type int64");
        }
        try {
            schedule.pauseOrResume(name, delay.asLong());
        } catch (PdScheduleState.NotFound e) {
            return Reply.text(500, e.getMessage());
        }
        return Reply.ok("Pause or resume the scheduler successfully.");
    }

    /** {@code adminHandler.ResetTS} ({@code server/api/admin.go}). */
    private Reply resetTs(String body) {
        JsonNode in;
        try {
            in = OM.readTree(body);
        } catch (IOException e) {
            return badInput("invalid character in JSON body");
        }
        if (in == null || !in.isObject()) {
            return in == null || in.isMissingNode() ? badInput("unexpected end of JSON input")
                    : badInput("json: cannot unmarshal into Go value of type map[string]interface {}");
        }
        JsonNode tso = in.get("tso");
        if (tso == null || !tso.isTextual() || tso.asText().isEmpty()) {
            return Reply.text(400, "invalid tso value");
        }
        long ts;
        try {
            ts = Long.parseUnsignedLong(tso.asText());
        } catch (NumberFormatException e) {
            return Reply.text(400, "invalid tso value");
        }
        String err = service.resetTs(ts);
        if (err != null) {
            // PD 5.4 writes the 403 and its error, then (no return) its success text after it
            return new Reply(403, write(err) + write("Reset ts successfully."));
        }
        return Reply.ok("Reset ts successfully.");
    }

    /** {@code storeHandler.Get}: {@code {"store":{…metapb.Store, "state_name"},"status":{…}}}. */
    private Reply store(String idText) {
        long id;
        try {
            id = Long.parseUnsignedLong(idText);
        } catch (NumberFormatException e) {
            return badInput("strconv.ParseUint: parsing \"" + idText + "\": invalid syntax");
        }
        for (Metapb.Store s : service.stores()) {
            if (s.getId() == id) {
                return Reply.ok(storeInfo(s));
            }
        }
        return Reply.text(404, "store " + Long.toUnsignedString(id) + " not found");
    }

    private Reply stores() {
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        ArrayNode list = JsonNodeFactory.instance.arrayNode();
        for (Metapb.Store s : service.stores()) {
            if (s.getState() != Metapb.StoreState.Tombstone) {
                list.add(storeInfo(s));
            }
        }
        out.put("count", list.size());
        out.set("stores", list);
        return Reply.ok(out);
    }

    /** PD's {@code newStoreInfo}: the store as Go's {@code json} writes {@code metapb.Store} (zero values left out). */
    private ObjectNode storeInfo(Metapb.Store s) {
        ObjectNode store = JsonNodeFactory.instance.objectNode();
        store.put("id", s.getId());
        putNonEmpty(store, "address", s.getAddress());
        if (s.getLabelsCount() > 0) {
            ArrayNode labels = store.putArray("labels");
            s.getLabelsList().forEach(l -> labels.addObject().put("key", l.getKey()).put("value", l.getValue()));
        }
        putNonEmpty(store, "version", s.getVersion());
        putNonEmpty(store, "peer_address", s.getPeerAddress());
        putNonEmpty(store, "status_address", s.getStatusAddress());
        putNonEmpty(store, "git_hash", s.getGitHash());
        if (s.getStartTimestamp() != 0) {
            store.put("start_timestamp", s.getStartTimestamp());
        }
        putNonEmpty(store, "deploy_path", s.getDeployPath());
        if (s.getLastHeartbeat() != 0) {
            store.put("last_heartbeat", s.getLastHeartbeat());
        }
        if (s.getStateValue() != 0) {
            store.put("state", s.getStateValue());
        }
        store.put("state_name", s.getState() == Metapb.StoreState.UNRECOGNIZED ? "Unknown" : s.getState().name());
        int regionCount = 0;
        int leaderCount = 0;
        for (Region r : service.regionMap().all()) {
            if (r.peerOn(s.getId()) != null) {
                regionCount++;
                if (r.leaderStoreId() == s.getId()) {
                    leaderCount++;
                }
            }
        }
        ObjectNode status = JsonNodeFactory.instance.objectNode();
        status.put("capacity", "0B").put("available", "0B").put("used_size", "0B")
                .put("leader_count", leaderCount).put("leader_weight", 1).put("leader_score", leaderCount).put("leader_size", leaderCount)
                .put("region_count", regionCount).put("region_weight", 1).put("region_score", regionCount).put("region_size", regionCount)
                .put("slow_score", 0);
        ObjectNode info = JsonNodeFactory.instance.objectNode();
        info.set("store", store);
        info.set("status", status);
        return info;
    }

    private static void putNonEmpty(ObjectNode n, String k, String v) {
        if (!v.isEmpty()) {
            n.put(k, v);
        }
    }

    /** PD's default placement rule ({@code server/schedule/placement/rule_manager.go} {@code Initialize}). */
    private static ObjectNode defaultRule() {
        return JsonNodeFactory.instance.objectNode().put("group_id", "pd").put("id", "default").put("start_key", "")
                .put("end_key", "").put("role", "voter").put("count", DEFAULT_REPLICAS);
    }

    /** Query parameters; values are URL-decoded to bytes (ISO-8859-1 keeps every byte). */
    static Map<String, String> query(String raw) {
        Map<String, String> m = new HashMap<>();
        if (raw == null || raw.isEmpty()) {
            return m;
        }
        for (String kv : raw.split("&")) {
            int eq = kv.indexOf('=');
            String k = eq < 0 ? kv : kv.substring(0, eq);
            String v = eq < 0 ? "" : kv.substring(eq + 1);
            try {
                m.put(URLDecoder.decode(k, StandardCharsets.ISO_8859_1), URLDecoder.decode(v, StandardCharsets.ISO_8859_1));
            } catch (IllegalArgumentException e) {
                m.put(k, v);
            }
        }
        return m;
    }
}

package dev.faketikv.server.control;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import dev.faketikv.server.config.ReadableDuration;
import dev.faketikv.server.config.ReadableSize;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Protocol-aware fault rules: each rule is a {@code match}, an {@code action}, and optionally
 * {@code times} (how often it fires, default every time) and {@code probability} (default 1).
 *
 * <p>Rules file (TOML, {@code --faults FILE} or {@code PUT /faults} with TOML or JSON):
 * <pre>
 * [[rule]]
 * name = "busy-once"                      # optional; used by GET/DELETE /faults/{name} and release
 * match = { region = 3, request = 1 }     # region id, start/end (hex raw keys; the range must overlap),
 *                                         # store, request (1-based number), raw (bool), cf
 * action = "server_is_busy"
 * backoff-ms = 100
 * times = 1
 * probability = 1.0
 * </pre>
 *
 * <p>Actions and their parameters:
 * <ul>
 *   <li>region errors, answered for the matched region range instead of backing it up:
 *       {@code not_leader} ({@code leader-store}: the hinted leader's store), {@code epoch_not_match},
 *       {@code region_not_found}, {@code server_is_busy} ({@code reason}, {@code backoff-ms}),
 *       {@code stale_command};
 *   <li>{@code key_locked} ({@code lock-key}, {@code primary} hex, {@code lock-version}, {@code lock-ttl}):
 *       {@code kv_error.locked} for the range;
 *   <li>{@code storage_error} ({@code message}): the range's response carries {@code error.msg} =
 *       message, as a failed save does (e.g. BR's retryable "put object timeout" or fatal
 *       "Io(... PermissionDenied ...)");
 *   <li>{@code delay} ({@code duration}, e.g. "500ms"): the range (or, without a region/key match, the
 *       whole request) waits before it is served;
 *   <li>{@code hang}: the range (or request) waits until the rule is released
 *       ({@code POST /faults/{name}/release}) or removed, or the client leaves;
 *   <li>{@code grpc_status} ({@code code}, e.g. UNAVAILABLE; {@code message}): the call ends with that
 *       status when the matched range is reached (or at once, without a region/key match);
 *   <li>request-wide only: {@code cluster_id_mismatch} (answers {@code ClusterIDError}),
 *       {@code throttle} ({@code rate}, e.g. "1MB": bytes/s cap on the request's uploads).
 * </ul>
 *
 * Thread-safe: the rule list is an immutable list swapped atomically; counters are atomic. At request
 * start only the first request-wide rule that fires applies.
 */
public final class FaultRules {
    public enum Action {
        NOT_LEADER, EPOCH_NOT_MATCH, REGION_NOT_FOUND, SERVER_IS_BUSY, STALE_COMMAND, KEY_LOCKED,
        STORAGE_ERROR, DELAY, HANG, GRPC_STATUS, CLUSTER_ID_MISMATCH, THROTTLE;

        static Action parse(String s) {
            try {
                return valueOf(s.trim().toUpperCase(Locale.ROOT).replace('-', '_'));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unknown action '" + s + "' (one of "
                        + Arrays.stream(values()).map(a -> a.name().toLowerCase(Locale.ROOT)).toList() + ")");
            }
        }

        boolean requestOnly() {
            return this == CLUSTER_ID_MISMATCH || this == THROTTLE;
        }
    }

    private static final Set<String> MATCH_KEYS = Set.of("region", "start", "end", "store", "request", "raw", "cf");
    private static final Set<String> RULE_KEYS = Set.of("name", "match", "action", "times", "probability", "leader-store",
            "reason", "backoff-ms", "lock-key", "primary", "lock-version", "lock-ttl", "message", "duration", "code", "rate");

    /** What a rule matches; null fields match anything. Keys are raw (user) keys. */
    public record Match(Long region, byte[] start, byte[] end, Long store, Long request, Boolean raw, String cf) {
        boolean regionScoped() {
            return region != null || start != null || end != null;
        }
    }

    /** One rule. */
    public static final class Rule {
        private final String name;
        private final Match match;
        private final Action action;
        private final JsonNode params;
        private final AtomicLong remaining;
        private final double probability;
        private final AtomicLong fired = new AtomicLong();
        private volatile boolean released;

        Rule(String name, Match match, Action action, JsonNode params, long times, double probability) {
            this.name = name;
            this.match = match;
            this.action = action;
            this.params = params;
            this.remaining = new AtomicLong(times);
            this.probability = probability;
        }

        public String name() {
            return name;
        }

        public Action action() {
            return action;
        }

        public Match match() {
            return match;
        }

        public long fired() {
            return fired.get();
        }

        public boolean released() {
            return released;
        }

        public String text(String key, String dflt) {
            JsonNode n = params.get(key);
            return n == null || n.isNull() ? dflt : n.asText();
        }

        public long number(String key, long dflt) {
            JsonNode n = params.get(key);
            return n == null || n.isNull() ? dflt : n.isNumber() ? n.asLong() : Long.parseLong(n.asText().trim());
        }

        public byte[] hex(String key) {
            JsonNode n = params.get(key);
            return n == null ? null : HexFormat.of().parseHex(n.asText().trim());
        }

        public Duration duration() {
            return ReadableDuration.parse(text("duration", "1s"));
        }

        public long rate() {
            return ReadableSize.parse(text("rate", "1MB"));
        }

        /** Takes one firing (count and probability); false when the rule does not fire now. */
        boolean fire() {
            if (remaining.get() <= 0) {
                return false;
            }
            if (probability < 1.0 && ThreadLocalRandom.current().nextDouble() >= probability) {
                return false;
            }
            while (true) {
                long left = remaining.get();
                if (left <= 0) {
                    return false;
                }
                if (left == Long.MAX_VALUE || remaining.compareAndSet(left, left - 1)) {
                    fired.incrementAndGet();
                    return true;
                }
            }
        }

        ObjectNode toJson(ObjectMapper om) {
            ObjectNode o = om.createObjectNode();
            o.put("name", name);
            o.put("action", action.name().toLowerCase(Locale.ROOT));
            ObjectNode m = o.putObject("match");
            if (match.region() != null) {
                m.put("region", match.region());
            }
            if (match.start() != null) {
                m.put("start", HexFormat.of().formatHex(match.start()));
            }
            if (match.end() != null) {
                m.put("end", HexFormat.of().formatHex(match.end()));
            }
            if (match.store() != null) {
                m.put("store", match.store());
            }
            if (match.request() != null) {
                m.put("request", match.request());
            }
            if (match.raw() != null) {
                m.put("raw", match.raw());
            }
            if (match.cf() != null) {
                m.put("cf", match.cf());
            }
            long left = remaining.get();
            if (left != Long.MAX_VALUE) {
                o.put("times_left", left);
            }
            o.put("probability", probability);
            o.put("fired", fired.get());
            o.put("released", released);
            return o;
        }
    }

    /** Where a rule is evaluated: a request, or one region range of it. */
    public record Site(long request, long store, boolean raw, String cf, Long region, byte[] start, byte[] end) {}

    private volatile List<Rule> rules = List.of();

    /** Replaces every rule with those in {@code text} (TOML {@code [[rule]]} tables, or a JSON array/object). */
    public void replace(String text) {
        List<Rule> parsed = parse(text);
        synchronized (this) {
            rules.forEach(r -> r.released = true);
            rules = List.copyOf(parsed);
            notifyAll();
        }
    }

    public synchronized void clear() {
        rules.forEach(r -> r.released = true);
        rules = List.of();
        notifyAll();
    }

    /** Removes the named rule; false when there is none. Releases what it holds. */
    public synchronized boolean remove(String name) {
        for (Rule r : rules) {
            if (r.name.equals(name)) {
                r.released = true;
                List<Rule> next = new ArrayList<>(rules);
                next.remove(r);
                rules = List.copyOf(next);
                notifyAll();
                return true;
            }
        }
        return false;
    }

    /** Releases what a {@code hang} rule holds (the rule stays, used up). False when there is no such rule. */
    public synchronized boolean release(String name) {
        for (Rule r : rules) {
            if (r.name.equals(name)) {
                r.released = true;
                r.remaining.set(0);
                notifyAll();
                return true;
            }
        }
        return false;
    }

    public List<Rule> rules() {
        return rules;
    }

    /** The first rule of a request-wide kind that fires for {@code site} (no region fields). */
    public Rule forRequest(Site site) {
        for (Rule r : rules) {
            if (!r.match.regionScoped() && matchesCommon(r.match, site) && r.fire()) {
                return r;
            }
        }
        return null;
    }

    /** The first region-scoped rule that fires for the range in {@code site}. */
    public Rule forRange(Site site) {
        for (Rule r : rules) {
            if (r.action.requestOnly() || !r.match.regionScoped()) {
                continue;
            }
            Match m = r.match;
            if (!matchesCommon(m, site)) {
                continue;
            }
            if (m.region() != null && !m.region().equals(site.region())) {
                continue;
            }
            if ((m.start() != null || m.end() != null) && !overlaps(m.start(), m.end(), site.start(), site.end())) {
                continue;
            }
            if (r.fire()) {
                return r;
            }
        }
        return null;
    }

    private static boolean matchesCommon(Match m, Site s) {
        return (m.store() == null || m.store() == s.store())
                && (m.request() == null || m.request() == s.request())
                && (m.raw() == null || m.raw() == s.raw())
                && (m.cf() == null || m.cf().equals(s.cf()));
    }

    /** Whether [a1, a2) and [b1, b2) overlap; null/empty ends are unbounded. */
    static boolean overlaps(byte[] a1, byte[] a2, byte[] b1, byte[] b2) {
        boolean aEndsAfterB1 = a2 == null || a2.length == 0 || b1 == null || Arrays.compareUnsigned(a2, b1) > 0;
        boolean bEndsAfterA1 = b2 == null || b2.length == 0 || a1 == null || Arrays.compareUnsigned(b2, a1) > 0;
        return aEndsAfterB1 && bEndsAfterA1;
    }

    /** Waits until {@code rule} is released or {@code cancelled} turns true. */
    public void awaitRelease(Rule rule, java.util.function.BooleanSupplier cancelled) {
        synchronized (this) {
            while (!rule.released && !cancelled.getAsBoolean()) {
                try {
                    wait(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    /** The rules as JSON. */
    public String toJson() {
        ObjectMapper om = new ObjectMapper();
        ArrayNode a = om.createArrayNode();
        rules.forEach(r -> a.add(r.toJson(om)));
        try {
            return om.writerWithDefaultPrettyPrinter().writeValueAsString(a) + "\n";
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Parses rules; a bad one fails with a message naming the rule and the problem. */
    public static List<Rule> parse(String text) {
        JsonNode root;
        String t = text.trim();
        try {
            boolean json = t.startsWith("{") || t.matches("(?s)^\\[\\s*(\\{.*|\\])$");
            root = json ? new ObjectMapper().readTree(t) : new TomlMapper().readTree(t);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot parse fault rules: " + e.getMessage().lines().findFirst().orElse(""));
        }
        JsonNode list = root == null ? null : root.isArray() ? root : root.get("rule");
        if (list == null && root != null && root.has("rules")) {
            list = root.get("rules");
        }
        List<Rule> out = new ArrayList<>();
        if (list == null || list.isNull()) {
            return out;
        }
        if (!list.isArray()) {
            throw new IllegalArgumentException("fault rules: expected [[rule]] tables or a JSON array");
        }
        int i = 0;
        for (JsonNode n : list) {
            i++;
            String name = n.hasNonNull("name") ? n.get("name").asText() : "rule-" + i;
            try {
                out.add(parseRule(name, n));
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("fault rule '" + name + "': " + e.getMessage());
            }
        }
        return out;
    }

    private static Rule parseRule(String name, JsonNode n) {
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!RULE_KEYS.contains(k)) {
                throw new IllegalArgumentException("unknown key '" + k + "'");
            }
        }
        if (!n.hasNonNull("action")) {
            throw new IllegalArgumentException("missing action");
        }
        Action action = Action.parse(n.get("action").asText());
        JsonNode m = n.get("match");
        Match match;
        if (m == null || m.isNull()) {
            match = new Match(null, null, null, null, null, null, null);
        } else {
            for (Iterator<String> it = m.fieldNames(); it.hasNext(); ) {
                String k = it.next();
                if (!MATCH_KEYS.contains(k)) {
                    throw new IllegalArgumentException("unknown match key '" + k + "' (region, start, end, store, request, raw, cf)");
                }
            }
            match = new Match(
                    m.hasNonNull("region") ? m.get("region").asLong() : null,
                    m.hasNonNull("start") ? HexFormat.of().parseHex(m.get("start").asText()) : null,
                    m.hasNonNull("end") ? HexFormat.of().parseHex(m.get("end").asText()) : null,
                    m.hasNonNull("store") ? m.get("store").asLong() : null,
                    m.hasNonNull("request") ? m.get("request").asLong() : null,
                    m.hasNonNull("raw") ? m.get("raw").asBoolean() : null,
                    m.hasNonNull("cf") ? m.get("cf").asText() : null);
        }
        boolean rangeOnly = switch (action) {
            case NOT_LEADER, EPOCH_NOT_MATCH, REGION_NOT_FOUND, SERVER_IS_BUSY, STALE_COMMAND, KEY_LOCKED, STORAGE_ERROR -> true;
            default -> false;
        };
        if (rangeOnly && !match.regionScoped()) {
            throw new IllegalArgumentException(action.name().toLowerCase(Locale.ROOT)
                    + " answers a region range: give region or start/end in match");
        }
        if (action.requestOnly() && match.regionScoped()) {
            throw new IllegalArgumentException(action.name().toLowerCase(Locale.ROOT)
                    + " applies to a whole request: match it by store, request, raw or cf, not by region or keys");
        }
        long times = n.hasNonNull("times") ? n.get("times").asLong() : Long.MAX_VALUE;
        if (times <= 0) {
            throw new IllegalArgumentException("times must be > 0");
        }
        double p = n.hasNonNull("probability") ? n.get("probability").asDouble() : 1.0;
        if (!(p >= 0 && p <= 1)) {
            throw new IllegalArgumentException("probability must be in [0, 1]");
        }
        Rule r = new Rule(name, match, action, n, times, p);
        // validate the parameters the action will read
        switch (action) {
            case DELAY -> r.duration();
            case THROTTLE -> {
                if (r.rate() <= 0) {
                    throw new IllegalArgumentException("rate must be > 0");
                }
            }
            case GRPC_STATUS -> {
                io.grpc.Status.Code code = io.grpc.Status.Code.valueOf(r.text("code", "UNAVAILABLE").toUpperCase(Locale.ROOT));
                if (code == io.grpc.Status.Code.OK) {
                    throw new IllegalArgumentException("grpc_status needs an error code, not OK");
                }
            }
            case KEY_LOCKED -> {
                r.hex("lock-key");
                r.hex("primary");
            }
            default -> {
                // no required parameters
            }
        }
        return r;
    }

    /** Rules given as text in config files, for messages. */
    public static Map<String, String> actions() {
        Map<String, String> m = new java.util.LinkedHashMap<>();
        for (Action a : Action.values()) {
            m.put(a.name().toLowerCase(Locale.ROOT), a.requestOnly() ? "request" : "range or request");
        }
        return m;
    }
}

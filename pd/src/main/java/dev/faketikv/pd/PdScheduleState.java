package dev.faketikv.pd;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.LongSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.LinkedHashMap;

/**
 * PD 5.4's schedule configuration and its scheduler pause state, as the HTTP API shows and changes them
 * ({@link PdHttpApi}). Nothing schedules here: the state is kept so that a client such as BR
 * ({@code br/pkg/pdutil/pd.go} {@code RemoveSchedulersWithOrigin} / {@code restoreSchedulers}) reads back what
 * it set, as from PD.
 *
 * <p>Schedule config: PD's {@code server/config/config.go} {@code ScheduleConfig} with its v5.4.0 defaults, in
 * its JSON form (bools with the {@code ,string} tag are JSON strings {@code "true"}/{@code "false"}, durations
 * Go duration strings such as {@code "1h0m0s"}). {@link #updateSchedule} decodes a body as Go's
 * {@code json.Unmarshal} into that struct would (unknown keys ignored, {@code null} leaves a field alone, a
 * value of the wrong type fails the whole update with Go's message) and then applies
 * {@code ScheduleConfig.Validate}. PD 5.4's {@code POST /config/schedule} ignores {@code ttlSecond} (only
 * {@code POST /config} applies it), so every accepted change is permanent.
 *
 * <p>Schedulers: PD 5.4's default ones ({@code DefaultSchedulers}: balance-region, balance-leader,
 * hot-region, named as PD names them). A pause of {@code delay} seconds lasts until
 * {@code now + delay} on the injected clock, {@code delay 0} resumes
 * ({@code server/cluster/coordinator.go} {@code pauseOrResumeScheduler}); name {@code all} is every scheduler.
 *
 * <p>Thread-safe (every method synchronized).
 */
public final class PdScheduleState {
    /** The scheduler names a fresh PD 5.4 reports, in the order this facade lists them. */
    static final List<String> DEFAULT_SCHEDULERS = List.of("balance-hot-region-scheduler", "balance-leader-scheduler",
            "balance-region-scheduler");
    /** Scheduler types PD 5.4 registers ({@code server/schedulers/*.go} {@code init}); for {@code Validate}. */
    private static final Set<String> REGISTERED_TYPES = Set.of("adjacent-region", "balance-leader", "balance-region",
            "evict-leader", "evict-slow-store", "grant-hot-region", "grant-leader", "hot-region", "label", "random-merge",
            "scatter-range", "shuffle-hot-region", "shuffle-leader", "shuffle-region", "split-bucket");

    private enum Kind { U64, F64, STRING_BOOL, DURATION, STRING, OBJECT, SCHEDULERS, ANY }

    private static final ObjectMapper OM = new ObjectMapper();
    private static final BigInteger U64_MAX = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);
    private static final Pattern DURATION_PART = Pattern.compile("([0-9]*(?:\\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)");

    private final LongSupplier clockMillis;
    private final Map<String, Kind> kinds = new LinkedHashMap<>();
    private ObjectNode schedule;
    /** Scheduler name → paused until (seconds since the epoch; 0 = running). */
    private final Map<String, Long> delayUntil = new TreeMap<>();

    public PdScheduleState(LongSupplier clockMillis) {
        this.clockMillis = clockMillis;
        this.schedule = defaults();
        for (String s : DEFAULT_SCHEDULERS) {
            delayUntil.put(s, 0L);
        }
    }

    private ObjectNode defaults() {
        ObjectNode c = JsonNodeFactory.instance.objectNode();
        u64(c, "max-snapshot-count", 64);
        u64(c, "max-pending-peer-count", 64);
        u64(c, "max-merge-region-size", 20);
        u64(c, "max-merge-region-keys", 200000);
        put(c, "split-merge-interval", Kind.DURATION, "1h0m0s");
        put(c, "enable-one-way-merge", Kind.STRING_BOOL, "false");
        put(c, "enable-cross-table-merge", Kind.STRING_BOOL, "true");
        put(c, "patrol-region-interval", Kind.DURATION, "10ms");
        put(c, "max-store-down-time", Kind.DURATION, "30m0s");
        u64(c, "leader-schedule-limit", 4);
        put(c, "leader-schedule-policy", Kind.STRING, "count");
        u64(c, "region-schedule-limit", 2048);
        u64(c, "replica-schedule-limit", 64);
        u64(c, "merge-schedule-limit", 8);
        u64(c, "hot-region-schedule-limit", 4);
        u64(c, "hot-region-cache-hits-threshold", 3);
        kinds.put("store-limit", Kind.OBJECT);
        c.putObject("store-limit");
        f64(c, "tolerant-size-ratio", 0);
        f64(c, "low-space-ratio", 0.8);
        f64(c, "high-space-ratio", 0.7);
        put(c, "region-score-formula-version", Kind.STRING, "v2");
        u64(c, "scheduler-max-waiting-operator", 5);
        for (String k : List.of("enable-remove-down-replica", "enable-replace-offline-replica", "enable-make-up-replica",
                "enable-remove-extra-replica", "enable-location-replacement")) {
            put(c, k, Kind.STRING_BOOL, "true");
        }
        put(c, "enable-debug-metrics", Kind.STRING_BOOL, "false");
        put(c, "enable-joint-consensus", Kind.STRING_BOOL, "true");
        kinds.put("schedulers-v2", Kind.SCHEDULERS);
        ArrayNode s = c.putArray("schedulers-v2");
        for (String t : List.of("balance-region", "balance-leader", "hot-region")) {
            s.addObject().put("type", t).putNull("args").put("disable", false).put("args-payload", "");
        }
        kinds.put("schedulers-payload", Kind.ANY);
        c.putNull("schedulers-payload");
        put(c, "store-limit-mode", Kind.STRING, "manual");
        put(c, "hot-regions-write-interval", Kind.DURATION, "10m0s");
        u64(c, "hot-regions-reserved-days", 7);
        return c;
    }

    private void u64(ObjectNode c, String k, long v) {
        kinds.put(k, Kind.U64);
        c.put(k, v);
    }

    private void f64(ObjectNode c, String k, double v) {
        kinds.put(k, Kind.F64);
        c.set(k, float64(v));
    }

    /** A float64 as Go's {@code json} writes it: no {@code .0} on whole numbers. */
    private static JsonNode float64(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? JsonNodeFactory.instance.numberNode((long) v)
                : JsonNodeFactory.instance.numberNode(v);
    }

    private void put(ObjectNode c, String k, Kind kind, String v) {
        kinds.put(k, kind);
        c.put(k, v);
    }

    /** The schedule config as {@code GET /pd/api/v1/config/schedule} answers it. */
    public synchronized ObjectNode schedule() {
        return schedule.deepCopy();
    }

    /** A bad body: HTTP 400 with PD's {@code errcode} JSON ({@code apiutil.ReadJSONRespondError}). */
    public static final class BadInput extends Exception {
        BadInput(String msg) {
            super(msg);
        }
    }

    /** A body PD decoded but refused ({@code ScheduleConfig.Validate}): HTTP 500 with the text. */
    public static final class Refused extends Exception {
        Refused(String msg) {
            super(msg);
        }
    }

    /** Applies a {@code POST /pd/api/v1/config/schedule} body (any {@code ttlSecond} ignored, as PD 5.4 does). */
    public synchronized void updateSchedule(String body) throws BadInput, Refused {
        JsonNode in;
        try {
            in = OM.readTree(body);
        } catch (IOException e) {
            throw new BadInput("invalid character in JSON body: " + String.valueOf(e.getMessage()).lines().findFirst().orElse(""));
        }
        if (in == null || in.isMissingNode()) {
            throw new BadInput("unexpected end of JSON input");
        }
        if (in.isNull()) {
            return;
        }
        if (!in.isObject()) {
            throw new BadInput("json: cannot unmarshal " + goKind(in) + " into Go value of type config.ScheduleConfig");
        }
        ObjectNode next = schedule.deepCopy();
        for (Iterator<Map.Entry<String, JsonNode>> it = in.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            Kind kind = kinds.get(e.getKey());
            if (kind == null || e.getValue().isNull()) {
                continue;
            }
            next.set(e.getKey(), decode(e.getKey(), kind, e.getValue()));
        }
        validate(next);
        schedule = next;
    }

    private static JsonNode decode(String key, Kind kind, JsonNode v) throws BadInput {
        String field = "Go struct field ScheduleConfig." + key;
        switch (kind) {
            case U64 -> {
                if (!v.isNumber()) {
                    throw new BadInput("json: cannot unmarshal " + goKind(v) + " into " + field + " of type uint64");
                }
                BigInteger n;
                try {
                    n = v.decimalValue().toBigIntegerExact();
                } catch (ArithmeticException e) {
                    throw new BadInput("json: cannot unmarshal number " + v.asText() + " into " + field + " of type uint64");
                }
                if (n.signum() < 0 || n.compareTo(U64_MAX) > 0) {
                    throw new BadInput("json: cannot unmarshal number " + v.asText() + " into " + field + " of type uint64");
                }
                return JsonNodeFactory.instance.numberNode(n);
            }
            case F64 -> {
                if (!v.isNumber()) {
                    throw new BadInput("json: cannot unmarshal " + goKind(v) + " into " + field + " of type float64");
                }
                return float64(v.doubleValue());
            }
            case STRING_BOOL -> {
                if (!v.isTextual()) {
                    throw new BadInput("json: invalid use of ,string struct tag, trying to unmarshal unquoted value into bool");
                }
                if (!v.asText().equals("true") && !v.asText().equals("false")) {
                    throw new BadInput("json: invalid use of ,string struct tag, trying to unmarshal \"" + v.asText() + "\" into bool");
                }
                return v;
            }
            case DURATION -> {
                if (!v.isTextual()) {
                    throw new BadInput("json: cannot unmarshal " + goKind(v) + " into " + field + " of type typeutil.Duration");
                }
                return JsonNodeFactory.instance.textNode(goDuration(parseGoDuration(v.asText())));
            }
            case STRING -> {
                if (!v.isTextual()) {
                    throw new BadInput("json: cannot unmarshal " + goKind(v) + " into " + field + " of type string");
                }
                return v;
            }
            case OBJECT -> {
                if (!v.isObject()) {
                    throw new BadInput("json: cannot unmarshal " + goKind(v) + " into " + field + " of type map[uint64]config.StoreLimitConfig");
                }
                return v;
            }
            case SCHEDULERS -> {
                if (!v.isArray()) {
                    throw new BadInput("json: cannot unmarshal " + goKind(v) + " into " + field + " of type config.SchedulerConfigs");
                }
                return v;
            }
            default -> {
                return v;
            }
        }
    }

    /** {@code ScheduleConfig.Validate} ({@code server/config/config.go}), on the merged config. */
    private static void validate(ObjectNode c) throws Refused {
        double tolerant = c.get("tolerant-size-ratio").asDouble();
        double low = c.get("low-space-ratio").asDouble();
        double high = c.get("high-space-ratio").asDouble();
        if (tolerant < 0) {
            throw new Refused("tolerant-size-ratio should be non-negative");
        }
        if (low < 0 || low > 1) {
            throw new Refused("low-space-ratio should between 0 and 1");
        }
        if (high < 0 || high > 1) {
            throw new Refused("high-space-ratio should between 0 and 1");
        }
        if (low <= high) {
            throw new Refused("low-space-ratio should be larger than high-space-ratio");
        }
        for (JsonNode s : c.get("schedulers-v2")) {
            String type = s.path("type").asText("");
            if (!REGISTERED_TYPES.contains(type)) {
                throw new Refused("create func of " + type + " is not registered, maybe misspelled");
            }
        }
    }

    /** Go's {@code json} name for the kind of a value, as its unmarshal errors print it. */
    private static String goKind(JsonNode v) {
        if (v.isObject()) {
            return "object";
        }
        if (v.isArray()) {
            return "array";
        }
        if (v.isTextual()) {
            return "string";
        }
        if (v.isBoolean()) {
            return "bool";
        }
        return "number";
    }

    /** Go's {@code time.ParseDuration}, to nanoseconds. */
    static long parseGoDuration(String s) throws BadInput {
        String t = s;
        boolean neg = false;
        if (t.startsWith("-") || t.startsWith("+")) {
            neg = t.startsWith("-");
            t = t.substring(1);
        }
        if (t.equals("0")) {
            return 0;
        }
        Matcher m = DURATION_PART.matcher(t);
        int at = 0;
        double total = 0;
        while (at < t.length()) {
            if (!m.find(at) || m.start() != at || m.group(1).isEmpty() || m.group(1).equals(".")) {
                throw new BadInput("time: invalid duration \"" + s + "\"");
            }
            double n = Double.parseDouble(m.group(1));
            total += n * switch (m.group(2)) {
                case "ns" -> 1d;
                case "us", "µs", "μs" -> 1e3;
                case "ms" -> 1e6;
                case "s" -> 1e9;
                case "m" -> 60e9;
                default -> 3600e9;
            };
            at = m.end();
        }
        if (at == 0) {
            throw new BadInput("time: invalid duration \"" + s + "\"");
        }
        if (total > Long.MAX_VALUE) {
            throw new BadInput("time: invalid duration \"" + s + "\"");
        }
        return neg ? -(long) total : (long) total;
    }

    /** Go's {@code time.Duration.String}. */
    static String goDuration(long nanos) {
        if (nanos == 0) {
            return "0s";
        }
        String sign = nanos < 0 ? "-" : "";
        long d = Math.abs(nanos);
        if (d < 1_000_000_000L) {
            if (d < 1_000) {
                return sign + d + "ns";
            }
            if (d < 1_000_000) {
                return sign + frac(d, 1_000) + "µs";
            }
            return sign + frac(d, 1_000_000) + "ms";
        }
        long h = d / 3_600_000_000_000L;
        long rest = d % 3_600_000_000_000L;
        long m = rest / 60_000_000_000L;
        long ns = rest % 60_000_000_000L;
        StringBuilder b = new StringBuilder(sign);
        if (h > 0) {
            b.append(h).append('h');
        }
        if (h > 0 || m > 0) {
            b.append(m).append('m');
        }
        b.append(frac(ns, 1_000_000_000L)).append('s');
        return b.toString();
    }

    private static String frac(long v, long unit) {
        long whole = v / unit;
        long f = v % unit;
        if (f == 0) {
            return Long.toString(whole);
        }
        String digits = String.format("%0" + Long.toString(unit).length() + "d", f).substring(1).replaceAll("0+$", "");
        return whole + "." + digits;
    }

    // ---------------------------------------------------------------- schedulers

    /** {@code GET /pd/api/v1/schedulers}. */
    public synchronized List<String> schedulers() {
        return new ArrayList<>(delayUntil.keySet());
    }

    /** {@code GET /pd/api/v1/schedulers?status=paused}: those whose pause has not run out. */
    public synchronized List<String> paused() {
        long now = nowSeconds();
        List<String> out = new ArrayList<>();
        delayUntil.forEach((name, until) -> {
            if (now < until) {
                out.add(name);
            }
        });
        return out;
    }

    /** A scheduler name this PD does not run. */
    public static final class NotFound extends Exception {
        NotFound() {
            super("[PD:scheduler:ErrSchedulerNotFound]scheduler not found");
        }
    }

    /** Pauses {@code name} (or {@code all}) for {@code delaySeconds}, or resumes it when 0 or less. */
    public synchronized void pauseOrResume(String name, long delaySeconds) throws NotFound {
        List<String> names = name.equals("all") ? new ArrayList<>(delayUntil.keySet()) : List.of(name);
        if (!name.equals("all") && !delayUntil.containsKey(name)) {
            throw new NotFound();
        }
        long until = 0;
        if (delaySeconds > 0) {
            long now = nowSeconds();
            // Go's int64 addition wraps; a wrapped (negative) deadline is in the past, i.e. not paused
            until = now + delaySeconds;
        }
        for (String n : names) {
            delayUntil.put(n, until);
        }
    }

    private long nowSeconds() {
        return Math.floorDiv(clockMillis.getAsLong(), 1000);
    }
}

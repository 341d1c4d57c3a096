package dev.faketikv.server.config;

import java.util.Set;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * One typed configuration key: its TiKV name ({@code section.key}, kebab-case), default, parser and
 * validator, and a line of documentation. Modelled on Apache Ratis' typed config keys.
 *
 * @param name      full name, e.g. {@code backup.num-threads}
 * @param type      value type
 * @param dflt      default value
 * @param parser    turns a TOML/CLI/JSON value (String, Number, Boolean, List) into the type
 * @param validator accepts the parsed value
 * @param rule      what the validator demands, for the error message
 * @param doc       one line for humans
 */
public record ConfigKey<T>(String name, Class<T> type, T dflt, Function<Object, T> parser, Predicate<T> validator,
                           String rule, String doc) {

    public String section() {
        return name.substring(0, name.lastIndexOf('.'));
    }

    public String key() {
        return name.substring(name.lastIndexOf('.') + 1);
    }

    /** Parses and validates {@code raw}; a failure names this key. */
    public T parse(Object raw) {
        T value;
        try {
            value = parser.apply(raw);
        } catch (RuntimeException e) {
            throw new ConfigException(name + ": invalid value '" + raw + "': " + e.getMessage());
        }
        check(value);
        return value;
    }

    /**
     * Fails with TiKV's validate text when {@code value} breaks the rule: the key in TiKV's struct-field
     * spelling ({@code backup.num_threads}, as {@code BackupConfig::validate} writes it, {@code src/config.rs:2232-2245}
     * at b5262299) and the rule; rules TiKV itself has ({@link #TIKV_RULES}) word for word, the others
     * (fake-tikv's own) followed by the value given.
     */
    public void check(T value) {
        if (!validator.test(value)) {
            String text = tikvName() + " " + rule;
            throw new ConfigException(TIKV_RULES.contains(name) ? text : text + " (got " + value + ")");
        }
    }

    /** The keys whose rule and text are TiKV 5.4's own ({@code BackupConfig::validate}, {@code src/config.rs:2233-2245}). */
    private static final Set<String> TIKV_RULES = Set.of("backup.num-threads", "backup.batch-size",
            "backup.s3-multi-part-size");

    /** The name as TiKV's validate messages spell it: the section, then the field in snake case. */
    public String tikvName() {
        return section() + "." + key().replace('-', '_');
    }

    // ---- parsers shared by the key tables ----

    static long toLong(Object raw) {
        if (raw instanceof Number n) {
            if (n instanceof Double || n instanceof Float) {
                double d = n.doubleValue();
                if (d != Math.rint(d)) {
                    throw new IllegalArgumentException("not an integer");
                }
                return (long) d;
            }
            return n.longValue();
        }
        return Long.parseLong(raw.toString().trim());
    }

    static int toInt(Object raw) {
        long v = toLong(raw);
        if (v > Integer.MAX_VALUE || v < Integer.MIN_VALUE) {
            throw new IllegalArgumentException("out of range");
        }
        return (int) v;
    }

    static boolean toBool(Object raw) {
        if (raw instanceof Boolean b) {
            return b;
        }
        String s = raw.toString().trim();
        if (s.equals("true")) {
            return true;
        }
        if (s.equals("false")) {
            return false;
        }
        throw new IllegalArgumentException("not true or false");
    }

    static long toSize(Object raw) {
        return raw instanceof Number ? toLong(raw) : ReadableSize.parse(raw.toString());
    }

    static java.time.Duration toDuration(Object raw) {
        return ReadableDuration.parse(raw.toString());
    }
}

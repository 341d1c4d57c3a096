package dev.faketikv.server.config;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * TiKV's {@code ReadableDuration}: a duration written as a sequence of number+unit parts, e.g.
 * {@code "60s"}, {@code "1m30s"}, {@code "500ms"}, {@code "1h"}. Units: ms, s, m, h, d.
 */
public final class ReadableDuration {
    private static final Pattern PART = Pattern.compile("(\\d+(?:\\.\\d+)?)(ms|s|m|h|d)");

    private ReadableDuration() {}

    public static Duration parse(String text) {
        String s = text.trim();
        Matcher m = PART.matcher(s);
        int pos = 0;
        double millis = 0;
        while (pos < s.length()) {
            if (!m.find(pos) || m.start() != pos) {
                throw new IllegalArgumentException("'" + text + "' is not a duration (e.g. 60s, 1m30s, 500ms)");
            }
            double n = Double.parseDouble(m.group(1));
            millis += switch (m.group(2)) {
                case "ms" -> n;
                case "s" -> n * 1e3;
                case "m" -> n * 60e3;
                case "h" -> n * 3600e3;
                default -> n * 86400e3;
            };
            pos = m.end();
        }
        if (pos == 0) {
            throw new IllegalArgumentException("'" + text + "' is not a duration (e.g. 60s, 1m30s, 500ms)");
        }
        return Duration.ofMillis((long) millis);
    }

    public static String format(Duration d) {
        long ms = d.toMillis();
        if (ms % 3_600_000 == 0 && ms > 0) {
            return ms / 3_600_000 + "h";
        }
        if (ms % 60_000 == 0 && ms > 0) {
            return ms / 60_000 + "m";
        }
        if (ms % 1000 == 0) {
            return ms / 1000 + "s";
        }
        return ms + "ms";
    }
}

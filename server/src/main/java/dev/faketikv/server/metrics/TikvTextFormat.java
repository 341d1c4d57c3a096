package dev.faketikv.server.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.distribution.CountAtBucket;
import io.micrometer.core.instrument.distribution.HistogramSnapshot;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * Writes meters in the Prometheus text format (0.0.4) the way TiKV's metrics library writes it
 * (rust-prometheus 0.13's {@code TextEncoder}, which TiKV's status server serves at {@code /metrics}), so
 * that TiKV's own dashboards and alerts query fake-tikv under the same names:
 *
 * <pre>
 * # HELP tikv_backup_error_counter Total number of backup errors
 * # TYPE tikv_backup_error_counter counter
 * tikv_backup_error_counter{error="not_leader"} 2
 * # TYPE tikv_import_download_bytes histogram
 * tikv_import_download_bytes_bucket{le="1024"} 0
 * ...
 * tikv_import_download_bytes_bucket{le="+Inf"} 3
 * tikv_import_download_bytes_sum 4711
 * tikv_import_download_bytes_count 3
 * </pre>
 *
 * <ul>
 *   <li>The meter's name is written as registered (it must already be the Prometheus name, with
 *       underscores); counters get no {@code _total}, histograms no {@code _max}.</li>
 *   <li>Families in name order, series in label order, labels by name with {@code le} last; values as
 *       Rust prints an {@code f64} ({@code 3}, {@code 0.25}, {@code +Inf}).</li>
 *   <li>Timers are written in seconds; a histogram's buckets are its service-level objectives,
 *       cumulative, as Prometheus histograms are.</li>
 * </ul>
 *
 * Stateless; reads each meter's current value once.
 */
public final class TikvTextFormat {
    private TikvTextFormat() {
    }

    /** Every meter of {@code registry}, as TiKV's {@code /metrics} writes them. */
    public static String write(MeterRegistry registry) {
        Map<String, List<Meter>> families = new TreeMap<>();
        for (Meter m : registry.getMeters()) {
            families.computeIfAbsent(m.getId().getName(), k -> new ArrayList<>()).add(m);
        }
        StringBuilder out = new StringBuilder();
        for (Map.Entry<String, List<Meter>> f : families.entrySet()) {
            List<Meter> series = f.getValue();
            series.sort(Comparator.comparing(m -> labels(m.getId().getTags(), null)));
            Meter first = series.get(0);
            String name = f.getKey();
            String help = first.getId().getDescription();
            if (help != null) {
                out.append("# HELP ").append(name).append(' ').append(escapeHelp(help)).append('\n');
            }
            out.append("# TYPE ").append(name).append(' ').append(type(first)).append('\n');
            for (Meter m : series) {
                List<Tag> tags = m.getId().getTags();
                if (m instanceof Counter c) {
                    sample(out, name, labels(tags, null), c.count());
                } else if (m instanceof Gauge g) {
                    sample(out, name, labels(tags, null), g.value());
                } else if (m instanceof Timer t) {
                    histogram(out, name, tags, t.takeSnapshot(), true);
                } else if (m instanceof DistributionSummary s) {
                    histogram(out, name, tags, s.takeSnapshot(), false);
                }
            }
        }
        return out.toString();
    }

    private static String type(Meter m) {
        if (m instanceof Counter) {
            return "counter";
        }
        if (m instanceof Timer || m instanceof DistributionSummary) {
            return "histogram";
        }
        return "gauge";
    }

    private static void histogram(StringBuilder out, String name, List<Tag> tags, HistogramSnapshot snap, boolean seconds) {
        for (CountAtBucket b : snap.histogramCounts()) {
            double bound = seconds ? b.bucket(TimeUnit.SECONDS) : b.bucket();
            sample(out, name + "_bucket", labels(tags, number(bound)), b.count());
        }
        sample(out, name + "_bucket", labels(tags, "+Inf"), snap.count());
        sample(out, name + "_sum", labels(tags, null), seconds ? snap.total(TimeUnit.SECONDS) : snap.total());
        sample(out, name + "_count", labels(tags, null), snap.count());
    }

    private static void sample(StringBuilder out, String name, String labels, double value) {
        out.append(name).append(labels).append(' ').append(number(value)).append('\n');
    }

    /** {@code {a="x",b="y",le="…"}}, labels by name and {@code le} last; empty without labels. */
    private static String labels(List<Tag> tags, String le) {
        List<Tag> sorted = new ArrayList<>(tags);
        sorted.sort(Comparator.comparing(Tag::getKey));
        if (sorted.isEmpty() && le == null) {
            return "";
        }
        StringBuilder b = new StringBuilder("{");
        for (Tag t : sorted) {
            if (b.length() > 1) {
                b.append(',');
            }
            b.append(t.getKey()).append("=\"").append(escapeValue(t.getValue())).append('"');
        }
        if (le != null) {
            if (b.length() > 1) {
                b.append(',');
            }
            b.append("le=\"").append(le).append('"');
        }
        return b.append('}').toString();
    }

    /** A number as Rust's {@code Display} for {@code f64} writes it: no exponent, no trailing {@code .0}. */
    static String number(double v) {
        if (Double.isNaN(v)) {
            return "NaN";
        }
        if (Double.isInfinite(v)) {
            return v > 0 ? "+Inf" : "-Inf";
        }
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            return Long.toString((long) v);
        }
        return BigDecimal.valueOf(v).toPlainString();
    }

    private static String escapeHelp(String s) {
        return s.replace("\\", "\\\\").replace("\n", "\\n");
    }

    private static String escapeValue(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }
}

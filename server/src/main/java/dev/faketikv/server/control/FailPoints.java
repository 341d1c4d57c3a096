package dev.faketikv.server.control;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Named failpoints with the action syntax of the {@code fail} crate (fail-rs), which TiKV's status
 * server exposes under {@code /fail/{name}} when built with failpoints.
 *
 * <p>An action string is one or more tasks joined by {@code ->}; a task is
 * {@code [<pct>%][<cnt>*]<type>[(<arg>)]} with type {@code off}, {@code return}, {@code sleep(ms)},
 * {@code delay(ms)}, {@code pause}, {@code yield}, {@code print(msg)} or {@code panic(msg)}. On each
 * evaluation the first task whose count is not used up and whose probability draw succeeds runs;
 * with none, nothing happens. {@code pause} blocks the evaluating thread until the failpoint is set
 * again or removed.
 *
 * <p>fake-tikv's failpoints (see {@link #NAMES}) are evaluated by the backup workers; {@code return(msg)}
 * makes the step fail with {@code msg} as the error text. Thread-safe.
 */
public final class FailPoints {
    private static final Logger LOG = LoggerFactory.getLogger(FailPoints.class);
    private static final Pattern TASK = Pattern.compile(
            "^(?:(\\d+(?:\\.\\d+)?)%)?(?:(\\d+)\\*)?(off|return|sleep|delay|pause|yield|print|panic)(?:\\((.*)\\))?$");

    /** Where fake-tikv evaluates failpoints, and what {@code return(msg)} does there. */
    public static final Map<String, String> NAMES = Map.of(
            "backup_before_scan", "before a scan worker backs up a region range: return(msg) fails that range with msg",
            "backup_region", "per region range, after the region checks and before the scan: return(msg) fails it",
            "backup_before_save", "before a save worker uploads a file group: return(msg) fails the save with msg",
            "backup_after_save", "after a file group is uploaded, before its response is built: return(msg) fails it",
            "backup_before_response", "before any response is sent: sleep/pause delay it; return(msg) replaces it with an error msg",
            "import_download", "ImportSST Download, before the file is read: sleep/pause delay it; return(msg) fails it with msg",
            "import_before_ingest", "ImportSST Ingest/MultiIngest, before the region checks: sleep/pause delay it; return(msg) fails it",
            "import_write_stall", "ImportSST Ingest/MultiIngest in normal mode: return answers ServerIsBusy 'too many sst files are ingesting' (TiKV's write-stall check)");

    /** A failpoint hit that asked to panic. */
    public static final class FailPointPanic extends RuntimeException {
        private static final long serialVersionUID = 1L;

        FailPointPanic(String message) {
            super(message);
        }
    }

    private record Task(double probability, AtomicLong remaining, String type, String arg) {}

    private record Config(String text, List<Task> tasks, long version) {}

    private final Map<String, Config> points = new TreeMap<>();
    private final Map<String, Integer> paused = new java.util.HashMap<>();
    private long versions;

    /** Parses {@code actions}; throws IllegalArgumentException naming the bad task. */
    static List<Task> parse(String actions) {
        List<Task> out = new ArrayList<>();
        for (String part : actions.split("->")) {
            String t = part.trim();
            Matcher m = TASK.matcher(t);
            if (!m.matches()) {
                throw new IllegalArgumentException("invalid failpoint action '" + t
                        + "' (expected [<pct>%][<cnt>*]<off|return|sleep|delay|pause|yield|print|panic>[(<arg>)])");
            }
            double pct = m.group(1) == null ? 100 : Double.parseDouble(m.group(1));
            if (pct > 100) {
                throw new IllegalArgumentException("invalid failpoint action '" + t + "': probability over 100%");
            }
            long count = m.group(2) == null ? Long.MAX_VALUE : Long.parseLong(m.group(2));
            String type = m.group(3);
            String arg = m.group(4);
            if ((type.equals("sleep") || type.equals("delay")) && (arg == null || !arg.trim().matches("\\d+"))) {
                throw new IllegalArgumentException("invalid failpoint action '" + t + "': " + type + " needs milliseconds");
            }
            out.add(new Task(pct / 100.0, new AtomicLong(count), type, arg));
        }
        return out;
    }

    /** Sets (or replaces) the actions of {@code name}; wakes threads paused on it. */
    public synchronized void set(String name, String actions) {
        List<Task> tasks = parse(actions);
        points.put(name, new Config(actions.trim(), tasks, ++versions));
        notifyAll();
    }

    /** Removes {@code name}; returns whether it was set. Wakes threads paused on it. */
    public synchronized boolean remove(String name) {
        boolean had = points.remove(name) != null;
        notifyAll();
        return had;
    }

    /** The action string of {@code name}, if set. */
    public synchronized Optional<String> get(String name) {
        Config c = points.get(name);
        return c == null ? Optional.empty() : Optional.of(c.text());
    }

    /** Every set failpoint and its actions. */
    public synchronized Map<String, String> list() {
        Map<String, String> out = new TreeMap<>();
        points.forEach((k, v) -> out.put(k, v.text()));
        return out;
    }

    /**
     * Evaluates {@code name}: runs the chosen task and returns its {@code return} value (empty string for
     * a bare {@code return}), or empty when the failpoint is off, unset, or the task does not return.
     */
    public Optional<String> eval(String name) {
        return eval(name, () -> false);
    }

    /**
     * {@link #eval(String)} for a caller that may be cancelled: {@code sleep}/{@code delay} and {@code pause}
     * end early once {@code cancelled} turns true (checked every 100 ms).
     */
    public Optional<String> eval(String name, java.util.function.BooleanSupplier cancelled) {
        Config c;
        synchronized (this) {
            c = points.get(name);
        }
        if (c == null) {
            return Optional.empty();
        }
        for (Task t : c.tasks()) {
            if (!take(t)) {
                continue;
            }
            switch (t.type()) {
                case "off" -> {
                    return Optional.empty();
                }
                case "return" -> {
                    return Optional.of(t.arg() == null ? "" : t.arg());
                }
                case "sleep", "delay" -> sleep(Long.parseLong(t.arg().trim()), cancelled);
                case "pause" -> pause(name, c.version(), cancelled);
                case "yield" -> Thread.yield();
                case "print" -> LOG.info("failpoint {}: {}", name, t.arg() == null ? "" : t.arg());
                case "panic" -> throw new FailPointPanic("failpoint " + name + " panic" + (t.arg() == null ? "" : ": " + t.arg()));
                default -> {
                    // parse() admits no other type
                }
            }
            return Optional.empty();
        }
        return Optional.empty();
    }

    private static boolean take(Task t) {
        if (t.remaining().get() == 0) {
            return false;
        }
        if (t.probability() < 1.0 && ThreadLocalRandom.current().nextDouble() >= t.probability()) {
            return false;
        }
        while (true) {
            long left = t.remaining().get();
            if (left == 0) {
                return false;
            }
            if (left == Long.MAX_VALUE || t.remaining().compareAndSet(left, left - 1)) {
                return true;
            }
        }
    }

    /** Sleeps {@code ms} in slices, ending early when cancelled or interrupted. */
    public static void sleep(long ms, java.util.function.BooleanSupplier cancelled) {
        long until = System.nanoTime() + ms * 1_000_000L;
        for (long left = ms; left > 0 && !cancelled.getAsBoolean(); left = (until - System.nanoTime()) / 1_000_000L) {
            try {
                Thread.sleep(Math.min(left, 100));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Blocks until {@code name} is set again (a newer version) or removed, or the caller is cancelled. */
    private synchronized void pause(String name, long version, java.util.function.BooleanSupplier cancelled) {
        paused.merge(name, 1, Integer::sum);
        try {
            pauseLocked(name, version, cancelled);
        } finally {
            paused.merge(name, -1, Integer::sum);
        }
    }

    /** How many threads are held by a {@code pause} at {@code name} right now (tests wait on it). */
    public synchronized int paused(String name) {
        return paused.getOrDefault(name, 0);
    }

    private void pauseLocked(String name, long version, java.util.function.BooleanSupplier cancelled) {
        while (!cancelled.getAsBoolean()) {
            Config now = points.get(name);
            if (now == null || now.version() != version) {
                return;
            }
            try {
                wait(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Removes every failpoint (wakes every paused thread). */
    public synchronized void clear() {
        points.clear();
        notifyAll();
    }
}

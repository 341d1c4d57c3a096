package dev.faketikv.client.br;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * BR's pause of PD's schedulers and schedule limits during a restore, and its undo: a port of
 * {@code br/pkg/pdutil/pd.go} {@code RemoveSchedulersWithOrigin} / {@code pauseSchedulersAndConfigWith} /
 * {@code restoreSchedulers} (BR 5.4), over PD's HTTP API.
 *
 * <p>{@link #pause}: {@code GET /pd/api/v1/config/schedule} (saves the 7 keys BR changes), {@code GET
 * /pd/api/v1/schedulers}, {@code POST /pd/api/v1/schedulers/<name>} {@code {"delay":300}} for each of BR's
 * schedulers PD runs, then {@code POST /pd/api/v1/config/schedule?ttlSecond=300} with BR's values (merge off,
 * limits × stores capped at 40, location replacement off, pending peers unlimited); both repeated every 100 s
 * until {@link Paused#close}. One difference from BR 5.4: the delay is 300 seconds, where BR 5.4 sends
 * {@code int64(5 * time.Minute)} (nanoseconds, read by PD as seconds: fixed after 5.4), so a killed br leaves
 * the schedulers paused for 5 minutes, not for millennia.
 *
 * <p>{@link Paused#close}: stops the keeper, resumes each paused scheduler ({@code {"delay":0}}) and posts the
 * saved values with {@code ttlSecond=0}; best effort, as BR's (a failure is returned as text, not thrown).
 *
 * <p>Not thread-safe: one restore uses one instance.
 */
final class PdSchedulers {
    private static final ObjectMapper OM = new ObjectMapper();
    /** {@code pdutil.Schedulers}. */
    static final Set<String> BR_SCHEDULERS = Set.of("balance-leader-scheduler", "balance-hot-region-scheduler", "balance-region-scheduler",
            "shuffle-leader-scheduler", "shuffle-region-scheduler", "shuffle-hot-region-scheduler");
    /** {@code pdutil.expectPDCfg}'s keys. */
    static final List<String> CONFIG_KEYS = List.of("max-merge-region-keys", "max-merge-region-size", "leader-schedule-limit",
            "region-schedule-limit", "max-snapshot-count", "enable-location-replacement", "max-pending-peer-count");
    static final long PAUSE_SECONDS = 300;

    private PdSchedulers() {}

    /** What was paused and what to put back. */
    static final class Paused implements AutoCloseable {
        private final PdClient pd;
        final List<String> schedulers;
        final ObjectNode origin;
        private final ScheduledExecutorService keeper;
        private boolean closed;

        private Paused(PdClient pd, List<String> schedulers, ObjectNode origin, ObjectNode disable) {
            this.pd = pd;
            this.schedulers = schedulers;
            this.origin = origin;
            this.keeper = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "br-pause-schedulers");
                t.setDaemon(true);
                return t;
            });
            keeper.scheduleAtFixedRate(() -> {
                try {
                    pauseAll(pd, schedulers, PAUSE_SECONDS);
                    post(pd, "/pd/api/v1/config/schedule?ttlSecond=" + PAUSE_SECONDS, disable.toString());
                } catch (RuntimeException ignored) {
                    // as BR: ignored, tried again at the next tick
                }
            }, PAUSE_SECONDS / 3, PAUSE_SECONDS / 3, TimeUnit.SECONDS);
        }

        /** Resumes and restores; null when all went through, else what failed. */
        String undo() {
            if (closed) {
                return null;
            }
            closed = true;
            keeper.shutdownNow();
            List<String> failed = new ArrayList<>();
            for (String s : schedulers) {
                try {
                    post(pd, "/pd/api/v1/schedulers/" + s, "{\"delay\":0}");
                } catch (RuntimeException e) {
                    failed.add("resume " + s + ": " + e.getMessage());
                }
            }
            try {
                post(pd, "/pd/api/v1/config/schedule?ttlSecond=0", origin.toString());
            } catch (RuntimeException e) {
                failed.add("restore schedule config: " + e.getMessage());
            }
            return failed.isEmpty() ? null : String.join("; ", failed);
        }

        @Override
        public void close() {
            undo();
        }
    }

    /** {@code RemoveSchedulersWithOrigin}: pauses and returns the undo. A failure before anything was paused is thrown. */
    static Paused pause(PdClient pd, int storeCount) {
        JsonNode cfg = read(pd.httpGet("/pd/api/v1/config/schedule"));
        ObjectNode origin = OM.createObjectNode();
        ObjectNode disable = OM.createObjectNode();
        for (String k : CONFIG_KEYS) {
            JsonNode v = cfg.get(k);
            if (v == null) {
                continue;
            }
            origin.set(k, v);
            switch (k) {
                case "max-merge-region-keys", "max-merge-region-size" -> disable.put(k, 0);
                case "enable-location-replacement" -> disable.put(k, "false");
                case "max-pending-peer-count" -> disable.put(k, Integer.MAX_VALUE);
                default -> disable.put(k, (long) Math.min(40, v.asDouble() * storeCount));
            }
        }
        List<String> names = new ArrayList<>();
        for (JsonNode n : read(pd.httpGet("/pd/api/v1/schedulers"))) {
            if (BR_SCHEDULERS.contains(n.asText())) {
                names.add(n.asText());
            }
        }
        List<String> paused = pauseAll(pd, names, PAUSE_SECONDS);
        Paused p = new Paused(pd, paused, origin, disable);
        try {
            post(pd, "/pd/api/v1/config/schedule?ttlSecond=" + PAUSE_SECONDS, disable.toString());
        } catch (RuntimeException e) {
            p.undo();
            throw e;
        }
        return p;
    }

    private static List<String> pauseAll(PdClient pd, List<String> names, long seconds) {
        List<String> done = new ArrayList<>();
        for (String s : names) {
            post(pd, "/pd/api/v1/schedulers/" + s, "{\"delay\":" + seconds + "}");
            done.add(s);
        }
        return done;
    }

    private static void post(PdClient pd, String path, String body) {
        PdClient.HttpAnswer a = pd.httpPost(path, body);
        if (a.status() != 200) {
            throw new BrException("[BR:PD:ErrPDInvalidResponse]invalid response from PD: [" + a.status() + "] " + a.body().trim() + " " + path);
        }
    }

    private static JsonNode read(String body) {
        try {
            return OM.readTree(body);
        } catch (IOException e) {
            throw new BrException("PD answered no JSON: " + body);
        }
    }

    /**
     * {@code pdutil.ResetTS} ({@code br/pkg/pdutil/utils.go}): {@code POST /pd/api/v1/admin/reset-ts}
     * {@code {"tso":"<ts>"}}; 200 and 403 (PD's TSO already past it) are both fine.
     */
    static void resetTs(PdClient pd, long ts) {
        String payload = "{\"tso\":\"" + Long.toUnsignedString(ts) + "\"}";
        PdClient.HttpAnswer a = pd.httpPost("/pd/api/v1/admin/reset-ts", payload);
        if (a.status() != 200 && a.status() != 403) {
            throw new BrException("[BR:PD:ErrPDInvalidResponse]pd resets TS failed: req=" + payload + ", resp=" + a.body().trim());
        }
    }
}

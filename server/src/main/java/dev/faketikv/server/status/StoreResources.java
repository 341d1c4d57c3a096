package dev.faketikv.server.status;

import static dev.faketikv.server.status.Response.OM;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.faketikv.server.config.TikvConfig;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code /metrics}, {@code /status} and {@code /config}: what TiKV's status server shows of a store, and
 * its online config change ({@code POST /config}, TiKV's {@code StatusServer::update_config},
 * {@code components/server/src/status_server/mod.rs}).
 */
final class StoreResources {
    private final StatusServer.Store store;

    StoreResources(StatusServer.Store store) {
        this.store = store;
    }

    List<Route> routes() {
        return List.of(
                Route.exact("/metrics").on(req -> new Response(200, "text/plain; version=0.0.4; charset=utf-8",
                        store.scrapeMetrics()), "GET"),
                Route.exact("/status").on(req -> Response.json(status()), "GET"),
                Route.exact("/config")
                        .on(req -> Response.json(OM.valueToTree(nested(effectiveConfig()))), "GET")
                        .on(this::updateConfig, "POST"));
    }

    /** What {@code GET /status} answers. */
    private ObjectNode status() {
        ObjectNode o = OM.createObjectNode();
        o.put("store_id", store.config().get(TikvConfig.STORE_ID));
        o.put("cluster_id", Long.toUnsignedString(store.config().get(TikvConfig.CLUSTER_ID)));
        o.put("addr", store.addr());
        o.put("status_addr", store.statusAddr());
        o.put("regions", store.regions().size());
        o.put("version", "5.4.0");
        o.put("busy_workers", store.busyWorkers());
        return o;
    }

    /** The config as {@code GET /config} shows it: every key, with the addresses actually bound. */
    private Map<String, Object> effectiveConfig() {
        Map<String, Object> m = store.config().toMap();
        m.put(TikvConfig.SERVER_ADDR.name(), store.addr());
        m.put(TikvConfig.STATUS_ADDR.name(), store.statusAddr());
        return m;
    }

    private Response updateConfig(Request req) {
        JsonNode n = req.json();
        if (!n.isObject()) {
            throw new HttpError(400, "expected a JSON object like {\"backup.num-threads\": 4}");
        }
        Map<String, Object> changes = new LinkedHashMap<>();
        TikvConfig.flatten("", n, changes);
        store.updateConfig(changes);
        ObjectNode o = OM.createObjectNode();
        o.set("changed", OM.valueToTree(changes.keySet()));
        return Response.json(o);
    }

    /** {@code a.b.c = v} as {@code {a: {b: {c: v}}}}, keeping key order. */
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
}

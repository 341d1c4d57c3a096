package dev.faketikv.server.status;

import static dev.faketikv.server.status.Response.OM;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.faketikv.engine.codec.BytesCodec;
import dev.faketikv.engine.region.Peer;
import dev.faketikv.engine.region.Region;
import dev.faketikv.engine.region.RegionMap;
import java.util.HexFormat;
import java.util.List;

/**
 * {@code /regions}: the region map, and fake-tikv's stand-ins for what PD and raftstore would do to it
 * (split, leader transfer, epoch change). Region JSON: {@code id}, hex {@code start_key}/{@code end_key},
 * their memcomparable-decoded {@code *_raw} (null when not memcomparable), {@code region_epoch},
 * {@code peers}, {@code leader_store_id}.
 */
final class RegionResources {
    private final RegionMap regions;

    RegionResources(RegionMap regions) {
        this.regions = regions;
    }

    List<Route> routes() {
        return List.of(
                Route.exact("/regions").on(req -> {
                    ArrayNode a = OM.createArrayNode();
                    regions.all().forEach(r -> a.add(regionNode(r)));
                    return Response.json(a);
                }, "GET"),
                Route.exact("/regions/split").on(this::split, "POST"),
                Route.pattern("^/regions/(\\d+)/leader$").on(req -> leader(id(req), req.json()), "POST"),
                Route.pattern("^/regions/(\\d+)/epoch$").on(req -> epoch(id(req), req.json()), "POST"));
    }

    private static long id(Request req) {
        return Long.parseLong(req.param(1));
    }

    private Response split(Request req) {
        JsonNode n = req.json();
        if (!n.hasNonNull("key")) {
            throw new HttpError(400, "expected {\"key\": \"<hex>\"}");
        }
        byte[] key = Request.hex(n.get("key").asText());
        if (!n.path("is_raw_kv").asBoolean(false)) {
            key = BytesCodec.encode(key);
        }
        Region[] lr = regions.split(key);
        ArrayNode a = OM.createArrayNode();
        a.add(regionNode(lr[0]));
        a.add(regionNode(lr[1]));
        return Response.json(a);
    }

    private Response leader(long id, JsonNode n) {
        existing(id);
        if (!n.hasNonNull("store")) {
            throw new HttpError(400, "expected {\"store\": <store id>}");
        }
        long store = n.get("store").asLong();
        if (store <= 0) {
            throw new HttpError(400, "store must be > 0");
        }
        regions.addPeer(id, store);
        return Response.json(regionNode(regions.transferLeader(id, store)));
    }

    private Response epoch(long id, JsonNode n) {
        Region r = existing(id);
        long confVer = n.path("conf_ver").asLong(r.confVer());
        long version = n.has("version") ? n.get("version").asLong() : r.version() + 1;
        return Response.json(regionNode(regions.setEpoch(id, confVer, version)));
    }

    private Region existing(long id) {
        Region r = regions.get(id);
        if (r == null) {
            throw new HttpError(404, "region " + id + " not found");
        }
        return r;
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
}

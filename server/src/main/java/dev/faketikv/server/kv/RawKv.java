package dev.faketikv.server.kv;

import dev.faketikv.engine.Cf;
import dev.faketikv.engine.Engine;
import dev.faketikv.engine.EngineIterator;
import dev.faketikv.engine.EngineSnapshot;
import dev.faketikv.engine.codec.Keys;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.List;
import java.util.Map;

/**
 * RawKV with {@code storage.api-version = 1}, as {@code Storage::raw_*} in {@code src/storage/mod.rs}
 * does it: a raw key {@code k} lives at {@code z ++ k} in the named CF (empty = {@code default};
 * {@code default}, {@code lock} and {@code write} allowed, else "invalid cf name: …", {@code rawkv_cf});
 * values are stored as sent (no TTL suffix: a non-zero TTL is refused with "ttl is not enabled, but get put
 * request with ttl"). Region clamping and key checks are the caller's ({@link RegionGuard}).
 *
 * <p>Thread-safe (RocksDB is); each call reads one snapshot or writes one atomic batch.
 */
final class RawKv {
    static final String TTL_NOT_ENABLED = "ttl is not enabled, but get put request with ttl";
    private final Engine engine;

    RawKv(Engine engine) {
        this.engine = engine;
    }

    /** The storage error of a raw request (sent in the response's {@code error} string). */
    static final class RawError extends RuntimeException {
        private static final long serialVersionUID = 1L;

        RawError(String message) {
            super(message, null, false, false);
        }
    }

    /** {@code rawkv_cf} for API V1. */
    static Cf cf(String name) {
        return switch (name) {
            case "", "default" -> Cf.DEFAULT;
            case "lock" -> Cf.LOCK;
            case "write" -> Cf.WRITE;
            default -> throw new RawError("invalid cf name: " + name);
        };
    }

    byte[] get(Cf cf, byte[] key) {
        try (EngineSnapshot s = engine.snapshot()) {
            return s.get(cf, Keys.dataKey(key));
        }
    }

    /** Values of {@code keys} in one snapshot, nulls for missing keys. */
    List<byte[]> batchGet(Cf cf, List<byte[]> keys) {
        List<byte[]> out = new ArrayList<>(keys.size());
        try (EngineSnapshot s = engine.snapshot()) {
            for (byte[] k : keys) {
                out.add(s.get(cf, Keys.dataKey(k)));
            }
        }
        return out;
    }

    /** Puts (value non-null) and deletes (value null), applied atomically. */
    void write(Cf cf, List<Map.Entry<byte[], byte[]>> ops) {
        try (Engine.Batch b = engine.batch()) {
            for (Map.Entry<byte[], byte[]> op : ops) {
                if (op.getValue() == null) {
                    b.delete(cf, Keys.dataKey(op.getKey()));
                } else {
                    b.put(cf, Keys.dataKey(op.getKey()), op.getValue());
                }
            }
            b.commit(false);
        }
    }

    /** Deletes every key in {@code [start, end)}. */
    void deleteRange(Cf cf, byte[] start, byte[] end) {
        byte[] lo = Keys.dataKey(start);
        byte[] hi = end.length == 0 ? new byte[] {Keys.DATA_PREFIX + 1} : Keys.dataKey(end);
        try (EngineSnapshot s = engine.snapshot(); EngineIterator it = s.iterator(cf, lo, hi); Engine.Batch b = engine.batch()) {
            for (it.seek(lo); it.valid(); it.next()) {
                b.delete(cf, it.key());
                if (b.count() >= 4096) {
                    b.commit(false);
                }
            }
            it.checkStatus();
            b.commit(false);
        }
    }

    /** A raw pair. */
    record Pair(byte[] key, byte[] value) {
    }

    /**
     * Up to {@code limit} pairs of {@code [lower, upper)} (empty upper = unbounded): ascending, or when
     * {@code reverse} the last {@code limit} descending (TiKV's {@code reverse_raw_scan}).
     */
    List<Pair> scan(Cf cf, byte[] lower, byte[] upper, int limit, boolean keyOnly, boolean reverse) {
        byte[] lo = Keys.dataKey(lower);
        byte[] hi = upper.length == 0 ? new byte[] {Keys.DATA_PREFIX + 1} : Keys.dataKey(upper);
        Deque<Pair> out = new ArrayDeque<>();
        if (limit <= 0) {
            return List.of();
        }
        try (EngineSnapshot s = engine.snapshot(); EngineIterator it = s.iterator(cf, lo, hi)) {
            for (it.seek(lo); it.valid(); it.next()) {
                out.addLast(new Pair(Keys.originKey(it.key()), keyOnly ? new byte[0] : it.value()));
                if (out.size() > limit) {
                    out.removeFirst();
                }
                if (!reverse && out.size() == limit) {
                    break;
                }
            }
            it.checkStatus();
        }
        List<Pair> list = new ArrayList<>(out);
        if (reverse) {
            Collections.reverse(list);
        }
        return list;
    }
}

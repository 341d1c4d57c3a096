package dev.faketikv.pd.cluster;

import dev.faketikv.engine.Cf;
import dev.faketikv.engine.Engine;
import dev.faketikv.engine.EngineIterator;
import dev.faketikv.engine.EngineSnapshot;
import dev.faketikv.engine.codec.Keys;
import dev.faketikv.engine.mvcc.EntryScanner;
import dev.faketikv.engine.mvcc.TxnEntry;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.TreeMap;

/** Reads what a cluster holds, to compare two clusters key by key. */
public final class ClusterData {
    private ClusterData() {}

    /** Txn data as a reader at {@code ts} sees it: user key (hex) → value (hex). */
    public static TreeMap<String, String> txnView(Engine engine, long ts) {
        TreeMap<String, String> out = new TreeMap<>();
        try (EngineSnapshot snap = engine.snapshot(); EntryScanner sc = new EntryScanner(snap, null, null, ts, 0, false)) {
            List<TxnEntry> batch = new ArrayList<>();
            boolean more;
            do {
                batch.clear();
                more = sc.nextBatch(batch, 1024);
                for (TxnEntry e : batch) {
                    out.put(HexFormat.of().formatHex(e.rawKey()), HexFormat.of().formatHex(e.value()));
                }
            } while (more);
        }
        return out;
    }

    /** Raw (API V1) data in {@code cf}: key (hex, no {@code z}) → value (hex). */
    public static TreeMap<String, String> rawView(Engine engine, Cf cf) {
        TreeMap<String, String> out = new TreeMap<>();
        try (EngineSnapshot snap = engine.snapshot();
             EngineIterator it = snap.iterator(cf, new byte[] {Keys.DATA_PREFIX}, new byte[] {Keys.DATA_PREFIX + 1})) {
            for (it.seekToFirst(); it.valid(); it.next()) {
                out.put(HexFormat.of().formatHex(Keys.originKey(it.key())), HexFormat.of().formatHex(it.value()));
            }
        }
        return out;
    }

    /** Fails naming the first difference (sizes, a missing or extra key, a different value), not the whole maps. */
    public static void assertSame(TreeMap<String, String> actual, TreeMap<String, String> expected) {
        if (actual.equals(expected)) {
            return;
        }
        StringBuilder sb = new StringBuilder("data differ: " + actual.size() + " keys, expected " + expected.size());
        for (var e : expected.entrySet()) {
            String v = actual.get(e.getKey());
            if (v == null) {
                sb.append("; first missing key ").append(e.getKey());
                break;
            }
            if (!v.equals(e.getValue())) {
                sb.append("; first different value at ").append(e.getKey());
                break;
            }
        }
        for (String k : actual.keySet()) {
            if (!expected.containsKey(k)) {
                sb.append("; first extra key ").append(k);
                break;
            }
        }
        throw new AssertionError(sb.toString());
    }

    /** Entries of any kind in {@code cf} (data keys only). */
    public static long count(Engine engine, Cf cf) {
        return rawView(engine, cf).size();
    }
}

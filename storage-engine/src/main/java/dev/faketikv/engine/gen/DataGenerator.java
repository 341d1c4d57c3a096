package dev.faketikv.engine.gen;

import dev.faketikv.engine.Cf;
import dev.faketikv.engine.Engine;
import dev.faketikv.engine.EngineIterator;
import dev.faketikv.engine.EngineSnapshot;
import dev.faketikv.engine.codec.BytesCodec;
import dev.faketikv.engine.codec.Keys;
import dev.faketikv.engine.mvcc.Lock;
import dev.faketikv.engine.mvcc.LockType;
import dev.faketikv.engine.mvcc.MvccWriter;
import dev.faketikv.engine.mvcc.WriteType;
import dev.faketikv.engine.region.RegionMap;
import dev.faketikv.engine.tidb.TidbSchema;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Writes deterministic seed data described by a {@link SeedSpec} into an engine and splits the region
 * map to match. Same spec, same bytes.
 *
 * <p>Txn data: TiDB record keys {@code t{table}_r{handle}}; version layer {@code v} (0-based) is one
 * transaction with start_ts {@link #startTs(int)} and commit_ts {@link #commitTs(int)} (TSO form,
 * physical ms from 2022-01-25 plus 1 s per layer). The delete layer is layer {@code versions}; pending
 * locks use start_ts {@code startTs(versions + 1)}. With {@code db}, TiDB's schema of the tables
 * ({@link #tidbSchema}) is one more transaction, layer -1, before the rows. Raw data: keys {@code prefix + %012d} in the chosen CF.
 *
 * <p>A spec already applied to the engine (recorded in CF {@code meta}) is skipped. Not thread-safe.
 */
public final class DataGenerator {
    /** 2022-01-25T00:00:00Z, TiKV v5.4.0's release day. */
    public static final long BASE_PHYSICAL_MS = 1_643_068_800_000L;
    private static final long FLUSH_BYTES = 8L << 20;
    private static final byte[] ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".getBytes(StandardCharsets.US_ASCII);

    private DataGenerator() {}

    /** What a seed wrote. */
    public record Result(SeedSpec spec, boolean skipped, long rows, long visibleKvs, long regionsAfter, long maxTs) {}

    /** TSO of {@code physicalMs} with logical part {@code logical}. */
    public static long tso(long physicalMs, long logical) {
        return (physicalMs << 18) | logical;
    }

    public static long startTs(int layer) {
        return tso(BASE_PHYSICAL_MS + 1000L * layer, 0);
    }

    public static long commitTs(int layer) {
        return tso(BASE_PHYSICAL_MS + 1000L * layer, 1);
    }

    /**
     * Applies the seeds a store starts with, once per data dir: on a new data dir all of them; on one seeded
     * before, only when they are the seeds it was seeded with (then nothing is written again). A different
     * seed would merge new rows into the old ones without a word, so it is refused, naming both.
     *
     * @throws IllegalArgumentException when the data dir holds other seeds than {@code specs}
     */
    public static List<Result> applyAll(Engine engine, RegionMap regions, List<SeedSpec> specs) {
        List<String> before = appliedSeeds(engine);
        if (!specs.isEmpty() && !before.isEmpty()) {
            List<String> asked = specs.stream().map(SeedSpec::text).toList();
            if (!before.containsAll(asked)) {
                throw new IllegalArgumentException("the data dir " + engine.dir().getParent() + " was seeded with " + before
                        + ", not " + asked + ": use a new --data-dir, the same --seed, or no --seed to serve what it holds");
            }
        }
        List<Result> out = new ArrayList<>();
        for (SeedSpec spec : specs) {
            out.add(apply(engine, regions, spec));
        }
        return out;
    }

    /** The seed specs applied to this engine so far, in key order. */
    public static List<String> appliedSeeds(Engine engine) {
        byte[] lower = SEED_MARKER.getBytes(StandardCharsets.UTF_8);
        byte[] upper = Keys.prefixNext(lower);
        List<String> out = new ArrayList<>();
        try (EngineSnapshot snap = engine.snapshot(); EngineIterator it = snap.iterator(Cf.META, lower, upper)) {
            for (it.seek(lower); it.valid(); it.next()) {
                out.add(new String(it.key(), StandardCharsets.UTF_8).substring(SEED_MARKER.length()));
            }
            it.checkStatus();
        }
        return out;
    }

    private static final String SEED_MARKER = "seed/";

    /** Applies {@code spec} unless it was applied before. */
    public static Result apply(Engine engine, RegionMap regions, SeedSpec spec) {
        byte[] marker = (SEED_MARKER + spec.text()).getBytes(StandardCharsets.UTF_8);
        if (engine.get(Cf.META, marker) != null) {
            return new Result(spec, true, 0, 0, regions.size(), 0);
        }
        Result r = spec.kind() == SeedSpec.Kind.TXN ? txn(engine, regions, spec) : raw(engine, regions, spec);
        try (Engine.Batch b = engine.batch()) {
            b.put(Cf.META, marker, new byte[] {1});
            b.commit(true);
        }
        return r;
    }

    /** TiDB's schema a txn spec with {@code db} writes (tables {@code t{id}}, created at {@code commitTs(-1)}), or null. */
    public static TidbSchema tidbSchema(SeedSpec spec) {
        if (spec.kind() != SeedSpec.Kind.TXN || spec.string("db", null) == null) {
            return null;
        }
        long first = spec.longParam("table-id", 100);
        List<TidbSchema.Table> tables = new ArrayList<>();
        for (int i = 0; i < spec.intParam("tables", 1); i++) {
            tables.add(new TidbSchema.Table(first + i, "t" + (first + i)));
        }
        return new TidbSchema(spec.dbId(), spec.string("db", null), tables, commitTs(-1));
    }

    /** The raw TiDB key of row {@code row} (0-based) of a txn spec. */
    public static byte[] txnRowKey(SeedSpec spec, long row) {
        long rows = spec.longParam("rows", 10000);
        int tables = spec.intParam("tables", 1);
        long perTable = (rows + tables - 1) / tables;
        long table = spec.longParam("table-id", 100) + row / perTable;
        return Keys.tidbRecordKey(table, row % perTable + 1);
    }

    /** The raw key of key {@code i} of a raw spec. */
    public static byte[] rawKey(SeedSpec spec, long i) {
        return (spec.string("key-prefix", "r") + String.format("%012d", i)).getBytes(StandardCharsets.US_ASCII);
    }

    private static Result txn(Engine engine, RegionMap regions, SeedSpec spec) {
        long rows = spec.longParam("rows", 10000);
        int valueSize = spec.intParam("value-size", 64);
        int longSize = spec.intParam("long-value-size", 1024);
        double longRatio = spec.doubleParam("long-ratio", 0);
        int versions = spec.intParam("versions", 1);
        double deletes = spec.doubleParam("deletes", 0);
        long locks = spec.longParam("locks", 0);
        SplittableRandom rnd = new SplittableRandom(spec.longParam("seed", 0));
        long visible = 0;
        long maxTs = 0;
        try (Engine.Batch batch = engine.batch()) {
            MvccWriter w = new MvccWriter(batch);
            TidbSchema schema = tidbSchema(spec);
            if (schema != null) {
                for (TidbSchema.Kv kv : schema.kvs()) {
                    w.put(kv.key(), kv.value(), startTs(-1), commitTs(-1));
                }
            }
            for (long row = 0; row < rows; row++) {
                byte[] key = txnRowKey(spec, row);
                for (int v = 0; v < versions; v++) {
                    int size = rnd.nextDouble() < longRatio ? longSize : valueSize;
                    w.put(key, value(rnd, size), startTs(v), commitTs(v));
                }
                maxTs = commitTs(versions - 1);
                if (deletes > 0 && rnd.nextDouble() < deletes) {
                    w.write(key, WriteType.DELETE, startTs(versions), commitTs(versions));
                    maxTs = commitTs(versions);
                } else {
                    visible++;
                }
                if (batch.dataSize() >= FLUSH_BYTES) {
                    batch.commit(false);
                }
            }
            if (locks > 0) {
                long step = Math.max(1, rows / locks);
                byte[] primary = txnRowKey(spec, 0);
                for (long i = 0; i < locks && i * step < rows; i++) {
                    byte[] key = txnRowKey(spec, i * step);
                    Lock lock = Lock.prewrite(LockType.PUT, primary, startTs(versions + 1), 3000, value(rnd, Math.min(valueSize, 255)), locks);
                    w.lock(key, lock, null);
                }
                maxTs = Math.max(maxTs, startTs(versions + 1));
            }
            batch.commit(true);
        }
        int n = spec.intParam("regions", 1);
        List<byte[]> splits = new ArrayList<>();
        for (int i = 1; i < n; i++) {
            splits.add(BytesCodec.encode(txnRowKey(spec, rows * i / n)));
        }
        splitWhereNew(regions, splits);
        return new Result(spec, false, rows, visible, regions.size(), maxTs);
    }

    private static Result raw(Engine engine, RegionMap regions, SeedSpec spec) {
        long keys = spec.longParam("keys", 10000);
        int valueSize = spec.intParam("value-size", 64);
        Cf cf = Cf.ofDataCf(spec.string("cf", "default")).orElseThrow();
        SplittableRandom rnd = new SplittableRandom(spec.longParam("seed", 0));
        try (Engine.Batch batch = engine.batch()) {
            for (long i = 0; i < keys; i++) {
                batch.put(cf, Keys.dataKey(rawKey(spec, i)), value(rnd, valueSize));
                if (batch.dataSize() >= FLUSH_BYTES) {
                    batch.commit(false);
                }
            }
            batch.commit(true);
        }
        int n = spec.intParam("regions", 1);
        List<byte[]> splits = new ArrayList<>();
        for (int i = 1; i < n; i++) {
            splits.add(rawKey(spec, keys * i / n));
        }
        splitWhereNew(regions, splits);
        return new Result(spec, false, keys, keys, regions.size(), 0);
    }

    private static void splitWhereNew(RegionMap regions, List<byte[]> splits) {
        List<byte[]> fresh = new ArrayList<>();
        for (byte[] k : splits) {
            if (!java.util.Arrays.equals(regions.locate(k).startKey(), k)) {
                fresh.add(k);
            }
        }
        if (!fresh.isEmpty()) {
            regions.splitAll(fresh);
        }
    }

    private static byte[] value(SplittableRandom rnd, int size) {
        byte[] v = new byte[size];
        for (int i = 0; i < size; i++) {
            v[i] = ALNUM[rnd.nextInt(ALNUM.length)];
        }
        return v;
    }
}

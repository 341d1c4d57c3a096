package dev.faketikv.engine.gen;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A seed-data specification, {@code kind:key=value,key=value,...}. Kinds and keys:
 *
 * <pre>
 * txn:  rows=10000         rows in all (spread evenly over the tables)
 *       tables=1           TiDB tables, ids table-id, table-id+1, ...
 *       table-id=100       first table id
 *       regions=1          regions the rows are split into (split at row boundaries)
 *       value-size=64      bytes of a value (values of at most 255 bytes stay inline in the write CF)
 *       long-ratio=0       fraction of rows whose value is long-value-size bytes (stored in the default CF)
 *       long-value-size=1024
 *       versions=1         committed versions per row (one transaction per version layer)
 *       deletes=0          fraction of rows whose newest version is a Delete
 *       locks=0            pending Put locks (prewritten, not committed) on evenly spaced rows
 *       seed=0             random seed; the same spec always yields the same data
 *       db=                TiDB database the tables belong to: when set, TiDB 5.4's schema of the tables
 *                          (database, table infos t{id}, schema and bootstrap version) is written too
 *       db-id=             its id (default: table-id - 1, or the id after the last table when that is 0)
 * raw:  keys=10000         keys, named key-prefix + 12 decimal digits
 *       key-prefix=r
 *       regions=1
 *       value-size=64
 *       cf=default         default, write, lock or raft
 *       seed=0
 * </pre>
 *
 * Immutable.
 */
public record SeedSpec(Kind kind, Map<String, String> params, String text) {
    public enum Kind { TXN, RAW }

    private static final Set<String> TXN_KEYS = Set.of("rows", "tables", "table-id", "regions", "value-size",
            "long-ratio", "long-value-size", "versions", "deletes", "locks", "seed", "db", "db-id");
    private static final Set<String> RAW_KEYS = Set.of("keys", "key-prefix", "regions", "value-size", "cf", "seed");

    /** The seed {@code bin/fake-tikv demo} uses. */
    public static final String DEMO = "txn:rows=100000,regions=16,value-size=64,long-ratio=0.05,long-value-size=1024,versions=2,deletes=0.02,seed=7";

    public static SeedSpec parse(String text) {
        int colon = text.indexOf(':');
        String kindText = colon < 0 ? text : text.substring(0, colon);
        Kind kind = switch (kindText.trim()) {
            case "txn" -> Kind.TXN;
            case "raw" -> Kind.RAW;
            default -> throw new IllegalArgumentException("seed spec '" + text + "': kind must be txn or raw");
        };
        Map<String, String> params = new LinkedHashMap<>();
        if (colon >= 0 && colon + 1 < text.length()) {
            for (String part : text.substring(colon + 1).split(",")) {
                if (part.isBlank()) {
                    continue;
                }
                int eq = part.indexOf('=');
                if (eq <= 0) {
                    throw new IllegalArgumentException("seed spec '" + text + "': '" + part + "' is not key=value");
                }
                String key = part.substring(0, eq).trim();
                Set<String> allowed = kind == Kind.TXN ? TXN_KEYS : RAW_KEYS;
                if (!allowed.contains(key)) {
                    throw new IllegalArgumentException("seed spec '" + text + "': unknown key '" + key + "' for "
                            + kindText + " (known: " + new java.util.TreeSet<>(allowed) + ")");
                }
                params.put(key, part.substring(eq + 1).trim());
            }
        }
        SeedSpec spec = new SeedSpec(kind, Map.copyOf(params), text);
        spec.validate();
        return spec;
    }

    private void validate() {
        if (kind == Kind.TXN) {
            positive("rows", 10000);
            positive("tables", 1);
            positive("regions", 1);
            nonNegative("value-size", 64);
            positive("versions", 1);
            positive("long-value-size", 1024);
            nonNegative("locks", 0);
            fraction("long-ratio");
            fraction("deletes");
            if (intParam("regions", 1) > intParam("rows", 10000)) {
                throw new IllegalArgumentException("seed spec '" + text + "': regions must not exceed rows");
            }
            if (params.containsKey("db")) {
                long first = longParam("table-id", 100);
                long dbId = dbId();
                if (first <= 0 || string("db", "").isBlank() || dbId <= 0 || dbId >= first && dbId < first + intParam("tables", 1)) {
                    throw new IllegalArgumentException("seed spec '" + text + "': db needs a name, table-id > 0 and a db-id > 0 that is no table's id");
                }
            } else if (params.containsKey("db-id")) {
                throw new IllegalArgumentException("seed spec '" + text + "': db-id needs db");
            }
        } else {
            positive("keys", 10000);
            positive("regions", 1);
            nonNegative("value-size", 64);
            if (dev.faketikv.engine.Cf.ofDataCf(string("cf", "default")).isEmpty()) {
                throw new IllegalArgumentException("seed spec '" + text + "': cf must be default, write, lock or raft");
            }
            if (intParam("regions", 1) > intParam("keys", 10000)) {
                throw new IllegalArgumentException("seed spec '" + text + "': regions must not exceed keys");
            }
        }
        longParam("seed", 0);
    }

    private void positive(String key, long dflt) {
        if (longParam(key, dflt) <= 0) {
            throw new IllegalArgumentException("seed spec '" + text + "': " + key + " must be > 0");
        }
    }

    private void nonNegative(String key, long dflt) {
        if (longParam(key, dflt) < 0) {
            throw new IllegalArgumentException("seed spec '" + text + "': " + key + " must be >= 0");
        }
    }

    private void fraction(String key) {
        double v = doubleParam(key, 0);
        if (!(v >= 0 && v <= 1)) {
            throw new IllegalArgumentException("seed spec '" + text + "': " + key + " must be in [0, 1]");
        }
    }

    /** The id of the TiDB database of a txn spec with {@code db} (see the class doc). */
    public long dbId() {
        long first = longParam("table-id", 100);
        return longParam("db-id", first > 1 ? first - 1 : first + intParam("tables", 1));
    }

    public long longParam(String key, long dflt) {
        String v = params.get(key);
        if (v == null) {
            return dflt;
        }
        try {
            return Long.parseLong(v.replace("_", ""));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("seed spec '" + text + "': " + key + "=" + v + " is not an integer");
        }
    }

    public int intParam(String key, int dflt) {
        long v = longParam(key, dflt);
        if (v > Integer.MAX_VALUE || v < Integer.MIN_VALUE) {
            throw new IllegalArgumentException("seed spec '" + text + "': " + key + " is too large");
        }
        return (int) v;
    }

    public double doubleParam(String key, double dflt) {
        String v = params.get(key);
        if (v == null) {
            return dflt;
        }
        try {
            return Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("seed spec '" + text + "': " + key + "=" + v + " is not a number");
        }
    }

    public String string(String key, String dflt) {
        return params.getOrDefault(key, dflt);
    }
}

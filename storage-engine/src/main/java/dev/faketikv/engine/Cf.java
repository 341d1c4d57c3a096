package dev.faketikv.engine;

import java.util.Optional;

/**
 * The column families of TiKV's kv engine ({@code engine_traits::CF_DEFAULT/CF_LOCK/CF_WRITE/CF_RAFT})
 * plus {@code meta}, where fake-tikv keeps its region map (TiKV keeps region state in raft's
 * storage; a fake store needs only the map).
 */
public enum Cf {
    DEFAULT("default"),
    LOCK("lock"),
    WRITE("write"),
    RAFT("raft"),
    META("meta");

    private final String cfName;

    Cf(String cfName) {
        this.cfName = cfName;
    }

    /** The name RocksDB and TiKV use. */
    public String cfName() {
        return cfName;
    }

    /** A data CF a raw backup may name ({@code default}, {@code lock}, {@code write}, {@code raft}). */
    public static Optional<Cf> ofDataCf(String name) {
        for (Cf cf : values()) {
            if (cf != META && cf.cfName.equals(name)) {
                return Optional.of(cf);
            }
        }
        return Optional.empty();
    }
}

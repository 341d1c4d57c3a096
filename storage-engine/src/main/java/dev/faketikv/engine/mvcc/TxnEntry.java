package dev.faketikv.engine.mvcc;

/**
 * One output of the backup scanner: the chosen version of one user key, as TiKV's
 * {@code TxnEntry::Commit} carries it to the backup writer.
 *
 * @param rawKey       the raw (decoded) user key, without timestamp
 * @param writeKey     the write-CF data key ({@code z ++ memcomparable(key) ++ BE64(~commit_ts)})
 * @param writeValue   the write record exactly as stored
 * @param defaultKey   the default-CF data key, or null when the value is inline (or a delete)
 * @param defaultValue the default-CF value, or null
 * @param value        the logical user value (default value, short value, or empty for a delete)
 */
public record TxnEntry(byte[] rawKey, byte[] writeKey, byte[] writeValue, byte[] defaultKey, byte[] defaultValue,
                       byte[] value) {
    /** Whether the entry has a default-CF record (the KV is then accounted to the default file). */
    public boolean hasDefault() {
        return defaultKey != null;
    }
}

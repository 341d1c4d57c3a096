package dev.faketikv.engine.mvcc;

import dev.faketikv.engine.codec.NumberCodec;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * A lock-CF record, stored at {@code z ++ memcomparable(key)}.
 *
 * <p>Format (TiKV v5.4.0 {@code components/txn_types/src/lock.rs}): flag byte ({@link LockType}),
 * compact-bytes primary key, varint ts (start_ts), varint ttl, then optional fields:
 * {@code 'v'} short value, {@code 'f'} BE64 for_update_ts, {@code 't'} BE64 txn_size,
 * {@code 'c'} BE64 min_commit_ts, {@code 'a'} varint count + compact-bytes secondaries (async commit),
 * {@code 'r'} varint count + BE64 rollback timestamps. Zero-valued optional numbers are omitted.
 */
public record Lock(LockType type, byte[] primary, long ts, long ttl, byte[] shortValue, long forUpdateTs,
                   long txnSize, long minCommitTs, boolean useAsyncCommit, List<byte[]> secondaries,
                   List<Long> rollbackTs) {

    public Lock {
        secondaries = List.copyOf(secondaries);
        rollbackTs = List.copyOf(rollbackTs);
    }

    /** A plain optimistic prewrite lock. */
    public static Lock prewrite(LockType type, byte[] primary, long ts, long ttl, byte[] shortValue, long txnSize) {
        return new Lock(type, primary, ts, ttl, shortValue, 0, txnSize, 0, false, List.of(), List.of());
    }

    public byte[] toBytes() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(32 + primary.length);
        out.write(type.flag());
        NumberCodec.writeCompactBytes(out, primary);
        NumberCodec.writeVarU64(out, ts);
        NumberCodec.writeVarU64(out, ttl);
        if (shortValue != null) {
            out.write(Write.SHORT_VALUE_PREFIX);
            out.write(shortValue.length);
            out.write(shortValue, 0, shortValue.length);
        }
        if (forUpdateTs != 0) {
            out.write('f');
            NumberCodec.writeU64(out, forUpdateTs);
        }
        if (txnSize != 0) {
            out.write('t');
            NumberCodec.writeU64(out, txnSize);
        }
        if (minCommitTs != 0) {
            out.write('c');
            NumberCodec.writeU64(out, minCommitTs);
        }
        if (useAsyncCommit) {
            out.write('a');
            NumberCodec.writeVarU64(out, secondaries.size());
            for (byte[] k : secondaries) {
                NumberCodec.writeCompactBytes(out, k);
            }
        }
        if (!rollbackTs.isEmpty()) {
            out.write('r');
            NumberCodec.writeVarU64(out, rollbackTs.size());
            for (long t : rollbackTs) {
                NumberCodec.writeU64(out, t);
            }
        }
        return out.toByteArray();
    }

    public static Lock parse(byte[] b) {
        NumberCodec.Reader r = new NumberCodec.Reader(b, 0);
        LockType type = LockType.ofFlag(r.readByte());
        byte[] primary = r.readCompactBytes();
        long ts = r.readVarU64();
        long ttl = r.readVarU64();
        byte[] shortValue = null;
        long forUpdateTs = 0;
        long txnSize = 0;
        long minCommitTs = 0;
        boolean async = false;
        List<byte[]> secondaries = new ArrayList<>();
        List<Long> rollbackTs = new ArrayList<>();
        loop:
        while (r.hasRemaining()) {
            switch (r.readByte()) {
                case 'v' -> shortValue = r.readBytes(r.readByte());
                case 'f' -> forUpdateTs = r.readU64();
                case 't' -> txnSize = r.readU64();
                case 'c' -> minCommitTs = r.readU64();
                case 'a' -> {
                    async = true;
                    long n = r.readVarU64();
                    for (long i = 0; i < n; i++) {
                        secondaries.add(r.readCompactBytes());
                    }
                }
                case 'r' -> {
                    long n = r.readVarU64();
                    for (long i = 0; i < n; i++) {
                        rollbackTs.add(r.readU64());
                    }
                }
                default -> {
                    break loop;
                }
            }
        }
        return new Lock(type, primary, ts, ttl, shortValue, forUpdateTs, txnSize, minCommitTs, async, secondaries, rollbackTs);
    }

    /**
     * {@code Lock::check_ts_conflict} for a snapshot-isolation read at {@code readTs} with no bypassed
     * locks: true when this lock blocks the read.
     */
    public boolean blocksRead(byte[] rawKey, long readTs) {
        if (Long.compareUnsigned(ts, readTs) > 0 || type == LockType.LOCK || type == LockType.PESSIMISTIC) {
            return false;
        }
        if (Long.compareUnsigned(minCommitTs, readTs) > 0) {
            return false;
        }
        return !(readTs == -1L && java.util.Arrays.equals(rawKey, primary) && !useAsyncCommit);
    }
}

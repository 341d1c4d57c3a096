package dev.faketikv.engine.codec;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * CRC-64/XZ (also called CRC-64/GO-ECMA): ECMA-182 polynomial, reflected
 * ({@code 0xC96C5795D7870F42}), init and xor-out all ones. This is the digest of the
 * {@code crc64fast} crate TiKV v5.4.0 uses for backup's {@code crc64xor}
 * ({@code components/backup/src/writer.rs}) and the coprocessor checksum.
 *
 * <p>Slicing-by-8 over little-endian words. An instance is a running digest and is not thread-safe;
 * the tables are shared and immutable.
 */
public final class Crc64 {
    private static final long POLY = 0xC96C5795D7870F42L;
    private static final long[][] T = new long[8][256];
    private static final VarHandle LE_LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    static {
        for (int i = 0; i < 256; i++) {
            long c = i;
            for (int k = 0; k < 8; k++) {
                c = (c & 1) != 0 ? (c >>> 1) ^ POLY : c >>> 1;
            }
            T[0][i] = c;
        }
        for (int i = 0; i < 256; i++) {
            for (int t = 1; t < 8; t++) {
                long prev = T[t - 1][i];
                T[t][i] = (prev >>> 8) ^ T[0][(int) (prev & 0xFF)];
            }
        }
    }

    private long state = ~0L;

    /** Feeds {@code b}. */
    public Crc64 update(byte[] b) {
        return update(b, 0, b.length);
    }

    /** Feeds {@code b[off, off+len)}. */
    public Crc64 update(byte[] b, int off, int len) {
        long crc = state;
        int i = off;
        int end = off + len;
        while (end - i >= 8) {
            long x = crc ^ (long) LE_LONG.get(b, i);
            crc = T[7][(int) (x & 0xFF)]
                    ^ T[6][(int) ((x >>> 8) & 0xFF)]
                    ^ T[5][(int) ((x >>> 16) & 0xFF)]
                    ^ T[4][(int) ((x >>> 24) & 0xFF)]
                    ^ T[3][(int) ((x >>> 32) & 0xFF)]
                    ^ T[2][(int) ((x >>> 40) & 0xFF)]
                    ^ T[1][(int) ((x >>> 48) & 0xFF)]
                    ^ T[0][(int) (x >>> 56)];
            i += 8;
        }
        while (i < end) {
            crc = T[0][(int) ((crc ^ b[i]) & 0xFF)] ^ (crc >>> 8);
            i++;
        }
        state = crc;
        return this;
    }

    /** The digest of everything fed so far. */
    public long getValue() {
        return ~state;
    }

    /** Starts over. */
    public void reset() {
        state = ~0L;
    }

    /** CRC-64/XZ of {@code key ++ value}, the per-pair term of TiKV's {@code crc64xor}. */
    public static long ofPair(byte[] key, byte[] value) {
        return new Crc64().update(key).update(value).getValue();
    }
}

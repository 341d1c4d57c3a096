package dev.faketikv.engine.codec;

import java.io.ByteArrayOutputStream;

/**
 * TiKV's number encodings: LEB128 varints ({@code encode_var_u64}), zigzag varints
 * ({@code encode_var_i64}), big-endian u64, the "compact bytes" form (zigzag varint length, then the
 * bytes) and TiDB's comparable i64 (big-endian with the sign bit flipped).
 *
 * <p>Mirrors {@code components/tikv_util/src/codec/number.rs} and the compact-bytes helpers of
 * {@code codec/bytes.rs} at TiKV v5.4.0. Stateless and thread-safe.
 */
public final class NumberCodec {
    private static final long SIGN_MASK = 0x8000000000000000L;

    private NumberCodec() {}

    /** Appends {@code v} (unsigned) as a LEB128 varint. */
    public static void writeVarU64(ByteArrayOutputStream out, long v) {
        while (Long.compareUnsigned(v, 0x80) >= 0) {
            out.write((int) (v & 0x7F) | 0x80);
            v >>>= 7;
        }
        out.write((int) v);
    }

    /** Appends {@code v} zigzag-encoded as a varint. */
    public static void writeVarI64(ByteArrayOutputStream out, long v) {
        long ux = v << 1;
        if (v < 0) {
            ux = ~ux;
        }
        writeVarU64(out, ux);
    }

    /** Appends {@code v} as 8 bytes big-endian. */
    public static void writeU64(ByteArrayOutputStream out, long v) {
        for (int shift = 56; shift >= 0; shift -= 8) {
            out.write((int) (v >>> shift) & 0xFF);
        }
    }

    /** Appends the compact-bytes form: zigzag varint length, then the bytes. */
    public static void writeCompactBytes(ByteArrayOutputStream out, byte[] b) {
        writeVarI64(out, b.length);
        out.write(b, 0, b.length);
    }

    /** Stores {@code v} big-endian at {@code b[off..off+8)}. */
    public static void putU64(byte[] b, int off, long v) {
        for (int i = 7; i >= 0; i--) {
            b[off + i] = (byte) v;
            v >>>= 8;
        }
    }

    /** Reads 8 bytes big-endian at {@code b[off..off+8)}. */
    public static long getU64(byte[] b, int off) {
        if (off < 0 || off + 8 > b.length) {
            throw new CodecException("u64 needs 8 bytes at offset " + off + ", have " + (b.length - off));
        }
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = (v << 8) | (b[off + i] & 0xFF);
        }
        return v;
    }

    /** TiDB's comparable i64: big-endian with the sign bit flipped. */
    public static byte[] encodeComparableI64(long v) {
        byte[] b = new byte[8];
        putU64(b, 0, v ^ SIGN_MASK);
        return b;
    }

    /** Inverse of {@link #encodeComparableI64}. */
    public static long decodeComparableI64(byte[] b, int off) {
        return getU64(b, off) ^ SIGN_MASK;
    }

    /** A cursor over a byte array for the decoders. Not thread-safe. */
    public static final class Reader {
        private final byte[] buf;
        private int pos;

        public Reader(byte[] buf, int pos) {
            this.buf = buf;
            this.pos = pos;
        }

        public boolean hasRemaining() {
            return pos < buf.length;
        }

        public int position() {
            return pos;
        }

        public int readByte() {
            if (pos >= buf.length) {
                throw new CodecException("unexpected end of record at offset " + pos);
            }
            return buf[pos++] & 0xFF;
        }

        public long readVarU64() {
            long result = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                int b = readByte();
                result |= (long) (b & 0x7F) << shift;
                if ((b & 0x80) == 0) {
                    return result;
                }
            }
            throw new CodecException("varint longer than 10 bytes");
        }

        public long readVarI64() {
            long ux = readVarU64();
            long v = ux >>> 1;
            return (ux & 1) != 0 ? ~v : v;
        }

        public long readU64() {
            long v = getU64(buf, pos);
            pos += 8;
            return v;
        }

        public byte[] readBytes(int n) {
            if (n < 0 || pos + n > buf.length) {
                throw new CodecException("need " + n + " bytes at offset " + pos + ", have " + (buf.length - pos));
            }
            byte[] out = new byte[n];
            System.arraycopy(buf, pos, out, 0, n);
            pos += n;
            return out;
        }

        public byte[] readCompactBytes() {
            long n = readVarI64();
            if (n < 0 || n > Integer.MAX_VALUE) {
                throw new CodecException("invalid compact bytes length " + n);
            }
            return readBytes((int) n);
        }
    }
}

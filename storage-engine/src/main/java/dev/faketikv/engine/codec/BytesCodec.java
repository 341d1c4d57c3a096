package dev.faketikv.engine.codec;

import java.io.ByteArrayOutputStream;
import java.util.Arrays;

/**
 * The memcomparable bytes encoding TiKV and TiDB use for user keys (ascending order).
 *
 * <p>Mirrors {@code components/tikv_util/src/codec/bytes.rs} ({@code encode_bytes} /
 * {@code decode_bytes}) at TiKV v5.4.0. The input is cut into 8-byte groups; every full group is
 * followed by the marker {@code 0xFF}; the last group (possibly empty) is zero-padded to 8 bytes and
 * followed by {@code 0xFF - padCount}. So a key whose length is a multiple of 8 ends with eight zero
 * bytes and {@code 0xF7}. Encoded keys compare bytewise in the same order as the raw keys, and no
 * encoded key is a prefix of another.
 *
 * <p>Stateless and thread-safe.
 */
public final class BytesCodec {
    static final int GROUP = 8;
    static final int MARKER = 0xFF;

    private BytesCodec() {}

    /** Length of {@code encode(raw)} for a raw key of {@code rawLength} bytes. */
    public static int encodedLength(int rawLength) {
        return (rawLength / GROUP + 1) * (GROUP + 1);
    }

    /** Encodes {@code raw} in memcomparable form. */
    public static byte[] encode(byte[] raw) {
        byte[] out = new byte[encodedLength(raw.length)];
        encodeInto(raw, out, 0);
        return out;
    }

    /** Writes {@code encode(raw)} into {@code out} at {@code offset}; returns the offset after it. */
    public static int encodeInto(byte[] raw, byte[] out, int offset) {
        int pos = offset;
        for (int idx = 0; ; idx += GROUP) {
            int remain = raw.length - idx;
            if (remain >= GROUP) {
                System.arraycopy(raw, idx, out, pos, GROUP);
                out[pos + GROUP] = (byte) MARKER;
                pos += GROUP + 1;
            } else {
                int pad = GROUP - remain;
                System.arraycopy(raw, idx, out, pos, remain);
                Arrays.fill(out, pos + remain, pos + GROUP, (byte) 0);
                out[pos + GROUP] = (byte) (MARKER - pad);
                return pos + GROUP + 1;
            }
        }
    }

    /** Decodes a whole memcomparable key; trailing bytes after the last group are an error. */
    public static byte[] decode(byte[] encoded) {
        return decode(encoded, 0, encoded.length);
    }

    /**
     * Decodes the memcomparable key held in {@code encoded[offset, offset+length)}; it must consume
     * exactly that slice.
     */
    public static byte[] decode(byte[] encoded, int offset, int length) {
        Decoded d = decodePrefix(encoded, offset, offset + length);
        if (d.end() != offset + length) {
            throw new CodecException("trailing bytes after memcomparable key: " + (offset + length - d.end()));
        }
        return d.raw();
    }

    /** A decoded key and the offset just after its last group. */
    public record Decoded(byte[] raw, int end) {}

    /** Decodes the memcomparable key starting at {@code offset}, reading no further than {@code limit}. */
    public static Decoded decodePrefix(byte[] encoded, int offset, int limit) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(Math.max(0, (limit - offset) / (GROUP + 1) * GROUP));
        int pos = offset;
        while (true) {
            if (pos + GROUP + 1 > limit) {
                throw new CodecException("memcomparable key is truncated at offset " + pos);
            }
            int marker = encoded[pos + GROUP] & 0xFF;
            int pad = MARKER - marker;
            if (pad == 0) {
                out.write(encoded, pos, GROUP);
                pos += GROUP + 1;
                continue;
            }
            if (pad > GROUP) {
                throw new CodecException("invalid memcomparable marker 0x" + Integer.toHexString(marker));
            }
            int real = GROUP - pad;
            for (int i = pos + real; i < pos + GROUP; i++) {
                if (encoded[i] != 0) {
                    throw new CodecException("memcomparable padding is not zero at offset " + i);
                }
            }
            out.write(encoded, pos, real);
            return new Decoded(out.toByteArray(), pos + GROUP + 1);
        }
    }
}

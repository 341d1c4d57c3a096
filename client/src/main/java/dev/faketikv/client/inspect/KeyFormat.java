package dev.faketikv.client.inspect;

import dev.faketikv.engine.codec.Keys;
import dev.faketikv.engine.codec.NumberCodec;
import java.util.Arrays;

/**
 * Readable forms of keys and values: TiDB row and index keys ({@link TidbKey}), escaped ASCII, hex,
 * and the short value previews of the text output. Stateless.
 */
final class KeyFormat {
    /** Bytes of a value shown in TEXT output; JSON always carries the whole value. */
    private static final int TEXT_PREVIEW = 64;
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private KeyFormat() {}

    /**
     * A TiDB row or index key ({@code tablecodec.go}): {@code t ++ cmp_i64(table) ++ "_r" ++ cmp_i64(handle)}
     * (or a common handle after {@code _r}), or {@code t ++ cmp_i64(table) ++ "_i" ++ cmp_i64(index) ++ values}.
     * Exactly one of {@code handle}, {@code indexId} is set, or neither for a common handle in {@code rest}.
     */
    record TidbKey(long tableId, Long handle, Long indexId, byte[] rest) {
        /** {@code k} as a TiDB key, or null when it is not shaped like one. */
        static TidbKey of(byte[] k) {
            if (k.length < 12 || k[0] != 't' || k[9] != '_') {
                return null;
            }
            long table = NumberCodec.decodeComparableI64(k, 1);
            if (k[10] == 'r') {
                if (k.length == 19) {
                    return new TidbKey(table, NumberCodec.decodeComparableI64(k, 11), null, new byte[0]);
                }
                return new TidbKey(table, null, null, Arrays.copyOfRange(k, 11, k.length));
            }
            if (k[10] == 'i' && k.length >= 19) {
                return new TidbKey(table, null, NumberCodec.decodeComparableI64(k, 11), Arrays.copyOfRange(k, 19, k.length));
            }
            return null;
        }

        String text() {
            String t = "t" + tableId;
            if (indexId != null) {
                return t + "_i" + indexId + (rest.length == 0 ? "" : " index_values=" + hex(rest));
            }
            if (handle != null) {
                return t + "_r" + handle;
            }
            return t + "_r{common_handle=" + hex(rest) + "}";
        }
    }

    /** {@code t100_r1}, {@code t100_i2 ...}, a quoted ASCII string, or {@code 0x}-hex. */
    static String describeKey(byte[] userKey) {
        TidbKey t = TidbKey.of(userKey);
        if (t != null) {
            return t.text();
        }
        if (isPrintable(userKey)) {
            return escaped(userKey);
        }
        return "0x" + hex(userKey);
    }

    /** A range bound: hex, with the TiDB form when it has one; empty = {@code (min)} / {@code (inf)}. */
    static String boundText(byte[] k, boolean end) {
        if (k.length == 0) {
            return end ? "(inf)" : "(min)";
        }
        TidbKey t = TidbKey.of(k);
        return hex(k) + (t != null ? " (" + t.text() + ")" : "");
    }

    static boolean isPrintable(byte[] b) {
        for (byte x : b) {
            if (x < 0x20 || x > 0x7e) {
                return false;
            }
        }
        return true;
    }

    /** A double-quoted ASCII form: printable bytes as they are, others as {@code \xNN}. */
    static String escaped(byte[] b) {
        StringBuilder sb = new StringBuilder(b.length + 2).append('"');
        for (byte x : b) {
            int c = x & 0xFF;
            if (c == '"' || c == '\\') {
                sb.append('\\').append((char) c);
            } else if (c >= 0x20 && c <= 0x7e) {
                sb.append((char) c);
            } else {
                sb.append("\\x").append(HEX[c >>> 4]).append(HEX[c & 0xF]);
            }
        }
        return sb.append('"').toString();
    }

    /** Up to {@link #TEXT_PREVIEW} bytes: quoted when printable, else hex; "..." marks a cut. */
    static String preview(byte[] b) {
        byte[] head = b.length > TEXT_PREVIEW ? Arrays.copyOf(b, TEXT_PREVIEW) : b;
        String cut = b.length > TEXT_PREVIEW ? "..." : "";
        if (b.length == 0) {
            return "\"\"";
        }
        return (isPrintable(head) ? escaped(head) : "0x" + hex(head)) + cut;
    }

    static String hex(byte[] b) {
        return Keys.hex(b);
    }
}

package dev.faketikv.interop;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;

/**
 * TiKV 5.4's key and write-record encodings, written out here because this module shares no code with
 * fake-tikv (see /work/shared/spec/tikv-backup-endpoint.md §5.5): data key = {@code z} ‖ key;
 * memcomparable {@code encode_bytes} ({@code components/tikv_util/src/codec/bytes.rs}); the timestamp
 * suffix BE64(u64::MAX − ts) ({@code components/txn_types/src/types.rs} {@code Key::append_ts}); the write
 * record {@code P} ‖ varint(start_ts) ‖ [{@code v} ‖ len ‖ short value]
 * ({@code components/txn_types/src/write.rs} {@code WriteRef::to_bytes}). Stateless.
 */
final class TikvKeys {
    private TikvKeys() {}

    static byte[] memcomparable(byte[] key) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i <= key.length; i += 8) {
            int n = Math.min(8, key.length - i);
            byte[] group = new byte[8];
            System.arraycopy(key, i, group, 0, n);
            out.writeBytes(group);
            out.write(n == 8 ? 0xFF : 0xFF - (8 - n));
            if (n < 8) {
                break;
            }
        }
        return out.toByteArray();
    }

    /** {@code z} ‖ memcomparable(key) ‖ BE64(~ts). */
    static byte[] txnDataKey(byte[] userKey, long ts) {
        byte[] enc = memcomparable(userKey);
        return ByteBuffer.allocate(1 + enc.length + 8).put((byte) 'z').put(enc).putLong(~ts).array();
    }

    static byte[] rawDataKey(byte[] key) {
        return ByteBuffer.allocate(1 + key.length).put((byte) 'z').put(key).array();
    }

    /** A Put write record; {@code shortValue} null = the value lives in the default CF. */
    static byte[] putRecord(long startTs, byte[] shortValue) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write('P');
        long v = startTs;
        while ((v & ~0x7FL) != 0) {
            out.write((int) ((v & 0x7F) | 0x80));
            v >>>= 7;
        }
        out.write((int) v);
        if (shortValue != null) {
            out.write('v');
            out.write(shortValue.length);
            out.writeBytes(shortValue);
        }
        return out.toByteArray();
    }
}

package dev.faketikv.engine.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class CodecVectorsTest {
    private static byte[] b(int... v) {
        byte[] out = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (byte) v[i];
        }
        return out;
    }

    @Test
    void memcomparableMatchesTikvVectors() {
        // vectors from tikv_util codec::bytes tests
        assertThat(BytesCodec.encode(b())).containsExactly(b(0, 0, 0, 0, 0, 0, 0, 0, 247));
        assertThat(BytesCodec.encode(b(0))).containsExactly(b(0, 0, 0, 0, 0, 0, 0, 0, 248));
        assertThat(BytesCodec.encode(b(1, 2, 3))).containsExactly(b(1, 2, 3, 0, 0, 0, 0, 0, 250));
        assertThat(BytesCodec.encode(b(1, 2, 3, 0))).containsExactly(b(1, 2, 3, 0, 0, 0, 0, 0, 251));
        assertThat(BytesCodec.encode(b(1, 2, 3, 4, 5, 6, 7)))
                .containsExactly(b(1, 2, 3, 4, 5, 6, 7, 0, 254));
        assertThat(BytesCodec.encode(b(1, 2, 3, 4, 5, 6, 7, 8)))
                .containsExactly(b(1, 2, 3, 4, 5, 6, 7, 8, 255, 0, 0, 0, 0, 0, 0, 0, 0, 247));
        assertThat(BytesCodec.encode(b(1, 2, 3, 4, 5, 6, 7, 8, 9)))
                .containsExactly(b(1, 2, 3, 4, 5, 6, 7, 8, 255, 9, 0, 0, 0, 0, 0, 0, 0, 248));
    }

    @Test
    void memcomparableRoundTripsAndKeepsOrder() {
        Random rnd = new Random(42);
        List<byte[]> keys = new ArrayList<>();
        for (int i = 0; i < 2000; i++) {
            byte[] k = new byte[rnd.nextInt(20)];
            rnd.nextBytes(k);
            keys.add(k);
            assertThat(BytesCodec.decode(BytesCodec.encode(k))).containsExactly(k);
        }
        for (int i = 1; i < keys.size(); i++) {
            byte[] a = keys.get(i - 1);
            byte[] c = keys.get(i);
            assertThat(Integer.signum(Arrays.compareUnsigned(BytesCodec.encode(a), BytesCodec.encode(c))))
                    .isEqualTo(Integer.signum(Arrays.compareUnsigned(a, c)));
        }
    }

    @Test
    void memcomparableRejectsBadInput() {
        assertThatThrownBy(() -> BytesCodec.decode(b(1, 2, 3))).isInstanceOf(CodecException.class);
        assertThatThrownBy(() -> BytesCodec.decode(b(1, 2, 3, 0, 0, 0, 0, 0, 0x10))).isInstanceOf(CodecException.class);
        assertThatThrownBy(() -> BytesCodec.decode(b(1, 2, 3, 0, 0, 0, 0, 9, 250))).isInstanceOf(CodecException.class);
        assertThatThrownBy(() -> BytesCodec.decode(b(0, 0, 0, 0, 0, 0, 0, 0, 247, 1))).isInstanceOf(CodecException.class);
    }

    @Test
    void tsSuffixIsBigEndianOfComplement() {
        byte[] k = Keys.appendTs(BytesCodec.encode("abc".getBytes(StandardCharsets.US_ASCII)), 1);
        assertThat(Arrays.copyOfRange(k, k.length - 8, k.length)).containsExactly(b(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE));
        assertThat(Keys.decodeTs(k)).isEqualTo(1);
        assertThat(Keys.truncateTs(k)).containsExactly(BytesCodec.encode("abc".getBytes(StandardCharsets.US_ASCII)));
        // newer versions sort first
        assertThat(Arrays.compareUnsigned(Keys.appendTs(b(1), 10), Keys.appendTs(b(1), 9))).isNegative();
    }

    @Test
    void dataKeyAndTidbRecordKey() {
        assertThat(Keys.dataKey(b(1, 2))).containsExactly(b('z', 1, 2));
        assertThat(Keys.originKey(b('z', 1, 2))).containsExactly(b(1, 2));
        assertThatThrownBy(() -> Keys.originKey(b('y', 1))).isInstanceOf(CodecException.class);
        assertThat(Keys.tidbRecordKey(100, 1))
                .containsExactly(b('t', 0x80, 0, 0, 0, 0, 0, 0, 100, '_', 'r', 0x80, 0, 0, 0, 0, 0, 0, 1));
        assertThat(Keys.tidbRecordKey(1, -1))
                .containsExactly(b('t', 0x80, 0, 0, 0, 0, 0, 0, 1, '_', 'r', 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF));
        assertThat(Keys.dataKeyOfRaw(b(1))).containsExactly(b('z', 1, 0, 0, 0, 0, 0, 0, 0, 248));
    }

    @Test
    void varintsMatchTikv() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        NumberCodec.writeVarU64(out, 300);
        assertThat(out.toByteArray()).containsExactly(b(0xAC, 0x02));
        out.reset();
        NumberCodec.writeVarU64(out, -1L);
        assertThat(out.toByteArray()).containsExactly(b(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01));
        out.reset();
        NumberCodec.writeVarI64(out, -1);
        NumberCodec.writeVarI64(out, 1);
        NumberCodec.writeVarI64(out, -64);
        assertThat(out.toByteArray()).containsExactly(b(1, 2, 127));
        NumberCodec.Reader r = new NumberCodec.Reader(out.toByteArray(), 0);
        assertThat(r.readVarI64()).isEqualTo(-1);
        assertThat(r.readVarI64()).isEqualTo(1);
        assertThat(r.readVarI64()).isEqualTo(-64);
        assertThatThrownBy(() -> new NumberCodec.Reader(b(0x80), 0).readVarU64()).isInstanceOf(CodecException.class);
    }

    @Test
    void crc64xzCheckValues() {
        assertThat(new Crc64().update("123456789".getBytes(StandardCharsets.US_ASCII)).getValue()).isEqualTo(0x995DC9BBDF1939FAL);
        assertThat(new Crc64().update("hello world!".getBytes(StandardCharsets.US_ASCII)).getValue()).isEqualTo(0x8483C0FA32607D61L);
        assertThat(new Crc64().update(new byte[0]).getValue()).isZero();
        assertThat(new Crc64().update("@".getBytes(StandardCharsets.US_ASCII)).getValue()).isEqualTo(0x7B1B8AB98FA4B8F8L);
        assertThat(new Crc64().update(new byte[32]).getValue()).isEqualTo(0xC95AF8617CD5330CL);
        assertThat(Crc64.ofPair("1234".getBytes(StandardCharsets.US_ASCII), "56789".getBytes(StandardCharsets.US_ASCII)))
                .isEqualTo(0x995DC9BBDF1939FAL);
    }

    @Test
    void crc64SlicingEqualsBitwiseReference() {
        Random rnd = new Random(7);
        for (int len : new int[] {1, 7, 8, 9, 15, 16, 17, 100, 4097}) {
            byte[] data = new byte[len];
            rnd.nextBytes(data);
            long ref = ~0L;
            for (byte x : data) {
                ref ^= x & 0xFF;
                for (int k = 0; k < 8; k++) {
                    ref = (ref & 1) != 0 ? (ref >>> 1) ^ 0xC96C5795D7870F42L : ref >>> 1;
                }
            }
            assertThat(new Crc64().update(data).getValue()).as("len %d", len).isEqualTo(~ref);
            // split updates give the same digest
            assertThat(new Crc64().update(data, 0, len / 3).update(data, len / 3, len - len / 3).getValue()).isEqualTo(~ref);
        }
    }

    @Test
    void prefixNextIsTikvsNextKey() {
        // the cases TiKV's keys::rewrite tests rely on
        assertThat(Keys.prefixNext("t123".getBytes(StandardCharsets.ISO_8859_1))).isEqualTo("t124".getBytes(StandardCharsets.ISO_8859_1));
        assertThat(Keys.prefixNext(new byte[] {'t', '1', '3', '5', (byte) 0xFF, (byte) 0xFF})).isEqualTo("t136".getBytes(StandardCharsets.ISO_8859_1));
        assertThat(Keys.prefixNext(new byte[] {(byte) 0xFF, (byte) 0xFE})).isEqualTo(new byte[] {(byte) 0xFF, (byte) 0xFF});
        assertThat(Keys.prefixNext(new byte[] {(byte) 0xFF, (byte) 0xFF})).isEmpty();
        assertThat(Keys.prefixNext(new byte[0])).isEmpty();
        assertThat(Keys.startsWith("t1234".getBytes(StandardCharsets.ISO_8859_1), "t12".getBytes(StandardCharsets.ISO_8859_1))).isTrue();
        assertThat(Keys.startsWith("t1".getBytes(StandardCharsets.ISO_8859_1), "t12".getBytes(StandardCharsets.ISO_8859_1))).isFalse();
    }
}

package dev.faketikv.engine.mvcc;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class RecordFormatTest {
    @Test
    void writeRecordBytesMatchTikvLayout() {
        byte[] bytes = Write.put(5, "abc".getBytes(StandardCharsets.US_ASCII)).toBytes();
        assertThat(bytes).containsExactly('P', 5, 'v', 3, 'a', 'b', 'c');
        assertThat(Write.of(WriteType.DELETE, 300).toBytes()).containsExactly('D', 0xAC - 256, 0x02);
        Write w = new Write(WriteType.ROLLBACK, 7, null, true, 9);
        assertThat(Write.parse(w.toBytes())).isEqualTo(w);
        assertThat(w.toBytes()).containsExactly('R', 7, 'R', 'F', 0, 0, 0, 0, 0, 0, 0, 9);
        Write parsed = Write.parse(new byte[] {'P', 1, 'v', 1, 'x', 'Z', 'Z'});
        assertThat(parsed.shortValue()).containsExactly('x');
    }

    @Test
    void gcFenceRule() {
        assertThat(new Write(WriteType.PUT, 1, null, false, 0).validAsLatestVersion(10)).isTrue();
        assertThat(new Write(WriteType.PUT, 1, null, false, 11).validAsLatestVersion(10)).isTrue();
        assertThat(new Write(WriteType.PUT, 1, null, false, 10).validAsLatestVersion(10)).isFalse();
    }

    @Test
    void lockRoundTripAndLayout() {
        Lock simple = Lock.prewrite(LockType.PUT, new byte[] {'k'}, 10, 3000, null, 0);
        // flag, compact bytes (zigzag len 1 -> 2), varint ts, varint ttl (3000 = 0xB8 0x17)
        assertThat(simple.toBytes()).containsExactly('P', 2, 'k', 10, 0xB8 - 256, 0x17);
        Lock full = new Lock(LockType.DELETE, new byte[] {'p'}, 100, 20, new byte[] {'v'}, 101, 3, 102, true,
                List.of(new byte[] {'s', '1'}), List.of(99L));
        Lock back = Lock.parse(full.toBytes());
        assertThat(back.type()).isEqualTo(LockType.DELETE);
        assertThat(back.primary()).containsExactly('p');
        assertThat(back.ts()).isEqualTo(100);
        assertThat(back.forUpdateTs()).isEqualTo(101);
        assertThat(back.txnSize()).isEqualTo(3);
        assertThat(back.minCommitTs()).isEqualTo(102);
        assertThat(back.useAsyncCommit()).isTrue();
        assertThat(back.secondaries()).singleElement().satisfies(s -> assertThat(s).containsExactly('s', '1'));
        assertThat(back.rollbackTs()).containsExactly(99L);
        assertThat(back.shortValue()).containsExactly('v');
    }

    @Test
    void lockConflictRuleForSnapshotRead() {
        byte[] k = {'k'};
        assertThat(Lock.prewrite(LockType.PUT, k, 10, 1, null, 0).blocksRead(k, 10)).isTrue();
        assertThat(Lock.prewrite(LockType.DELETE, k, 10, 1, null, 0).blocksRead(k, 11)).isTrue();
        assertThat(Lock.prewrite(LockType.PUT, k, 11, 1, null, 0).blocksRead(k, 10)).isFalse();
        assertThat(Lock.prewrite(LockType.LOCK, k, 1, 1, null, 0).blocksRead(k, 10)).isFalse();
        assertThat(Lock.prewrite(LockType.PESSIMISTIC, k, 1, 1, null, 0).blocksRead(k, 10)).isFalse();
        Lock minCommitAhead = new Lock(LockType.PUT, k, 5, 1, null, 0, 0, 20, false, List.of(), List.of());
        assertThat(minCommitAhead.blocksRead(k, 10)).isFalse();
    }
}

package dev.faketikv.engine.mvcc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.faketikv.engine.Cf;
import dev.faketikv.engine.Engine;
import dev.faketikv.engine.EngineSnapshot;
import dev.faketikv.engine.codec.BytesCodec;
import dev.faketikv.engine.codec.Keys;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EntryScannerTest {
    @TempDir
    Path dir;
    Engine engine;

    @BeforeEach
    void open() {
        engine = Engine.open(dir);
    }

    @AfterEach
    void close() {
        engine.close();
    }

    private static byte[] k(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    private void write(Consumer<MvccWriter> f) {
        try (Engine.Batch b = engine.batch()) {
            f.accept(new MvccWriter(b));
            b.commit(false);
        }
    }

    private List<TxnEntry> scan(String start, String end, long backupTs, long afterTs) {
        List<TxnEntry> out = new ArrayList<>();
        try (EngineSnapshot snap = engine.snapshot();
             EntryScanner s = new EntryScanner(snap, start == null ? null : BytesCodec.encode(k(start)),
                     end == null ? null : BytesCodec.encode(k(end)), backupTs, afterTs, afterTs != 0)) {
            while (s.nextBatch(out, 2)) {
                // batches of 2 exercise the resumption path
            }
        }
        return out;
    }

    private static List<String> keysAndValues(List<TxnEntry> entries) {
        return entries.stream().map(e -> new String(e.rawKey(), StandardCharsets.US_ASCII) + "=" + new String(e.value(), StandardCharsets.US_ASCII)).toList();
    }

    @Test
    void fullBackupTakesLatestPutAtOrBeforeBackupTs() {
        write(w -> w.put(k("a"), k("a1"), 10, 11).put(k("a"), k("a2"), 20, 21).put(k("a"), k("a3"), 30, 31)
                .put(k("b"), k("b1"), 10, 11).write(k("b"), WriteType.DELETE, 20, 21)
                .put(k("c"), k("c1"), 10, 11).write(k("c"), WriteType.LOCK, 20, 21).write(k("c"), WriteType.ROLLBACK, 22, 22)
                .put(k("d"), k("d1"), 40, 41));
        assertThat(keysAndValues(scan(null, null, 25, 0))).containsExactly("a=a2", "c=c1");
        assertThat(keysAndValues(scan(null, null, 100, 0))).containsExactly("a=a3", "c=c1", "d=d1");
        assertThat(keysAndValues(scan(null, null, 10, 0))).isEmpty();
        assertThat(keysAndValues(scan("b", "d", 100, 0))).containsExactly("c=c1");
    }

    @Test
    void incrementalOutputsEveryChangeInWindowIncludingDeletes() {
        write(w -> w.put(k("a"), k("a1"), 10, 11).put(k("a"), k("a2"), 20, 21)
                .put(k("b"), k("b1"), 10, 11).write(k("b"), WriteType.DELETE, 20, 21)
                .put(k("c"), k("c1"), 10, 11)
                .put(k("e"), k("e1"), 10, 11).write(k("e"), WriteType.LOCK, 20, 21));
        List<TxnEntry> got = scan(null, null, 30, 15);
        assertThat(keysAndValues(got)).containsExactly("a=a2", "b=");
        assertThat(Write.parse(got.get(1).writeValue()).type()).isEqualTo(WriteType.DELETE);
        assertThat(Keys.decodeTs(got.get(1).writeKey())).isEqualTo(21);
        // window excludes start_version itself
        assertThat(keysAndValues(scan(null, null, 30, 21))).isEmpty();
    }

    @Test
    void longValuesComeFromTheDefaultCf() {
        byte[] big = new byte[300];
        java.util.Arrays.fill(big, (byte) 'x');
        write(w -> w.put(k("a"), big, 10, 11).put(k("b"), k("short"), 10, 11));
        List<TxnEntry> got = scan(null, null, 20, 0);
        assertThat(got).hasSize(2);
        assertThat(got.get(0).hasDefault()).isTrue();
        assertThat(got.get(0).value()).isEqualTo(big);
        assertThat(got.get(0).defaultKey()).isEqualTo(Keys.appendTs(Keys.dataKeyOfRaw(k("a")), 10));
        assertThat(got.get(1).hasDefault()).isFalse();
        // a missing default record is an error, as DefaultNotFound in TiKV
        try (Engine.Batch b = engine.batch()) {
            b.delete(Cf.DEFAULT, Keys.appendTs(Keys.dataKeyOfRaw(k("a")), 10));
            b.commit(false);
        }
        assertThatThrownBy(() -> scan(null, null, 20, 0)).isInstanceOf(MvccException.class).hasMessageContaining("DefaultNotFound");
    }

    @Test
    void blockingLockSurfacesAsKeyLocked() {
        write(w -> w.put(k("a"), k("a1"), 10, 11).put(k("b"), k("b1"), 10, 11)
                .lock(k("b"), Lock.prewrite(LockType.PUT, k("a"), 50, 3000, k("new"), 2), null)
                .lock(k("bb"), Lock.prewrite(LockType.LOCK, k("a"), 50, 3000, null, 2), null));
        assertThat(keysAndValues(scan(null, null, 49, 0))).containsExactly("a=a1", "b=b1");
        assertThatThrownBy(() -> scan(null, null, 50, 0))
                .isInstanceOfSatisfying(KeyLockedException.class, e -> {
                    assertThat(e.rawKey()).containsExactly('b');
                    assertThat(e.lock().primary()).containsExactly('a');
                    assertThat(e.lock().ts()).isEqualTo(50);
                });
        // a lock outside the range does not matter; a lock-only key inside it does
        assertThat(keysAndValues(scan(null, "b", 100, 0))).containsExactly("a=a1");
        write(w -> w.lock(k("z"), Lock.prewrite(LockType.DELETE, k("z"), 60, 3000, null, 1), null));
        assertThatThrownBy(() -> scan("c", null, 100, 0)).isInstanceOf(KeyLockedException.class);
    }

    @Test
    void manyVersionsAreSkippedBySeek() {
        write(w -> {
            for (int v = 1; v <= 40; v++) {
                w.put(k("a"), k("a" + v), v * 10L, v * 10L + 1);
            }
            w.put(k("b"), k("b1"), 5, 6);
        });
        assertThat(keysAndValues(scan(null, null, 1000, 0))).containsExactly("a=a40", "b=b1");
        assertThat(keysAndValues(scan(null, null, 205, 0))).containsExactly("a=a20", "b=b1");
    }

    @Test
    void aGcFenceEndsTheKeyWhateverTheRecordType() {
        write(w -> w.put(k("a"), k("a1"), 10, 11)
                .write(k("a"), new Write(WriteType.ROLLBACK, 21, null, false, 25), 21)
                .put(k("b"), k("b1"), 10, 11)
                .write(k("b"), new Write(WriteType.DELETE, 30, null, false, 35), 31)
                .put(k("c"), k("c1"), 10, 11)
                .write(k("c"), new Write(WriteType.PUT, 40, k("c2"), false, 200), 41));
        // a: the rollback's fence (25) is before the read ts, so the older Put is not taken
        // b: the fenced Delete yields nothing, even for an incremental backup
        // c: a fence after the read ts does not matter
        assertThat(keysAndValues(scan(null, null, 100, 0))).containsExactly("c=c2");
        assertThat(keysAndValues(scan(null, null, 100, 5))).containsExactly("c=c2");
        // before the fences, the keys read normally
        assertThat(keysAndValues(scan(null, null, 22, 0))).containsExactly("a=a1", "b=b1", "c=c1");
    }
}

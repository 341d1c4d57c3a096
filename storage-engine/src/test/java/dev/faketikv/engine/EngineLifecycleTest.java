package dev.faketikv.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The native-handle lifecycle: idempotent closes, and an engine that refuses to close under open readers. */
class EngineLifecycleTest {
    @TempDir
    Path dir;

    private static byte[] k(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    private static void put(Engine engine, String key, String value) {
        try (Engine.Batch b = engine.batch()) {
            b.put(Cf.DEFAULT, k(key), k(value)).commit(false);
        }
    }

    @Test
    void secondCloseOfSnapshotAndIteratorIsHarmless() {
        try (Engine engine = Engine.open(dir)) {
            put(engine, "a", "1");
            EngineSnapshot snap = engine.snapshot();
            EngineIterator it = snap.iterator(Cf.DEFAULT, null, null);
            assertThat(engine.openSnapshots()).isEqualTo(1);
            assertThat(engine.openIterators()).isEqualTo(1);
            it.close();
            it.close();
            snap.close();
            snap.close();
            assertThat(engine.openSnapshots()).isZero();
            assertThat(engine.openIterators()).isZero();
            // the native snapshot was released once: new snapshots still see the data
            put(engine, "b", "2");
            try (EngineSnapshot again = engine.snapshot()) {
                assertThat(again.get(Cf.DEFAULT, k("a"))).isEqualTo(k("1"));
                assertThat(again.get(Cf.DEFAULT, k("b"))).isEqualTo(k("2"));
            }
        }
    }

    @Test
    void closeWithOpenSnapshotThrowsAndLeavesEngineUsable() {
        Engine engine = Engine.open(dir);
        put(engine, "a", "1");
        EngineSnapshot snap = engine.snapshot();
        assertThatThrownBy(engine::close)
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("1 open snapshot(s)")
                .hasMessageContaining("0 open iterator(s)");
        // still usable: the snapshot reads, new writes land
        assertThat(snap.get(Cf.DEFAULT, k("a"))).isEqualTo(k("1"));
        put(engine, "b", "2");
        assertThat(engine.get(Cf.DEFAULT, k("b"))).isEqualTo(k("2"));
        snap.close();
        engine.close();
        engine.close();
        assertThatThrownBy(engine::snapshot).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        // the native DB was really freed: the folder opens again
        try (Engine reopened = Engine.open(dir)) {
            assertThat(reopened.get(Cf.DEFAULT, k("b"))).isEqualTo(k("2"));
        }
    }

    @Test
    void closeWithOpenIteratorThrowsNamingIt() {
        Engine engine = Engine.open(dir);
        EngineSnapshot snap = engine.snapshot();
        EngineIterator it = snap.iterator(Cf.WRITE, null, null);
        snap.close();
        assertThatThrownBy(engine::close)
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("0 open snapshot(s) and 1 open iterator(s)");
        it.close();
        engine.close();
    }
}

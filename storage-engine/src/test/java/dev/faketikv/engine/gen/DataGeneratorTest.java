package dev.faketikv.engine.gen;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.faketikv.engine.Cf;
import dev.faketikv.engine.Engine;
import dev.faketikv.engine.EngineIterator;
import dev.faketikv.engine.EngineSnapshot;
import dev.faketikv.engine.mvcc.EntryScanner;
import dev.faketikv.engine.mvcc.KeyLockedException;
import dev.faketikv.engine.mvcc.TxnEntry;
import dev.faketikv.engine.region.RegionMap;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataGeneratorTest {
    @TempDir
    Path dir;

    private static byte[] digestOf(Engine engine) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (EngineSnapshot snap = engine.snapshot()) {
            for (Cf cf : new Cf[] {Cf.DEFAULT, Cf.WRITE, Cf.LOCK}) {
                try (EngineIterator it = snap.iterator(cf, null, null)) {
                    for (it.seekToFirst(); it.valid(); it.next()) {
                        md.update(it.key());
                        md.update(it.value());
                    }
                }
            }
        }
        return md.digest();
    }

    @Test
    void txnSeedIsDeterministicAndSplitsRegions() throws Exception {
        SeedSpec spec = SeedSpec.parse("txn:rows=2000,regions=8,value-size=16,long-ratio=0.1,long-value-size=300,versions=3,deletes=0.1,seed=3");
        byte[] first;
        long visible;
        try (Engine e = Engine.open(dir.resolve("a"))) {
            RegionMap m = RegionMap.load(e);
            m.bootstrapIfEmpty(1);
            DataGenerator.Result r = DataGenerator.apply(e, m, spec);
            assertThat(m.size()).isEqualTo(8);
            visible = r.visibleKvs();
            assertThat(visible).isBetween(1700L, 1900L);
            first = digestOf(e);
            assertThat(DataGenerator.apply(e, m, spec).skipped()).isTrue();
            List<TxnEntry> all = new ArrayList<>();
            try (EngineSnapshot snap = e.snapshot();
                 EntryScanner s = new EntryScanner(snap, null, null, Long.MAX_VALUE, 0, false)) {
                while (s.nextBatch(all, 1024)) {
                    // drain
                }
            }
            assertThat(all).hasSize((int) visible);
            assertThat(all.stream().filter(TxnEntry::hasDefault).count()).isPositive();
        }
        try (Engine e = Engine.open(dir.resolve("b"))) {
            RegionMap m = RegionMap.load(e);
            m.bootstrapIfEmpty(1);
            DataGenerator.apply(e, m, spec);
            assertThat(digestOf(e)).isEqualTo(first);
        }
    }

    @Test
    void locksBlockABackupAtLaterTs() {
        SeedSpec spec = SeedSpec.parse("txn:rows=100,locks=3,seed=1");
        try (Engine e = Engine.open(dir)) {
            RegionMap m = RegionMap.load(e);
            m.bootstrapIfEmpty(1);
            DataGenerator.apply(e, m, spec);
            try (EngineSnapshot snap = e.snapshot();
                 EntryScanner s = new EntryScanner(snap, null, null, DataGenerator.startTs(5), 0, false)) {
                assertThatThrownBy(() -> s.nextBatch(new ArrayList<>(), 1000)).isInstanceOf(KeyLockedException.class);
            }
        }
    }

    @Test
    void badSpecsAreRejectedWithTheKeyNamed() {
        assertThatThrownBy(() -> SeedSpec.parse("blob:rows=1")).hasMessageContaining("kind must be txn or raw");
        assertThatThrownBy(() -> SeedSpec.parse("txn:rowz=1")).hasMessageContaining("unknown key 'rowz'");
        assertThatThrownBy(() -> SeedSpec.parse("txn:rows=-1")).hasMessageContaining("rows must be > 0");
        assertThatThrownBy(() -> SeedSpec.parse("txn:rows=x")).hasMessageContaining("not an integer");
        assertThatThrownBy(() -> SeedSpec.parse("raw:cf=nope")).hasMessageContaining("cf must be");
        assertThatThrownBy(() -> SeedSpec.parse("txn:deletes=2")).hasMessageContaining("deletes must be in [0, 1]");
    }

    @Test
    void aDataDirKeepsItsSeedsAndRefusesADifferentOne() {
        try (Engine engine = Engine.open(dir.resolve("db"))) {
            RegionMap regions = RegionMap.load(engine);
            regions.bootstrapIfEmpty(1);
            List<SeedSpec> first = List.of(SeedSpec.parse("txn:rows=50,seed=1"), SeedSpec.parse("raw:keys=20,key-prefix=q"));
            assertThat(DataGenerator.applyAll(engine, regions, first)).noneMatch(DataGenerator.Result::skipped);
            assertThat(DataGenerator.appliedSeeds(engine)).containsExactlyInAnyOrder("txn:rows=50,seed=1", "raw:keys=20,key-prefix=q");
            // the same seeds again, or a part of them, or none: nothing written again
            assertThat(DataGenerator.applyAll(engine, regions, first)).allMatch(DataGenerator.Result::skipped);
            assertThat(DataGenerator.applyAll(engine, regions, first.subList(0, 1))).allMatch(DataGenerator.Result::skipped);
            assertThat(DataGenerator.applyAll(engine, regions, List.of())).isEmpty();
            // another seed would merge into the old data: refused with both named, nothing written
            assertThatThrownBy(() -> DataGenerator.applyAll(engine, regions, List.of(SeedSpec.parse("txn:rows=60,seed=1"))))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("txn:rows=50,seed=1").hasMessageContaining("txn:rows=60,seed=1").hasMessageContaining("--data-dir");
            assertThat(DataGenerator.appliedSeeds(engine)).hasSize(2);
        }
    }
}

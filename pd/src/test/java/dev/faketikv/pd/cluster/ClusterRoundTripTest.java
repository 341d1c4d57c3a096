package dev.faketikv.pd.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.faketikv.client.BackupVerifier;
import dev.faketikv.client.br.BackupMetas;
import dev.faketikv.client.br.BrBackup;
import dev.faketikv.client.br.BrChecksum;
import dev.faketikv.client.br.BrException;
import dev.faketikv.client.br.BrRestore;
import dev.faketikv.client.br.BrStorage;
import dev.faketikv.engine.Cf;
import dev.faketikv.engine.codec.Keys;
import dev.faketikv.pd.FakeCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb;

/**
 * The whole way, as a BR user goes it: back up cluster A (3 stores, leaders spread) through its PD with the
 * BR-like client, restore into a fresh cluster B, compare checksums and every key/value.
 */
class ClusterRoundTripTest {
    static final double FAST = 0.01;

    @TempDir
    Path tmp;

    static BrBackup.Options backup(FakeCluster c, boolean raw, Path dir) {
        return new BrBackup.Options(c.pdAddr(), raw, null, null, "default", 0, 4, Brpb.CompressionType.ZSTD, null,
                BrStorage.parse("local://" + dir), 300, FAST, null);
    }

    static BrRestore.Options restore(FakeCluster c, boolean raw, Path dir, List<BrRestore.Rewrite> rules) {
        return BrRestore.Options.builder(c.pdAddr(), BrStorage.parse("local://" + dir)).raw(raw).rewrites(rules).backoffScale(FAST).build();
    }

    @Test
    void rawRoundTrip() throws Exception {
        Path dir = tmp.resolve("raw-backup");
        try (FakeCluster a = FakeCluster.builder().stores(3).seed("raw:keys=6000,regions=9,value-size=40,seed=3").start();
             FakeCluster b = FakeCluster.builder().stores(3).start()) {
            assertThat(a.regions().all()).extracting(r -> r.leaderStoreId()).contains(1L, 2L, 3L);
            BrBackup.Result r = BrBackup.run(backup(a, true, dir));
            assertThat(r.kvs()).isEqualTo(6000);
            // every store wrote the files of the regions it leads
            assertThat(r.meta().getFilesList()).extracting(f -> f.getName().substring(0, 2)).contains("1_", "2_", "3_");
            assertThat(Files.readString(dir.resolve("backup.lock"))).isEqualTo(BrStorage.LOCK_CONTENT);
            Brpb.BackupMeta meta = BackupMetas.decode(Files.readAllBytes(dir.resolve("backupmeta")), null);
            assertThat(meta.getIsRawKv()).isTrue();
            assertThat(meta.getClusterId()).isEqualTo(a.clusterId());
            assertThat(meta.getClusterVersion()).isEqualTo("\"5.4.0\"");
            assertThat(meta.getRawRangesList()).singleElement().satisfies(rr -> assertThat(rr.getCf()).isEqualTo("default"));
            assertThat(BackupMetas.summary(meta.getFilesList()).totalKvs()).isEqualTo(6000);
            assertThat(a.pd().serviceSafePoints()).as("BR removes its service safe point at the end").isEmpty();
            // what BR asked PD, in order: members, a timestamp, the safe point, stores, regions ... and the removal
            List<String> asked = a.pdJournal().methods();
            assertThat(asked.get(0)).isEqualTo("pdpb.PD/GetMembers");
            assertThat(asked).contains("pdpb.PD/Tso", "pdpb.PD/UpdateServiceGCSafePoint", "pdpb.PD/GetAllStores", "pdpb.PD/ScanRegions");
            assertThat(asked.get(asked.size() - 1)).isEqualTo("pdpb.PD/UpdateServiceGCSafePoint");
            assertThat(a.pdJournal().toJson()).contains("\"service_id\"");

            BrRestore.Result rr = BrRestore.run(restore(b, true, dir, List.of()));
            assertThat(rr.kvs()).isEqualTo(6000);
            ClusterData.assertSame(ClusterData.rawView(b.engine(), Cf.DEFAULT), ClusterData.rawView(a.engine(), Cf.DEFAULT));
            BrChecksum.Result sum = BrChecksum.run(b.pdAddr(), true, BrStorage.parse("local://" + dir), null, null, null);
            assertThat(sum.ok()).as(sum.summary()).isTrue();
            assertThat(sum.actual().totalKvs()).isEqualTo(6000);
            // a checksum of part of the backup compares the same files on both sides
            BrChecksum.Result part = BrChecksum.run(b.pdAddr(), true, BrStorage.parse("local://" + dir), null,
                    "r000000002000".getBytes(java.nio.charset.StandardCharsets.US_ASCII), "r000000004000".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            assertThat(part.ok()).as(part.summary()).isTrue();
            assertThat(part.expected().totalKvs()).isBetween(2000L, 5999L);
            // the import dirs hold nothing once every SST is ingested (followers' copies dropped)
            b.stores().forEach(s -> assertThat(s.importer().staged()).isEmpty());
        }
    }

    @Test
    void txnRoundTripEncrypted() throws Exception {
        Path dir = tmp.resolve("txn-backup");
        Brpb.CipherInfo cipher = BackupMetas.cipher("aes256-ctr", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
        try (FakeCluster a = FakeCluster.builder().stores(3)
                .seed("txn:rows=5000,regions=10,value-size=32,long-ratio=0.2,long-value-size=600,versions=3,deletes=0.05,seed=5").start();
             FakeCluster b = FakeCluster.builder().stores(3).start()) {
            BrBackup.Options o = backup(a, false, dir);
            o = new BrBackup.Options(o.pd(), false, null, null, null, 0, 4, Brpb.CompressionType.LZ4, cipher, o.storage(), 300, FAST, null);
            BrBackup.Result r = BrBackup.run(o);
            long backupTs = r.meta().getEndVersion();
            assertThat(backupTs).isGreaterThan(a.seeds().get(0).maxTs());
            assertThat(r.meta().getFilesList()).extracting(Brpb.File::getCf).contains("default", "write");
            // the meta is stored encrypted: not readable without the key
            assertThatThrownBy(() -> BackupMetas.decode(Files.readAllBytes(dir.resolve("backupmeta")), null)).isInstanceOf(BrException.class);

            BrRestore.Result rr = BrRestore.run(BrRestore.Options.builder(b.pdAddr(), BrStorage.parse("local://" + dir)).cipher(cipher)
                    .backoffScale(FAST).build());
            assertThat(rr.files()).isEqualTo(r.files());
            TreeMap<String, String> expected = ClusterData.txnView(a.engine(), backupTs);
            assertThat(expected).hasSize((int) r.kvs());
            ClusterData.assertSame(ClusterData.txnView(b.engine(), Long.MAX_VALUE), expected);
            BrChecksum.Result sum = BrChecksum.run(b.pdAddr(), false, BrStorage.parse("local://" + dir), cipher, null, null);
            assertThat(sum.ok()).as(sum.summary()).isTrue();
            assertThat(sum.expected().crc64xor()).isNotZero();
        }
    }

    @Test
    void txnRestoreWithRewriteRule() throws Exception {
        Path dir = tmp.resolve("rewrite-backup");
        try (FakeCluster a = FakeCluster.builder().stores(3).seed("txn:rows=2000,regions=6,table-id=100,seed=9").start();
             FakeCluster b = FakeCluster.builder().stores(2).start()) {
            BrBackup.Result r = BrBackup.run(backup(a, false, dir));
            byte[] oldPrefix = Keys.tidbTablePrefix(100);
            byte[] newPrefix = Keys.tidbTablePrefix(7);
            BrRestore.run(restore(b, false, dir, List.of(new BrRestore.Rewrite(oldPrefix, newPrefix))));
            TreeMap<String, String> expected = new TreeMap<>();
            String oldHex = HexFormat.of().formatHex(oldPrefix);
            String newHex = HexFormat.of().formatHex(newPrefix);
            for (Map.Entry<String, String> e : ClusterData.txnView(a.engine(), r.meta().getEndVersion()).entrySet()) {
                assertThat(e.getKey()).startsWith(oldHex);
                expected.put(newHex + e.getKey().substring(oldHex.length()), e.getValue());
            }
            TreeMap<String, String> restored = ClusterData.txnView(b.engine(), Long.MAX_VALUE);
            assertThat(expected).hasSize(2000);
            ClusterData.assertSame(restored, expected);
        }
    }

    @Test
    void rawRestoreRewritesOnlyTheKeysOfTheRulesPrefix() throws Exception {
        Path dir = tmp.resolve("raw-rewrite");
        try (FakeCluster a = FakeCluster.builder().stores(3).seed("raw:keys=1000,regions=2,seed=4").start();
             FakeCluster b = FakeCluster.builder().stores(3).start()) {
            BrBackup.run(backup(a, true, dir));
            byte[] oldP = "r0000000005".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            byte[] newP = "s0000000005".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            BrRestore.run(restore(b, true, dir, List.of(new BrRestore.Rewrite(oldP, newP))));
            TreeMap<String, String> expected = new TreeMap<>();
            String oldHex = HexFormat.of().formatHex(oldP);
            String newHex = HexFormat.of().formatHex(newP);
            for (Map.Entry<String, String> e : ClusterData.rawView(a.engine(), Cf.DEFAULT).entrySet()) {
                expected.put(e.getKey().startsWith(oldHex) ? newHex + e.getKey().substring(oldHex.length()) : e.getKey(), e.getValue());
            }
            TreeMap<String, String> restored = ClusterData.rawView(b.engine(), Cf.DEFAULT);
            assertThat(restored.keySet().stream().filter(k -> k.startsWith(newHex))).hasSize(100);
            ClusterData.assertSame(restored, expected);
        }
    }

    @Test
    void damagedFileFailsClearlyAndNothingIsIngested() throws Exception {
        Path dir = tmp.resolve("damaged");
        try (FakeCluster a = FakeCluster.builder().stores(3).seed("raw:keys=3000,regions=5,seed=2").start();
             FakeCluster b = FakeCluster.builder().stores(3).start()) {
            BrBackup.Result r = BrBackup.run(backup(a, true, dir));
            Brpb.File victim = r.meta().getFiles(r.meta().getFilesCount() - 1);
            Path f = dir.resolve(victim.getName());
            byte[] content = Files.readAllBytes(f);
            content[content.length / 2] ^= 0x5A;
            Files.write(f, content);
            assertThat(BackupVerifier.sha256Hex(content)).isNotEqualTo(HexFormat.of().formatHex(victim.getSha256().toByteArray()));

            assertThatThrownBy(() -> BrRestore.run(restore(b, true, dir, List.of())))
                    .isInstanceOf(BrException.class)
                    .hasMessageContaining("backup data checksum failed: " + victim.getName() + " may be changed")
                    .hasMessageContaining("nothing was restored");
            assertThat(ClusterData.count(b.engine(), Cf.DEFAULT)).isZero();
            b.stores().forEach(s -> assertThat(s.importer().staged()).isEmpty());
        }
    }

    @Test
    void refusesAPathThatHoldsABackup() throws Exception {
        Path dir = tmp.resolve("twice");
        try (FakeCluster a = FakeCluster.builder().stores(2).seed("raw:keys=100,regions=2").start()) {
            BrBackup.run(backup(a, true, dir));
            byte[] meta = Files.readAllBytes(dir.resolve("backupmeta"));
            assertThatThrownBy(() -> BrBackup.run(backup(a, true, dir))).isInstanceOf(BrException.class)
                    .hasMessageContaining("backup meta file exists");
            assertThat(Files.readAllBytes(dir.resolve("backupmeta"))).isEqualTo(meta);
            assertThatThrownBy(() -> BrRestore.run(restore(a, false, dir, List.of()))).isInstanceOf(BrException.class)
                    .hasMessageContaining("cannot do transactional restore from raw data");
        }
    }
}

package dev.faketikv.pd.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.faketikv.client.br.BackupMetas;
import dev.faketikv.client.br.BrBackup;
import dev.faketikv.client.br.BrException;
import dev.faketikv.client.br.BrRestore;
import dev.faketikv.client.br.BrStorage;
import dev.faketikv.engine.Cf;
import dev.faketikv.pd.FakeCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb;

/**
 * Issue 19 item 5: a restore checks what it restored (BR's {@code --checksum}, on by default). One flipped bit
 * in a file's end_key made restore report success and "kvs=2000" while the target held fewer keys.
 */
public class ClusterRestoreChecksumTest {
    static final String MISMATCH = "failed to validate checksum: [BR:Restore:ErrRestoreChecksumMismatch]restore checksum mismatch";

    @TempDir
    Path tmp;

    static BrRestore.Options.Builder restore(FakeCluster c, Path dir) {
        return BrRestore.Options.builder(c.pdAddr(), BrStorage.parse("local://" + dir)).backoffScale(ClusterRoundTripTest.FAST);
    }

    /** Clears the highest set bit of the last non-zero byte of the first file's end key: its range now stops short. */
    public static void flipABit(Path dir) throws Exception {
        Path metaFile = dir.resolve("backupmeta");
        Brpb.BackupMeta meta = BackupMetas.decode(Files.readAllBytes(metaFile), null);
        int i = 0;
        while (meta.getFiles(i).getEndKey().isEmpty()) {
            i++;
        }
        byte[] end = meta.getFiles(i).getEndKey().toByteArray();
        int at = end.length - 1;
        while (end[at] == 0) {
            at--;
        }
        end[at] ^= (byte) Integer.highestOneBit(end[at] & 0xFF);
        Brpb.BackupMeta damaged = meta.toBuilder().setFiles(i, meta.getFiles(i).toBuilder()
                .setEndKey(com.google.protobuf.ByteString.copyFrom(end))).build();
        Files.write(metaFile, BackupMetas.encode(damaged, null));
    }

    @Test
    void aFlippedBitInTheBackupmetaFailsTheRestoreWithBrsMismatch() throws Exception {
        Path dir = tmp.resolve("b");
        try (FakeCluster a = FakeCluster.builder().stores(3).seed("txn:rows=2000,regions=4,seed=9").start();
             FakeCluster b = FakeCluster.builder().stores(3).start();
             FakeCluster c = FakeCluster.builder().stores(3).start()) {
            BrBackup.run(ClusterRoundTripTest.backup(a, false, dir));
            flipABit(dir);
            assertThatThrownBy(() -> BrRestore.run(restore(b, dir).build())).isInstanceOf(BrException.class)
                    .hasMessageStartingWith(MISMATCH).hasMessageContaining("total_kvs=2000");
            long held = ClusterData.count(b.engine(), Cf.WRITE);
            assertThat(held).isLessThan(2000);
            assertThat(b.stores()).allSatisfy(s -> assertThat(s.importer().mode()).hasToString("Normal"));
            // --checksum=false: what the issue saw — success, with the backupmeta's figure
            BrRestore.Result unchecked = BrRestore.run(restore(c, dir).checksum(false).build());
            assertThat(unchecked.checksum()).isEqualTo(BrRestore.ChecksumStatus.OFF);
            assertThat(unchecked.kvs()).isEqualTo(2000);
            assertThat(ClusterData.count(c.engine(), Cf.WRITE)).isEqualTo(held);
        }
    }

    @Test
    void theSummaryCountsWhatTheStoresHold() throws Exception {
        Path dir = tmp.resolve("ok");
        try (FakeCluster a = FakeCluster.builder().stores(3).seed("txn:rows=1200,regions=3,seed=4").start();
             FakeCluster b = FakeCluster.builder().stores(3).start()) {
            BrBackup.run(ClusterRoundTripTest.backup(a, false, dir));
            BrRestore.Result r = BrRestore.run(restore(b, dir).build());
            assertThat(r.checksum()).isEqualTo(BrRestore.ChecksumStatus.MATCH);
            assertThat(r.kvs()).isEqualTo(1200).isEqualTo(ClusterData.count(b.engine(), Cf.WRITE));
            assertThat(r.summary(false)).contains("kvs=1200").contains("checksum=match");
        }
    }
}

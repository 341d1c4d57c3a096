package dev.faketikv.testing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faketikv.client.br.BrBackup;
import dev.faketikv.client.br.BrStorage;
import dev.faketikv.testing.FakeClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.tikv.kvproto.Brpb;

/** The README's example of a BR-client test against a fake cluster; the second test checks the reset between tests. */
@org.junit.jupiter.api.TestMethodOrder(org.junit.jupiter.api.MethodOrderer.OrderAnnotation.class)
class ClusterExtensionExampleTest {
    @RegisterExtension
    static final FakeClusterExtension CLUSTER = FakeClusterExtension.builder().stores(3).seed("txn:rows=3000,regions=9,seed=1").build();

    static BrBackup.Result backUp() {
        return BrBackup.run(new BrBackup.Options(CLUSTER.pdAddr(), false, null, null, null, 0, 4, Brpb.CompressionType.ZSTD, null,
                BrStorage.parse("noop://"), 300, 0.01, null));
    }

    @Test
    @org.junit.jupiter.api.Order(1)
    void aBackupRetriesAStaleLeaderAndIsComplete() {
        CLUSTER.failPoint(3, "backup_before_response", "print(still here)");
        CLUSTER.faults(2, "[[rule]]\nname = \"stale\"\nmatch = { start = \"74\", end = \"75\" }\naction = \"not_leader\"\n"
                + "leader-store = 1\ntimes = 1\n");
        BrBackup.Result r = backUp();
        assertThat(r.kvs()).isEqualTo(3000);
        assertThat(r.retried()).isEqualTo(1);
    }

    @Test
    @org.junit.jupiter.api.Order(2)
    void rulesDoNotLeakIntoTheNextTest() {
        assertThat(CLUSTER.stores()).allSatisfy(s -> {
            assertThat(s.faults().rules().rules()).isEmpty();
            assertThat(s.faults().failPoints().list()).isEmpty();
            assertThat(s.requestCount()).isZero();
        });
        assertThat(backUp().retried()).isZero();
    }
}

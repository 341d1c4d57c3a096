package dev.faketikv.server.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.faketikv.client.BackupClient;
import dev.faketikv.engine.Cf;
import dev.faketikv.engine.region.Region;
import dev.faketikv.server.FakeTikvServer;
import dev.faketikv.server.TestServers;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb.BackupResponse;
import org.tikv.kvproto.Errorpb;

/** Leadership and epochs: what raftstore's read path checks before a backup snapshot. */
class RegionErrorTest {
    @TempDir
    static Path tmp;
    static FakeTikvServer server;

    @BeforeAll
    static void start() throws Exception {
        server = TestServers.start(tmp.resolve("data"), List.of("txn:rows=800,regions=4,seed=1"));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static BackupRange rangeOf(Region r) {
        return new BackupRange(null, null, r, r.peerOn(1), false, Cf.DEFAULT);
    }

    @Test
    void staleEpochIsEpochNotMatchWithCurrentRegions() {
        Region r = server.regions().all().get(1);
        Region stale = r.withEpoch(r.confVer(), r.version() - 1);
        assertThatThrownBy(() -> server.endpoint().snapshot(rangeOf(stale)).close())
                .isInstanceOfSatisfying(RegionErrorException.class, e -> {
                    Errorpb.Error pb = e.error();
                    assertThat(pb.hasEpochNotMatch()).isTrue();
                    assertThat(pb.getEpochNotMatch().getCurrentRegions(0).getId()).isEqualTo(r.id());
                    assertThat(pb.getEpochNotMatch().getCurrentRegions(0).getRegionEpoch().getVersion()).isEqualTo(r.version());
                    // one version behind: the one region split off to the left follows
                    assertThat(pb.getEpochNotMatch().getCurrentRegionsCount()).isEqualTo(2);
                    assertThat(pb.getEpochNotMatch().getCurrentRegions(1).getEndKey().toByteArray()).isEqualTo(r.startKey());
                    assertThat(pb.getMessage()).startsWith("EpochNotMatch current epoch of region " + r.id());
                    assertThat(e.label()).isEqualTo("epoch_not_match");
                });
    }

    @Test
    void unknownRegionIsRegionNotFound() {
        Region r = server.regions().all().get(0);
        Region ghost = new Region(99999, r.startKey(), r.endKey(), 1, 1, r.peers(), 1);
        assertThatThrownBy(() -> server.endpoint().snapshot(rangeOf(ghost)).close())
                .isInstanceOfSatisfying(RegionErrorException.class, e -> {
                    assertThat(e.error().getRegionNotFound().getRegionId()).isEqualTo(99999);
                    assertThat(e.error().getMessage()).isEqualTo("region 99999 not found");
                });
    }

    @Test
    void leaderMovedAwayIsNotLeaderWithTheHintAndSuchRegionsAreSkipped() throws Exception {
        Region r = server.regions().all().get(2);
        Region withPeer = server.regions().addPeer(r.id(), 2);
        assertThat(withPeer.confVer()).isEqualTo(r.confVer() + 1);
        server.regions().transferLeader(r.id(), 2);
        try {
            assertThatThrownBy(() -> server.endpoint().snapshot(rangeOf(withPeer)).close())
                    .isInstanceOfSatisfying(RegionErrorException.class, e -> {
                        assertThat(e.error().getNotLeader().getRegionId()).isEqualTo(r.id());
                        assertThat(e.error().getNotLeader().getLeader().getStoreId()).isEqualTo(2);
                        assertThat(e.label()).isEqualTo("not_leader");
                        assertThat(e.error().getMessage()).endsWith("leader may Some(id: " + e.error().getNotLeader().getLeader().getId() + " store_id: 2)");
                    });
            // a backup from store 1 silently skips the region it no longer leads: 3 responses, a gap
            try (BackupClient client = new BackupClient(server.addr())) {
                List<BackupResponse> responses = client.backup(TestServers.txn(TestServers.noop()).build());
                assertThat(responses).hasSize(3).noneMatch(BackupResponse::hasError);
            }
        } finally {
            server.regions().transferLeader(r.id(), 1);
        }
    }

    @Test
    void aPeerIdMismatchIsAMessageOnlyRegionError() {
        Region r = server.regions().all().get(3);
        BackupRange wrongPeer = new BackupRange(null, null, r, new dev.faketikv.engine.region.Peer(12345, 1), false, Cf.DEFAULT);
        assertThatThrownBy(() -> server.endpoint().snapshot(wrongPeer).close())
                .isInstanceOfSatisfying(RegionErrorException.class, e -> {
                    assertThat(e.error().getMessage()).contains("mismatch peer id 12345 != ");
                    assertThat(e.error().hasNotLeader()).isFalse();
                    assertThat(e.label()).isNull();
                });
    }
}

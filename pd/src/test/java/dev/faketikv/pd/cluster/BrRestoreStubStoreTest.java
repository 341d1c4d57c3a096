package dev.faketikv.pd.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.faketikv.client.br.BrBackup;
import dev.faketikv.client.br.BrException;
import dev.faketikv.client.br.BrRestore;
import dev.faketikv.client.br.BrStorage;
import dev.faketikv.engine.Cf;
import dev.faketikv.engine.region.Region;
import dev.faketikv.pd.FakeCluster;
import io.grpc.Status;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Errorpb;
import org.tikv.kvproto.ImportSstpb;
import org.tikv.kvproto.Metapb;

/**
 * {@link BrRestore} against stores that misbehave in ways a fake store never does by itself, through
 * {@link StubStore}s in front of a real {@link FakeCluster}'s stores. The oracle is BR 5.4's restore (pingcap/br
 * at ec59c7b6, {@code pkg/restore/import.go} {@code FileImporter.Import}, {@code ingestSSTs}, {@code downloadSST},
 * {@code importClient.SupportMultiIngest}; {@code pkg/restore/backoff.go} {@code importerBackoffer.NextBackoff}):
 * <ul>
 *   <li>a store whose {@code MultiIngest} is UNIMPLEMENTED (TiKV before 5.0): the probe stops there and every
 *       file is ingested with {@code Ingest}, one SST per call;
 *   <li>NotLeader without a leader hint: the leader is asked of PD, and a store that never takes the ingest
 *       ends the restore with a clear error and nothing ingested;
 *   <li>EpochNotMatch (with or without current regions), ServerIsBusy, RegionNotFound, StaleCommand and any
 *       other region error are retried with a fresh look at the regions; KeyNotInRegion is not;
 *   <li>Download: UNAVAILABLE is retried, an error in the response 8 times, another gRPC status not at all.
 * </ul>
 * Counts are exact where {@code concurrency(1)} makes the order fixed: the first range's failure ends the restore.
 */
class BrRestoreStubStoreTest {
    @TempDir
    static Path tmp;
    static Path raw;
    static Path txn;
    static TreeMap<String, String> rawSource;
    static TreeMap<String, String> txnSource;

    @BeforeAll
    static void backUp() throws Exception {
        raw = tmp.resolve("raw");
        txn = tmp.resolve("txn");
        try (FakeCluster a = FakeCluster.builder().stores(1).seed("raw:keys=600,regions=3,seed=11").start()) {
            BrBackup.run(new BrBackup.Options(a.pdAddr(), true, null, null, "default", 0, 4, Brpb.CompressionType.LZ4, null,
                    BrStorage.parse("local://" + raw), 300, 0.01, null));
            rawSource = ClusterData.rawView(a.engine(), Cf.DEFAULT);
        }
        try (FakeCluster a = FakeCluster.builder().stores(1).seed("txn:rows=100,regions=2,long-ratio=0.3,seed=11").start()) {
            BrBackup.Result r = BrBackup.run(new BrBackup.Options(a.pdAddr(), false, null, null, "default", 0, 4, Brpb.CompressionType.LZ4,
                    null, BrStorage.parse("local://" + txn), 300, 0.01, null));
            txnSource = ClusterData.txnView(a.engine(), r.meta().getEndVersion());
        }
    }

    static BrRestore.Options.Builder restore(FakeCluster c, Path dir) {
        return BrRestore.Options.builder(c.pdAddr(), BrStorage.parse("local://" + dir)).raw(dir == raw).backoffScale(0.01);
    }

    /** Every MultiIngest that carries files gets {@code error} (the empty probe is let through). */
    static StubStore.Script<ImportSstpb.MultiIngestRequest, ImportSstpb.IngestResponse> failEvery(
            Function<ImportSstpb.MultiIngestRequest, Errorpb.Error> error) {
        return (q, n, real) -> q.getSstsCount() > 0 ? ImportSstpb.IngestResponse.newBuilder().setError(error.apply(q)).build() : null;
    }

    /** TiKV's NotLeader when the peer knows no leader ({@code leader may None}). */
    static Errorpb.Error notLeaderNoHint(long regionId) {
        return Errorpb.Error.newBuilder().setMessage("peer is not leader for region " + regionId + ", leader may None")
                .setNotLeader(Errorpb.NotLeader.newBuilder().setRegionId(regionId)).build();
    }

    static List<ImportSstpb.MultiIngestRequest> carryingFiles(StubStore s) {
        return s.requests("MultiIngest", ImportSstpb.MultiIngestRequest.class).stream().filter(q -> q.getSstsCount() > 0).toList();
    }

    static int pdCalls(FakeCluster c, String method) {
        return Collections.frequency(c.pdJournal().methods(), "pdpb.PD/" + method);
    }

    @Test
    void aStoreWithoutMultiIngestMakesTheRestoreIngestOneFilePerIngestCall() throws Exception {
        try (FakeCluster b = FakeCluster.builder().stores(3).start();
             StubStore s1 = StubStore.inFrontOf(b, 1); StubStore s2 = StubStore.inFrontOf(b, 2); StubStore s3 = StubStore.inFrontOf(b, 3)) {
            s2.onMultiIngest((q, n, real) -> {
                throw Status.UNIMPLEMENTED.withDescription("Method not found: import_sstpb.ImportSST/MultiIngest").asRuntimeException();
            });
            BrRestore.Result r = BrRestore.run(restore(b, raw).build());
            ClusterData.assertSame(ClusterData.rawView(b.engine(), Cf.DEFAULT), rawSource);
            // the probe went to the stores in id order and stopped at the first UNIMPLEMENTED, as BR's SupportMultiIngest
            assertThat(s1.requests("MultiIngest", ImportSstpb.MultiIngestRequest.class))
                    .containsExactly(ImportSstpb.MultiIngestRequest.getDefaultInstance());
            assertThat(s2.requests("MultiIngest", ImportSstpb.MultiIngestRequest.class))
                    .containsExactly(ImportSstpb.MultiIngestRequest.getDefaultInstance());
            assertThat(s3.count("MultiIngest")).isZero();
            // every file went in with Ingest, on whichever store leads its region
            List<ImportSstpb.IngestRequest> ingests = new ArrayList<>();
            for (StubStore s : List.of(s1, s2, s3)) {
                ingests.addAll(s.requests("Ingest", ImportSstpb.IngestRequest.class));
            }
            assertThat(ingests).hasSize(r.regions()).isNotEmpty();
            assertThat(ingests).allSatisfy(q -> assertThat(q.getSst().getCfName()).isEqualTo("default"));
        }
    }

    @Test
    void aTxnRestoreWithoutMultiIngestIngestsTheWriteAndDefaultFilesOneByOne() throws Exception {
        try (FakeCluster b = FakeCluster.builder().stores(1).start(); StubStore s = StubStore.inFrontOf(b, 1)) {
            s.onMultiIngest((q, n, real) -> {
                throw Status.UNIMPLEMENTED.asRuntimeException();
            });
            BrRestore.Result r = BrRestore.run(restore(b, txn).build());
            ClusterData.assertSame(ClusterData.txnView(b.engine(), Long.MAX_VALUE), txnSource);
            assertThat(s.count("MultiIngest")).isEqualTo(1);
            // a range's write and default files, each in an Ingest of its own
            List<ImportSstpb.IngestRequest> ingests = s.requests("Ingest", ImportSstpb.IngestRequest.class);
            assertThat(ingests).hasSize(r.regions());
            assertThat(ingests).extracting(q -> q.getSst().getCfName()).contains("write", "default");
        }
    }

    @Test
    void notLeaderWithoutAHintIsResolvedThroughPd() throws Exception {
        try (FakeCluster b = FakeCluster.builder().stores(3).start(); StubStore s1 = StubStore.inFrontOf(b, 1)) {
            // a leader that moves away while the ingest is on its way: store 1 answers NotLeader, and the stub drops the
            // hint TiKV would give, as a peer that has not heard from the new leader yet answers
            s1.onMultiIngest((q, n, real) -> {
                if (q.getSstsCount() == 0 || b.regions().get(q.getContext().getRegionId()).leaderStoreId() != 1) {
                    return null;
                }
                b.transferLeader(q.getContext().getRegionId(), 2);
                ImportSstpb.IngestResponse resp = real.apply(q);
                if (!resp.getError().hasNotLeader()) {
                    return resp;
                }
                return resp.toBuilder().setError(resp.getError().toBuilder().setNotLeader(
                        resp.getError().getNotLeader().toBuilder().clearLeader())).build();
            });
            int byIdBefore = pdCalls(b, "GetRegionByID");
            BrRestore.Result r = BrRestore.run(restore(b, raw).build());
            ClusterData.assertSame(ClusterData.rawView(b.engine(), Cf.DEFAULT), rawSource);
            int answeredNotLeader = carryingFiles(s1).size();
            assertThat(answeredNotLeader).isPositive();
            assertThat(r.retried()).isGreaterThanOrEqualTo(answeredNotLeader);
            assertThat(pdCalls(b, "GetRegionByID") - byIdBefore).isGreaterThanOrEqualTo(answeredNotLeader);
            assertThat(b.store(1).importer().staged()).isEmpty();
        }
    }

    @Test
    void notLeaderWithoutAHintForARegionThatChangedMeanwhileIsEpochNotMatch() throws Exception {
        try (FakeCluster b = FakeCluster.builder().stores(3).start(); StubStore s1 = StubStore.inFrontOf(b, 1);
             StubStore s2 = StubStore.inFrontOf(b, 2)) {
            // the leader moved and the region split (a version bump) before the hintless NotLeader: BR compares PD's
            // region with the one it downloaded for (checkRegionEpoch) and starts over instead of sending the new
            // leader an ingest with the old epoch
            s1.onMultiIngest((q, n, real) -> {
                Region now = b.regions().get(q.getContext().getRegionId());
                if (q.getSstsCount() == 0 || now.leaderStoreId() != 1) {
                    return null;
                }
                b.transferLeader(now.id(), 2);
                b.regions().setEpoch(now.id(), now.confVer(), now.version() + 1);
                return ImportSstpb.IngestResponse.newBuilder().setError(notLeaderNoHint(now.id())).build();
            });
            BrRestore.Result r = BrRestore.run(restore(b, raw).build());
            ClusterData.assertSame(ClusterData.rawView(b.engine(), Cf.DEFAULT), rawSource);
            assertThat(carryingFiles(s1)).isNotEmpty();
            assertThat(r.retried()).isGreaterThanOrEqualTo(carryingFiles(s1).size());
            assertThat(carryingFiles(s2)).isNotEmpty().allSatisfy(q -> assertThat(q.getContext().getRegionEpoch().getVersion())
                    .isEqualTo(b.regions().get(q.getContext().getRegionId()).version()));
        }
    }

    @Test
    void notLeaderWithoutAHintOnEveryAttemptFailsClearlyWithNothingIngested() throws Exception {
        try (FakeCluster b = FakeCluster.builder().stores(1).start(); StubStore s = StubStore.inFrontOf(b, 1)) {
            s.onMultiIngest(failEvery(q -> notLeaderNoHint(q.getContext().getRegionId())));
            assertThatThrownBy(() -> BrRestore.run(restore(b, raw).concurrency(1).build())).isInstanceOf(BrException.class)
                    .hasMessageContaining("ErrKVIngestFailed").hasMessageContaining("no leader after 16 attempts")
                    .hasMessageContaining("leader may None");
            // the first range's region: 16 tries, then the restore ends
            assertThat(carryingFiles(s)).hasSize(16)
                    .allSatisfy(q -> assertThat(q.getContext().getRegionId()).isEqualTo(carryingFiles(s).get(0).getContext().getRegionId()));
            assertThat(ClusterData.count(b.engine(), Cf.DEFAULT)).isZero();
            assertThat(b.store(1).importer().mode()).hasToString("Normal");
        }
    }

    /**
     * A region error of each kind BR 5.4 retries, one after the other on the first range's ingest: each is retried
     * with a fresh look at the regions (and a fresh download), and the attempt after the last goes through.
     */
    @Test
    void regionErrorsBrRetriesAreRetriedWithFreshRegions() throws Exception {
        Map<String, Function<ImportSstpb.MultiIngestRequest, Errorpb.Error>> kinds = new LinkedHashMap<>();
        kinds.put("EpochNotMatch without regions", q -> Errorpb.Error.newBuilder().setMessage("epoch not match")
                .setEpochNotMatch(Errorpb.EpochNotMatch.getDefaultInstance()).build());
        kinds.put("EpochNotMatch with current regions", q -> Errorpb.Error.newBuilder().setMessage("epoch not match")
                .setEpochNotMatch(Errorpb.EpochNotMatch.newBuilder().addCurrentRegions(Metapb.Region.newBuilder()
                        .setId(q.getContext().getRegionId()).setRegionEpoch(q.getContext().getRegionEpoch().toBuilder()
                                .setVersion(q.getContext().getRegionEpoch().getVersion() + 1)))).build());
        kinds.put("ServerIsBusy", q -> Errorpb.Error.newBuilder().setMessage("server is busy")
                .setServerIsBusy(Errorpb.ServerIsBusy.newBuilder().setReason("too many sst files are ingesting")).build());
        kinds.put("RegionNotFound", q -> Errorpb.Error.newBuilder().setMessage("region not found")
                .setRegionNotFound(Errorpb.RegionNotFound.newBuilder().setRegionId(q.getContext().getRegionId())).build());
        kinds.put("StaleCommand", q -> Errorpb.Error.newBuilder().setMessage("stale command")
                .setStaleCommand(Errorpb.StaleCommand.getDefaultInstance()).build());
        kinds.put("DiskFull", q -> Errorpb.Error.newBuilder().setMessage("disk full")
                .setDiskFull(Errorpb.DiskFull.newBuilder().addStoreId(1).setReason("injected")).build());
        kinds.put("a bare message", q -> Errorpb.Error.newBuilder().setMessage("raft entry is too large").build());
        List<Function<ImportSstpb.MultiIngestRequest, Errorpb.Error>> inOrder = new ArrayList<>(kinds.values());
        try (FakeCluster b = FakeCluster.builder().stores(1).start(); StubStore s = StubStore.inFrontOf(b, 1)) {
            AtomicInteger withFiles = new AtomicInteger();
            s.onMultiIngest((q, n, real) -> {
                int k = q.getSstsCount() == 0 ? -1 : withFiles.getAndIncrement();
                return k < 0 || k >= inOrder.size() ? null : ImportSstpb.IngestResponse.newBuilder().setError(inOrder.get(k).apply(q)).build();
            });
            int scansBefore = pdCalls(b, "ScanRegions");
            BrRestore.Result r = BrRestore.run(restore(b, raw).concurrency(1).build());
            ClusterData.assertSame(ClusterData.rawView(b.engine(), Cf.DEFAULT), rawSource);
            assertThat(r.retried()).isEqualTo(kinds.size());
            List<ImportSstpb.MultiIngestRequest> ingests = carryingFiles(s);
            // the first range's region took every error and then the files; the other ranges went through at once
            assertThat(ingests.subList(0, kinds.size() + 1)).extracting(q -> q.getContext().getRegionId()).containsOnly(
                    ingests.get(0).getContext().getRegionId());
            assertThat(ingests).hasSize(r.regions());
            // one scan per attempt of the first range at least (the split before the restore scans too)
            assertThat(pdCalls(b, "ScanRegions") - scansBefore).isGreaterThanOrEqualTo(kinds.size() + 1);
        }
    }

    @Test
    void keyNotInRegionIsNotRetriedAndNothingIsIngested() throws Exception {
        try (FakeCluster b = FakeCluster.builder().stores(1).start(); StubStore s = StubStore.inFrontOf(b, 1)) {
            s.onMultiIngest(failEvery(q -> Errorpb.Error.newBuilder().setMessage("key not in region")
                    .setKeyNotInRegion(Errorpb.KeyNotInRegion.newBuilder().setRegionId(q.getContext().getRegionId())).build()));
            assertThatThrownBy(() -> BrRestore.run(restore(b, raw).concurrency(1).build())).isInstanceOf(BrException.class)
                    .hasMessageContaining("ErrKVKeyNotInRegion");
            assertThat(carryingFiles(s)).hasSize(1);
            assertThat(ClusterData.count(b.engine(), Cf.DEFAULT)).isZero();
            assertThat(b.store(1).importer().mode()).hasToString("Normal");
        }
    }

    @Test
    void anIngestUnavailableOnEveryAttemptEndsAfterSixteenWithNothingIngested() throws Exception {
        try (FakeCluster b = FakeCluster.builder().stores(1).start(); StubStore s = StubStore.inFrontOf(b, 1)) {
            s.onMultiIngest((q, n, real) -> {
                if (q.getSstsCount() == 0) {
                    return null;
                }
                throw Status.UNAVAILABLE.withDescription("injected: store restarting").asRuntimeException();
            });
            assertThatThrownBy(() -> BrRestore.run(restore(b, raw).concurrency(1).build())).isInstanceOf(BrException.class)
                    .hasMessageContaining("failed after 16 attempts").hasMessageContaining("MultiIngest on store 1")
                    .hasMessageContaining("injected: store restarting");
            assertThat(carryingFiles(s)).hasSize(16);
            assertThat(ClusterData.count(b.engine(), Cf.DEFAULT)).isZero();
            assertThat(b.store(1).importer().mode()).hasToString("Normal");
        }
    }

    @Test
    void anIngestFailingWithAStatusBrDoesNotRetryEndsAtOnce() throws Exception {
        try (FakeCluster b = FakeCluster.builder().stores(1).start(); StubStore s = StubStore.inFrontOf(b, 1)) {
            s.onMultiIngest((q, n, real) -> {
                if (q.getSstsCount() == 0) {
                    return null;
                }
                throw Status.INTERNAL.withDescription("injected: ingest broken").asRuntimeException();
            });
            assertThatThrownBy(() -> BrRestore.run(restore(b, raw).concurrency(1).build())).isInstanceOf(BrException.class)
                    .hasMessageContaining("INTERNAL: injected: ingest broken").hasMessageNotContaining("attempts");
            assertThat(carryingFiles(s)).hasSize(1);
            assertThat(ClusterData.count(b.engine(), Cf.DEFAULT)).isZero();
        }
    }

    @Test
    void anUnavailableDownloadIsRetried() throws Exception {
        try (FakeCluster b = FakeCluster.builder().stores(1).start(); StubStore s = StubStore.inFrontOf(b, 1)) {
            s.onDownload((q, n, real) -> {
                if (n <= 2) {
                    throw Status.UNAVAILABLE.withDescription("injected: store restarting").asRuntimeException();
                }
                return null;
            });
            BrRestore.Result r = BrRestore.run(restore(b, raw).concurrency(1).build());
            assertThat(r.retried()).isEqualTo(2);
            ClusterData.assertSame(ClusterData.rawView(b.engine(), Cf.DEFAULT), rawSource);
            assertThat(s.count("Download")).isEqualTo(r.regions() + 2);
        }
    }

    @Test
    void aDownloadErrorOnEveryAttemptFailsAfterEightWithNothingIngested() throws Exception {
        try (FakeCluster b = FakeCluster.builder().stores(1).start(); StubStore s = StubStore.inFrontOf(b, 1)) {
            s.onDownload((q, n, real) -> ImportSstpb.DownloadResponse.newBuilder()
                    .setError(ImportSstpb.Error.newBuilder().setMessage("Io(Custom { kind: TimedOut, error: \"read timeout (injected)\" })"))
                    .build());
            assertThatThrownBy(() -> BrRestore.run(restore(b, raw).concurrency(1).build())).isInstanceOf(BrException.class)
                    .hasMessageContaining("ErrKVDownloadFailed").hasMessageContaining("on store 1").hasMessageContaining("read timeout (injected)");
            assertThat(s.count("Download")).isEqualTo(8);
            assertThat(s.count("MultiIngest")).isEqualTo(1);
            assertThat(ClusterData.count(b.engine(), Cf.DEFAULT)).isZero();
            assertThat(b.store(1).importer().mode()).hasToString("Normal");
        }
    }

    @Test
    void aDownloadFailingWithAStatusBrDoesNotRetryEndsAtOnce() throws Exception {
        try (FakeCluster b = FakeCluster.builder().stores(1).start(); StubStore s = StubStore.inFrontOf(b, 1)) {
            s.onDownload((q, n, real) -> {
                throw Status.INTERNAL.withDescription("injected: importer broken").asRuntimeException();
            });
            assertThatThrownBy(() -> BrRestore.run(restore(b, raw).concurrency(1).build())).isInstanceOf(BrException.class)
                    .hasMessageContaining("ErrKVDownloadFailed").hasMessageContaining("INTERNAL: injected: importer broken");
            assertThat(s.count("Download")).isEqualTo(1);
            assertThat(ClusterData.count(b.engine(), Cf.DEFAULT)).isZero();
        }
    }
}

package dev.faketikv.server.importer;

import com.google.protobuf.ByteString;
import dev.faketikv.engine.codec.Keys;
import dev.faketikv.engine.region.Region;
import dev.faketikv.engine.region.RegionMap;
import dev.faketikv.server.backup.RegionErrorException;
import dev.faketikv.server.control.FailPoints;
import dev.faketikv.server.control.Journal;
import dev.faketikv.server.metrics.ImportMetrics;
import dev.faketikv.server.raftstore.Regions;
import com.google.protobuf.Message;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.tikv.kvproto.Errorpb;
import org.tikv.kvproto.ImportSSTGrpc;
import org.tikv.kvproto.ImportSstpb;
import org.tikv.kvproto.ImportSstpb.DownloadRequest;
import org.tikv.kvproto.ImportSstpb.DownloadResponse;
import org.tikv.kvproto.ImportSstpb.IngestRequest;
import org.tikv.kvproto.ImportSstpb.IngestResponse;
import org.tikv.kvproto.ImportSstpb.MultiIngestRequest;
import org.tikv.kvproto.ImportSstpb.SSTMeta;
import org.tikv.kvproto.ImportSstpb.SwitchMode;
import org.tikv.kvproto.Kvrpcpb;

/**
 * The gRPC {@code import_sstpb.ImportSST} service of one store: TiKV's {@code ImportSSTService}
 * ({@code src/import/sst_service.rs} at b5262299), the subset BR's restore uses.
 * <ul>
 *   <li>{@code SwitchMode}: the store's import mode (recorded, shown by {@link SstImporter#mode}, reverting by
 *       itself after {@code import.import-mode-timeout}; RocksDB is not retuned; this kvproto has no {@code GetMode});
 *   <li>{@code SetDownloadSpeedLimit}: bytes/s for later downloads, 0 = unlimited;
 *   <li>{@code Download}: {@link SstImporter#download}; failures in {@code DownloadResponse.error}. The response
 *       carries {@code range} or {@code is_empty} only: 5.4 leaves {@code length} and {@code crc32} unset
 *       ({@code sst_service.rs:415-422});
 *   <li>{@code Ingest} / {@code MultiIngest} ({@code ingest_files}, {@code :158-233}), in TiKV's order:
 *       <ol>
 *         <li>write stall → {@code ServerIsBusy} "too many sst files are ingesting", in normal mode only
 *             ({@code check_write_stall}, {@code :140-156}); fake-tikv has no RocksDB slowdown signal, so this
 *             answer comes only from the failpoint {@code import_write_stall} ({@code return});
 *         <li>the snapshot of the context's region (raftstore's read path): {@code region_not_found} for an unknown
 *             region — so the empty {@code MultiIngest} BR probes with (region 0) gets a RegionNotFound body —,
 *             {@code not_leader} with the leader, {@code epoch_not_match} when the context's <em>version</em>
 *             differs (a normal request checks no conf_ver: {@code raftstore/src/store/util.rs:234-245});
 *         <li>every SST must be staged here, else {@code stale_command} "The file which would be ingested doest
 *             not exist." ({@code :196-213});
 *         <li>at apply, per SST, {@code check_sst_for_ingestion} ({@code raftstore/src/store/fsm/apply.rs:2768-2797}):
 *             cf {@code default} or {@code write} (else "invalid cf name X"), {@code SSTMeta.region_id} equal to the
 *             region's (else {@code region_not_found} of the meta's id), the meta's full epoch equal to the
 *             region's (else {@code epoch_not_match} "X != Y" with the region), and the staged file's first and
 *             last key in the region ({@code check_key_in_region}: start ≤ key &lt; end; else
 *             {@code key_not_in_region}; TiKV checks the ends of {@code SSTMeta.range} instead, see
 *             {@link #checkForIngestion}). A file failing these is deleted, as apply does
 *             ({@code apply.rs:1671-1682});
 *         <li>then the staged files are ingested and {@code onIngested} told (the cluster drops followers'
 *             copies — the raft apply a real cluster would do on every peer).
 *       </ol>
 *   <li>every other RPC: {@code UNIMPLEMENTED}.
 * </ul>
 * Metrics where TiKV observes them: {@code tikv_import_rpc_duration{request,result}} for every answered call
 * ({@code send_rpc_response!}, {@code src/import/mod.rs:32-51}; Download always {@code ok}, an ingest answered
 * with a region error too), except the write-stall answer (sent without observation); the download
 * {@code queue} duration (the wait before the download runs, {@code :391-394}); {@code tikv_import_error_counter}
 * for region errors of the snapshot and of apply ({@code pb_error_inc}, {@code :680-702}), not for the
 * write stall or the missing-file {@code stale_command}, never for Download (errors stay in its response).
 * Failpoints: {@code import_download} (before a download reads its file), {@code import_before_ingest} (before
 * the region checks of an ingest carrying SSTs) and {@code import_write_stall} (the write-stall check); {@code pause} holds the call there,
 * {@code return(msg)} fails it.
 * Thread-safe.
 */
public final class ImportSstService extends ImportSSTGrpc.ImportSSTImplBase {
    private static final Logger LOG = LoggerFactory.getLogger(ImportSstService.class);
    /** TiKV's text for an SST that is not staged ({@code sst_service.rs:205}, its spelling kept). */
    static final String FILE_MISSING = "The file which would be ingested doest not exist.";
    static final String WRITE_STALL = "too many sst files are ingesting";

    private final long storeId;
    private final RegionMap regions;
    private final SstImporter importer;
    private final ImportMetrics metrics;
    private final Consumer<List<SSTMeta>> onIngested;
    private final FailPoints failPoints;
    private final Journal journal;

    public ImportSstService(long storeId, RegionMap regions, SstImporter importer, FailPoints failPoints,
                            Journal journal, Consumer<List<SSTMeta>> onIngested) {
        this.failPoints = failPoints;
        this.journal = journal;
        this.storeId = storeId;
        this.regions = regions;
        this.importer = importer;
        this.metrics = importer.metrics();
        this.onIngested = onIngested;
    }

    /** Answers {@code resp}, observes the call as {@code send_rpc_response!} does ({@code ok}), and journals it. */
    private <T extends Message> void answer(String method, String label, long t0, Message req, StreamObserver<T> out, T resp) {
        metrics.observeRpc(label, true, Duration.ofNanos(System.nanoTime() - t0));
        journal.importCall(method, req, resp, "OK");
        out.onNext(resp);
        out.onCompleted();
    }

    @Override
    public void switchMode(ImportSstpb.SwitchModeRequest request, StreamObserver<ImportSstpb.SwitchModeResponse> out) {
        long t0 = System.nanoTime();
        if (request.getModeValue() != 0 && request.getModeValue() != 1) {
            metrics.observeRpc("switch_mode", false, Duration.ofNanos(System.nanoTime() - t0));
            journal.importCall("SwitchMode", request, null, "INVALID_ARGUMENT");
            out.onError(Status.INVALID_ARGUMENT.withDescription("unknown import mode " + request.getModeValue()).asRuntimeException());
            return;
        }
        importer.switchMode(request.getMode());
        LOG.info("store {}: import mode {}", storeId, request.getMode());
        answer("SwitchMode", "switch_mode", t0, request, out, ImportSstpb.SwitchModeResponse.getDefaultInstance());
    }

    @Override
    public void setDownloadSpeedLimit(ImportSstpb.SetDownloadSpeedLimitRequest request,
                                      StreamObserver<ImportSstpb.SetDownloadSpeedLimitResponse> out) {
        long t0 = System.nanoTime();
        importer.setSpeedLimit(request.getSpeedLimit());
        answer("SetDownloadSpeedLimit", "set_download_speed_limit", t0, request, out,
                ImportSstpb.SetDownloadSpeedLimitResponse.getDefaultInstance());
    }

    @Override
    public void download(DownloadRequest request, StreamObserver<DownloadResponse> out) {
        long t0 = System.nanoTime();
        DownloadResponse.Builder resp = DownloadResponse.newBuilder();
        // the download runs on the calling thread: its wait to be scheduled is the time to get here
        metrics.observeDownload("queue", Duration.ofNanos(System.nanoTime() - t0));
        try {
            Optional<String> fp = failPoints.eval("import_download");
            if (fp.isPresent()) {
                throw new SstImporter.ImportException(fp.get().isEmpty() ? "injected by failpoint import_download" : fp.get());
            }
            if (!request.hasStorageBackend()) {
                throw new SstImporter.ImportException("download: no storage_backend given");
            }
            SstImporter.Downloaded d = importer.download(request.getSst(), request.getName(), request.getRewriteRule(),
                    request.getStorageBackend(), request.getIsRawKv(), request.hasCipherInfo() ? request.getCipherInfo() : null);
            if (d.empty()) {
                resp.setIsEmpty(true);
            } else {
                resp.setRange(ImportSstpb.Range.newBuilder().setStart(ByteString.copyFrom(d.first())).setEnd(ByteString.copyFrom(d.last())));
            }
        } catch (SstImporter.ImportException e) {
            LOG.info("store {}: download {} failed: {}", storeId, request.getName(), e.getMessage());
            resp.setError(ImportSstpb.Error.newBuilder().setMessage(e.getMessage()));
        } catch (RuntimeException e) {
            LOG.warn("store {}: download {} failed", storeId, request.getName(), e);
            resp.setError(ImportSstpb.Error.newBuilder().setMessage(String.valueOf(e)));
        }
        answer("Download", "download", t0, request, out, resp.build());
    }

    @Override
    public void ingest(IngestRequest request, StreamObserver<IngestResponse> out) {
        ingestFiles("Ingest", "ingest", request, request.getContext(), List.of(request.getSst()), out);
    }

    @Override
    public void multiIngest(MultiIngestRequest request, StreamObserver<IngestResponse> out) {
        ingestFiles("MultiIngest", "multi-ingest", request, request.getContext(), request.getSstsList(), out);
    }

    private void ingestFiles(String method, String label, Message request, Kvrpcpb.Context ctx, List<SSTMeta> metas,
                             StreamObserver<IngestResponse> out) {
        long t0 = System.nanoTime();
        Optional<String> stall = failPoints.eval("import_write_stall");
        if (stall.isPresent() && importer.mode() == SwitchMode.Normal) {
            // sent directly, with no observation at all (sst_service.rs:445-452, 488-495)
            IngestResponse busy = error(Errorpb.Error.newBuilder().setMessage(WRITE_STALL)
                    .setServerIsBusy(Errorpb.ServerIsBusy.newBuilder().setReason(WRITE_STALL)).build());
            journal.importCall(method, request, busy, "OK");
            out.onNext(busy);
            out.onCompleted();
            return;
        }
        IngestResponse resp = doIngest(label, ctx, metas);
        answer(method, label, t0, request, out, resp);
    }

    private IngestResponse doIngest(String label, Kvrpcpb.Context ctx, List<SSTMeta> metas) {
        // only an ingest that carries files stops here: BR's empty probe passes (it fails at the snapshot in TiKV,
        // before TiKV's own import::sst_service::ingest failpoint)
        Optional<String> fp = metas.isEmpty() ? Optional.empty() : failPoints.eval("import_before_ingest");
        if (fp.isPresent()) {
            return counted(label, Errorpb.Error.newBuilder().setMessage(fp.get().isEmpty() ? "injected by failpoint import_before_ingest" : fp.get()).build());
        }
        // the snapshot: region, leader, version (a normal request checks no conf_ver)
        Region region = regions.get(ctx.getRegionId());
        if (region == null) {
            return counted(label, RegionErrorException.regionNotFound(ctx.getRegionId()).error());
        }
        if (region.leaderStoreId() != storeId) {
            return counted(label, RegionErrorException.notLeader(region.id(), region.leader()).error());
        }
        if (ctx.getRegionEpoch().getVersion() != region.version()) {
            return counted(label, RegionErrorException.epochNotMatch(region, List.of(), ctx.getRegionEpoch().getConfVer(),
                    ctx.getRegionEpoch().getVersion()).error());
        }
        // after the snapshot: every file must be staged (not counted by TiKV)
        for (SSTMeta m : metas) {
            if (importer.staged(m.getUuid().toByteArray()) == null) {
                return error(Errorpb.Error.newBuilder().setMessage(FILE_MISSING)
                        .setStaleCommand(Errorpb.StaleCommand.getDefaultInstance()).build());
            }
        }
        // apply: check_sst_for_ingestion per file; a file failing it is deleted
        List<byte[]> uuids = new ArrayList<>();
        for (SSTMeta m : metas) {
            Errorpb.Error bad = checkForIngestion(m, importer.staged(m.getUuid().toByteArray()), region);
            if (bad != null) {
                importer.discard(m.getUuid().toByteArray());
                return counted(label, bad);
            }
            uuids.add(m.getUuid().toByteArray());
        }
        try {
            importer.ingest(uuids);
        } catch (SstImporter.ImportException e) {
            // the files ingested before the failure are applied all the same: followers drop those copies
            List<SSTMeta> done = metas.stream().filter(m -> importer.staged(m.getUuid().toByteArray()) == null).toList();
            if (!done.isEmpty()) {
                onIngested.accept(done);
            }
            return counted(label, Errorpb.Error.newBuilder().setMessage(e.getMessage()).build());
        }
        if (!metas.isEmpty()) {
            onIngested.accept(metas);
        }
        return IngestResponse.getDefaultInstance();
    }

    /**
     * TiKV's {@code check_sst_for_ingestion} ({@code apply.rs:2768-2797}) against the applying region, or null
     * when {@code m} passes. The uuid was checked when the file was staged. One difference is kept: the keys
     * checked against the region are the staged file's first and last, where TiKV checks {@code SSTMeta.range}'s
     * ends: BR sends the range its Download answered ({@code pkg/restore/import.go:483-484, 534-535}), the same
     * keys, but fake-tikv's own BR client still sends the region-clipped request range, whose end is the region's
     * (exclusive) end key and would be refused.
     */
    static Errorpb.Error checkForIngestion(SSTMeta m, SstImporter.Staged staged, Region region) {
        String cf = m.getCfName();
        if (!cf.equals("default") && !cf.equals("write")) {
            // a boxed string error: Error::Other's "{:?}" quotes it
            return Errorpb.Error.newBuilder().setMessage("\"invalid cf name " + cf + "\"").build();
        }
        if (m.getRegionId() != region.id()) {
            return RegionErrorException.regionNotFound(m.getRegionId()).error();
        }
        long confVer = m.getRegionEpoch().getConfVer();
        long version = m.getRegionEpoch().getVersion();
        if (confVer != region.confVer() || version != region.version()) {
            return Errorpb.Error.newBuilder().setMessage(epochText(confVer, version) + " != " + epochText(region.confVer(), region.version()))
                    .setEpochNotMatch(Errorpb.EpochNotMatch.newBuilder().addCurrentRegions(Regions.toPb(region))).build();
        }
        for (byte[] dataKey : List.of(staged.firstKey(), staged.lastKey())) {
            byte[] key = Keys.originKey(dataKey);
            ByteString k = ByteString.copyFrom(key);
            if (!region.contains(key)) {
                return Errorpb.Error.newBuilder()
                        .setMessage("key " + Keys.hex(key) + " is not in region key range [" + Keys.hex(region.startKey()) + ", "
                                + Keys.hex(region.endKey()) + ") for region " + region.id())
                        .setKeyNotInRegion(Errorpb.KeyNotInRegion.newBuilder().setKey(k).setRegionId(region.id())
                                .setStartKey(ByteString.copyFrom(region.startKey())).setEndKey(ByteString.copyFrom(region.endKey())))
                        .build();
            }
        }
        return null;
    }

    /** A {@code RegionEpoch} as rust-protobuf's Debug prints it (fields at their default left out). */
    private static String epochText(long confVer, long version) {
        StringBuilder b = new StringBuilder();
        if (confVer != 0) {
            b.append("conf_ver: ").append(confVer);
        }
        if (version != 0) {
            b.append(b.length() == 0 ? "" : " ").append("version: ").append(version);
        }
        return b.toString();
    }

    /** A region error answered in the body and counted as {@code pb_error_inc} counts it. */
    private IngestResponse counted(String label, Errorpb.Error e) {
        metrics.countError(label, pbLabel(e));
        return error(e);
    }

    /** {@code pb_error_inc}'s label ({@code sst_service.rs:680-702}). */
    static String pbLabel(Errorpb.Error e) {
        if (e.hasNotLeader()) {
            return "not_leader";
        } else if (e.hasStoreNotMatch()) {
            return "store_not_match";
        } else if (e.hasRegionNotFound()) {
            return "region_not_found";
        } else if (e.hasKeyNotInRegion()) {
            return "key_not_in_range";
        } else if (e.hasEpochNotMatch()) {
            return "epoch_not_match";
        } else if (e.hasServerIsBusy()) {
            return "server_is_busy";
        } else if (e.hasStaleCommand()) {
            return "stale_command";
        } else if (e.hasRaftEntryTooLarge()) {
            return "raft_entry_too_large";
        }
        return "unknown";
    }

    private static IngestResponse error(Errorpb.Error e) {
        return IngestResponse.newBuilder().setError(e).build();
    }
}

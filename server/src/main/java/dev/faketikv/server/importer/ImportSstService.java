package dev.faketikv.server.importer;

import com.google.protobuf.ByteString;
import dev.faketikv.engine.codec.Keys;
import dev.faketikv.engine.region.Region;
import dev.faketikv.engine.region.RegionMap;
import dev.faketikv.server.backup.RegionErrorException;
import dev.faketikv.server.control.FailPoints;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
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
import org.tikv.kvproto.Kvrpcpb;

/**
 * The gRPC {@code import_sstpb.ImportSST} service of one store: TiKV's {@code ImportSSTService}
 * ({@code src/import/sst_service.rs}, v5.4.0), the subset BR's restore uses.
 * <ul>
 *   <li>{@code SwitchMode}: the store's import mode (recorded, shown by {@link SstImporter#mode}; RocksDB is
 *       not retuned; this kvproto has no {@code GetMode});
 *   <li>{@code SetDownloadSpeedLimit}: bytes/s for later downloads, 0 = unlimited;
 *   <li>{@code Download}: {@link SstImporter#download}; failures in {@code DownloadResponse.error};
 *   <li>{@code Ingest} / {@code MultiIngest}: an empty {@code MultiIngest} answers OK (BR probes with it);
 *       otherwise the region of {@code context} must exist ({@code region_not_found}), be led by this store
 *       ({@code not_leader} with the leader), have the epoch of the context and of every SST meta
 *       ({@code epoch_not_match}), and contain every staged key ({@code key_not_in_region}); then the
 *       staged files are ingested and {@code onIngested} told (the cluster drops followers' copies — the raft
 *       apply a real cluster would do on every peer);
 *   <li>every other RPC: {@code UNIMPLEMENTED}.
 * </ul>
 * Failpoints: {@code import_download} (before a download reads its file) and {@code import_before_ingest}
 * (before the region checks of an ingest); {@code pause} holds the call there, {@code return(msg)} fails it.
 * Thread-safe.
 */
public final class ImportSstService extends ImportSSTGrpc.ImportSSTImplBase {
    private static final Logger LOG = LoggerFactory.getLogger(ImportSstService.class);

    private final long storeId;
    private final RegionMap regions;
    private final SstImporter importer;
    private final Consumer<List<SSTMeta>> onIngested;
    private final FailPoints failPoints;
    private final dev.faketikv.server.control.Journal journal;

    public ImportSstService(long storeId, RegionMap regions, SstImporter importer, FailPoints failPoints,
                            dev.faketikv.server.control.Journal journal, Consumer<List<SSTMeta>> onIngested) {
        this.failPoints = failPoints;
        this.journal = journal;
        this.storeId = storeId;
        this.regions = regions;
        this.importer = importer;
        this.onIngested = onIngested;
    }

    /** Answers {@code resp} and journals the call. */
    private <T extends com.google.protobuf.Message> void answer(String method, com.google.protobuf.Message req, StreamObserver<T> out, T resp) {
        journal.importCall(method, req, resp, "OK");
        out.onNext(resp);
        out.onCompleted();
    }

    @Override
    public void switchMode(ImportSstpb.SwitchModeRequest request, StreamObserver<ImportSstpb.SwitchModeResponse> out) {
        if (request.getModeValue() != 0 && request.getModeValue() != 1) {
            journal.importCall("SwitchMode", request, null, "INVALID_ARGUMENT");
            out.onError(Status.INVALID_ARGUMENT.withDescription("unknown import mode " + request.getModeValue()).asRuntimeException());
            return;
        }
        importer.switchMode(request.getMode());
        LOG.info("store {}: import mode {}", storeId, request.getMode());
        answer("SwitchMode", request, out, ImportSstpb.SwitchModeResponse.getDefaultInstance());
    }

    @Override
    public void setDownloadSpeedLimit(ImportSstpb.SetDownloadSpeedLimitRequest request,
                                      StreamObserver<ImportSstpb.SetDownloadSpeedLimitResponse> out) {
        importer.setSpeedLimit(request.getSpeedLimit());
        answer("SetDownloadSpeedLimit", request, out, ImportSstpb.SetDownloadSpeedLimitResponse.getDefaultInstance());
    }

    @Override
    public void download(DownloadRequest request, StreamObserver<DownloadResponse> out) {
        DownloadResponse.Builder resp = DownloadResponse.newBuilder();
        try {
            java.util.Optional<String> fp = failPoints.eval("import_download");
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
                resp.setRange(ImportSstpb.Range.newBuilder().setStart(ByteString.copyFrom(d.first())).setEnd(ByteString.copyFrom(d.last())))
                        .setLength(d.length());
            }
        } catch (SstImporter.ImportException e) {
            LOG.info("store {}: download {} failed: {}", storeId, request.getName(), e.getMessage());
            resp.setError(ImportSstpb.Error.newBuilder().setMessage(e.getMessage()));
        } catch (RuntimeException e) {
            LOG.warn("store {}: download {} failed", storeId, request.getName(), e);
            resp.setError(ImportSstpb.Error.newBuilder().setMessage(String.valueOf(e)));
        }
        answer("Download", request, out, resp.build());
    }

    @Override
    public void ingest(IngestRequest request, StreamObserver<IngestResponse> out) {
        answer("Ingest", request, out, doIngest(request.getContext(), List.of(request.getSst())));
    }

    @Override
    public void multiIngest(MultiIngestRequest request, StreamObserver<IngestResponse> out) {
        if (request.getSstsCount() == 0) {
            answer("MultiIngest", request, out, IngestResponse.getDefaultInstance());
            return;
        }
        answer("MultiIngest", request, out, doIngest(request.getContext(), request.getSstsList()));
    }

    private IngestResponse doIngest(Kvrpcpb.Context ctx, List<SSTMeta> metas) {
        java.util.Optional<String> fp = failPoints.eval("import_before_ingest");
        if (fp.isPresent()) {
            return error(Errorpb.Error.newBuilder().setMessage(fp.get().isEmpty() ? "injected by failpoint import_before_ingest" : fp.get()).build());
        }
        Region region = regions.get(ctx.getRegionId());
        if (region == null) {
            return error(RegionErrorException.regionNotFound(ctx.getRegionId()).error());
        }
        if (region.leaderStoreId() != storeId) {
            return error(RegionErrorException.notLeader(region.id(), region.leader()).error());
        }
        List<byte[]> uuids = new ArrayList<>();
        for (SSTMeta m : metas) {
            long confVer = m.hasRegionEpoch() ? m.getRegionEpoch().getConfVer() : ctx.getRegionEpoch().getConfVer();
            long version = m.hasRegionEpoch() ? m.getRegionEpoch().getVersion() : ctx.getRegionEpoch().getVersion();
            if (ctx.getRegionEpoch().getConfVer() != region.confVer() || ctx.getRegionEpoch().getVersion() != region.version()
                    || confVer != region.confVer() || version != region.version() || (m.getRegionId() != 0 && m.getRegionId() != region.id())) {
                return error(RegionErrorException.epochNotMatch(region, List.of(), ctx.getRegionEpoch().getConfVer(),
                        ctx.getRegionEpoch().getVersion()).error());
            }
            SstImporter.Staged s = importer.staged(m.getUuid().toByteArray());
            if (s == null) {
                return error(Errorpb.Error.newBuilder().setMessage("ingest: SST " + java.util.HexFormat.of().formatHex(m.getUuid().toByteArray())
                        + " was not downloaded to store " + storeId).build());
            }
            for (byte[] k : List.of(s.firstKey(), s.lastKey())) {
                byte[] origin = Keys.originKey(k);
                if (!region.contains(origin)) {
                    return error(Errorpb.Error.newBuilder().setMessage("key " + Keys.hex(origin) + " is not in region " + region.id())
                            .setKeyNotInRegion(Errorpb.KeyNotInRegion.newBuilder().setKey(ByteString.copyFrom(origin))
                                    .setRegionId(region.id()).setStartKey(ByteString.copyFrom(region.startKey()))
                                    .setEndKey(ByteString.copyFrom(region.endKey())))
                            .build());
                }
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
            return error(Errorpb.Error.newBuilder().setMessage(e.getMessage()).build());
        }
        onIngested.accept(metas);
        return IngestResponse.getDefaultInstance();
    }

    private static IngestResponse error(Errorpb.Error e) {
        return IngestResponse.newBuilder().setError(e).build();
    }
}

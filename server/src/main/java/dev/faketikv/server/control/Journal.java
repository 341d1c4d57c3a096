package dev.faketikv.server.control;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import java.util.HexFormat;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Brpb.BackupRequest;
import org.tikv.kvproto.Brpb.BackupResponse;

/**
 * What the store was asked and what it answered, in order: every {@code BackupRequest} received (all
 * fields; storage credentials and cipher keys redacted) and every response sent (range, files, error),
 * then how the call ended — each with a timestamp, the store id and the request number; and every
 * ImportSST call with its answer (kind {@code import}, request number 0). Keys are hex in backup entries,
 * base64 in import entries (protobuf JSON).
 *
 * <p>Keeps the newest {@value #CAPACITY} entries. Thread-safe.
 */
public final class Journal {
    static final int CAPACITY = 100_000;
    private static final String REDACTED = "<redacted>";
    private static final ObjectMapper OM = JsonLog.OM;

    private final long storeId;
    private final JsonLog log = new JsonLog(CAPACITY);

    public Journal(long storeId) {
        this.storeId = storeId;
    }

    private ObjectNode entry(String kind, long request) {
        ObjectNode e = JsonLog.entry();
        e.put("store_id", storeId);
        e.put("request", request);
        e.put("kind", kind);
        return e;
    }

    private void add(ObjectNode e) {
        log.add(e);
    }

    /** The request with secrets replaced by {@code <redacted>}. */
    public static BackupRequest redact(BackupRequest req) {
        BackupRequest.Builder b = req.toBuilder();
        if (b.hasStorageBackend()) {
            redact(b.getStorageBackendBuilder());
        }
        if (b.hasCipherInfo() && !b.getCipherInfo().getCipherKey().isEmpty()) {
            b.getCipherInfoBuilder().setCipherKey(ByteString.copyFromUtf8(REDACTED));
        }
        return b.build();
    }

    /** Replaces the credentials of a storage backend by {@code <redacted>}, in place. */
    static void redact(Brpb.StorageBackend.Builder sb) {
        if (sb.hasS3()) {
            Brpb.S3.Builder s3 = sb.getS3Builder();
            if (!s3.getAccessKey().isEmpty()) {
                s3.setAccessKey(REDACTED);
            }
            if (!s3.getSecretAccessKey().isEmpty()) {
                s3.setSecretAccessKey(REDACTED);
            }
        }
        if (sb.hasGcs() && !sb.getGcs().getCredentialsBlob().isEmpty()) {
            sb.getGcsBuilder().setCredentialsBlob(REDACTED);
        }
        if (sb.hasAzureBlobStorage() && !sb.getAzureBlobStorage().getSharedKey().isEmpty()) {
            sb.getAzureBlobStorageBuilder().setSharedKey(REDACTED);
        }
        if (sb.hasCloudDynamic()) {
            Brpb.CloudDynamic.Builder cd = sb.getCloudDynamicBuilder();
            for (String k : cd.getAttrsMap().keySet()) {
                String lk = k.toLowerCase(java.util.Locale.ROOT);
                if (lk.contains("secret") || lk.contains("key") || lk.contains("credential") || lk.contains("token")) {
                    cd.putAttrs(k, REDACTED);
                }
            }
        }
    }

    /**
     * One {@code import_sstpb.ImportSST} call: the method, the request (storage credentials and cipher keys
     * redacted), and the answer or the gRPC status it ended with.
     */
    public void importCall(String method, com.google.protobuf.Message request, com.google.protobuf.Message response, String status) {
        com.google.protobuf.Message req = request;
        if (request instanceof org.tikv.kvproto.ImportSstpb.DownloadRequest d) {
            org.tikv.kvproto.ImportSstpb.DownloadRequest.Builder b = d.toBuilder();
            if (b.hasStorageBackend()) {
                redact(b.getStorageBackendBuilder());
            }
            if (b.hasCipherInfo() && !b.getCipherInfo().getCipherKey().isEmpty()) {
                b.getCipherInfoBuilder().setCipherKey(ByteString.copyFromUtf8(REDACTED));
            }
            req = b.build();
        }
        ObjectNode e = entry("import", 0);
        e.put("method", method);
        e.set("import_request", proto(req));
        if (response != null) {
            e.set("import_response", proto(response));
        }
        e.put("status", status);
        add(e);
    }

    public void request(long request, BackupRequest req) {
        BackupRequest r = redact(req);
        ObjectNode e = entry("request", request);
        ObjectNode q = e.putObject("backup_request");
        q.put("cluster_id", Long.toUnsignedString(r.getClusterId()));
        q.put("start_key", hex(r.getStartKey()));
        q.put("end_key", hex(r.getEndKey()));
        q.put("start_version", Long.toUnsignedString(r.getStartVersion()));
        q.put("end_version", Long.toUnsignedString(r.getEndVersion()));
        q.put("rate_limit", Long.toUnsignedString(r.getRateLimit()));
        q.put("concurrency", r.getConcurrency());
        q.put("is_raw_kv", r.getIsRawKv());
        q.put("cf", r.getCf());
        q.put("compression_type", r.getCompressionType().name());
        q.put("compression_level", r.getCompressionLevel());
        if (r.hasCipherInfo()) {
            q.put("cipher_type", r.getCipherInfo().getCipherType().name());
            q.put("cipher_key", r.getCipherInfo().getCipherKey().isEmpty() ? "" : REDACTED);
        }
        q.set("storage_backend", proto(r.getStorageBackend()));
        add(e);
    }

    public void response(long request, BackupResponse resp) {
        ObjectNode e = entry("response", request);
        ObjectNode r = e.putObject("backup_response");
        r.put("start_key", hex(resp.getStartKey()));
        r.put("end_key", hex(resp.getEndKey()));
        r.put("api_version", resp.getApiVersion().name());
        ArrayNode files = r.putArray("files");
        for (Brpb.File f : resp.getFilesList()) {
            ObjectNode fo = files.addObject();
            fo.put("name", f.getName());
            fo.put("cf", f.getCf());
            fo.put("size", f.getSize());
            fo.put("sha256", hex(f.getSha256()));
            fo.put("crc64xor", Long.toUnsignedString(f.getCrc64Xor()));
            fo.put("total_kvs", f.getTotalKvs());
            fo.put("total_bytes", f.getTotalBytes());
        }
        if (resp.hasError()) {
            r.set("error", proto(resp.getError()));
        }
        add(e);
    }

    /** How the call ended: "OK", a gRPC status name with its description, or "CANCELLED by client". */
    public void end(long request, String status) {
        ObjectNode e = entry("end", request);
        e.put("status", status);
        add(e);
    }

    public void clear() {
        log.clear();
    }

    public int size() {
        return log.size();
    }

    public String toJson() {
        return log.toJson();
    }

    private static String hex(ByteString b) {
        return HexFormat.of().formatHex(b.toByteArray());
    }

    private static com.fasterxml.jackson.databind.JsonNode proto(com.google.protobuf.MessageOrBuilder m) {
        try {
            return OM.readTree(JsonFormat.printer().preservingProtoFieldNames().print(m));
        } catch (InvalidProtocolBufferException | com.fasterxml.jackson.core.JsonProcessingException e) {
            return OM.getNodeFactory().textNode(m.toString());
        }
    }
}

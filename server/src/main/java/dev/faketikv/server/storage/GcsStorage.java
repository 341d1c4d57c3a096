package dev.faketikv.server.storage;

import com.google.api.client.http.HttpResponseException;
import com.google.auth.oauth2.GoogleCredentials;
import com.google.auth.oauth2.ServiceAccountCredentials;
import com.google.cloud.NoCredentials;
import com.google.cloud.ReadChannel;
import com.google.cloud.ServiceOptions;
import com.google.cloud.http.HttpTransportOptions;
import com.google.cloud.storage.BlobId;
import com.google.cloud.storage.BlobInfo;
import com.google.cloud.storage.Storage;
import com.google.cloud.storage.StorageClass;
import com.google.cloud.storage.StorageOptions;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.URLEncoder;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import java.util.concurrent.Callable;

/**
 * {@code backup.GCS} (and {@code cloud_dynamic} with provider {@code gcp}/{@code gcs}): TiKV 5.4's
 * {@code GCSStorage} ({@code components/cloud/gcp/src/gcs.rs}), through Google's Java SDK over its
 * HTTP/JSON transport.
 *
 * <ul>
 *   <li>Config as {@code Config::from_input}/{@code from_cloud_dynamic} (gcs.rs:50-103): {@code bucket}
 *       required ("Empty field bucket"), {@code predefined_acl} and {@code storage_class} from TiKV's fixed
 *       lists (gcs.rs:366-390: "invalid predefined_acl: X", "invalid storage_class: X"),
 *       {@code credentials_blob} a service-account JSON ("oauth failed: deserialize ServiceAccountInfo"),
 *       no blob = anonymous requests (TiKV 5.4 reads no ambient credentials).</li>
 *   <li>The endpoint replaces {@code https://www.googleapis.com}; a trailing {@code upload/storage/v1/}
 *       or {@code storage/v1/} is cut off first ({@code change_host}, gcs.rs:350-363).</li>
 *   <li>Objects are named {@code prefix + "/" + name} ({@code maybe_prefix_key}, gcs.rs:259-264).</li>
 *   <li>Upload ({@code put}, gcs.rs:400-449): an empty file is refused ("no content to write"); the
 *       data is read into memory and sent as one {@code uploadType=multipart} insert whatever its size
 *       (TiKV 5.4 has no resumable path), with the storage class and predefined ACL.</li>
 *   <li>Retries: {@code tikv_util::stream::retry} (components/tikv_util/src/stream.rs:97-121), 4
 *       attempts, back-off 1 s doubling to 32 s plus up to 1 s of jitter; retried are 429, 408, 5xx and
 *       connection failures (gcs.rs:211-228). The SDK's own retries are off.</li>
 *   <li>Errors (gcs.rs:175-209): an HTTP status becomes "GCS OAuth: {uri}: {status}" with kind
 *       PermissionDenied (401/403), NotFound (404), Interrupted (5xx) or InvalidInput; a failed token
 *       exchange "GCS OAuth: set auth request: {status}"; a connection failure "HTTP {uri}: ...".</li>
 * </ul>
 *
 * Injected faults ({@code fake.gcs-faults}, {@link CloudFaults}) answer a call with the SDK's own
 * {@link com.google.cloud.storage.StorageException} before it is sent. The credentials never appear in
 * messages, logs or {@link Config#toString()}.
 *
 * <p>Thread-safe; close it to release the client.
 */
public final class GcsStorage implements ExternalStorage {
    private static final Logger LOG = LoggerFactory.getLogger(GcsStorage.class);
    static final String GOOGLE_APIS = "https://www.googleapis.com";
    static final int MAX_ATTEMPTS = 4;
    private static final Duration MAX_DELAY = Duration.ofSeconds(32);
    private static final Set<String> STORAGE_CLASSES = Set.of("STANDARD", "NEARLINE", "COLDLINE",
            "DURABLE_REDUCED_AVAILABILITY", "REGIONAL", "MULTI_REGIONAL");
    private static final Set<String> PREDEFINED_ACLS = Set.of("authenticatedRead", "bucketOwnerFullControl",
            "bucketOwnerRead", "private", "projectPrivate", "publicRead");
    private static final Pattern BUCKET_NAME = Pattern.compile("[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]");
    private static final Map<Integer, String> REASONS = Map.ofEntries(Map.entry(400, "Bad Request"),
            Map.entry(401, "Unauthorized"), Map.entry(403, "Forbidden"), Map.entry(404, "Not Found"),
            Map.entry(408, "Request Timeout"), Map.entry(409, "Conflict"), Map.entry(412, "Precondition Failed"),
            Map.entry(429, "Too Many Requests"), Map.entry(500, "Internal Server Error"), Map.entry(502, "Bad Gateway"),
            Map.entry(503, "Service Unavailable"), Map.entry(504, "Gateway Timeout"));

    /** The fields of {@code backup.GCS}. */
    public record Config(String endpoint, String bucket, String prefix, String storageClass, String predefinedAcl,
                         String credentialsBlob) {
        @Override
        public String toString() {
            // never print the credentials
            return "GCS{endpoint=" + endpoint + ", bucket=" + bucket + ", prefix=" + prefix + ", storage_class=" + storageClass
                    + ", predefined_acl=" + predefinedAcl + ", credentials_blob=" + !credentialsBlob.isEmpty() + "}";
        }
    }

    private final Config config;
    private final String base;
    private final Duration retryBase;
    private final CloudFaults faults;
    private final Storage client;

    public GcsStorage(Config config, Duration retryBase, CloudFaults faults) throws StorageException {
        if (config.bucket().isEmpty()) {
            throw new StorageException("InvalidInput", "Empty field bucket");
        }
        if (!config.predefinedAcl().isEmpty() && !PREDEFINED_ACLS.contains(config.predefinedAcl())) {
            throw new StorageException("InvalidInput", "invalid predefined_acl: " + config.predefinedAcl());
        }
        if (!config.storageClass().isEmpty() && !STORAGE_CLASSES.contains(config.storageClass())) {
            throw new StorageException("InvalidInput", "invalid storage_class: " + config.storageClass());
        }
        GoogleCredentials credentials = null;
        if (!config.credentialsBlob().isEmpty()) {
            try {
                credentials = ServiceAccountCredentials.fromStream(
                        new ByteArrayInputStream(config.credentialsBlob().getBytes(StandardCharsets.UTF_8)));
            } catch (IOException | RuntimeException e) {
                // the parser's message may quote the blob: name only what went wrong
                throw new StorageException("InvalidInput", "oauth failed: deserialize ServiceAccountInfo: "
                        + "not a service account key JSON (" + e.getClass().getSimpleName() + ")");
            }
        }
        this.config = config;
        this.base = host(config.endpoint());
        this.retryBase = retryBase;
        this.faults = faults;
        try {
            this.client = StorageOptions.http()
                    .setHost(base)
                    .setProjectId("fake-tikv")
                    .setCredentials(credentials == null ? NoCredentials.getInstance() : credentials)
                    .setRetrySettings(ServiceOptions.getNoRetrySettings())
                    .setTransportOptions(HttpTransportOptions.newBuilder().setConnectTimeout(10_000).setReadTimeout(60_000).build())
                    .build()
                    .getService();
        } catch (RuntimeException e) {
            throw new StorageException("InvalidInput", "invalid GCS endpoint URI: " + e.getMessage(), e);
        }
    }

    /** {@code change_host}: the scheme and host that replace {@code https://www.googleapis.com}. */
    static String host(String endpoint) {
        if (endpoint.isEmpty()) {
            return GOOGLE_APIS;
        }
        String h = endpoint;
        for (String suffix : List.of("upload/storage/v1/", "storage/v1/")) {
            if (h.endsWith(suffix) && h.length() > suffix.length()) {
                h = h.substring(0, h.length() - suffix.length());
                break;
            }
        }
        while (h.endsWith("/")) {
            h = h.substring(0, h.length() - 1);
        }
        return h;
    }

    @Override
    public String name() {
        return "gcs";
    }

    public Config config() {
        return config;
    }

    /** {@code maybe_prefix_key}: {@code prefix + "/" + name}, or {@code name} without a prefix. */
    String objectKey(String name) {
        return config.prefix().isEmpty() ? name : config.prefix() + "/" + name;
    }

    /** The URI tame-gcs builds for a multipart insert, on the configured host (what TiKV's errors print). */
    String insertUri() {
        String uri = base + "/upload/storage/v1/b/" + enc(config.bucket()) + "/o?uploadType=multipart";
        return config.predefinedAcl().isEmpty() ? uri : uri + "&predefinedAcl=" + config.predefinedAcl();
    }

    String downloadUri(String key) {
        return base + "/storage/v1/b/" + enc(config.bucket()) + "/o/" + enc(key) + "?alt=media";
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    private void checkBucketName() throws StorageException {
        if (!BUCKET_NAME.matcher(config.bucket()).matches()) {
            throw new StorageException("InvalidInput", "invalid bucket " + config.bucket()
                    + ": bucket names are 3-222 characters of a-z, 0-9, '-', '_' and '.', starting and ending with a letter or digit");
        }
    }

    @Override
    public void write(String name, InputStream data, long contentLength) throws IOException {
        if (contentLength == 0) {
            throw new StorageException("InvalidInput", "no content to write");
        }
        String key = objectKey(name);
        checkBucketName();
        InputStream in = faults.throttle() == null ? data : faults.throttle().wrap(data);
        byte[] body = in.readAllBytes();
        BlobInfo.Builder info = BlobInfo.newBuilder(BlobId.of(config.bucket(), key));
        if (!config.storageClass().isEmpty()) {
            info.setStorageClass(StorageClass.valueOf(config.storageClass()));
        }
        List<Storage.BlobTargetOption> options = new ArrayList<>();
        if (!config.predefinedAcl().isEmpty()) {
            options.add(Storage.BlobTargetOption.predefinedAcl(acl(config.predefinedAcl())));
        }
        Storage.BlobTargetOption[] opts = options.toArray(Storage.BlobTargetOption[]::new);
        BlobInfo blob = info.build();
        retry("put", key, insertUri(), () -> client.create(blob, body, opts));
    }

    private static Storage.PredefinedAcl acl(String acl) {
        return switch (acl) {
            case "authenticatedRead" -> Storage.PredefinedAcl.AUTHENTICATED_READ;
            case "bucketOwnerFullControl" -> Storage.PredefinedAcl.BUCKET_OWNER_FULL_CONTROL;
            case "bucketOwnerRead" -> Storage.PredefinedAcl.BUCKET_OWNER_READ;
            case "projectPrivate" -> Storage.PredefinedAcl.PROJECT_PRIVATE;
            case "publicRead" -> Storage.PredefinedAcl.PUBLIC_READ;
            default -> Storage.PredefinedAcl.PRIVATE;
        };
    }

    @Override
    public InputStream read(String name) throws IOException {
        String key = objectKey(name);
        String uri = downloadUri(key);
        try {
            inject();
            ReadChannel channel = client.reader(BlobId.of(config.bucket(), key));
            channel.setChunkSize(2 << 20);
            // the first chunk is fetched now, so a missing object or a refusal fails here, as TiKV's first read does
            ByteBuffer first = ByteBuffer.allocate(64 << 10);
            int n = channel.read(first);
            first.flip();
            return new ChannelStream(channel, n < 0 ? ByteBuffer.allocate(0) : first, uri);
        } catch (com.google.cloud.storage.StorageException e) {
            throw error(e, uri);
        } catch (IOException e) {
            if (e.getCause() instanceof com.google.cloud.storage.StorageException se) {
                throw error(se, uri);
            }
            throw new StorageException("Other", "download from GCS error: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("GCS get interrupted");
        }
    }

    /** A download: the chunk already fetched, then the rest of the channel; errors read as TiKV's. */
    private final class ChannelStream extends InputStream {
        private final ReadChannel channel;
        private final ByteBuffer buffer;
        private final String uri;
        private boolean eof;

        ChannelStream(ReadChannel channel, ByteBuffer first, String uri) {
            this.channel = channel;
            this.buffer = first;
            this.uri = uri;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            if (!buffer.hasRemaining()) {
                if (eof) {
                    return -1;
                }
                buffer.clear();
                int n;
                try {
                    n = channel.read(buffer);
                } catch (com.google.cloud.storage.StorageException e) {
                    throw error(e, uri);
                } catch (IOException e) {
                    if (e.getCause() instanceof com.google.cloud.storage.StorageException se) {
                        throw error(se, uri);
                    }
                    throw new StorageException("Other", "download from GCS error: " + e.getMessage(), e);
                }
                buffer.flip();
                if (n < 0) {
                    eof = true;
                    return -1;
                }
            }
            int k = Math.min(len, buffer.remaining());
            buffer.get(b, off, k);
            return k;
        }

        @Override
        public void close() {
            channel.close();
        }
    }

    private void inject() throws InterruptedException {
        CloudFaults.Fault f = faults.beforeCall();
        if (f != null) {
            throw injected(f);
        }
    }

    /** The answer GCS gives for an injected fault, as the SDK reports it. */
    static com.google.cloud.storage.StorageException injected(CloudFaults.Fault f) {
        return switch (f) {
            case SLOWDOWN -> new com.google.cloud.storage.StorageException(429, "The rate of change requests to the object is too high"
                    + " (rateLimitExceeded, injected by fake-tikv)");
            case SERVICEUNAVAILABLE -> new com.google.cloud.storage.StorageException(503, "Backend Error (backendError, injected by fake-tikv)");
            case INTERNALERROR -> new com.google.cloud.storage.StorageException(500, "Internal Error (internalError, injected by fake-tikv)");
            case REQUESTTIMEOUT -> new com.google.cloud.storage.StorageException(408, "Request Timeout (injected by fake-tikv)");
            case ACCESSDENIED -> new com.google.cloud.storage.StorageException(403,
                    "The caller does not have storage.objects.create access (forbidden, injected by fake-tikv)");
        };
    }

    /** Runs one GCS call with TiKV's retries; the final failure becomes TiKV's error. */
    <T> T retry(String op, String key, String uri, Callable<T> call) throws IOException {
        long delayMs = retryBase.toMillis();
        for (int attempt = 1; ; attempt++) {
            try {
                inject();
                return call.call();
            } catch (com.google.cloud.storage.StorageException e) {
                StorageException mapped = error(e, uri);
                if (!retryable(e) || attempt == MAX_ATTEMPTS) {
                    throw mapped;
                }
                LOG.warn("GCS {} {} failed (attempt {}/{}), retrying: {}", op, key, attempt, MAX_ATTEMPTS, mapped.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("GCS " + op + " interrupted");
            } catch (IOException e) {
                throw e;
            } catch (Exception e) {
                throw new StorageException("Other", "GCS " + op + " failed: " + e, e);
            }
            try {
                Thread.sleep(delayMs + ThreadLocalRandom.current().nextLong(Math.max(1, retryBase.toMillis())));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("GCS " + op + " retry interrupted");
            }
            delayMs = Math.min(MAX_DELAY.toMillis(), delayMs * 2);
        }
    }

    /** gcs.rs's {@code is_retryable}: 429, 408, 5xx, and a connection that failed or broke. */
    static boolean retryable(com.google.cloud.storage.StorageException e) {
        int status = status(e);
        if (status == 0) {
            return !authFailure(e) && e.getCause() instanceof IOException;
        }
        return status == 429 || status == 408 || status >= 500;
    }

    /** The HTTP status of a failure: the response's, or the token endpoint's for a failed token exchange. */
    static int status(com.google.cloud.storage.StorageException e) {
        if (e.getCode() > 0) {
            return e.getCode();
        }
        for (Throwable t = e.getCause(); t != null; t = t.getCause()) {
            if (t instanceof HttpResponseException h) {
                return h.getStatusCode();
            }
        }
        return 0;
    }

    private static boolean authFailure(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            // google-auth-library's GoogleAuthException is package-private: recognise it by name
            if (t.getClass().getName().equals("com.google.auth.oauth2.GoogleAuthException")
                    || (t.getMessage() != null && t.getMessage().startsWith("Error getting access token"))) {
                return true;
            }
        }
        return false;
    }

    /** {@code From<RequestError> for io::Error} (gcs.rs:175-209). */
    static StorageException error(com.google.cloud.storage.StorageException e, String uri) {
        int status = status(e);
        boolean auth = authFailure(e);
        if (status == 0) {
            String what = e.getCause() != null && e.getCause().getMessage() != null ? e.getCause().getMessage() : String.valueOf(e.getMessage());
            return new StorageException("InvalidInput", auth ? "oauth failed: set auth request: " + what
                    : "HTTP " + uri + ": error trying to connect: " + what, e);
        }
        String fmt = "GCS OAuth: " + (auth ? "set auth request" : uri) + ": " + status + (REASONS.containsKey(status) ? " " + REASONS.get(status) : "");
        String kind = status == 401 || status == 403 ? "PermissionDenied"
                : status == 404 ? "NotFound"
                : status >= 500 ? "Interrupted"
                : "InvalidInput";
        return new StorageException(kind, fmt, e);
    }

    @Override
    public void close() {
        try {
            client.close();
        } catch (Exception e) {
            LOG.debug("closing the GCS client: {}", e.toString());
        }
    }

}

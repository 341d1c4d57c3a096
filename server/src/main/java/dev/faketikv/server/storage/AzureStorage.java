package dev.faketikv.server.storage;

import com.azure.core.http.HttpHeaderName;
import com.azure.core.http.HttpHeaders;
import com.azure.core.http.HttpPipelineCallContext;
import com.azure.core.http.HttpPipelineNextPolicy;
import com.azure.core.http.HttpPipelineNextSyncPolicy;
import com.azure.core.http.HttpRequest;
import com.azure.core.http.HttpResponse;
import com.azure.core.http.policy.HttpPipelinePolicy;
import com.azure.core.util.BinaryData;
import com.azure.core.util.Context;
import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.BlobServiceClientBuilder;
import com.azure.storage.blob.models.AccessTier;
import com.azure.storage.blob.models.BlobStorageException;
import com.azure.storage.blob.options.BlockBlobSimpleUploadOptions;
import com.azure.storage.common.StorageSharedKeyCredential;
import com.azure.storage.common.policy.RequestRetryOptions;
import com.azure.storage.common.policy.RetryPolicyType;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;
import java.util.regex.Matcher;

/**
 * {@code backup.AzureBlobStorage} (and {@code cloud_dynamic} with provider {@code azure}/{@code azblob}):
 * TiKV 5.4's {@code AzureStorage} ({@code components/cloud/azure/src/azblob.rs}), through Microsoft's
 * Java SDK.
 *
 * <ul>
 *   <li>Credentials, in TiKV's order ({@code AzureStorage::new}, azblob.rs:479-541): the request's
 *       {@code account_name} + {@code shared_key}; else Azure AD from {@code $AZURE_CLIENT_ID},
 *       {@code $AZURE_TENANT_ID}, {@code $AZURE_CLIENT_SECRET} (not served by fake-tikv: refused with a
 *       message saying so); else {@code $AZURE_STORAGE_ACCOUNT} + {@code $AZURE_STORAGE_KEY}
 *       (azblob.rs:31-35,85-112); else "credential info not found". The blob endpoint is the request's
 *       {@code endpoint} or {@code https://{account}.blob.core.windows.net} (azblob.rs:161-199).</li>
 *   <li>Blobs are named {@code prefix (without trailing '/') + "/" + name} ({@code maybe_prefix_key},
 *       azblob.rs:543-548).</li>
 *   <li>Upload ({@code AzureUploader::run}/{@code upload}, azblob.rs:269-322): the file is read into memory
 *       and sent as one Put Blob (block blob) whatever its size, with access tier {@code storage_class}
 *       when it is Hot, Cool or Archive and Hot otherwise (azblob.rs:264-266), 15 minutes at most.</li>
 *   <li>Retries ({@code tikv_util::stream::retry}, 4 attempts, 1 s doubling plus jitter): only a failure
 *       whose text says "busy" (Azure's 503 ServerBusy) or a timeout is retried (azblob.rs:233-237,
 *       303-309); it ends as TimedOut "the resource is busy: ..., retry later". Any other failure is
 *       InvalidInput "upload block failed: ..." at once. The SDK's own retries are off.</li>
 *   <li>Download ({@code get}, azblob.rs:571-588): one Get Blob; a failure is InvalidInput with the
 *       service's error.</li>
 * </ul>
 *
 * Injected faults ({@code fake.azure-faults}, {@link CloudFaults}) are answered by a pipeline policy with
 * the status and XML error body Azure sends, so the SDK raises its own {@link BlobStorageException}. The
 * shared key never appears in messages, logs or {@link Config#toString()}.
 *
 * <p>Thread-safe; close it when the request is done with it.
 */
public final class AzureStorage implements ExternalStorage {
    private static final Logger LOG = LoggerFactory.getLogger(AzureStorage.class);
    static final String ENV_CLIENT_ID = "AZURE_CLIENT_ID";
    static final String ENV_TENANT_ID = "AZURE_TENANT_ID";
    static final String ENV_CLIENT_SECRET = "AZURE_CLIENT_SECRET";
    static final String ENV_ACCOUNT_NAME = "AZURE_STORAGE_ACCOUNT";
    static final String ENV_SHARED_KEY = "AZURE_STORAGE_KEY";
    static final int MAX_ATTEMPTS = 4;
    static final Duration UPLOAD_TIMEOUT = Duration.ofMinutes(15);
    private static final Duration MAX_DELAY = Duration.ofSeconds(32);

    /** The fields of {@code backup.AzureBlobStorage}. */
    public record Config(String endpoint, String bucket, String prefix, String storageClass, String accountName,
                         String sharedKey) {
        @Override
        public String toString() {
            // never print the key
            return "AzureBlobStorage{endpoint=" + endpoint + ", container=" + bucket + ", prefix=" + prefix + ", access_tier="
                    + storageClass + ", account_name=" + accountName + ", shared_key=" + !sharedKey.isEmpty() + "}";
        }
    }

    private final Config config;
    private final String account;
    private final Duration retryBase;
    private final CloudFaults faults;
    private final BlobContainerClient container;
    private final AccessTier tier;

    /** A storage whose environment-variable credentials come from {@link System#getenv}. */
    public AzureStorage(Config config, Duration retryBase, CloudFaults faults) throws StorageException {
        this(config, retryBase, faults, System::getenv);
    }

    /** @param env the environment TiKV would read its {@code AZURE_*} variables from */
    public AzureStorage(Config config, Duration retryBase, CloudFaults faults, UnaryOperator<String> env) throws StorageException {
        if (config.bucket().isEmpty()) {
            throw new StorageException("InvalidInput", "Empty field bucket");
        }
        String envAccount = nonEmpty(env.apply(ENV_ACCOUNT_NAME));
        String envKey = nonEmpty(env.apply(ENV_SHARED_KEY));
        boolean adCredentials = nonEmpty(env.apply(ENV_CLIENT_ID)) != null && nonEmpty(env.apply(ENV_TENANT_ID)) != null
                && nonEmpty(env.apply(ENV_CLIENT_SECRET)) != null;
        String accountName;
        String key;
        if (!config.accountName().isEmpty() && !config.sharedKey().isEmpty()) {
            accountName = config.accountName();
            key = config.sharedKey();
        } else if (adCredentials) {
            if (config.accountName().isEmpty() && envAccount == null) {
                throw new StorageException("InvalidInput", "account name cannot be empty to access azure blob storage");
            }
            throw new StorageException("Unsupported", "fake-tikv does not support Azure AD credentials ($" + ENV_CLIENT_ID + ", $"
                    + ENV_TENANT_ID + ", $" + ENV_CLIENT_SECRET + "); give a shared key (shared_key or $" + ENV_SHARED_KEY + ")");
        } else if (envAccount != null && envKey != null) {
            accountName = envAccount;
            key = envKey;
        } else {
            throw new StorageException("InvalidInput", "credential info not found");
        }
        this.config = config;
        this.account = accountName;
        this.retryBase = retryBase;
        this.faults = faults;
        this.tier = tier(config.storageClass());
        String endpoint = config.endpoint().isEmpty() ? "https://" + accountName + ".blob.core.windows.net" : config.endpoint();
        try {
            StorageSharedKeyCredential credential = new StorageSharedKeyCredential(accountName, key);
            this.container = new BlobServiceClientBuilder()
                    .endpoint(endpoint)
                    .credential(credential)
                    .retryOptions(new RequestRetryOptions(RetryPolicyType.FIXED, 1, (Integer) null, null, null, null))
                    .addPolicy(new FaultPolicy(faults))
                    .buildClient()
                    .getBlobContainerClient(config.bucket());
        } catch (RuntimeException e) {
            // the SDK's message may quote the connection settings: name only the cause's kind
            throw new StorageException("InvalidInput", "invalid Azure Blob Storage settings (endpoint " + endpoint + "): "
                    + e.getClass().getSimpleName());
        }
    }

    private static String nonEmpty(String s) {
        return s == null || s.isEmpty() ? null : s;
    }

    /** {@code AzureUploader::parse_storage_class}: Hot, Cool or Archive; anything else is Hot. */
    static AccessTier tier(String storageClass) {
        return switch (storageClass) {
            case "Cool" -> AccessTier.COOL;
            case "Archive" -> AccessTier.ARCHIVE;
            default -> AccessTier.HOT;
        };
    }

    @Override
    public String name() {
        return "azure";
    }

    public Config config() {
        return config;
    }

    /** The account the storage signs as (the request's or the environment's). */
    public String account() {
        return account;
    }

    /** {@code maybe_prefix_key}: the prefix without trailing slashes, "/", the name. */
    String objectKey(String name) {
        if (config.prefix().isEmpty()) {
            return name;
        }
        String p = config.prefix();
        while (p.endsWith("/")) {
            p = p.substring(0, p.length() - 1);
        }
        return p + "/" + name;
    }

    @Override
    public void write(String name, InputStream data, long contentLength) throws IOException {
        String key = objectKey(name);
        InputStream in = faults.throttle() == null ? data : faults.throttle().wrap(data);
        byte[] body = in.readAllBytes();
        long delayMs = retryBase.toMillis();
        for (int attempt = 1; ; attempt++) {
            String busy;
            try {
                container.getBlobClient(key).getBlockBlobClient().uploadWithResponse(
                        new BlockBlobSimpleUploadOptions(BinaryData.fromBytes(body)).setTier(tier), UPLOAD_TIMEOUT, Context.NONE);
                return;
            } catch (BlobStorageException e) {
                String text = describe(e);
                if (!text.contains("busy")) {
                    throw new StorageException("InvalidInput", "upload block failed: " + text, e);
                }
                busy = "the resource is busy: " + text + ", retry later";
            } catch (IllegalStateException e) {
                if (!(e.getCause() instanceof TimeoutException)) {
                    throw new StorageException("InvalidInput", "upload block failed: " + message(e), e);
                }
                busy = "timeout after 15mins for complete in azure storage";
            } catch (UncheckedIOException e) {
                if (Thread.currentThread().isInterrupted()) {
                    throw new InterruptedIOException("Azure put interrupted");
                }
                throw new StorageException("InvalidInput", "upload block failed: " + message(e), e);
            } catch (RuntimeException e) {
                if (Thread.currentThread().isInterrupted()) {
                    throw new InterruptedIOException("Azure put interrupted");
                }
                throw new StorageException("InvalidInput", "upload block failed: " + message(e), e);
            }
            if (attempt == MAX_ATTEMPTS) {
                throw new StorageException("TimedOut", busy);
            }
            LOG.warn("Azure put {} failed (attempt {}/{}), retrying: {}", key, attempt, MAX_ATTEMPTS, busy);
            try {
                Thread.sleep(delayMs + ThreadLocalRandom.current().nextLong(Math.max(1, retryBase.toMillis())));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("Azure put retry interrupted");
            }
            delayMs = Math.min(MAX_DELAY.toMillis(), delayMs * 2);
        }
    }

    @Override
    public InputStream read(String name) throws IOException {
        String key = objectKey(name);
        try {
            return container.getBlobClient(key).openInputStream();
        } catch (BlobStorageException e) {
            throw new StorageException("InvalidInput", describe(e), e);
        } catch (RuntimeException e) {
            throw new StorageException("InvalidInput", message(e), e);
        }
    }

    private static final Pattern XML_MESSAGE = Pattern.compile("<Message>([^<\\n]*)");

    /**
     * An Azure error as one line: status, error code and the service's own message from the XML body (not the
     * SDK's hints, no request headers, no key).
     */
    static String describe(BlobStorageException e) {
        String raw = e.getMessage() == null ? "" : e.getMessage();
        Matcher m = XML_MESSAGE.matcher(raw);
        String msg = m.find() ? m.group(1).trim() : raw.lines().findFirst().orElse("").trim();
        return "HTTP " + e.getStatusCode() + " " + (e.getErrorCode() == null ? "" : e.getErrorCode().toString()) + ": " + msg;
    }

    private static String message(Throwable e) {
        String m = e.getMessage();
        return m == null ? e.getClass().getSimpleName() : m.lines().findFirst().orElse("");
    }

    /** Answers a call with an injected fault instead of sending it (and counts every call). */
    private record FaultPolicy(CloudFaults faults) implements HttpPipelinePolicy {
        @Override
        public Mono<HttpResponse> process(HttpPipelineCallContext context, HttpPipelineNextPolicy next) {
            CloudFaults.Fault f;
            try {
                f = faults.beforeCall();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return Mono.error(new InterruptedIOException("Azure call interrupted"));
            }
            return f == null ? next.process() : Mono.just(answer(context.getHttpRequest(), f));
        }

        @Override
        public HttpResponse processSync(HttpPipelineCallContext context, HttpPipelineNextSyncPolicy next) {
            CloudFaults.Fault f;
            try {
                f = faults.beforeCall();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new UncheckedIOException(new InterruptedIOException("Azure call interrupted"));
            }
            return f == null ? next.processSync() : answer(context.getHttpRequest(), f);
        }
    }

    /** The response Azure Blob Storage gives for a fault: status, x-ms-error-code and the XML error body. */
    static HttpResponse answer(HttpRequest request, CloudFaults.Fault f) {
        int status;
        String code;
        String message;
        switch (f) {
            case SLOWDOWN, SERVICEUNAVAILABLE -> {
                status = 503;
                code = "ServerBusy";
                message = "The server is busy.";
            }
            case INTERNALERROR -> {
                status = 500;
                code = "InternalError";
                message = "The server encountered an internal error. Please retry the request.";
            }
            case REQUESTTIMEOUT -> {
                status = 500;
                code = "OperationTimedOut";
                message = "The operation could not be completed within the permitted time.";
            }
            default -> {
                status = 403;
                code = "AuthorizationFailure";
                message = "This request is not authorized to perform this operation.";
            }
        }
        String requestId = "fake-" + Long.toHexString(ThreadLocalRandom.current().nextLong()).toLowerCase(Locale.ROOT);
        byte[] body = ("<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>" + code + "</Code><Message>" + message
                + "\nRequestId:" + requestId + " (injected by fake-tikv)</Message></Error>").getBytes(StandardCharsets.UTF_8);
        HttpHeaders headers = new HttpHeaders()
                .set(HttpHeaderName.CONTENT_TYPE, "application/xml")
                .set(HttpHeaderName.CONTENT_LENGTH, Integer.toString(body.length))
                .set(HttpHeaderName.fromString("x-ms-error-code"), code)
                .set(HttpHeaderName.fromString("x-ms-request-id"), requestId);
        return new FixedResponse(request, status, headers, body);
    }

    /** A complete response held in memory. */
    private static final class FixedResponse extends HttpResponse {
        private final int status;
        private final HttpHeaders headers;
        private final byte[] body;

        FixedResponse(HttpRequest request, int status, HttpHeaders headers, byte[] body) {
            super(request);
            this.status = status;
            this.headers = headers;
            this.body = body;
        }

        @Override
        public int getStatusCode() {
            return status;
        }

        @Override
        @Deprecated
        public String getHeaderValue(String name) {
            return headers.getValue(HttpHeaderName.fromString(name));
        }

        @Override
        public HttpHeaders getHeaders() {
            return headers;
        }

        @Override
        public Flux<ByteBuffer> getBody() {
            return Flux.just(ByteBuffer.wrap(body));
        }

        @Override
        public Mono<byte[]> getBodyAsByteArray() {
            return Mono.just(body);
        }

        @Override
        public Mono<String> getBodyAsString() {
            return Mono.just(new String(body, StandardCharsets.UTF_8));
        }

        @Override
        public Mono<String> getBodyAsString(Charset charset) {
            return Mono.just(new String(body, charset));
        }

        @Override
        public BinaryData getBodyAsBinaryData() {
            return BinaryData.fromBytes(body);
        }
    }
}

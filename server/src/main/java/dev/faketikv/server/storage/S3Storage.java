package dev.faketikv.server.storage;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.exception.AbortedException;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.AbortMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.CompletedMultipartUpload;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.CreateMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.UploadPartRequest;

/**
 * An S3 (or S3-compatible) bucket: TiKV's {@code S3Storage} ({@code components/cloud/aws/src/s3.rs}),
 * through the AWS SDK for Java v2.
 *
 * <p>Every {@code backup.S3} field is honoured: endpoint (empty = AWS for the region; no scheme =
 * https), region (empty = us-east-1), bucket (required), prefix (object key = {@code prefix + "/" + name},
 * or {@code name} without a prefix), storage_class, sse, sse_kms_key_id, acl (passed on PutObject and
 * CreateMultipartUpload when set), access_key + secret_access_key (static credentials; without them the
 * SDK's default chain), force_path_style.
 *
 * <p>An object of at most {@code s3-multi-part-size} bytes (raised to 5 MiB when lower, as TiKV does)
 * goes up in one PutObject; a larger one as a multipart upload with parts of that size, aborted on
 * failure. Each call of an upload is retried as TiKV 5.4's {@code retry} helper does
 * ({@code components/tikv_util/src/stream.rs}): {@value #MAX_ATTEMPTS} attempts in all, only for what
 * rusoto's {@code RetryError} calls retryable: an HTTP dispatch error (I/O, timeout) or a response
 * with a 5xx or 408 status (so 503 SlowDown and 500 InternalError are retried; 400 RequestTimeout, 403
 * and 429 are not), sleeping the configured base delay (TiKV: 1 s) plus up to that much jitter,
 * doubling, capped at 32 s. The SDK's own retries are off so that this is the only retry loop. The
 * final error has TiKV's text ({@code components/cloud/aws/src/s3.rs} {@code put}, rusoto 0.46's
 * {@code Display}): {@code failed to put object rusoto error Request ID: Some("...") Body: <?xml ...><Error>
 * <Code>SlowDown</Code>...}, kind {@code Other}, so BR's message matching applies. Reads are not retried,
 * as TiKV's {@code get} is not: a missing key is {@code NotFound} "no key K at bucket B", anything else
 * {@code failed to get object ...}. Credentials never appear in messages or logs.
 *
 * <p>Thread-safe; close it to release the HTTP client.
 */
public final class S3Storage implements ExternalStorage {
    private static final Logger LOG = LoggerFactory.getLogger(S3Storage.class);
    /** TiKV's {@code MAX_RETRY_TIMES}: attempts in all, the first included. */
    static final int MAX_ATTEMPTS = 4;
    static final long MIN_PART_SIZE = 5L << 20;
    static final long MAX_PART_BUFFER = 1L << 30;
    private static final Duration MAX_DELAY = Duration.ofSeconds(32);

    /** The fields of {@code backup.S3}. */
    public record Config(String endpoint, String region, String bucket, String prefix, String storageClass, String sse,
                         String sseKmsKeyId, String acl, String accessKey, String secretAccessKey, boolean forcePathStyle) {
        @Override
        public String toString() {
            // never print the keys
            return "S3{endpoint=" + endpoint + ", region=" + region + ", bucket=" + bucket + ", prefix=" + prefix
                    + ", force_path_style=" + forcePathStyle + ", static_credentials=" + !accessKey.isEmpty() + "}";
        }
    }

    private final Config config;
    private final long partSize;
    private final Duration retryBase;
    private final S3Faults faults;
    private final S3Client client;

    public S3Storage(Config config, long multiPartSize, Duration retryBase, S3Faults faults) throws StorageException {
        if (config.bucket().isEmpty()) {
            throw new StorageException("InvalidInput", "missing bucket name");
        }
        if (!config.accessKey().isEmpty() && config.secretAccessKey().isEmpty()) {
            throw new StorageException("InvalidInput", "missing secret access key (access_key is set)");
        }
        this.config = config;
        // parts are buffered in memory: at least S3's 5 MiB, at most 1 GiB per part
        this.partSize = Math.min(MAX_PART_BUFFER, Math.max(MIN_PART_SIZE, multiPartSize));
        this.retryBase = retryBase;
        this.faults = faults;
        AwsCredentialsProvider creds = config.accessKey().isEmpty()
                ? DefaultCredentialsProvider.builder().build()
                : StaticCredentialsProvider.create(AwsBasicCredentials.create(config.accessKey(), config.secretAccessKey()));
        var b = S3Client.builder()
                .httpClient(UrlConnectionHttpClient.builder()
                        .connectionTimeout(Duration.ofSeconds(10))
                        .socketTimeout(Duration.ofSeconds(60))
                        .build())
                .region(Region.of(config.region().isEmpty() ? "us-east-1" : config.region()))
                .credentialsProvider(creds)
                .forcePathStyle(config.forcePathStyle())
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .overrideConfiguration(o -> o.retryStrategy(AwsRetryStrategy.doNotRetry()));
        if (!config.endpoint().isEmpty()) {
            String ep = config.endpoint().contains("://") ? config.endpoint() : "https://" + config.endpoint();
            try {
                b.endpointOverride(URI.create(ep));
            } catch (IllegalArgumentException e) {
                throw new StorageException("InvalidInput", "invalid S3 endpoint '" + config.endpoint() + "': " + e.getMessage());
            }
        }
        try {
            this.client = b.build();
        } catch (RuntimeException e) {
            throw new StorageException("Other", "cannot create S3 client: " + e.getMessage(), e);
        }
    }

    @Override
    public String name() {
        return "s3";
    }

    public Config config() {
        return config;
    }

    /** {@code prefix + "/" + name}, or {@code name} without a prefix. */
    String objectKey(String name) {
        return config.prefix().isEmpty() ? name : config.prefix() + "/" + name;
    }

    @Override
    public void write(String name, InputStream data, long contentLength) throws IOException {
        String key = objectKey(name);
        InputStream in = faults.throttle() == null ? data : faults.throttle().wrap(data);
        if (contentLength <= partSize) {
            byte[] body = in.readAllBytes();
            retry("put", key, () -> client.putObject(putRequest(key, body.length), RequestBody.fromBytes(body)));
            return;
        }
        CreateMultipartUploadRequest.Builder create = CreateMultipartUploadRequest.builder().bucket(config.bucket()).key(key);
        if (!config.storageClass().isEmpty()) {
            create.storageClass(config.storageClass());
        }
        if (!config.sse().isEmpty()) {
            create.serverSideEncryption(config.sse());
        }
        if (!config.sseKmsKeyId().isEmpty()) {
            create.ssekmsKeyId(config.sseKmsKeyId());
        }
        if (!config.acl().isEmpty()) {
            create.acl(config.acl());
        }
        String uploadId = retry("create multipart upload", key, () -> client.createMultipartUpload(create.build())).uploadId();
        boolean done = false;
        try {
            List<CompletedPart> parts = new ArrayList<>();
            if (contentLength <= 0) {
                throw new StorageException("InvalidInput", "multipart upload of " + key + " without content");
            }
            for (int partNumber = 1; ; partNumber++) {
                byte[] part = in.readNBytes((int) partSize);
                if (part.length == 0) {
                    break;
                }
                final int n = partNumber;
                String etag = retry("upload part", key, () -> client.uploadPart(UploadPartRequest.builder()
                        .bucket(config.bucket()).key(key).uploadId(uploadId).partNumber(n).contentLength((long) part.length).build(),
                        RequestBody.fromBytes(part))).eTag();
                parts.add(CompletedPart.builder().partNumber(n).eTag(etag).build());
            }
            retry("complete multipart upload", key, () -> client.completeMultipartUpload(b -> b.bucket(config.bucket()).key(key)
                    .uploadId(uploadId).multipartUpload(CompletedMultipartUpload.builder().parts(parts).build())));
            done = true;
        } finally {
            if (!done) {
                try {
                    client.abortMultipartUpload(AbortMultipartUploadRequest.builder().bucket(config.bucket()).key(key).uploadId(uploadId).build());
                } catch (RuntimeException e) {
                    LOG.warn("abort multipart upload of {} failed: {}", key, e.toString());
                }
            }
        }
    }

    private PutObjectRequest putRequest(String key, long length) {
        PutObjectRequest.Builder put = PutObjectRequest.builder().bucket(config.bucket()).key(key).contentLength(length);
        if (!config.storageClass().isEmpty()) {
            put.storageClass(config.storageClass());
        }
        if (!config.sse().isEmpty()) {
            put.serverSideEncryption(config.sse());
        }
        if (!config.sseKmsKeyId().isEmpty()) {
            put.ssekmsKeyId(config.sseKmsKeyId());
        }
        if (!config.acl().isEmpty()) {
            put.acl(config.acl());
        }
        return put.build();
    }

    /** The URL an object is addressed at (virtual-hosted or path style, as configured). */
    java.net.URL objectUrl(String name) {
        return client.utilities().getUrl(b -> b.bucket(config.bucket()).key(objectKey(name)));
    }

    @Override
    public InputStream read(String name) throws IOException {
        String key = objectKey(name);
        try {
            faults.beforeCall("get");
            return client.getObject(GetObjectRequest.builder().bucket(config.bucket()).key(key).build());
        } catch (NoSuchKeyException e) {
            throw new StorageException("NotFound", "no key " + key + " at bucket " + config.bucket(), e);
        } catch (S3Exception e) {
            throw new StorageException("Other", "failed to get object " + rusoto(e), e);
        } catch (AbortedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("S3 get aborted");
        } catch (SdkClientException e) {
            throw new StorageException("Other", "failed to get object " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("S3 get interrupted");
        }
    }

    /**
     * Runs one S3 call of an upload with TiKV's retries; the final failure becomes a {@link StorageException}
     * with TiKV's text. {@code op} only names the call in logs: TiKV reports every upload failure as
     * "failed to put object".
     */
    <T> T retry(String op, String key, Callable<T> call) throws IOException {
        long delayMs = retryBase.toMillis();
        for (int attempt = 1; ; attempt++) {
            try {
                faults.beforeCall(op);
                return call.call();
            } catch (S3Exception e) {
                if (!retryable(e) || attempt == MAX_ATTEMPTS) {
                    throw new StorageException("Other", "failed to put object rusoto error " + rusoto(e), e);
                }
                LOG.warn("S3 {} {} failed (attempt {}/{}), retrying: {} {}", op, key, attempt, MAX_ATTEMPTS,
                        e.statusCode(), code(e));
            } catch (AbortedException e) {
                // the SDK reports an interrupt this way (and clears the flag): stop, do not retry
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("S3 " + op + " aborted");
            } catch (SdkClientException e) {
                if (attempt == MAX_ATTEMPTS) {
                    throw new StorageException("Other", "failed to put object rusoto error " + e.getMessage(), e);
                }
                LOG.warn("S3 {} {} failed (attempt {}/{}), retrying: {}", op, key, attempt, MAX_ATTEMPTS, e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("S3 " + op + " interrupted");
            } catch (IOException e) {
                throw e;
            } catch (Exception e) {
                throw new StorageException("Other", "failed to put object " + e, e);
            }
            try {
                Thread.sleep(delayMs + ThreadLocalRandom.current().nextLong(Math.max(1, retryBase.toMillis())));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("S3 " + op + " retry interrupted");
            }
            delayMs = Math.min(MAX_DELAY.toMillis(), delayMs * 2);
        }
    }

    /** rusoto's {@code http_retriable}: a 5xx or a 408 (S3's RequestTimeout comes as a 400 and is not retried). */
    static boolean retryable(S3Exception e) {
        int status = e.statusCode();
        return status >= 500 || status == 408;
    }

    private static String code(S3Exception e) {
        return e.awsErrorDetails() == null || e.awsErrorDetails().errorCode() == null ? "" : e.awsErrorDetails().errorCode();
    }

    /** An S3 error response as rusoto 0.46 prints one it did not parse: the request id, then the body as received. */
    static String rusoto(S3Exception e) {
        String id = e.requestId();
        String body = "";
        if (e.awsErrorDetails() != null && e.awsErrorDetails().rawResponse() != null) {
            body = e.awsErrorDetails().rawResponse().asUtf8String();
        }
        if (body.isEmpty()) {
            String message = e.awsErrorDetails() != null && e.awsErrorDetails().errorMessage() != null
                    ? e.awsErrorDetails().errorMessage() : "";
            body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + code(e) + "</Code><Message>" + message
                    + "</Message></Error>";
        }
        return "Request ID: " + (id == null || id.isEmpty() ? "None" : "Some(\"" + id + "\")") + " Body: " + body;
    }

    @Override
    public void close() {
        client.close();
    }
}

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
 * failure. Each S3 call is retried, as TiKV's retry helper does, when the error is retryable (5xx such
 * as 503 SlowDown and 500 InternalError, 400 RequestTimeout, client-side I/O errors and timeouts):
 * up to {@value #MAX_ATTEMPTS} attempts with exponential back-off from the configured base delay
 * (TiKV: 1 s, doubling, capped at 32 s) plus jitter. The SDK's own retries are off so that this is the
 * only retry loop. The final error names the S3 error code ({@code <Code>SlowDown</Code>}), so BR's
 * message matching applies. Credentials never appear in messages or logs.
 *
 * <p>Thread-safe; close it to release the HTTP client.
 */
public final class S3Storage implements ExternalStorage {
    private static final Logger LOG = LoggerFactory.getLogger(S3Storage.class);
    static final int MAX_ATTEMPTS = 5;
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
        return retry("get", key, () -> client.getObject(GetObjectRequest.builder().bucket(config.bucket()).key(key).build()));
    }

    /** Runs one S3 call with TiKV-style retries; the final failure becomes a {@link StorageException}. */
    <T> T retry(String op, String key, Callable<T> call) throws IOException {
        long delayMs = retryBase.toMillis();
        for (int attempt = 1; ; attempt++) {
            try {
                faults.beforeCall(op);
                return call.call();
            } catch (S3Exception e) {
                if (!retryable(e) || attempt == MAX_ATTEMPTS) {
                    throw failure(op, key, e, attempt);
                }
                LOG.warn("S3 {} {} failed (attempt {}/{}), retrying: {} {}", op, key, attempt, MAX_ATTEMPTS,
                        e.statusCode(), code(e));
            } catch (software.amazon.awssdk.core.exception.AbortedException e) {
                // the SDK reports an interrupt this way (and clears the flag): stop, do not retry
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("S3 " + op + " aborted");
            } catch (SdkClientException e) {
                if (attempt == MAX_ATTEMPTS) {
                    throw new StorageException("Other", "failed to " + op + " object " + key + " after " + attempt
                            + " attempts: " + e.getMessage(), e);
                }
                LOG.warn("S3 {} {} failed (attempt {}/{}), retrying: {}", op, key, attempt, MAX_ATTEMPTS, e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("S3 " + op + " interrupted");
            } catch (IOException e) {
                throw e;
            } catch (Exception e) {
                throw new StorageException("Other", "failed to " + op + " object " + key + ": " + e, e);
            }
            try {
                Thread.sleep(delayMs + ThreadLocalRandom.current().nextLong(Math.max(1, delayMs / 10)));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("S3 " + op + " retry interrupted");
            }
            delayMs = Math.min(MAX_DELAY.toMillis(), delayMs * 2);
        }
    }

    static boolean retryable(S3Exception e) {
        int status = e.statusCode();
        return status >= 500 || status == 408 || status == 429 || "RequestTimeout".equals(code(e));
    }

    private static String code(S3Exception e) {
        return e.awsErrorDetails() == null || e.awsErrorDetails().errorCode() == null ? "" : e.awsErrorDetails().errorCode();
    }

    private static StorageException failure(String op, String key, S3Exception e, int attempts) {
        String code = code(e);
        String kind = e.statusCode() == 403 ? "PermissionDenied" : e.statusCode() == 404 ? "NotFound" : "Other";
        String message = e.awsErrorDetails() != null && e.awsErrorDetails().errorMessage() != null
                ? e.awsErrorDetails().errorMessage() : e.getMessage();
        return new StorageException(kind, "failed to " + op + " object " + key + " after " + attempts + " attempt"
                + (attempts == 1 ? "" : "s") + ": status " + e.statusCode() + ", <Code>" + code + "</Code><Message>"
                + message + "</Message>", e);
    }

    @Override
    public void close() {
        client.close();
    }
}

package dev.faketikv.server.storage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import org.tikv.kvproto.Brpb.AzureBlobStorage;
import org.tikv.kvproto.Brpb.Bucket;
import org.tikv.kvproto.Brpb.CloudDynamic;
import org.tikv.kvproto.Brpb.GCS;
import org.tikv.kvproto.Brpb.S3;
import org.tikv.kvproto.Brpb.StorageBackend;
import java.util.Set;
import java.util.Map;

/**
 * Builds the storage a request names: TiKV's {@code create_storage}
 * ({@code components/external_storage/export/src/export.rs}). {@code noop}, {@code local}, {@code s3} and
 * {@code gcs} ({@link GcsStorage}), {@code azure_blob_storage} ({@link AzureStorage}) and {@code cloud_dynamic}
 * with the providers TiKV 5.4 knows ({@code s3}/{@code aws}, {@code gcp}/{@code gcs}, {@code azure}/{@code azblob};
 * export.rs:194-204) are served; an unset backend fails like TiKV's ("bad storage backend"); HDFS (an
 * external {@code hdfs dfs -put} command in TiKV) and other providers fail with a message naming the
 * backend as not supported by fake-tikv.
 */
public final class ExternalStorages {
    /**
     * What storages need besides the request: S3 part size, retry base delay, injected faults.
     *
     * @param localRoot when set ({@code backup.local-root}), {@code local} paths must lie inside it
     */
    public record Options(long s3MultiPartSize, Duration retryBaseDelay, S3Faults s3Faults, Path localRoot,
                          CloudFaults gcsFaults, CloudFaults azureFaults) {
        /** Without GCS or Azure faults. */
        public Options(long s3MultiPartSize, Duration retryBaseDelay, S3Faults s3Faults, Path localRoot) {
            this(s3MultiPartSize, retryBaseDelay, s3Faults, localRoot, CloudFaults.none(), CloudFaults.none());
        }

        public static Options defaults() {
            return new Options(5L << 20, Duration.ofSeconds(1), S3Faults.none(), null);
        }

        /** The same options with injected GCS and Azure faults ({@code fake.gcs-faults}, {@code fake.azure-faults}). */
        public Options withCloudFaults(CloudFaults gcs, CloudFaults azure) {
            return new Options(s3MultiPartSize, retryBaseDelay, s3Faults, localRoot, gcs, azure);
        }
    }

    private static final Set<String> PROVIDERS = Set.of("s3", "aws", "gcp", "gcs", "azure", "azblob");

    private ExternalStorages() {}

    public static ExternalStorage create(StorageBackend backend) throws StorageException {
        return create(backend, Options.defaults());
    }

    public static ExternalStorage create(StorageBackend backend, Options options) throws StorageException {
        return switch (backend.getBackendCase()) {
            case NOOP -> new NoopStorage();
            case LOCAL -> {
                String path = backend.getLocal().getPath();
                if (path.isEmpty()) {
                    // TiKV opens "" and gets ENOENT
                    throw StorageException.os(2, "NotFound", "No such file or directory");
                }
                // nothing is created or opened here: a read must not create its folder, and the folder is
                // opened once, without following links below the root, by the storage itself
                yield new LocalStorage(localPath(path, options.localRoot()), options.localRoot());
            }
            case S3 -> new S3Storage(s3Config(backend.getS3()), options.s3MultiPartSize(), options.retryBaseDelay(), options.s3Faults());
            case GCS -> new GcsStorage(gcsConfig(backend.getGcs()), options.retryBaseDelay(), options.gcsFaults());
            case AZURE_BLOB_STORAGE -> new AzureStorage(azureConfig(backend.getAzureBlobStorage()), options.retryBaseDelay(),
                    options.azureFaults());
            case CLOUD_DYNAMIC -> {
                CloudDynamic cd = backend.getCloudDynamic();
                String provider = cd.getProviderName().toLowerCase(java.util.Locale.ROOT);
                if (!cd.hasBucket() && !provider.equals("s3") && !provider.equals("aws") && PROVIDERS.contains(provider)) {
                    // BucketConf::from_cloud_dynamic (components/cloud/src/blob.rs:173-176)
                    throw new StorageException("Other", "Required field bucket is missing");
                }
                // the providers of export.rs:194-204 (TiKV matches them as written; fake-tikv ignores case, as for s3)
                yield switch (provider) {
                    case "s3", "aws" -> new S3Storage(s3Config(cd), options.s3MultiPartSize(), options.retryBaseDelay(), options.s3Faults());
                    case "gcp", "gcs" -> new GcsStorage(gcsConfig(cd), options.retryBaseDelay(), options.gcsFaults());
                    case "azure", "azblob" -> new AzureStorage(azureConfig(cd), options.retryBaseDelay(), options.azureFaults());
                    default -> throw new StorageException("Unsupported", "fake-tikv does not support the " + label(backend)
                            + " storage backend (supported: noop, local, s3, gcs, azure_blob_storage, cloud_dynamic with provider"
                            + " s3/aws, gcp/gcs, azure/azblob)");
                };
            }
            case BACKEND_NOT_SET -> throw new StorageException("NotFound", "bad storage backend StorageBackend { backend: None }");
            default -> throw new StorageException("Unsupported", "fake-tikv does not support the "
                    + label(backend) + " storage backend (supported: noop, local, s3, gcs, azure_blob_storage)");
        };
    }

    /**
     * Checks a {@code local} path from a request: absolute, no {@code ..} segment, no NUL, and inside
     * {@code root} when one is configured. (TiKV takes any path relative to its working folder; a fake
     * used by other people's tests refuses the ones that can only be mistakes or escapes.)
     */
    static Path localPath(String path, Path root) throws StorageException {
        if (path.indexOf('\0') >= 0) {
            throw new StorageException("InvalidInput", "local storage path contains a NUL byte");
        }
        Path p;
        try {
            p = Path.of(path);
        } catch (java.nio.file.InvalidPathException e) {
            throw new StorageException("InvalidInput", "invalid local storage path: " + e.getMessage());
        }
        if (!p.isAbsolute()) {
            throw new StorageException("InvalidInput", "local storage path must be absolute: " + path);
        }
        for (Path part : p) {
            if (part.toString().equals("..")) {
                throw new StorageException("InvalidInput", "local storage path must not contain '..': " + path);
            }
        }
        Path normal = p.normalize();
        if (root != null && !insideRoot(normal, root)) {
            throw new StorageException("PermissionDenied", "local storage path " + path + " is outside backup.local-root " + root);
        }
        return normal;
    }

    /**
     * Whether {@code path} really lies inside {@code root}: symbolic links are resolved on the part of the
     * path that exists (its nearest existing ancestor), so a link inside the root cannot lead out of it.
     */
    static boolean insideRoot(Path path, Path root) throws StorageException {
        try {
            Path realRoot = root.toAbsolutePath().normalize();
            if (Files.exists(realRoot)) {
                realRoot = realRoot.toRealPath();
            }
            return realPath(path).startsWith(realRoot);
        } catch (IOException e) {
            throw StorageException.of(e);
        }
    }

    /**
     * {@code path} with every symbolic link resolved on the part that exists (its nearest existing
     * ancestor); the missing rest is appended as written.
     */
    static Path realPath(Path path) throws IOException {
        Path existing = path.toAbsolutePath().normalize();
        Deque<Path> missing = new ArrayDeque<>();
        while (existing != null && !Files.exists(existing, LinkOption.NOFOLLOW_LINKS)) {
            missing.push(existing.getFileName());
            existing = existing.getParent();
        }
        Path real = existing == null ? path.toAbsolutePath().normalize() : existing.toRealPath();
        while (!missing.isEmpty()) {
            real = real.resolve(missing.pop());
        }
        return real.normalize();
    }

    static S3Storage.Config s3Config(S3 s3) {
        return new S3Storage.Config(s3.getEndpoint(), s3.getRegion(), s3.getBucket(), s3.getPrefix(), s3.getStorageClass(),
                s3.getSse(), s3.getSseKmsKeyId(), s3.getAcl(), s3.getAccessKey(), s3.getSecretAccessKey(), s3.getForcePathStyle());
    }

    /** {@code cloud_dynamic}: bucket fields, the rest from attrs (same names as {@code backup.S3}'s fields). */
    static S3Storage.Config s3Config(CloudDynamic cd) {
        Bucket b = cd.getBucket();
        Map<String, String> a = cd.getAttrsMap();
        return new S3Storage.Config(b.getEndpoint(), b.getRegion(), b.getBucket(), b.getPrefix(), b.getStorageClass(),
                a.getOrDefault("sse", ""), a.getOrDefault("sse_kms_key_id", ""), a.getOrDefault("acl", ""),
                a.getOrDefault("access_key", ""), a.getOrDefault("secret_access_key", ""),
                Boolean.parseBoolean(a.getOrDefault("force_path_style", "false")));
    }

    static GcsStorage.Config gcsConfig(GCS gcs) {
        return new GcsStorage.Config(gcs.getEndpoint(), gcs.getBucket(), gcs.getPrefix(), gcs.getStorageClass(),
                gcs.getPredefinedAcl(), gcs.getCredentialsBlob());
    }

    /** {@code cloud_dynamic} for GCS: bucket fields, {@code predefined_acl} and {@code credentials_blob} from attrs (gcs.rs:50-77). */
    static GcsStorage.Config gcsConfig(CloudDynamic cd) {
        Bucket b = cd.getBucket();
        Map<String, String> a = cd.getAttrsMap();
        return new GcsStorage.Config(b.getEndpoint(), b.getBucket(), b.getPrefix(), b.getStorageClass(),
                a.getOrDefault("predefined_acl", ""), a.getOrDefault("credentials_blob", ""));
    }

    static AzureStorage.Config azureConfig(AzureBlobStorage az) {
        return new AzureStorage.Config(az.getEndpoint(), az.getBucket(), az.getPrefix(), az.getStorageClass(),
                az.getAccountName(), az.getSharedKey());
    }

    /** {@code cloud_dynamic} for Azure: bucket fields, {@code account_name} and {@code shared_key} from attrs (azblob.rs:114-127). */
    static AzureStorage.Config azureConfig(CloudDynamic cd) {
        Bucket b = cd.getBucket();
        Map<String, String> a = cd.getAttrsMap();
        return new AzureStorage.Config(b.getEndpoint(), b.getBucket(), b.getPrefix(), b.getStorageClass(),
                a.getOrDefault("account_name", ""), a.getOrDefault("shared_key", ""));
    }

    /** The storage kind label of a backend (metric label and messages). */
    public static String label(StorageBackend backend) {
        return switch (backend.getBackendCase()) {
            case NOOP -> "noop";
            case LOCAL -> "local";
            case S3 -> "s3";
            case GCS -> "gcs";
            case CLOUD_DYNAMIC -> "cloud_dynamic(" + backend.getCloudDynamic().getProviderName() + ")";
            case HDFS -> "hdfs";
            case AZURE_BLOB_STORAGE -> "azure_blob_storage";
            default -> "unset";
        };
    }
}

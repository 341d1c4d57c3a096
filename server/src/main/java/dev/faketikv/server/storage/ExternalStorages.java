package dev.faketikv.server.storage;

import java.nio.file.Path;
import org.tikv.kvproto.Brpb.StorageBackend;

/**
 * Builds the storage a request names: TiKV's {@code create_storage}
 * ({@code components/external_storage/export/src/export.rs}). {@code noop} and {@code local} are
 * served; an unset backend fails like TiKV's ("bad storage backend"); every other backend fails with a
 * message naming it as not supported by fake-tikv.
 */
public final class ExternalStorages {
    private ExternalStorages() {}

    public static ExternalStorage create(StorageBackend backend) throws StorageException {
        return switch (backend.getBackendCase()) {
            case NOOP -> new NoopStorage();
            case LOCAL -> {
                String path = backend.getLocal().getPath();
                if (path.isEmpty()) {
                    throw new StorageException("InvalidInput", "local storage path is empty");
                }
                yield new LocalStorage(Path.of(path));
            }
            case BACKEND_NOT_SET -> throw new StorageException("NotFound", "bad storage backend " + debugOf(backend));
            default -> throw new StorageException("Unsupported", "fake-tikv does not support the "
                    + label(backend) + " storage backend (supported: noop, local)");
        };
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

    private static String debugOf(StorageBackend backend) {
        return "StorageBackend { backend: None }";
    }
}

package dev.faketikv.client.br;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.tikv.kvproto.Brpb;
import java.util.Locale;

/**
 * The backup destination as BR sees it ({@code -s local:///path}, {@code noop://}, {@code gcs://bucket/prefix},
 * {@code azure://container/prefix}): the {@code StorageBackend} sent to the stores, and the files BR itself
 * writes there ({@code backup.lock}, {@code backupmeta}). {@code local://} is the stores' own disk, as in
 * TiKV; here the stores run on this machine, so BR reads and writes the same folder.
 *
 * <p>Cloud URLs are parsed as BR 5.4's {@code ParseBackend} ({@code br/pkg/storage/parse.go}) does: the host
 * is the bucket (container), the path without its surrounding slashes the prefix, and the options come
 * from the command's flags ({@code --gcs.endpoint}, {@code --azblob.account-name}, ...) overridden by the
 * URL's query ({@code ?endpoint=...&storage-class=...}). GCS options ({@code gcs.go}): {@code endpoint},
 * {@code storage-class}, {@code predefined-acl}, {@code credentials-file} (its content is sent as
 * {@code credentials_blob}; without one, {@code $GOOGLE_APPLICATION_CREDENTIALS}'s file is). Azure options
 * ({@code azblob.go}): {@code endpoint}, {@code account-name}, {@code account-key}, {@code access-tier};
 * without a key, {@code $AZURE_STORAGE_ACCOUNT}/{@code $AZURE_STORAGE_KEY} are sent, as BR sends them. BR's
 * own files in a cloud storage go through an {@link Objects} the caller supplies (fake-tikv's CLI gives
 * the stores' own storage code). Immutable.
 */
public final class BrStorage {
    /** What BR writes into {@code backup.lock}. */
    public static final String LOCK_CONTENT = "DO NOT DELETE\nThis file exists to remind other backup jobs won't use this path";

    /** Whole-object access to a cloud backend, for BR's own files. */
    public interface Objects {
        /** The object's bytes; a missing one throws {@link FileNotFoundException} or {@link NoSuchFileException}. */
        byte[] read(String name) throws IOException;

        void write(String name, byte[] content) throws IOException;
    }

    /** Opens {@link Objects} on a backend (the CLI passes one built on the stores' storage code). */
    public interface Opener {
        Objects open(Brpb.StorageBackend backend) throws IOException;
    }

    private final String url;
    private final Path dir;
    private final Brpb.StorageBackend cloud;
    private final Objects objects;

    private BrStorage(String url, Path dir) {
        this(url, dir, null, null);
    }

    private BrStorage(String url, Path dir, Brpb.StorageBackend cloud, Objects objects) {
        this.url = url;
        this.dir = dir;
        this.cloud = cloud;
        this.objects = objects;
    }

    /**
     * Parses any storage URL; {@code flags} are the command's storage options without their {@code gcs.}
     * or {@code azblob.} prefix ({@code endpoint}, {@code account-name}, ...), {@code env} the environment
     * BR reads credentials from, {@code opener} what reads and writes BR's files in a cloud storage (null:
     * backend only, reads and writes fail).
     */
    public static BrStorage parse(String url, Map<String, String> flags, UnaryOperator<String> env, Opener opener) {
        String scheme = url.contains("://") ? url.substring(0, url.indexOf("://")).toLowerCase(Locale.ROOT) : "";
        if (!scheme.equals("gcs") && !scheme.equals("gs") && !scheme.equals("azure") && !scheme.equals("azblob")) {
            return parse(url);
        }
        URI u;
        try {
            u = URI.create(url);
        } catch (IllegalArgumentException e) {
            throw new BrException("invalid storage URL " + url + ": " + e.getMessage());
        }
        String bucket = u.getHost() == null ? u.getAuthority() : u.getHost();
        if (bucket == null || bucket.isEmpty()) {
            throw new BrException("please specify the bucket for " + scheme + " in " + url);
        }
        String prefix = u.getPath() == null ? "" : u.getPath();
        while (prefix.startsWith("/")) {
            prefix = prefix.substring(1);
        }
        while (prefix.endsWith("/")) {
            prefix = prefix.substring(0, prefix.length() - 1);
        }
        Map<String, String> o = new LinkedHashMap<>(flags);
        o.putAll(query(u.getRawQuery()));
        Brpb.StorageBackend backend;
        if (scheme.startsWith("gs") || scheme.equals("gcs")) {
            Brpb.GCS.Builder g = Brpb.GCS.newBuilder().setBucket(bucket).setPrefix(prefix)
                    .setEndpoint(o.getOrDefault("endpoint", "")).setStorageClass(o.getOrDefault("storage-class", ""))
                    .setPredefinedAcl(o.getOrDefault("predefined-acl", ""));
            String file = o.getOrDefault("credentials-file", "");
            if (file.isEmpty() && env.apply("GOOGLE_APPLICATION_CREDENTIALS") != null) {
                file = env.apply("GOOGLE_APPLICATION_CREDENTIALS");
            }
            if (!file.isEmpty()) {
                try {
                    g.setCredentialsBlob(Files.readString(Path.of(file)));
                } catch (IOException e) {
                    throw new BrException("cannot read the GCS credentials file " + file + ": " + e.getClass().getSimpleName());
                }
            }
            backend = Brpb.StorageBackend.newBuilder().setGcs(g).build();
        } else {
            Brpb.AzureBlobStorage.Builder a = Brpb.AzureBlobStorage.newBuilder().setBucket(bucket).setPrefix(prefix)
                    .setEndpoint(o.getOrDefault("endpoint", "")).setStorageClass(o.getOrDefault("access-tier", ""))
                    .setAccountName(o.getOrDefault("account-name", "")).setSharedKey(o.getOrDefault("account-key", ""));
            if (a.getSharedKey().isEmpty()) {
                // azblob.go: the account from the flag or $AZURE_STORAGE_ACCOUNT, the key from $AZURE_STORAGE_KEY, both sent on
                String account = a.getAccountName().isEmpty() ? env.apply("AZURE_STORAGE_ACCOUNT") : a.getAccountName();
                String key = env.apply("AZURE_STORAGE_KEY");
                if (account == null || account.isEmpty()) {
                    throw new BrException("account name cannot be empty to access azure blob storage");
                }
                if (key == null || key.isEmpty()) {
                    throw new BrException("cannot find any credential info to access azure blob storage");
                }
                a.setAccountName(account).setSharedKey(key);
            }
            backend = Brpb.StorageBackend.newBuilder().setAzureBlobStorage(a).build();
        }
        Objects objects = null;
        if (opener != null) {
            try {
                objects = opener.open(backend);
            } catch (IOException e) {
                throw new BrException("cannot open " + redact(url) + ": " + e.getMessage(), e);
            }
        }
        return new BrStorage(redact(url), null, backend, objects);
    }

    /** The URL without its query (which may hold a key). */
    private static String redact(String url) {
        int q = url.indexOf('?');
        return q < 0 ? url : url.substring(0, q);
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> out = new LinkedHashMap<>();
        if (raw == null || raw.isEmpty()) {
            return out;
        }
        for (String kv : raw.split("&")) {
            int eq = kv.indexOf('=');
            String k = URLDecoder.decode(eq < 0 ? kv : kv.substring(0, eq), StandardCharsets.UTF_8).replace('_', '-');
            String v = eq < 0 ? "" : URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8);
            out.put(k, v);
        }
        return out;
    }

    /** A cloud storage ({@code gcs://}, {@code azure://}). */
    public boolean cloud() {
        return cloud != null;
    }

    /** Parses {@code local:///abs/path}, {@code file:///abs/path}, a plain absolute path, or {@code noop://}. */
    public static BrStorage parse(String url) {
        if (url.startsWith("noop:")) {
            return new BrStorage(url, null);
        }
        Path p;
        if (url.startsWith("local://") || url.startsWith("file://")) {
            String rest = url.substring(url.indexOf("://") + 3);
            if (!rest.startsWith("/")) {
                // local://backup-rel would name the host "backup-rel" and the root folder: refuse, do not guess
                throw new BrException("local storage path must be absolute: " + url + " (write local:///abs/path, three slashes, or the "
                        + "absolute path itself)");
            }
            p = Path.of(URI.create("file://" + rest).getPath());
        } else if (url.contains("://")) {
            throw new BrException("storage " + url + " is not supported by this BR (local:// and noop:// are)");
        } else {
            p = Path.of(url);
        }
        if (!p.isAbsolute()) {
            throw new BrException("local storage path must be absolute: " + url);
        }
        return new BrStorage(url, p.normalize());
    }

    public boolean noop() {
        return dir == null && cloud == null;
    }

    public Path dir() {
        return dir;
    }

    public String url() {
        return url;
    }

    public Brpb.StorageBackend backend() {
        if (cloud != null) {
            return cloud;
        }
        return noop() ? Brpb.StorageBackend.newBuilder().setNoop(Brpb.Noop.getDefaultInstance()).build()
                : Brpb.StorageBackend.newBuilder().setLocal(Brpb.Local.newBuilder().setPath(dir.toString())).build();
    }

    public boolean exists(String name) {
        if (cloud != null) {
            try {
                objects().read(name);
                return true;
            } catch (FileNotFoundException | NoSuchFileException e) {
                return false;
            } catch (IOException e) {
                throw new BrException("cannot read " + name + " from " + url + ": " + e.getMessage(), e);
            }
        }
        return !noop() && Files.exists(dir.resolve(name));
    }

    private Objects objects() {
        if (objects == null) {
            throw new BrException("this BR cannot read or write " + url + " itself (no object access given)");
        }
        return objects;
    }

    public byte[] read(String name) {
        if (cloud != null) {
            try {
                return objects().read(name);
            } catch (FileNotFoundException | NoSuchFileException e) {
                throw new BrException("file " + name + " not found in " + url);
            } catch (IOException e) {
                throw new BrException("cannot read " + name + " from " + url + ": " + e.getMessage(), e);
            }
        }
        if (noop()) {
            throw new BrException("noop:// storage holds nothing to read");
        }
        try {
            return Files.readAllBytes(dir.resolve(name));
        } catch (java.nio.file.NoSuchFileException e) {
            throw new BrException("file " + name + " not found in " + url);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes {@code name} whole (temp file, then rename); noop storage discards it. */
    public void write(String name, byte[] content) {
        if (cloud != null) {
            try {
                objects().write(name, content);
                return;
            } catch (IOException e) {
                throw new BrException("cannot write " + name + " to " + url + ": " + e.getMessage(), e);
            }
        }
        if (noop()) {
            return;
        }
        try {
            Files.createDirectories(dir);
            Path tmp = dir.resolve(name + ".tmp" + System.nanoTime());
            Files.write(tmp, content);
            Files.move(tmp, dir.resolve(name), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new BrException("cannot write " + name + " to " + url + ": " + e.getMessage(), e);
        }
    }

    /**
     * BR's {@code CheckBackupStorageIsLocked}: refuses a folder that already holds a backup (a
     * {@code backupmeta}, a {@code backup.lock} or SST files).
     */
    public void checkEmptyForBackup() {
        if (cloud != null && objects != null) {
            // BR lists the prefix for SSTs too; fake-tikv's object access has no listing: the two markers are checked
            if (exists("backupmeta")) {
                throw new BrException("backup meta file exists in " + url + ", there may be some backup files in the path already, "
                        + "please specify a correct backup directory!");
            }
            if (exists("backup.lock")) {
                throw new BrException("backup lock file exists in " + url + ", there are some backup files in the path already, "
                        + "please specify a correct backup directory!");
            }
            return;
        }
        if (cloud != null || noop() || !Files.isDirectory(dir)) {
            return;
        }
        if (exists("backupmeta")) {
            throw new BrException("backup meta file exists in " + url + ", there may be some backup files in the path already, "
                    + "please specify a correct backup directory!");
        }
        if (exists("backup.lock")) {
            throw new BrException("backup lock file exists in " + url + ", there are some backup files in the path already, "
                    + "please specify a correct backup directory!");
        }
        try (var s = Files.walk(dir, 2)) {
            if (s.anyMatch(p -> p.getFileName().toString().endsWith(".sst"))) {
                throw new BrException("sst files exist in " + url + ", there are some backup files in the path already, "
                        + "please specify a correct backup directory!");
            }
        } catch (IOException e) {
            throw new BrException("cannot list " + url + ": " + e.getMessage(), e);
        }
    }
}

package dev.faketikv.cli;

import dev.faketikv.client.BrErrors;
import dev.faketikv.client.br.BackupMetas;
import dev.faketikv.client.br.BrBackup;
import dev.faketikv.client.br.BrChecksum;
import dev.faketikv.client.br.BrException;
import dev.faketikv.client.br.BrRestore;
import dev.faketikv.client.br.BrStorage;
import dev.faketikv.client.br.Tls;
import dev.faketikv.server.storage.ExternalStorage;
import dev.faketikv.server.storage.ExternalStorages;
import dev.faketikv.server.storage.StorageException;
import java.io.ByteArrayInputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.tikv.kvproto.Brpb;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code fake-tikv br backup|restore|checksum raw|txn --pd HOST:PORT -s local:///path}: a BR-like client
 * against a cluster found through PD (see {@link BrBackup}, {@link BrRestore}, {@link BrChecksum}).
 * TLS as BR: {@code --ca --cert --key} for PD and the stores, on iff {@code --ca} is set.
 * Exit code 0 on success, 1 when the operation failed (the reason on stderr, one line), 2 for bad arguments.
 */
@Command(name = "br", mixinStandardHelpOptions = true, description = "BR-like backup, restore and checksum against a cluster's PD.",
        subcommands = {BrCommand.Backup.class, BrCommand.Restore.class, BrCommand.Checksum.class})
public final class BrCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** Options every br command takes. */
    static final class Common {
        @Parameters(index = "0", description = "raw or txn")
        String kind;

        @Option(names = {"--pd", "-u"}, required = true, description = "PD address HOST:PORT (http:// or https:// accepted, as BR)")
        String pd;

        @Option(names = "--ca", description = "CA certificate path for TLS connection (TLS is on iff set)")
        Path ca;

        @Option(names = "--cert", description = "Certificate path for TLS connection")
        Path cert;

        @Option(names = "--key", description = "Private key path for TLS connection (PKCS#8 PEM)")
        Path key;

        @Option(names = {"-s", "--storage"}, required = true,
                description = "local:///absolute/path, noop://, gcs://bucket/prefix or azure://container/prefix (options as flags or ?endpoint=...)")
        String storage;

        @Option(names = "--gcs.endpoint", description = "GCS endpoint URL (default Google's)")
        String gcsEndpoint = "";

        @Option(names = "--gcs.storage-class", description = "GCS storage class, e.g. STANDARD, NEARLINE")
        String gcsStorageClass = "";

        @Option(names = "--gcs.predefined-acl", description = "GCS predefined ACL, e.g. private")
        String gcsPredefinedAcl = "";

        @Option(names = "--gcs.credentials-file", description = "GCS service-account key file (sent to the stores)")
        String gcsCredentialsFile = "";

        @Option(names = "--azblob.endpoint", description = "Azure Blob endpoint URL (default: the account's address at blob.core.windows.net)")
        String azEndpoint = "";

        @Option(names = "--azblob.access-tier", description = "Azure access tier: Hot, Cool or Archive")
        String azAccessTier = "";

        @Option(names = "--azblob.account-name", description = "Azure storage account (or $AZURE_STORAGE_ACCOUNT)")
        String azAccountName = "";

        @Option(names = "--azblob.account-key", description = "Azure shared key (or $AZURE_STORAGE_KEY)")
        String azAccountKey = "";

        /** {@code -s} with the storage flags; BR's own files in a cloud storage go through the stores' storage code. */
        BrStorage storage() {
            Map<String, String> flags = new LinkedHashMap<>();
            String scheme = storage.contains("://") ? storage.substring(0, storage.indexOf("://")) : "";
            if (scheme.equals("gcs") || scheme.equals("gs")) {
                putIf(flags, "endpoint", gcsEndpoint);
                putIf(flags, "storage-class", gcsStorageClass);
                putIf(flags, "predefined-acl", gcsPredefinedAcl);
                putIf(flags, "credentials-file", gcsCredentialsFile);
            } else {
                putIf(flags, "endpoint", azEndpoint);
                putIf(flags, "access-tier", azAccessTier);
                putIf(flags, "account-name", azAccountName);
                putIf(flags, "account-key", azAccountKey);
            }
            return BrStorage.parse(storage, flags, System::getenv, BrCommand::objects);
        }

        private static void putIf(Map<String, String> m, String k, String v) {
            if (v != null && !v.isEmpty()) {
                m.put(k, v);
            }
        }

        @Option(names = "--start", description = "start key (see --format)")
        String start = "";

        @Option(names = "--end", description = "end key, exclusive (see --format; empty = to the end)")
        String end = "";

        @Option(names = "--format", description = "key format of --start/--end: hex (default) or raw")
        String format = "hex";

        @Option(names = "--crypter.method", description = "plaintext (default), aes128-ctr, aes192-ctr or aes256-ctr")
        String cryptMethod;

        @Option(names = "--crypter.key", description = "the cipher key, hex")
        String cryptKey;

        Tls tls() {
            return new Tls(ca, cert, key);
        }

        /** {@code --pd} as BR takes it: an {@code http://} / {@code https://} prefix must agree with TLS and is stripped. */
        String pdAddr() {
            return tls().normalizePd(pd);
        }

        boolean raw() {
            return switch (kind) {
                case "raw" -> true;
                case "txn" -> false;
                default -> throw new IllegalArgumentException("expected raw or txn, got " + kind);
            };
        }

        byte[] key(String s) {
            if (s == null || s.isEmpty()) {
                return new byte[0];
            }
            return switch (format) {
                case "hex" -> HexFormat.of().parseHex(s);
                case "raw" -> s.getBytes(StandardCharsets.UTF_8);
                default -> throw new IllegalArgumentException("--format must be hex or raw");
            };
        }

        Brpb.CipherInfo cipher() {
            return cryptMethod == null ? null : BackupMetas.cipher(cryptMethod, cryptKey);
        }

        /** A progress bar only on a terminal. */
        static PrintStream progress() {
            return System.console() != null ? System.err : null;
        }
    }

    /** Runs {@code body}, mapping failures to exit codes. */
    static int guarded(Callable<Integer> body) {
        try {
            return body.call();
        } catch (IllegalArgumentException e) {
            System.err.println("br: " + e.getMessage());
            return 2;
        } catch (BrException e) {
            System.err.println("br: " + e.getMessage());
            return 1;
        } catch (io.grpc.StatusRuntimeException e) {
            System.err.println("br: " + BrErrors.oneLine(e.getStatus()));
            return 1;
        } catch (Exception e) {
            System.err.println("br: " + e);
            return 1;
        }
    }

    @Command(name = "backup", mixinStandardHelpOptions = true,
            customSynopsis = "fake-tikv br backup raw|txn --pd HOST:PORT -s STORAGE [OPTIONS]", description = "Back up a key range of the cluster (raw or txn).")
    static final class Backup implements Callable<Integer> {
        @Mixin
        Common c = new Common();

        @Option(names = "--cf", description = "column family for raw backups (default: default)")
        String cf = "default";

        @Option(names = "--ratelimit", description = "MiB/s per store upload limit (forces --concurrency 1)")
        long ratelimit;

        @Option(names = "--concurrency", description = "sent to TiKV as BackupRequest.concurrency (TiKV 5.4 ignores it)")
        int concurrency = 4;

        @Option(names = "--compression", description = "lz4, snappy or zstd (default zstd)")
        String compression = "zstd";

        @Option(names = "--gcttl", description = "TTL of the service GC safe point, seconds")
        long gcTtl = 300;

        @Override
        public Integer call() {
            return guarded(() -> {
                Brpb.CompressionType ct = switch (compression) {
                    case "lz4" -> Brpb.CompressionType.LZ4;
                    case "snappy" -> Brpb.CompressionType.SNAPPY;
                    case "zstd" -> Brpb.CompressionType.ZSTD;
                    default -> throw new IllegalArgumentException("--compression must be lz4, snappy or zstd");
                };
                int conc = concurrency;
                if (ratelimit > 0 && conc != 1) {
                    System.err.println("br: --ratelimit forces sequential (--concurrency 1) backup, as TiKV limits per request");
                    conc = 1;
                }
                BrStorage storage = c.storage();
                BrBackup.Options opts = new BrBackup.Options(c.pdAddr(), c.raw(), c.key(c.start), c.key(c.end), cf, ratelimit, conc, ct,
                        c.cipher(), storage, gcTtl, 1.0, Common.progress(), c.tls(), BrBackup.DEFAULT_TIME_LIMIT);
                Thread onInterrupt = interruptNotice(storage);
                Runtime.getRuntime().addShutdownHook(onInterrupt);
                BrBackup.Result r;
                try {
                    r = BrBackup.run(opts);
                } finally {
                    removeHook(onInterrupt);
                }
                System.out.println(r.summary() + " storage=" + (storage.noop() ? "noop://" : storage.cloud() ? storage.url() : "local://" + storage.dir()));
                return 0;
            });
        }
    }

    /** BR's files (backupmeta, backup.lock) in a cloud storage, through the stores' own storage code. */
    static BrStorage.Objects objects(Brpb.StorageBackend backend) throws IOException {
        ExternalStorage s = ExternalStorages.create(backend);
        return new BrStorage.Objects() {
            @Override
            public byte[] read(String name) throws IOException {
                try (InputStream in = s.read(name)) {
                    return in.readAllBytes();
                } catch (StorageException e) {
                    // GCS says NotFound; Azure, like TiKV's azblob, an error carrying the service's 404
                    if (e.kind().equals("NotFound") || e.getMessage().startsWith("HTTP 404 ")) {
                        throw new FileNotFoundException(name);
                    }
                    throw e;
                }
            }

            @Override
            public void write(String name, byte[] content) throws IOException {
                s.write(name, new ByteArrayInputStream(content), content.length);
            }
        };
    }

    /**
     * Ctrl-C (or SIGTERM) during a backup: BR, too, leaves {@code backup.lock} and the SSTs written so far,
     * which make the next backup into the folder fail, so say so in one line. Runs as a shutdown hook
     * (the exit code stays the JVM's: 130 for SIGINT).
     */
    private static Thread interruptNotice(BrStorage storage) {
        return new Thread(() -> {
            if (!storage.noop() && !storage.cloud() && Files.exists(storage.dir().resolve("backup.lock"))) {
                System.err.println();
                System.err.println("br: interrupted; " + BrBackup.INTERRUPTED_HINT);
                System.err.flush();
            }
        }, "br-interrupted");
    }

    private static void removeHook(Thread hook) {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running or about to: it says what was left behind
        }
    }

    @Command(name = "restore", mixinStandardHelpOptions = true,
            customSynopsis = "fake-tikv br restore raw|txn --pd HOST:PORT -s STORAGE [OPTIONS]", description = "Restore a backup into the cluster (Download + MultiIngest).")
    static final class Restore implements Callable<Integer> {
        @Mixin
        Common c = new Common();

        @Option(names = "--rewrite", description = "OLD=NEW key prefix rewrite (hex, same length), repeatable")
        List<String> rewrites = new ArrayList<>();

        @Option(names = "--ratelimit", description = "MiB/s download limit per store")
        long ratelimit;

        @Option(names = "--concurrency", description = "ranges restored at once (default ${DEFAULT-VALUE})")
        int concurrency = BrRestore.DEFAULT_CONCURRENCY;

        @Option(names = "--checksum", arity = "0..1", fallbackValue = "true",
                description = "Run checksum at end of task (default true; --checksum=false skips it)")
        boolean checksum = true;

        @Override
        public Integer call() {
            return guarded(() -> {
                List<BrRestore.Rewrite> rules = new ArrayList<>();
                for (String r : rewrites) {
                    int eq = r.indexOf('=');
                    if (eq <= 0) {
                        throw new IllegalArgumentException("--rewrite " + r + ": expected OLD=NEW in hex");
                    }
                    rules.add(new BrRestore.Rewrite(HexFormat.of().parseHex(r.substring(0, eq)), HexFormat.of().parseHex(r.substring(eq + 1))));
                }
                boolean raw = c.raw();
                BrRestore.Result r = BrRestore.run(BrRestore.Options.builder(c.pdAddr(), c.storage()).raw(raw)
                        .cipher(c.cipher()).start(c.key(c.start)).end(c.key(c.end)).rewrites(rules).rateLimitMiB(ratelimit)
                        .progress(Common.progress()).concurrency(concurrency).tls(c.tls()).checksum(checksum).build());
                System.out.println(r.summary(raw));
                return 0;
            });
        }
    }

    @Command(name = "checksum", mixinStandardHelpOptions = true,
            customSynopsis = "fake-tikv br checksum raw|txn --pd HOST:PORT -s STORAGE [OPTIONS]",
            description = "Compare the backupmeta's crc64xor/total_kvs/total_bytes with the cluster's.")
    static final class Checksum implements Callable<Integer> {
        @Mixin
        Common c = new Common();

        @Override
        public Integer call() {
            return guarded(() -> {
                BrChecksum.Result r = BrChecksum.run(c.pdAddr(), c.raw(), c.storage(), c.cipher(), c.key(c.start), c.key(c.end), c.tls());
                System.out.println(r.summary());
                return r.ok() ? 0 : 1;
            });
        }
    }
}

package dev.faketikv.server.reliability;

import static dev.faketikv.server.TestServers.bs;
import static dev.faketikv.server.TestServers.problems;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.UnknownFieldSet;
import dev.faketikv.client.BackupClient;
import dev.faketikv.engine.gen.DataGenerator;
import dev.faketikv.engine.gen.SeedSpec;
import dev.faketikv.server.FakeTikvServer;
import dev.faketikv.server.TestServers;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.BackupGrpc;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Brpb.BackupRequest;
import org.tikv.kvproto.Brpb.BackupResponse;
import org.tikv.kvproto.Encryptionpb.EncryptionMethod;

/**
 * Malformed and hostile BackupRequests, each answered with a clear error (a gRPC status or a
 * {@code backup.Error}, as TiKV would carry it) or, where TiKV accepts the input, a correct answer; after
 * every one the server answers a good request in full and no backup worker is left busy.
 */
class BadInputCorpusTest {
    static final String SEED = "txn:rows=1200,regions=3,value-size=40,long-ratio=0.2,long-value-size=400,seed=2";

    @TempDir
    static Path tmp;
    static FakeTikvServer server;
    static BackupClient client;

    @BeforeAll
    static void start() throws Exception {
        server = TestServers.start(tmp.resolve("data"), List.of(SEED), "fake.s3-retry-base-delay=10ms");
        client = new BackupClient(server.addr());
        Files.writeString(tmp.resolve("a-file"), "x");
    }

    @AfterAll
    static void stop() {
        client.close();
        server.close();
    }

    /** What a case must get back. */
    record Expect(Status.Code status, String text, boolean okStream, long kvs, BackupRequest like) {
        static Expect status(Status.Code code, String text) {
            return new Expect(code, text, false, -1, null);
        }

        /** An OK stream where at least one response carries an error whose text contains {@code text}. */
        static Expect error(String text) {
            return new Expect(null, text, false, -1, null);
        }

        /** An OK stream without error responses (TiKV accepts this input) whose files hold {@code kvs} kvs in all. */
        static Expect ok(long kvs) {
            return new Expect(null, null, true, kvs, null);
        }

        /**
         * An OK stream without error responses, the same answer (ranges, kvs, bytes, checksums) as {@code like}: the
         * request with the odd field left at its default, which TiKV ignores or treats the same way.
         */
        static Expect same(BackupRequest like) {
            return new Expect(null, null, true, -1, like);
        }
    }

    /** What an answer holds, compression aside: per response its range, kvs, bytes and crc64xor. */
    static List<String> summary(List<BackupResponse> r) {
        List<String> out = new ArrayList<>();
        for (BackupResponse x : r) {
            long kvs = 0;
            long bytes = 0;
            long crc = 0;
            for (Brpb.File f : x.getFilesList()) {
                kvs += f.getTotalKvs();
                bytes += f.getTotalBytes();
                crc ^= f.getCrc64Xor();
            }
            out.add(java.util.HexFormat.of().formatHex(x.getStartKey().toByteArray()) + ".." + java.util.HexFormat.of().formatHex(
                    x.getEndKey().toByteArray()) + " kvs=" + kvs + " bytes=" + bytes + " crc=" + Long.toHexString(crc));
        }
        out.sort(null);
        return out;
    }

    static BackupRequest.Builder txn() {
        return TestServers.txn(TestServers.noop());
    }

    static Brpb.StorageBackend local(String path) {
        return Brpb.StorageBackend.newBuilder().setLocal(Brpb.Local.newBuilder().setPath(path)).build();
    }

    static Brpb.StorageBackend s3(Function<Brpb.S3.Builder, Brpb.S3.Builder> f) {
        return Brpb.StorageBackend.newBuilder().setS3(f.apply(Brpb.S3.newBuilder().setEndpoint("http://127.0.0.1:1")
                .setBucket("b").setAccessKey("a").setSecretAccessKey("s").setForcePathStyle(true))).build();
    }

    static Brpb.CipherInfo cipher(EncryptionMethod m, int keyLen) {
        return Brpb.CipherInfo.newBuilder().setCipherType(m).setCipherKey(bs(new byte[keyLen])).build();
    }

    static Arguments c(String name, BackupRequest req, Expect expect) {
        return Arguments.of(name, req, expect);
    }

    static Stream<Arguments> corpus() {
        SeedSpec spec = SeedSpec.parse(SEED);
        byte[] mid = DataGenerator.txnRowKey(spec, 600);
        byte[] huge = new byte[1 << 20];
        java.util.Arrays.fill(huge, (byte) 't');
        List<Arguments> cases = new ArrayList<>();
        cases.add(c("reversed keys", txn().setStartKey(bs("b".getBytes())).setEndKey(bs("a".getBytes())).build(),
                Expect.status(Status.Code.INVALID_ARGUMENT, "is greater than end_key")));
        cases.add(c("reversed raw keys", TestServers.raw(TestServers.noop(), "default").setStartKey(bs("z".getBytes()))
                .setEndKey(bs("a".getBytes())).build(), Expect.status(Status.Code.INVALID_ARGUMENT, "greater than")));
        cases.add(c("equal keys", txn().setStartKey(bs(mid)).setEndKey(bs(mid)).build(), Expect.ok(0)));
        cases.add(c("empty keys: whole space", txn().build(), Expect.ok(1200)));
        // every row key is t\\x80...: a start of "ttt..." is before all of them, an end of "ttt..." before any
        cases.add(c("1 MiB start key", txn().setStartKey(bs(huge)).build(), Expect.ok(1200)));
        cases.add(c("1 MiB end key", txn().setEndKey(bs(huge)).build(), Expect.ok(0)));
        cases.add(c("key past every region", txn().setStartKey(bs("zzzz".getBytes())).build(), Expect.ok(0)));
        cases.add(c("unknown cf", txn().setCf("nope").build(), Expect.status(Status.Code.UNKNOWN, "InvalidCf")));
        cases.add(c("unicode cf", TestServers.raw(TestServers.noop(), "déf\u0000").build(), Expect.status(Status.Code.UNKNOWN, "InvalidCf")));
        cases.add(c("raw with versions (ignored, as TiKV)", TestServers.raw(TestServers.noop(), "write").setStartVersion(9)
                .setEndVersion(3).build(), Expect.same(TestServers.raw(TestServers.noop(), "write").build())));
        cases.add(c("start_version > end_version", txn().setStartVersion(100).setEndVersion(50).build(),
                Expect.status(Status.Code.INVALID_ARGUMENT, "start_version 100 is greater than end_version 50")));
        cases.add(c("end_version u64 max", txn().setEndVersion(-1L).build(), Expect.ok(1200)));
        cases.add(c("end_version 0 reads nothing", txn().setEndVersion(0).build(), Expect.ok(0)));
        cases.add(c("no storage backend", BackupRequest.newBuilder().setEndVersion(1).build(), Expect.error("bad storage backend")));
        cases.add(c("hdfs", txn().setStorageBackend(Brpb.StorageBackend.newBuilder().setHdfs(Brpb.HDFS.newBuilder().setRemote("x"))).build(),
                Expect.error("does not support the hdfs")));
        cases.add(c("gcs", txn().setStorageBackend(Brpb.StorageBackend.newBuilder().setGcs(Brpb.GCS.newBuilder().setBucket("x"))).build(),
                Expect.error("invalid bucket x")));
        cases.add(c("azure", txn().setStorageBackend(Brpb.StorageBackend.newBuilder().setAzureBlobStorage(
                Brpb.AzureBlobStorage.newBuilder().setBucket("x"))).build(), Expect.error("credential info not found")));
        cases.add(c("cloud_dynamic unknown provider", txn().setStorageBackend(Brpb.StorageBackend.newBuilder().setCloudDynamic(
                Brpb.CloudDynamic.newBuilder().setProviderName("floppy"))).build(), Expect.error("cloud_dynamic(floppy)")));
        cases.add(c("local empty path", txn().setStorageBackend(local("")).build(), Expect.error("No such file or directory")));
        cases.add(c("local relative path", txn().setStorageBackend(local("backups/x")).build(), Expect.error("must be absolute")));
        cases.add(c("local path with ..", txn().setStorageBackend(local(tmp + "/a/../../etc")).build(), Expect.error("must not contain '..'")));
        cases.add(c("local path is a file", txn().setStorageBackend(local(tmp.resolve("a-file").toString())).build(), Expect.error("Io(")));
        cases.add(c("local path not writable (/proc)", txn().setStorageBackend(local("/proc/fake-tikv-backup")).build(), Expect.error("Io(")));
        cases.add(c("local path too long", txn().setStorageBackend(local("/tmp/" + "x".repeat(5000))).build(), Expect.error("Io(")));
        cases.add(c("local path with NUL", txn().setStorageBackend(local("/tmp/a\u0000b")).build(), Expect.error("NUL")));
        cases.add(c("s3 without bucket", txn().setStorageBackend(s3(b -> b.setBucket(""))).build(), Expect.error("missing bucket name")));
        cases.add(c("s3 key without secret", txn().setStorageBackend(s3(b -> b.setSecretAccessKey(""))).build(), Expect.error("missing secret")));
        cases.add(c("s3 malformed endpoint", txn().setStorageBackend(s3(b -> b.setEndpoint("http://[bad"))).build(), Expect.error("S3 endpoint")));
        cases.add(c("s3 endpoint refusing connections", txn().setStorageBackend(s3(b -> b)).build(), Expect.error("failed to put object rusoto error")));
        cases.add(c("cipher UNKNOWN", txn().setCipherInfo(cipher(EncryptionMethod.UNKNOWN, 16)).build(), Expect.error("UnknownEncryption")));
        cases.add(c("AES128 with a 5-byte key", txn().setCipherInfo(cipher(EncryptionMethod.AES128_CTR, 5)).build(),
                Expect.error("expected 16 vs actual 5")));
        cases.add(c("AES192 with a 16-byte key", txn().setCipherInfo(cipher(EncryptionMethod.AES192_CTR, 16)).build(),
                Expect.error("expected 24 vs actual 16")));
        cases.add(c("AES256 with no key", txn().setCipherInfo(cipher(EncryptionMethod.AES256_CTR, 0)).build(),
                Expect.error("expected 32 vs actual 0")));
        cases.add(c("cipher type 99", txn().setCipherInfo(Brpb.CipherInfo.newBuilder().setCipherTypeValue(99)).build(),
                Expect.error("UnknownEncryption")));
        cases.add(c("compression type 99 (LZ4, as TiKV's unknown)", txn().setCompressionTypeValue(99).build(), Expect.same(txn().build())));
        cases.add(c("zstd level 1000 (RocksDB clamps)", txn().setCompressionType(Brpb.CompressionType.ZSTD).setCompressionLevel(1000).build(),
                Expect.same(txn().build())));
        cases.add(c("zstd level -1000000", txn().setCompressionType(Brpb.CompressionType.ZSTD).setCompressionLevel(-1_000_000).build(),
                Expect.same(txn().build())));
        cases.add(c("lz4 level -5", txn().setCompressionType(Brpb.CompressionType.LZ4).setCompressionLevel(-5).build(), Expect.same(txn().build())));
        cases.add(c("rate_limit u64 max", txn().setRateLimit(-1L).build(), Expect.same(txn().build())));
        cases.add(c("concurrency u32 max (ignored, as TiKV)", txn().setConcurrency(-1).build(), Expect.same(txn().build())));
        cases.add(c("cluster id mismatch", txn().setClusterId(12345).build(), Expect.error("cluster_id_error")));
        cases.add(c("cluster id u64 max", txn().setClusterId(-1L).build(), Expect.error("cluster_id_error")));
        cases.add(c("unknown protobuf fields (newer BR)", txn().setUnknownFields(UnknownFieldSet.newBuilder()
                .addField(16, UnknownFieldSet.Field.newBuilder().addLengthDelimited(bs(new byte[] {1, 2, 3})).build())
                .addField(999, UnknownFieldSet.Field.newBuilder().addVarint(7).build()).build()).build(), Expect.same(txn().build())));
        return cases.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("corpus")
    void eachBadRequestGetsAClearAnswerAndTheServerServesOn(String name, BackupRequest req, Expect expect) {
        if (expect.status() != null) {
            assertThatThrownBy(() -> client.backup(req)).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                assertThat(e.getStatus().getCode()).isEqualTo(expect.status());
                assertThat(e.getStatus().getDescription()).contains(expect.text());
            });
        } else {
            List<BackupResponse> r = client.backup(req);
            if (expect.okStream()) {
                assertThat(r).as(name).noneMatch(BackupResponse::hasError);
                if (expect.like() != null) {
                    // an empty stream, or a different answer, fails here
                    assertThat(summary(r)).as(name).isNotEmpty().isEqualTo(summary(client.backup(expect.like())));
                } else {
                    assertThat(TestServers.totalKvs(r)).as(name).isEqualTo(expect.kvs());
                    if (expect.kvs() > 0) {
                        assertThat(r).as(name).isNotEmpty();
                    }
                }
            } else {
                assertThat(r).as(name).anySatisfy(x -> assertThat(x.getError().getMsg() + " " + x.getError()).contains(expect.text()));
            }
        }
        await().atMost(Duration.ofSeconds(15)).until(() -> server.endpoint().busyWorkers() == 0);
        Path out = tmp.resolve("good-" + Math.abs(name.hashCode()));
        BackupRequest good = TestServers.txn(TestServers.local(out)).build();
        List<BackupResponse> responses = client.backup(good);
        assertThat(problems(good, responses, out)).isEmpty();
        assertThat(TestServers.totalKvs(responses)).isEqualTo(1200);
    }

    @ParameterizedTest(name = "rate_limit {0} B/s with a 1 s client deadline")
    @org.junit.jupiter.params.provider.ValueSource(longs = {1, 7})
    void anAbsurdRateLimitIsCutOffByTheClientAndLeavesNothingBusy(long rate) {
        Path out = tmp.resolve("slow-" + rate);
        BackupRequest req = TestServers.txn(TestServers.local(out)).setRateLimit(rate).build();
        assertThatThrownBy(() -> BackupGrpc.newBlockingStub(client.channel()).withDeadlineAfter(1, TimeUnit.SECONDS)
                .backup(req).forEachRemaining(x -> { }))
                .isInstanceOfSatisfying(StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED));
        await().atMost(Duration.ofSeconds(10)).until(() -> server.endpoint().busyWorkers() == 0);
    }
}

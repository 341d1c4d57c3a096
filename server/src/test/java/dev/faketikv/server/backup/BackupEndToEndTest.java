package dev.faketikv.server.backup;

import static dev.faketikv.server.TestServers.bs;
import static dev.faketikv.server.TestServers.local;
import static dev.faketikv.server.TestServers.problems;
import static dev.faketikv.server.TestServers.totalKvs;
import static org.assertj.core.api.Assertions.assertThat;

import dev.faketikv.client.BackupClient;
import dev.faketikv.client.BackupVerifier;
import dev.faketikv.engine.EngineSnapshot;
import dev.faketikv.engine.gen.DataGenerator;
import dev.faketikv.engine.gen.SeedSpec;
import dev.faketikv.engine.mvcc.EntryScanner;
import dev.faketikv.engine.mvcc.TxnEntry;
import dev.faketikv.engine.sst.SstFileScanner;
import dev.faketikv.server.FakeTikvServer;
import dev.faketikv.server.TestServers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Brpb.BackupRequest;
import org.tikv.kvproto.Brpb.BackupResponse;

/** Real store, real gRPC over loopback, real RocksDB; every listed file re-read and recomputed. */
class BackupEndToEndTest {
    static final String TXN = "txn:rows=6000,regions=8,value-size=40,long-ratio=0.2,long-value-size=400,versions=2,deletes=0.05,seed=11";
    static final String RAW = "raw:keys=3000,regions=4,value-size=30,key-prefix=raw_,seed=5";
    static final Pattern TXN_NAME = Pattern.compile("1_\\d+_\\d+_[0-9a-f]{64}_\\d{13}_(default|write)\\.sst");

    @TempDir
    static Path tmp;
    static FakeTikvServer server;
    static FakeTikvServer rawServer;
    static BackupClient client;
    static BackupClient rawClient;

    @BeforeAll
    static void start() throws Exception {
        server = TestServers.start(tmp.resolve("data"), List.of(TXN));
        rawServer = TestServers.start(tmp.resolve("raw-data"), List.of(RAW, "raw:keys=500,regions=2,cf=write,key-prefix=w_,seed=1"));
        client = new BackupClient(server.addr());
        rawClient = new BackupClient(rawServer.addr());
    }

    @AfterAll
    static void stop() {
        client.close();
        rawClient.close();
        server.close();
        rawServer.close();
    }

    static long visibleTxnKvs(long backupTs) {
        List<TxnEntry> all = new ArrayList<>();
        byte[] start = dev.faketikv.engine.codec.BytesCodec.encode(new byte[] {'t'});
        byte[] end = dev.faketikv.engine.codec.BytesCodec.encode(new byte[] {'u'});
        try (EngineSnapshot snap = server.engine().snapshot();
             EntryScanner s = new EntryScanner(snap, start, end, backupTs, 0, false)) {
            while (s.nextBatch(all, 4096)) {
                // drain
            }
        }
        return all.size();
    }

    @Test
    void fullTxnBackupIsCompleteAndEveryFileVerifies() throws Exception {
        Path out = tmp.resolve("full");
        BackupRequest req = TestServers.txn(local(out)).setStartKey(bs(new byte[] {'t'})).setEndKey(bs(new byte[] {'u'})).build();
        List<BackupResponse> responses = client.backup(req);
        assertThat(problems(req, responses, out)).isEmpty();
        // one response per region
        assertThat(responses).hasSize(8);
        assertThat(totalKvs(responses)).isEqualTo(visibleTxnKvs(req.getEndVersion()));
        List<String> names = new ArrayList<>();
        responses.forEach(r -> r.getFilesList().forEach(f -> names.add(f.getName())));
        assertThat(names).allMatch(n -> TXN_NAME.matcher(n).matches());
        assertThat(names).anyMatch(n -> n.endsWith("_default.sst"));
        // exactly the listed files are in the folder: no temp file left behind
        try (Stream<Path> s = Files.list(out)) {
            assertThat(s.map(p -> p.getFileName().toString()).toList()).containsExactlyInAnyOrderElementsOf(names);
        }
        // files of one response share the prefix and the write file is listed last
        for (BackupResponse r : responses) {
            List<Brpb.File> fs = r.getFilesList();
            assertThat(fs.get(fs.size() - 1).getCf()).isEqualTo("write");
            if (fs.size() == 2) {
                assertThat(fs.get(0).getName().replace("_default.sst", "")).isEqualTo(fs.get(1).getName().replace("_write.sst", ""));
            }
            assertThat(r.getApiVersionValue()).isZero();
        }
    }

    @Test
    void subRangeIsClippedToTheRequest() {
        SeedSpec spec = SeedSpec.parse(TXN);
        byte[] from = DataGenerator.txnRowKey(spec, 1234);
        byte[] to = DataGenerator.txnRowKey(spec, 4321);
        Path out = tmp.resolve("sub");
        BackupRequest req = TestServers.txn(local(out)).setStartKey(bs(from)).setEndKey(bs(to)).build();
        List<BackupResponse> responses = client.backup(req);
        assertThat(problems(req, responses, out)).isEmpty();
        assertThat(totalKvs(responses)).isBetween(2900L, 3087L);
        assertThat(responses).anySatisfy(r -> assertThat(r.getStartKey().toByteArray()).isEqualTo(from));
        assertThat(responses).anySatisfy(r -> assertThat(r.getEndKey().toByteArray()).isEqualTo(to));
        // the file name's hash is of the clipped start key
        BackupResponse first = responses.stream().filter(r -> r.getStartKey().equals(bs(from))).findFirst().orElseThrow();
        assertThat(first.getFiles(0).getName()).contains("_" + BackupVerifier.sha256Hex(from) + "_");
    }

    @Test
    void incrementalBackupCarriesDeletesAndOnlyTheWindow() {
        Path out = tmp.resolve("incr");
        BackupRequest req = TestServers.txn(local(out)).setStartKey(bs(new byte[] {'t'})).setEndKey(bs(new byte[] {'u'}))
                .setStartVersion(DataGenerator.commitTs(0)).build();
        List<BackupResponse> responses = client.backup(req);
        assertThat(problems(req, responses, out)).isEmpty();
        // every row changed after layer 0: layer 1 rewrote all 6000 rows; deletes replace some
        assertThat(totalKvs(responses)).isEqualTo(6000);
    }

    @Test
    void rawBackupHasOneFilePerRegionNoChecksumAndAThreePartFirstName() {
        Path out = tmp.resolve("raw");
        BackupRequest req = TestServers.raw(local(out), "default").build();
        List<BackupResponse> responses = rawClient.backup(req);
        assertThat(problems(req, responses, out)).isEmpty();
        assertThat(totalKvs(responses)).isEqualTo(3000);
        List<Brpb.File> files = responses.stream().flatMap(r -> r.getFilesList().stream()).toList();
        assertThat(files).hasSize(4);
        assertThat(files).allSatisfy(f -> {
            assertThat(f.getCrc64Xor()).isZero();
            assertThat(f.getStartVersion()).isZero();
            assertThat(f.getCf()).isEqualTo("default");
        });
        assertThat(files).anySatisfy(f -> assertThat(f.getName()).matches("1_\\d+_\\d+_default\\.sst"));
        assertThat(files).filteredOn(f -> f.getName().split("_").length == 6).hasSize(3);
    }

    @ParameterizedTest
    @CsvSource({"LZ4,LZ4,0", "SNAPPY,Snappy,0", "ZSTD,ZSTD,0", "ZSTD,ZSTD,7", "UNKNOWN,LZ4,0"})
    void compressionTypeAndLevelReachTheSst(String requested, String rocksName, int level) throws Exception {
        Path out = tmp.resolve("comp-" + requested + level);
        BackupRequest req = TestServers.txn(local(out)).setStartKey(bs(new byte[] {'t'})).setEndKey(bs(new byte[] {'u'}))
                .setCompressionType(Brpb.CompressionType.valueOf(requested)).setCompressionLevel(level).build();
        List<BackupResponse> responses = client.backup(req);
        assertThat(problems(req, responses, out)).isEmpty();
        Brpb.File f = responses.get(0).getFiles(0);
        try (SstFileScanner s = SstFileScanner.open(out.resolve(f.getName()))) {
            assertThat(s.compressionName()).isEqualTo(rocksName);
        }
        // the level is kept in the table properties' compression options ("...; level=N; ..."), a meta block RocksDB
        // stores uncompressed; level 0 sets no options, so RocksDB's default (32767) is recorded
        String sst = new String(java.nio.file.Files.readAllBytes(out.resolve(f.getName())), java.nio.charset.StandardCharsets.ISO_8859_1);
        assertThat(sst).contains("level=" + (level == 0 ? 32767 : level) + ";");
    }

    @ParameterizedTest
    @CsvSource({"AES128_CTR,16", "AES192_CTR,24", "AES256_CTR,32"})
    void cipherRoundTripsAndTheStoredBytesAreCiphertext(String method, int keyLength) throws Exception {
        Path out = tmp.resolve("aes-" + method);
        byte[] key = new byte[keyLength];
        new java.util.Random(1).nextBytes(key);
        BackupRequest req = TestServers.txn(local(out)).setStartKey(bs(new byte[] {'t'})).setEndKey(bs(new byte[] {'u'}))
                .setCipherInfo(Brpb.CipherInfo.newBuilder().setCipherType(org.tikv.kvproto.Encryptionpb.EncryptionMethod.valueOf(method))
                        .setCipherKey(bs(key)))
                .build();
        List<BackupResponse> responses = client.backup(req);
        assertThat(problems(req, responses, out)).isEmpty();
        Brpb.File f = responses.get(0).getFiles(0);
        assertThat(f.getCipherIv().size()).isEqualTo(16);
        // without the key the object is not an SST
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> SstFileScanner.open(out.resolve(f.getName())).close())
                .isInstanceOf(RuntimeException.class);
        // and the IVs differ between files
        assertThat(responses.get(0).getFiles(0).getCipherIv()).isNotEqualTo(responses.get(1).getFiles(0).getCipherIv());
    }

    @Test
    void noopStorageStillComputesEverything() {
        BackupRequest req = TestServers.txn(TestServers.noop()).setStartKey(bs(new byte[] {'t'})).setEndKey(bs(new byte[] {'u'})).build();
        List<BackupResponse> responses = client.backup(req);
        assertThat(responses).hasSize(8).allSatisfy(r -> assertThat(r.hasError()).isFalse());
        assertThat(totalKvs(responses)).isEqualTo(visibleTxnKvs(req.getEndVersion()));
        assertThat(responses.get(0).getFiles(0).getSha256().size()).isEqualTo(32);
    }

    @Test
    void rawBackupReadsTheRequestedCfOnly() {
        Path out = tmp.resolve("raw-write");
        BackupRequest req = TestServers.raw(local(out), "write").build();
        List<BackupResponse> responses = rawClient.backup(req);
        assertThat(problems(req, responses, out)).isEmpty();
        assertThat(totalKvs(responses)).isEqualTo(500);
        assertThat(responses.stream().flatMap(r -> r.getFilesList().stream())).allSatisfy(f -> {
            assertThat(f.getCf()).isEqualTo("write");
            assertThat(f.getName()).endsWith("_write.sst");
        });
    }

    @Test
    void equalStartAndEndIsAnEmptyRange() {
        BackupRequest req = TestServers.txn(TestServers.noop()).setStartKey(bs("x".getBytes())).setEndKey(bs("x".getBytes())).build();
        assertThat(client.backup(req)).isEmpty();
    }

    @Test
    void theWholeKeySpaceIsCoveredWithUnboundedEnds() {
        Path out = tmp.resolve("all");
        BackupRequest req = TestServers.txn(local(out)).build();
        List<BackupResponse> responses = client.backup(req);
        assertThat(problems(req, responses, out)).isEmpty();
        assertThat(responses).hasSize(8);
        assertThat(responses).anySatisfy(r -> assertThat(r.getStartKey().isEmpty()).isTrue());
        assertThat(responses).anySatisfy(r -> assertThat(r.getEndKey().isEmpty()).isTrue());
        // sha256("") names the group that starts unbounded
        assertThat(responses).anySatisfy(r -> assertThat(r.getFiles(0).getName())
                .contains("_e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855_"));
    }
}

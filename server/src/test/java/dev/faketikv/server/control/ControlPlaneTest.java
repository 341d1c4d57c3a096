package dev.faketikv.server.control;

import static dev.faketikv.server.TestServers.bs;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.faketikv.client.BackupClient;
import dev.faketikv.engine.codec.BytesCodec;
import dev.faketikv.engine.gen.DataGenerator;
import dev.faketikv.engine.gen.SeedSpec;
import dev.faketikv.engine.region.Region;
import dev.faketikv.server.TestServers;
import dev.faketikv.server.FakeTikv;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Brpb.BackupRequest;
import org.tikv.kvproto.Brpb.BackupResponse;

/** Every status endpoint and every fault action, through real HTTP and real gRPC. */
class ControlPlaneTest {
    static final String SEED = "txn:rows=2000,regions=4,value-size=30,seed=6";

    /**
     * One store for the class; {@link #reset} clears its rules, failpoints and journal before each test. Tests that
     * change what {@code reset()} does not restore (config, splits, leaders, epochs) run on a store of their own
     * ({@link #onOwnStore}), so a failure half-way cannot leak into the next test.
     */
    static FakeTikv TIKV;

    static final ObjectMapper OM = new ObjectMapper();
    static final HttpClient HTTP = HttpClient.newHttpClient();
    static BackupClient client;

    @BeforeAll
    static void dial() throws IOException {
        TIKV = FakeTikv.builder().seed(SEED).set("backup.num-threads", 2).start();
        client = new BackupClient(TIKV.addr());
    }

    @BeforeEach
    void reset() {
        TIKV.reset();
    }

    interface Body {
        void run() throws Exception;
    }

    /** Runs {@code body} with {@link #TIKV} and {@link #client} pointing at a fresh store of the same seed. */
    static void onOwnStore(Body body) throws Exception {
        FakeTikv shared = TIKV;
        BackupClient sharedClient = client;
        try (FakeTikv own = FakeTikv.builder().seed(SEED).set("backup.num-threads", 2).start();
             BackupClient ownClient = new BackupClient(own.addr())) {
            TIKV = own;
            client = ownClient;
            body.run();
        } finally {
            TIKV = shared;
            client = sharedClient;
        }
    }

    @AfterAll
    static void hangUp() {
        client.close();
        TIKV.close();
    }

    static HttpResponse<String> http(String method, String path, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(TIKV.statusUrl() + path));
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static JsonNode json(String method, String path, String body) throws Exception {
        HttpResponse<String> r = http(method, path, body);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return OM.readTree(r.body());
    }

    static List<BackupResponse> backup() {
        return client.backup(TestServers.txn(TestServers.noop()).build());
    }

    static List<Region> regions() {
        return TIKV.server().regions().all();
    }

    @Test
    void configIsReadableAndBackupKeysChangeOnline() throws Exception {
        onOwnStore(this::configChecks);
    }

    void configChecks() throws Exception {
        JsonNode cfg = json("GET", "/config", null);
        assertThat(cfg.at("/backup/batch-size").asInt()).isEqualTo(8);
        assertThat(cfg.at("/backup/sst-max-size").asText()).isEqualTo("144MB");
        assertThat(cfg.at("/server/addr").asText()).isEqualTo(TIKV.addr());

        assertThat(json("POST", "/config", "{\"backup.num-threads\": 3, \"backup.batch-size\": 2}").get("changed")).hasSize(2);
        backup();
        String metrics = http("GET", "/metrics", null).body();
        assertThat(metrics).contains("tikv_backup_thread_pool_size 3\n").contains("tikv_backup_softlimit");
        assertThat(json("GET", "/config", null).at("/backup/num-threads").asInt()).isEqualTo(3);

        // bad values and keys: 400 naming the key, nothing changed
        HttpResponse<String> bad = http("POST", "/config", "{\"backup.batch-size\": 5, \"backup.num-threads\": 0}");
        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(bad.body()).contains("backup.num_threads cannot be 0");
        assertThat(json("GET", "/config", null).at("/backup/batch-size").asInt()).isEqualTo(2);
        assertThat(http("POST", "/config", "{\"server.addr\": \"127.0.0.1:1\"}").body()).contains("can not be changed online");
        assertThat(http("POST", "/config", "{\"backup.nope\": 1}").body()).contains("backup.nope: unknown configuration key");
        assertThat(http("POST", "/config", "not json").statusCode()).isEqualTo(400);
        json("POST", "/config", "{\"backup\": {\"num-threads\": 2, \"batch-size\": 8}}");
        assertThat(json("GET", "/config", null).at("/backup/batch-size").asInt()).isEqualTo(8);
    }

    @Test
    void statusAndMetricsAndUnknownPaths() throws Exception {
        assertThat(json("GET", "/status", null).get("store_id").asLong()).isEqualTo(1);
        HttpResponse<String> nope = http("GET", "/nope", null);
        assertThat(nope.statusCode()).isEqualTo(404);
        assertThat(nope.body()).isEqualTo("not found: /nope (GET / lists the endpoints)\n");
        HttpResponse<String> root = http("GET", "/", null);
        assertThat(root.statusCode()).isEqualTo(200);
        assertThat(root.body()).contains("GET    /metrics", "PUT /faults", "GET    /fail", "/regions/split", "/journal");
        assertThat(http("DELETE", "/metrics", null).statusCode()).isEqualTo(405);
    }

    @Test
    void failpointsUseFailRsSyntax() throws Exception {
        assertThat(http("PUT", "/fail/backup_before_scan", "1*return(boom)").statusCode()).isEqualTo(200);
        assertThat(http("GET", "/fail/backup_before_scan", null).body().trim()).isEqualTo("1*return(boom)");
        List<BackupResponse> r = backup();
        assertThat(r.stream().filter(BackupResponse::hasError)).singleElement()
                .satisfies(x -> assertThat(x.getError().getMsg()).isEqualTo("boom"));
        assertThat(backup()).noneMatch(BackupResponse::hasError); // count used up
        assertThat(json("GET", "/fail", null).at("/set/backup_before_scan").asText()).isEqualTo("1*return(boom)");
        assertThat(json("GET", "/fail", null).at("/names").has("backup_before_save")).isTrue();
        assertThat(http("DELETE", "/fail/backup_before_scan", null).statusCode()).isEqualTo(200);
        assertThat(http("GET", "/fail/backup_before_scan", null).statusCode()).isEqualTo(404);

        HttpResponse<String> badAction = http("PUT", "/fail/backup_before_save", "explode(now)");
        assertThat(badAction.statusCode()).isEqualTo(400);
        assertThat(badAction.body()).contains("invalid failpoint action 'explode(now)'");

        // probability 0 never fires; 100% always
        http("PUT", "/fail/backup_before_save", "0%return(never)");
        assertThat(backup()).noneMatch(BackupResponse::hasError);
        http("PUT", "/fail/backup_before_save", "100%return(always)");
        assertThat(backup()).hasSize(regions().size()).allSatisfy(x -> assertThat(x.getError().getMsg()).isEqualTo("always"));
        http("PUT", "/fail/backup_after_save", "return(after)");
        http("DELETE", "/fail/backup_before_save", null);
        assertThat(backup()).allSatisfy(x -> assertThat(x.getError().getMsg()).isEqualTo("after"));
        http("DELETE", "/fail/backup_after_save", null);
        http("PUT", "/fail/backup_region", "2*return(region)->off");
        assertThat(backup().stream().filter(BackupResponse::hasError)).hasSize(2);
        http("PUT", "/fail/backup_before_response", "1*return(replaced)");
        assertThat(backup().stream().filter(BackupResponse::hasError)).singleElement()
                .satisfies(x -> assertThat(x.getError().getMsg()).isEqualTo("replaced"));
    }

    @Test
    void aFailpointFakeTikvNeverEvaluatesIsRefusedWithTheKnownNames() throws Exception {
        HttpResponse<String> r = http("PUT", "/fail/no_such_point", "return(boom)");
        assertThat(r.statusCode()).isEqualTo(404);
        assertThat(r.body()).startsWith("no failpoint named no_such_point: fake-tikv evaluates backup_after_save, ")
                .contains("backup_before_scan", "import_before_ingest").hasLineCount(1);
        assertThat(http("GET", "/fail/no_such_point", null).statusCode()).isEqualTo(404);
        assertThat(json("GET", "/fail", null).get("set").size()).isZero();
    }

    @Test
    void requestNumbersCountFromTheMomentRulesAreLoadedAndFromAClearedJournal() throws Exception {
        backup();
        backup();
        assertThat(TIKV.server().requestCount()).isEqualTo(2);
        // a scenario file loaded on a running store fires on its next request, as at start-up
        http("PUT", "/faults", Files.readString(scenario("cluster-id-mismatch.toml")));
        assertThat(TIKV.server().requestCount()).isZero();
        assertThat(backup()).singleElement().satisfies(r -> assertThat(r.getError().hasClusterIdError()).isTrue());
        assertThat(json("GET", "/faults", null).get(0).get("fired").asLong()).isEqualTo(1);
        assertThat(backup()).noneMatch(BackupResponse::hasError);
        // DELETE /journal starts the numbering again too
        assertThat(http("DELETE", "/journal", null).statusCode()).isEqualTo(200);
        assertThat(backup()).singleElement().satisfies(r -> assertThat(r.getError().hasClusterIdError()).isTrue());
        assertThat(json("GET", "/faults", null).get(0).get("fired").asLong()).isEqualTo(2);
    }

    /** A scenario file of config/faults, found from the module folder the test runs in. */
    static Path scenario(String name) {
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            Path f = d.resolve("config/faults").resolve(name);
            if (Files.exists(f)) {
                return f;
            }
        }
        throw new IllegalStateException("config/faults/" + name + " not found");
    }

    @Test
    void aPausedFailpointHoldsTheSaveUntilItIsChanged() throws Exception {
        http("PUT", "/fail/backup_before_save", "pause");
        CompletableFuture<List<BackupResponse>> f = CompletableFuture.supplyAsync(ControlPlaneTest::backup);
        await().atMost(Duration.ofSeconds(20)).until(() -> TIKV.server().endpoint().busyWorkers() > 0);
        assertThat(f).isNotDone();
        http("PUT", "/fail/backup_before_save", "off");
        assertThat(f.get(10, TimeUnit.SECONDS)).hasSize(regions().size()).noneMatch(BackupResponse::hasError);
    }

    @Test
    void regionsCanBeSplitMovedAndBumpedAndBackupsSeeItAtOnce() throws Exception {
        onOwnStore(this::regionChecks);
    }

    void regionChecks() throws Exception {
        JsonNode list = json("GET", "/regions", null);
        assertThat(list).hasSize(regions().size());
        int before = regions().size();
        byte[] raw = DataGenerator.txnRowKey(SeedSpec.parse(SEED), 1234);
        JsonNode split = json("POST", "/regions/split", "{\"key\": \"" + HexFormat.of().formatHex(raw) + "\"}");
        assertThat(split.get(1).get("start_key").asText()).isEqualTo(HexFormat.of().formatHex(BytesCodec.encode(raw)));
        assertThat(split.get(1).get("start_key_raw").asText()).isEqualTo(HexFormat.of().formatHex(raw));
        assertThat(backup()).hasSize(before + 1);

        long id = split.get(0).get("id").asLong();
        JsonNode moved = json("POST", "/regions/" + id + "/leader", "{\"store\": 2}");
        assertThat(moved.get("leader_store_id").asLong()).isEqualTo(2);
        assertThat(moved.get("peers")).hasSize(2);
        assertThat(backup()).hasSize(before); // the moved region is not led here any more
        json("POST", "/regions/" + id + "/leader", "{\"store\": 1}");

        JsonNode bumped = json("POST", "/regions/" + id + "/epoch", "{}");
        assertThat(bumped.at("/region_epoch/version").asLong()).isEqualTo(split.get(0).at("/region_epoch/version").asLong() + 1);
        assertThat(http("POST", "/regions/999999/epoch", "{}").statusCode()).isEqualTo(404);
        assertThat(http("POST", "/regions/split", "{\"key\": \"zz\"}").body()).contains("not hex");
        assertThat(http("POST", "/regions/split", "{}").statusCode()).isEqualTo(400);
    }

    @Test
    void theJournalShowsWhatWasAskedWithSecretsRedacted() throws Exception {
        byte[] key = new byte[32];
        key[0] = 42;
        Brpb.StorageBackend s3like = Brpb.StorageBackend.newBuilder().setS3(Brpb.S3.newBuilder()
                .setBucket("b").setAccessKey("AKIDSECRET").setSecretAccessKey("very-secret")).build();
        BackupRequest redactMe = TestServers.txn(s3like).setCipherInfo(Brpb.CipherInfo.newBuilder()
                .setCipherType(org.tikv.kvproto.Encryptionpb.EncryptionMethod.AES256_CTR).setCipherKey(bs(key))).build();
        assertThat(Journal.redact(redactMe).toString()).doesNotContain("AKIDSECRET").doesNotContain("very-secret");
        http("DELETE", "/journal", null);
        backup();
        JsonNode j = json("GET", "/journal", null);
        assertThat(j.get(0).get("kind").asText()).isEqualTo("request");
        assertThat(j.get(0).get("request").asLong()).isEqualTo(1);
        assertThat(j.get(0).at("/backup_request/storage_backend/noop")).isNotNull();
        assertThat(j).filteredOn(e -> e.get("kind").asText().equals("response")).hasSize(regions().size())
                .allSatisfy(e -> assertThat(e.at("/backup_response/files/0/sha256").asText()).hasSize(64));
        assertThat(j.get(j.size() - 1).get("status").asText()).isEqualTo("OK");
        TIKV.server().journal().request(99, redactMe);
        String text = http("GET", "/journal", null).body();
        assertThat(text).doesNotContain("AKIDSECRET").doesNotContain("very-secret").contains("<redacted>");
        http("DELETE", "/journal", null);
        assertThat(json("GET", "/journal", null)).isEmpty();
    }

    @Test
    void aRegionErrorRuleHitsExactlyTheMatchedRangeTheRightNumberOfTimes() throws Exception {
        Region target = regions().get(2);
        String rules = "[{\"name\": \"busy\", \"match\": {\"region\": " + target.id() + "}, \"action\": \"server_is_busy\","
                + " \"backoff-ms\": 250, \"times\": 2}]";
        assertThat(json("PUT", "/faults", rules)).hasSize(1);
        for (int i = 0; i < 2; i++) {
            List<BackupResponse> r = backup();
            assertThat(r).hasSize(regions().size());
            List<BackupResponse> errs = r.stream().filter(BackupResponse::hasError).toList();
            assertThat(errs).singleElement().satisfies(e -> {
                assertThat(e.getError().getRegionError().getServerIsBusy().getBackoffMs()).isEqualTo(250);
                assertThat(e.getStartKey().isEmpty()).isTrue();
            });
        }
        assertThat(backup()).noneMatch(BackupResponse::hasError);
        assertThat(json("GET", "/faults", null).get(0).get("fired").asLong()).isEqualTo(2);
        assertThat(http("DELETE", "/faults/busy", null).statusCode()).isEqualTo(200);
        assertThat(http("DELETE", "/faults/busy", null).statusCode()).isEqualTo(404);
    }

    @Test
    void everyRegionErrorKindAndKeyLockedAndStorageError() throws Exception {
        long first = regions().get(0).id();
        http("PUT", "/faults", "[[rule]]\nmatch = { region = " + first + " }\naction = \"not_leader\"\nleader-store = 3\ntimes = 1\n"
                + "[[rule]]\nmatch = { region = " + first + " }\naction = \"epoch_not_match\"\ntimes = 1\n"
                + "[[rule]]\nmatch = { region = " + first + " }\naction = \"region_not_found\"\ntimes = 1\n"
                + "[[rule]]\nmatch = { region = " + first + " }\naction = \"stale_command\"\ntimes = 1\n"
                + "[[rule]]\nmatch = { region = " + first + " }\naction = \"key_locked\"\nlock-version = 77\ntimes = 1\n"
                + "[[rule]]\nmatch = { region = " + first + " }\naction = \"storage_error\"\nmessage = \"put object timeout\"\ntimes = 1\n");
        List<Brpb.Error> seen = new java.util.ArrayList<>();
        for (int i = 0; i < 6; i++) {
            backup().stream().filter(BackupResponse::hasError).forEach(r -> seen.add(r.getError()));
        }
        assertThat(seen).hasSize(6);
        assertThat(seen.get(0).getRegionError().getNotLeader().getLeader().getStoreId()).isEqualTo(3);
        assertThat(seen.get(1).getRegionError().getEpochNotMatch().getCurrentRegions(0).getId()).isEqualTo(first);
        assertThat(seen.get(2).getRegionError().getRegionNotFound().getRegionId()).isEqualTo(first);
        assertThat(seen.get(3).getRegionError().hasStaleCommand()).isTrue();
        assertThat(seen.get(4).getKvError().getLocked().getLockVersion()).isEqualTo(77);
        assertThat(seen.get(5).getMsg()).isEqualTo("put object timeout");
        assertThat(http("GET", "/metrics", null).body()).contains("tikv_backup_error_counter{error=\"not_leader\"}");
    }

    @Test
    void probabilityZeroNeverFiresAndOneAlwaysDoes() throws Exception {
        http("PUT", "/faults", "[[rule]]\nmatch = { start = \"74\" }\naction = \"stale_command\"\nprobability = 0.0\n");
        for (int i = 0; i < 3; i++) {
            assertThat(backup()).noneMatch(BackupResponse::hasError);
        }
        http("PUT", "/faults", "[[rule]]\nmatch = { start = \"74\" }\naction = \"stale_command\"\nprobability = 1.0\n");
        for (int i = 0; i < 3; i++) {
            assertThat(backup()).hasSize(regions().size()).allMatch(BackupResponse::hasError);
        }
    }

    @Test
    void keyRangeMatchTouchesOnlyOverlappingRanges() throws Exception {
        byte[] k = DataGenerator.txnRowKey(SeedSpec.parse(SEED), 100);
        String hex = HexFormat.of().formatHex(k);
        http("PUT", "/faults", "[{\"match\": {\"start\": \"" + hex + "\", \"end\": \"" + hex + "00\"}, \"action\": \"region_not_found\"}]");
        List<BackupResponse> r = backup();
        assertThat(r.stream().filter(BackupResponse::hasError)).hasSize(1);
        // a request for a range elsewhere is untouched
        byte[] far = DataGenerator.txnRowKey(SeedSpec.parse(SEED), 1900);
        assertThat(client.backup(TestServers.txn(TestServers.noop()).setStartKey(bs(far)).build())).noneMatch(BackupResponse::hasError);
    }

    @Test
    void grpcStatusEndsTheCallWhereItMatches() throws Exception {
        long third = regions().get(2).id();
        http("PUT", "/faults", "[[rule]]\nmatch = { region = " + third + " }\naction = \"grpc_status\"\ncode = \"UNAVAILABLE\"\nmessage = \"gone\"\ntimes = 1\n");
        assertThatThrownBy(ControlPlaneTest::backup).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
            assertThat(e.getStatus().getDescription()).isEqualTo("gone");
        });
        assertThat(backup()).hasSize(regions().size());
    }

    @Test
    void requestWideDelayAndClusterIdMismatch() throws Exception {
        http("PUT", "/faults", "[[rule]]\nmatch = { request = 1 }\naction = \"cluster_id_mismatch\"\n"
                + "[[rule]]\nmatch = { request = 2 }\naction = \"delay\"\nduration = \"400ms\"\n");
        List<BackupResponse> first = backup();
        assertThat(first).singleElement().satisfies(r -> {
            assertThat(r.getError().getClusterIdError().getCurrent()).isEqualTo(TIKV.clusterId());
            assertThat(r.getError().getClusterIdError().getRequest()).isEqualTo(TIKV.clusterId() + 1);
        });
        long t0 = System.nanoTime();
        assertThat(backup()).hasSize(regions().size()).noneMatch(BackupResponse::hasError);
        assertThat((System.nanoTime() - t0) / 1_000_000).isGreaterThanOrEqualTo(400);
    }

    @Test
    void badRulesAreRejectedWithTheReasonAndNothingChanges() throws Exception {
        http("PUT", "/faults", "[[rule]]\nname = \"keep\"\naction = \"delay\"\nduration = \"1ms\"\nmatch = { request = 1000 }\n");
        String[][] bad = {
            {"[[rule]]\naction = \"explode\"\n", "unknown action 'explode'"},
            {"[[rule]]\nmatch = { regoin = 1 }\naction = \"stale_command\"\n", "unknown match key 'regoin'"},
            {"[[rule]]\nmatch = { region = 1 }\naction = \"throttle\"\n", "applies to a whole request"},
            {"[[rule]]\naction = \"delay\"\nduration = \"soon\"\n", "not a duration"},
            {"[[rule]]\nmatch = { region = 1 }\naction = \"stale_command\"\nprobability = 2\n", "probability must be in [0, 1]"},
            {"[[rule]]\nmatch = { region = 1 }\naction = \"stale_command\"\ntimes = 0\n", "times must be > 0"},
            {"[[rule]]\nmatch = { request = 1 }\naction = \"server_is_busy\"\n", "answers a region range"},
            {"[[rule]]\naction = \"grpc_status\"\ncode = \"OK\"\n", "needs an error code"},
            {"[[rule]]\nmatch = { region = 1 }\n", "missing action"},
            {"[[rule]\n", "cannot parse fault rules"},
        };
        for (String[] b : bad) {
            HttpResponse<String> r = http("PUT", "/faults", b[0]);
            assertThat(r.statusCode()).as(b[0]).isEqualTo(400);
            assertThat(r.body()).as(b[0]).contains(b[1]);
        }
        assertThat(json("GET", "/faults", null)).singleElement().satisfies(n -> assertThat(n.get("name").asText()).isEqualTo("keep"));
        assertThat(http("DELETE", "/faults", null).statusCode()).isEqualTo(200);
        assertThat(json("GET", "/faults", null)).isEmpty();
    }

    @Test
    void aPanickingFailpointNeverStopsTheEndpoint() throws Exception {
        http("PUT", "/fail/backup_before_response", "1*panic(crash)");
        assertThatThrownBy(() -> client.backup(BackupRequest.newBuilder().setEndVersion(1).build()))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
        http("PUT", "/fail/backup_before_scan", "1*panic(crash-in-scan)");
        assertThatThrownBy(ControlPlaneTest::backup).isInstanceOf(StatusRuntimeException.class);
        // the next requests are served in full
        assertThat(backup()).hasSize(regions().size()).noneMatch(BackupResponse::hasError);
        assertThat(backup()).hasSize(regions().size()).noneMatch(BackupResponse::hasError);
    }

    @Test
    void aPauseOrHangIsLiftedWhenTheClientLeaves() throws Exception {
        http("PUT", "/fail/backup_before_scan", "pause");
        io.grpc.Context.CancellableContext ctx = io.grpc.Context.current().withCancellation();
        TestServers.startIgnoring(client, TestServers.txn(TestServers.noop()).build(), ctx);
        await().atMost(Duration.ofSeconds(20)).until(() -> TIKV.server().endpoint().busyWorkers() > 0);
        ctx.cancel(null);
        await().atMost(Duration.ofSeconds(10)).until(() -> TIKV.server().endpoint().busyWorkers() == 0);
    }
}

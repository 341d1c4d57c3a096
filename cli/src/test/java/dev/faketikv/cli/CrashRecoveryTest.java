package dev.faketikv.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.faketikv.client.BackupCheck;
import dev.faketikv.client.BackupClient;
import dev.faketikv.engine.Cf;
import dev.faketikv.engine.Engine;
import dev.faketikv.engine.EngineIterator;
import dev.faketikv.engine.EngineSnapshot;
import dev.faketikv.engine.gen.DataGenerator;
import dev.faketikv.engine.gen.SeedSpec;
import dev.faketikv.engine.region.RegionMap;
import dev.faketikv.server.TestServers;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb.BackupRequest;
import org.tikv.kvproto.Brpb.BackupResponse;

/**
 * {@code bin/fake-tikv serve} as a process, killed with SIGKILL while it seeds and while it backs up, then
 * restarted on the same data dir: every key/value and the region map equal a clean seed's, and a backup
 * after the restart is complete and verified.
 */
class CrashRecoveryTest {
    static final String SEED = "txn:rows=40000,regions=12,value-size=100,long-ratio=0.1,long-value-size=600,seed=4";
    static final Pattern READY = Pattern.compile("fake-tikv ready: addr=(\\S+) status=(\\S+) .*");

    @TempDir
    Path tmp;

    static Process serve(Path dataDir) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return new ProcessBuilder(java, "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"), "dev.faketikv.cli.Main", "serve",
                "--addr", "127.0.0.1:0", "--status-addr", "127.0.0.1:0", "--data-dir", dataDir.toString(), "--seed", SEED)
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
    }

    static String awaitReady(Process p) throws Exception {
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String line = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return out.readLine();
            } catch (java.io.IOException e) {
                return null;
            }
        }).get(60, TimeUnit.SECONDS);
        assertThat(line).isNotNull();
        Matcher m = READY.matcher(line);
        assertThat(m.matches()).as(line).isTrue();
        return m.group(1);
    }

    static void kill9(Process p) throws Exception {
        new ProcessBuilder("kill", "-9", Long.toString(p.pid())).start().waitFor();
        assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
    }

    /** SHA-256 over every key and value of the data CFs, plus the region map. */
    static String digest(Path dbDir) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (Engine e = Engine.open(dbDir); EngineSnapshot snap = e.snapshot()) {
            for (Cf cf : new Cf[] {Cf.DEFAULT, Cf.WRITE, Cf.LOCK}) {
                try (EngineIterator it = snap.iterator(cf, null, null)) {
                    for (it.seekToFirst(); it.valid(); it.next()) {
                        md.update(it.key());
                        md.update(it.value());
                    }
                }
            }
            RegionMap.load(e).all().forEach(r -> md.update(r.toString().getBytes(StandardCharsets.UTF_8)));
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /** The digest of a clean, uninterrupted seed. */
    static String cleanDigest(Path dir) throws Exception {
        try (Engine e = Engine.open(dir.resolve("db"))) {
            RegionMap m = RegionMap.load(e);
            m.bootstrapIfEmpty(1);
            DataGenerator.apply(e, m, SeedSpec.parse(SEED));
        }
        return digest(dir.resolve("db"));
    }

    @Test
    void killedWhileSeedingAndWhileBackingUpItRecovers() throws Exception {
        String expected = cleanDigest(tmp.resolve("clean"));
        Path data = tmp.resolve("data");

        // 1. SIGKILL during seeding: as soon as RocksDB's WAL grows
        List<Process> started = new java.util.ArrayList<>();
        try {
        Process p = serve(data);
        started.add(p);
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20)).until(() -> walBytes(data) > 1_000_000);
        kill9(p);
        try (Engine e = Engine.open(data.resolve("db"))) {
            assertThat(e.get(Cf.META, ("seed/" + SEED).getBytes(StandardCharsets.UTF_8))).as("killed before the seed finished").isNull();
        }

        // 2. restart: the seed is applied again (its marker was never written) and ends identical
        p = serve(data);
        started.add(p);
        String addr = awaitReady(p);
        Path out = tmp.resolve("backup-killed");
        try (BackupClient client = new BackupClient(addr)) {
            // 3. SIGKILL during a slow backup, after its first response
            Iterator<BackupResponse> it = client.stream(TestServers.txn(TestServers.local(out)).setRateLimit(256 << 10).build());
            assertThat(it.next().hasError()).isFalse();
            kill9(p);
        }
        try (var files = Files.list(out)) {
            assertThat(files.filter(f -> f.toString().endsWith(".sst")).count()).as("killed mid-backup").isLessThan(24);
        }
        assertThat(digest(data.resolve("db"))).isEqualTo(expected);

        // 4. restart again: a backup is complete and every file verifies
        p = serve(data);
        started.add(p);
        try {
            addr = awaitReady(p);
            Path out2 = tmp.resolve("backup-after");
            try (BackupClient client = new BackupClient(addr)) {
                BackupRequest req = TestServers.txn(TestServers.local(out2)).build();
                List<BackupResponse> responses = client.backup(req);
                assertThat(responses).hasSize(12);
                assertThat(BackupCheck.run(req, responses, out2).problems()).isEmpty();
            }
        } finally {
            p.destroy();
            p.waitFor(20, TimeUnit.SECONDS);
        }
        assertThat(digest(data.resolve("db"))).isEqualTo(expected);
        } finally {
            for (Process left : started) {
                left.destroyForcibly();
                left.waitFor(20, TimeUnit.SECONDS);
            }
        }
    }

    static long walBytes(Path data) {
        Path db = data.resolve("db");
        if (!Files.isDirectory(db)) {
            return 0;
        }
        try (var s = Files.list(db)) {
            return s.filter(f -> f.getFileName().toString().endsWith(".log") || f.getFileName().toString().endsWith(".sst"))
                    .mapToLong(f -> f.toFile().length()).sum();
        } catch (Exception e) {
            return 0;
        }
    }
}

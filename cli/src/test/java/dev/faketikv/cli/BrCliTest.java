package dev.faketikv.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faketikv.engine.Cf;
import dev.faketikv.pd.FakeCluster;
import dev.faketikv.pd.cluster.ClusterData;
import dev.faketikv.pd.cluster.ClusterRestoreChecksumTest;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code bin/fake-tikv br ...} and {@code inspect}, and {@code serve --stores 3} as a process: the README's session. */
class BrCliTest {
    @TempDir
    Path tmp;

    record Run(int code, String out, String err) {}

    static synchronized Run cli(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Main.run(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void backupRestoreChecksumInspectThroughTheCli() throws Exception {
        Path dir = tmp.resolve("b");
        String s = "local://" + dir;
        try (FakeCluster a = FakeCluster.builder().stores(3).seed("txn:rows=800,regions=5,seed=3").start();
             FakeCluster b = FakeCluster.builder().stores(3).start()) {
            Run backup = cli("br", "backup", "txn", "--pd", a.pdAddr(), "-s", s, "--compression", "lz4");
            assertThat(backup.code()).as(backup.err()).isZero();
            assertThat(backup.out()).startsWith("[txn backup] complete: ranges=1 regions=5 files=5 kvs=800")
                    .containsPattern("duration=(\\d+\\.\\d\\d)s \\(backup (\\d+\\.\\d\\d)s\\) speed=");
            Matcher times = Pattern.compile("duration=(\\S+)s \\(backup (\\S+)s\\)").matcher(backup.out());
            assertThat(times.find()).isTrue();
            assertThat(Double.parseDouble(times.group(2))).isLessThanOrEqualTo(Double.parseDouble(times.group(1)));
            Run again = cli("br", "backup", "txn", "--pd", a.pdAddr(), "-s", s);
            assertThat(again.code()).isEqualTo(1);
            assertThat(again.err()).contains("backup meta file exists");
            Run bad = cli("br", "backup", "kv", "--pd", a.pdAddr(), "-s", s);
            assertThat(bad.code()).isEqualTo(2);
            assertThat(bad.err()).contains("expected raw or txn");
            Run badCipher = cli("br", "backup", "txn", "--pd", a.pdAddr(), "-s", "local://" + tmp.resolve("c"), "--crypter.method", "aes128-ctr",
                    "--crypter.key", "0011");
            assertThat(badCipher.code()).isEqualTo(1);
            assertThat(badCipher.err()).contains("must be 16 bytes");
            Path enc = tmp.resolve("enc");
            String key = "000102030405060708090a0b0c0d0e0f";
            Run encrypted = cli("br", "backup", "txn", "--pd", a.pdAddr(), "-s", "local://" + enc, "--crypter.method", "aes128-ctr",
                    "--crypter.key", key);
            assertThat(encrypted.code()).as(encrypted.err()).isZero();
            Run noKey = cli("inspect", enc.resolve("backupmeta").toString());
            assertThat(noKey.code()).isEqualTo(1);
            assertThat(noKey.err()).isEqualTo("inspect: " + enc.resolve("backupmeta") + " does not parse as a backupmeta: it may be "
                    + "encrypted (br --crypter.method): pass --crypter.method and --crypter.key\n");
            Run decrypted = cli("inspect", enc.resolve("backupmeta").toString(), "--crypter.method", "aes128-ctr", "--crypter.key", key);
            assertThat(decrypted.code()).as(decrypted.err()).isZero();
            assertThat(decrypted.out()).contains("cluster_id: " + Long.toUnsignedString(a.clusterId()))
                    .startsWith("backupmeta: " + enc.resolve("backupmeta") + "\n");

            Run restore = cli("br", "restore", "txn", "--pd", b.pdAddr(), "-s", s);
            assertThat(restore.code()).as(restore.err()).isZero();
            assertThat(restore.out()).startsWith("[txn restore] complete: ranges=5 files=5");
            Run checksum = cli("br", "checksum", "txn", "--pd", b.pdAddr(), "-s", s);
            assertThat(checksum.code()).as(checksum.err()).isZero();
            assertThat(checksum.out()).startsWith("[checksum] match: crc64xor=").contains("total_kvs=800");
            ClusterData.assertSame(ClusterData.txnView(b.engine(), Long.MAX_VALUE), ClusterData.txnView(a.engine(), Long.MAX_VALUE));

            // a cluster that lost data: checksum says so, exit code 1
            try (FakeCluster c = FakeCluster.builder().stores(1).seed("txn:rows=799,regions=1,seed=3").start()) {
                Run mismatch = cli("br", "checksum", "txn", "--pd", c.pdAddr(), "-s", s);
                assertThat(mismatch.code()).isEqualTo(1);
                assertThat(mismatch.out()).contains("MISMATCH").contains("total_kvs=799");
            }

            Run meta = cli("inspect", dir.resolve("backupmeta").toString());
            assertThat(meta.code()).isZero();
            assertThat(meta.out()).contains("cluster_id: " + Long.toUnsignedString(a.clusterId())).contains("is_raw_kv: false");
            String sst;
            try (var files = Files.list(dir)) {
                sst = files.map(Path::toString).filter(n -> n.endsWith("_write.sst")).findFirst().orElseThrow();
            }
            Run file = cli("inspect", "--json", sst);
            assertThat(file.code()).isZero();
            assertThat(file.out()).startsWith("{").contains("\"cf\"");
            assertThat(cli("inspect", dir.resolve("backup.lock").toString()).code()).isEqualTo(1);
            assertThat(ClusterData.count(b.engine(), Cf.WRITE)).isEqualTo(800);
        }
    }

    @Test
    void aRestoreOfADamagedBackupmetaExitsOneWithBrsChecksumMismatch() throws Exception {
        Path dir = tmp.resolve("flip");
        String s = "local://" + dir;
        try (FakeCluster a = FakeCluster.builder().stores(2).seed("txn:rows=600,regions=3,seed=8").start();
             FakeCluster b = FakeCluster.builder().stores(2).start();
             FakeCluster c = FakeCluster.builder().stores(2).start()) {
            assertThat(cli("br", "backup", "txn", "--pd", a.pdAddr(), "-s", s).code()).isZero();
            ClusterRestoreChecksumTest.flipABit(dir);
            Run restore = cli("br", "restore", "txn", "--pd", "http://" + b.pdAddr(), "-s", s);
            assertThat(restore.code()).as(restore.out()).isEqualTo(1);
            assertThat(restore.err()).startsWith("br: failed to validate checksum: [BR:Restore:ErrRestoreChecksumMismatch]restore checksum mismatch")
                    .hasLineCount(1);
            Run unchecked = cli("br", "restore", "txn", "--pd", c.pdAddr(), "-s", s, "--checksum=false");
            assertThat(unchecked.code()).as(unchecked.err()).isZero();
            assertThat(unchecked.out()).contains("checksum=off");
            // BR's --pd rules: https:// needs --ca, --cert needs --ca
            Run https = cli("br", "checksum", "txn", "--pd", "https://" + c.pdAddr(), "-s", s);
            assertThat(https.code()).isEqualTo(1);
            assertThat(https.err()).contains("pd url starts with https while TLS disabled");
            Run certOnly = cli("br", "checksum", "txn", "--pd", c.pdAddr(), "-s", s, "--cert", "c.pem", "--key", "k.pem");
            assertThat(certOnly.code()).isEqualTo(1);
            assertThat(certOnly.err()).contains("need --ca");
        }
    }

    @Test
    void rawBackupOfAKeyRangeWithARateLimit() throws Exception {
        try (FakeCluster a = FakeCluster.builder().stores(2).seed("raw:keys=1000,regions=4,seed=2").start()) {
            Run r = cli("br", "backup", "raw", "--pd", a.pdAddr(), "-s", "local://" + tmp.resolve("part"), "--format", "raw",
                    "--start", "r000000000100", "--end", "r000000000300", "--cf", "default", "--ratelimit", "1", "--concurrency", "8");
            assertThat(r.code()).as(r.err()).isZero();
            assertThat(r.err()).contains("--ratelimit forces sequential (--concurrency 1)");
            assertThat(r.out()).contains("kvs=200");
            // what the stores were asked: the range, 1 MiB/s, concurrency forced to 1
            String journal = a.store(1).journal().toJson() + a.store(2).journal().toJson();
            assertThat(journal).contains("\"rate_limit\" : \"1048576\"").contains("\"concurrency\" : 1")
                    .contains("\"start_key\" : \"72303030303030303030313030\"");
            Run hex = cli("br", "backup", "raw", "--pd", a.pdAddr(), "-s", "local://" + tmp.resolve("hex"),
                    "--start", "72303030303030303030303030", "--end", "72303030303030303030313030");
            assertThat(hex.code()).as(hex.err()).isZero();
            assertThat(hex.out()).contains("kvs=100");
        }
    }

    @Test
    void serveStoresThreeRunsAClusterWithAPd() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"), "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                "dev.faketikv.cli.Main", "serve", "--stores", "3", "--pd-addr", "127.0.0.1:0", "--addr", "127.0.0.1:0",
                "--status-addr", "127.0.0.1:0", "--data-dir", tmp.resolve("d").toString(), "--seed", "raw:keys=900,regions=6,seed=1")
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            Matcher m = Pattern.compile("fake-tikv cluster ready: pd=(127\\.0\\.0\\.1:\\d+) stores=3 cluster-id=\\d+ regions=6").matcher(out.readLine());
            assertThat(m.matches()).isTrue();
            List<String> stores = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                stores.add(out.readLine());
            }
            assertThat(stores).allMatch(l -> l.startsWith("  fake-tikv ready: addr=127.0.0.1:"));
            assertThat(String.join("\n", stores)).contains("store-id=1").contains("store-id=2").contains("store-id=3");
            Run backup = cli("br", "backup", "raw", "--pd", m.group(1), "-s", "local://" + tmp.resolve("raw"));
            assertThat(backup.code()).as(backup.err()).isZero();
            assertThat(backup.out()).contains("regions=6").contains("kvs=900");
            try (var files = Files.list(tmp.resolve("raw"))) {
                assertThat(files.map(f -> f.getFileName().toString()).filter(n -> n.endsWith(".sst")).map(n -> n.substring(0, 2)))
                        .as("leaders spread: every store wrote files").contains("1_", "2_", "3_");
            }
        } finally {
            p.destroy();
            assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        }
        assertThat(p.exitValue()).isIn(0, 143);
    }
}

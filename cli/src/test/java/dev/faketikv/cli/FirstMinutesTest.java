package dev.faketikv.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.faketikv.cli.BrCliTest.Run;
import dev.faketikv.pd.FakeCluster;
import dev.faketikv.server.FakeTikvServer;
import dev.faketikv.server.config.TikvConfig;
import java.io.File;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The first ten minutes of a new user: a port in use, a data dir another process holds, {@code --pd} at a
 * store or at nothing, Ctrl-C during a backup, the help text. Each mistake gets one line naming the thing,
 * and a failed start leaves no data dir behind.
 */
class FirstMinutesTest {
    @TempDir
    Path tmp;

    private static ServerSocket holdPort() throws Exception {
        ServerSocket s = new ServerSocket();
        s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        return s;
    }

    @Test
    void aGrpcOrStatusPortInUseIsNamedAndNoDataDirIsCreated() throws Exception {
        Path data = tmp.resolve("new").resolve("data");
        try (ServerSocket taken = holdPort()) {
            String addr = "127.0.0.1:" + taken.getLocalPort();
            Run grpc = BrCliTest.cli("serve", "--addr", addr, "--status-addr", "127.0.0.1:0", "--data-dir", data.toString(),
                    "--seed", "raw:keys=10,regions=1");
            assertThat(grpc.code()).isEqualTo(1);
            assertThat(grpc.err()).isEqualTo("fake-tikv: cannot start: server.addr " + addr
                    + " is in use: stop what listens there or choose another --addr\n");
            Run status = BrCliTest.cli("serve", "--addr", "127.0.0.1:0", "--status-addr", addr, "--data-dir", data.toString());
            assertThat(status.code()).isEqualTo(1);
            assertThat(status.err()).isEqualTo("fake-tikv: cannot start: server.status-addr " + addr
                    + " is in use: stop what listens there or choose another --status-addr\n");
            Run cluster = BrCliTest.cli("serve", "--stores", "2", "--pd-addr", addr, "--addr", "127.0.0.1:0",
                    "--status-addr", "127.0.0.1:0", "--data-dir", data.toString());
            assertThat(cluster.code()).isEqualTo(1);
            assertThat(cluster.err()).isEqualTo("fake-tikv: cannot start the cluster: fake.pd-addr " + addr
                    + " is in use: stop what listens there or choose another --pd-addr\n");
        }
        assertThat(tmp.resolve("new")).as("a failed start creates no data dir").doesNotExist();
    }

    @Test
    void aDataDirAnotherProcessHoldsIsNamedAndLeftAsItWas() throws Exception {
        Path data = tmp.resolve("held");
        TikvConfig cfg = TikvConfig.defaults().with(TikvConfig.SERVER_ADDR.name(), "127.0.0.1:0")
                .with(TikvConfig.STATUS_ADDR.name(), "127.0.0.1:0").with(TikvConfig.DATA_DIR.name(), data.toString());
        try (FakeTikvServer holder = FakeTikvServer.start(cfg)) {
            List<String> before = listing(data);
            File err = tmp.resolve("err.txt").toFile();
            Process p = new ProcessBuilder(java(), "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
                    "-Dorg.slf4j.simpleLogger.defaultLogLevel=off", "dev.faketikv.cli.Main", "serve",
                    "--addr", "127.0.0.1:0", "--status-addr", "127.0.0.1:0", "--data-dir", data.toString())
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(err).start();
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).isEqualTo(1);
            assertThat(Files.readString(err.toPath())).isEqualTo("fake-tikv: cannot start: storage.data-dir " + data
                    + " is used by another fake-tikv (RocksDB lock): stop it or use another --data-dir\n");
            assertThat(listing(data)).isEqualTo(before);
        }
    }

    private static List<String> listing(Path dir) throws Exception {
        try (var s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void brPdAtAStoreOrAtNothingSaysWhich() throws Exception {
        try (FakeCluster c = FakeCluster.builder().stores(1).start()) {
            String store = c.stores().get(0).addr();
            Run atStore = BrCliTest.cli("br", "backup", "raw", "--pd", store, "-s", "noop://");
            assertThat(atStore.code()).isEqualTo(1);
            assertThat(atStore.err()).isEqualTo("br: " + store
                    + " is not a PD (it answers UNIMPLEMENTED to pdpb.PD/GetMembers; is it a store's address?)\n");
        }
        int closed;
        try (ServerSocket s = holdPort()) {
            closed = s.getLocalPort();
        }
        Run nothing = BrCliTest.cli("br", "backup", "raw", "--pd", "127.0.0.1:" + closed, "-s", "noop://");
        assertThat(nothing.code()).isEqualTo(1);
        assertThat(nothing.err()).isEqualTo("br: cannot reach PD at 127.0.0.1:" + closed + ": connection refused\n");
    }

    @Test
    void ctrlCDuringABackupSaysWhatIsLeftAndTheRerunSaysWhatToDo() throws Exception {
        Path dir = tmp.resolve("b");
        try (FakeCluster c = FakeCluster.builder().stores(1).seed("raw:keys=200,regions=2,seed=1").start()) {
            c.stores().forEach(s -> s.faults().failPoints().set("backup_before_save", "pause"));
            File err = tmp.resolve("br-err.txt").toFile();
            Process p = new ProcessBuilder(java(), "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
                    "-Dorg.slf4j.simpleLogger.defaultLogLevel=off", "dev.faketikv.cli.Main", "br", "backup", "raw",
                    "--pd", c.pdAddr(), "-s", "local://" + dir)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(err).start();
            try {
                await().atMost(Duration.ofSeconds(60)).until(() -> c.stores().get(0).faults().failPoints().paused("backup_before_save") > 0);
                assertThat(dir.resolve("backup.lock")).exists();
                // SIGTERM runs the same shutdown hook as Ctrl-C's SIGINT; SIGINT itself is not sent because a
                // non-interactive shell starts background jobs with SIGINT ignored, and the JVM keeps that
                Process kill = new ProcessBuilder("kill", "-TERM", Long.toString(p.pid())).inheritIO().start();
                assertThat(kill.waitFor(10, TimeUnit.SECONDS)).isTrue();
                assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
            } finally {
                p.destroyForcibly();
                c.stores().forEach(s -> s.faults().failPoints().clear());
            }
            assertThat(p.exitValue()).isEqualTo(143);
            assertThat(Files.readString(err.toPath(), StandardCharsets.UTF_8).strip()).isEqualTo("br: interrupted; the folder keeps "
                    + "backup.lock and partial files: remove the folder (or use another -s) before backing up again");
            assertThat(dir.resolve("backup.lock")).as("BR, too, leaves its lock on Ctrl-C").exists();

            Run again = BrCliTest.cli("br", "backup", "raw", "--pd", c.pdAddr(), "-s", "local://" + dir);
            assertThat(again.code()).isEqualTo(1);
            // (the in-test stores may log to the same stderr that the interrupted backup's streams went away)
            assertThat(again.err().lines().filter(l -> l.startsWith("br: "))).singleElement().asString()
                    .startsWith("br: backup lock file exists in local://" + dir)
                    .endsWith("(the folder keeps backup.lock and partial files: remove the folder (or use another -s) "
                            + "before backing up again)");
        }
    }

    @Test
    void helpTextSplitsNoTokenAt80Columns() {
        for (String cmd : List.of("serve", "demo", "inspect", "br backup", "br restore", "br checksum")) {
            Run help = BrCliTest.cli((cmd + " --help").split(" "));
            assertThat(help.code()).isZero();
            List<String> lines = help.out().lines().toList();
            assertThat(lines).as(cmd).allSatisfy(l -> assertThat(l.length()).isLessThanOrEqualTo(80));
            List<String> broken = new ArrayList<>();
            for (int i = 0; i + 1 < lines.size(); i++) {
                // "--set backup." then "num-threads=4": a line ending inside a token, the next one going on with it
                if (lines.get(i).matches(".*[A-Za-z0-9][.:=/]$") && lines.get(i + 1).strip().matches("^[a-z0-9].*")) {
                    broken.add(lines.get(i) + " / " + lines.get(i + 1).strip());
                }
            }
            assertThat(broken).as(cmd + " --help lines cut inside a token").isEmpty();
        }
        assertThat(BrCliTest.cli("serve", "--help").out()).contains("e.g. --set backup.num-threads=4")
                .contains("e.g. txn:rows=100000,regions=16").contains("(default 127.0.0.1:2379 when --stores > 1)");
        assertThat(BrCliTest.cli("br", "backup", "--help").out())
                .startsWith("Usage: fake-tikv br backup raw|txn --pd HOST:PORT -s STORAGE [OPTIONS]\n");
    }

    private static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }
}

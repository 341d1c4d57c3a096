package dev.faketikv.cli;

import static dev.faketikv.cli.BrCliTest.cli;
import static org.assertj.core.api.Assertions.assertThat;

import dev.faketikv.cli.BrCliTest.Run;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a new user's mistakes get from {@code bin/fake-tikv}: one line naming the mistake, and exit code 2. */
class CliUsageTest {
    @TempDir
    Path tmp;

    @Test
    void noCommandIsAUsageError() {
        Run r = cli();
        assertThat(r.code()).isEqualTo(Main.USAGE);
        assertThat(r.err()).contains("name a command");
        assertThat(r.out()).isEmpty();
    }

    @Test
    void aMisspelledOptionIsNamedEvenWhenARequiredOneIsMissing() {
        Run r = cli("br", "backup", "txn", "--pdd", "127.0.0.1:2379", "-s", "noop://");
        assertThat(r.code()).isEqualTo(Main.USAGE);
        assertThat(r.err()).contains("unknown option '--pdd'").contains("--help");
        assertThat(r.err().lines().count()).as(r.err()).isLessThanOrEqualTo(3);
    }

    @Test
    void anUnknownCommandGetsASuggestion() {
        Run r = cli("serv");
        assertThat(r.code()).isEqualTo(Main.USAGE);
        assertThat(r.err()).contains("'serv'").contains("serve");
    }

    @Test
    void aRelativeLocalPathIsRefusedBeforeAnythingIsWritten() {
        for (String bad : new String[] {"local://backup-rel", "local://./backup-rel", "backup-rel"}) {
            Run r = cli("br", "backup", "txn", "--pd", "127.0.0.1:1", "-s", bad);
            assertThat(r.code()).as(bad).isEqualTo(Main.FAILED);
            assertThat(r.err()).as(bad).contains("local storage path must be absolute").contains(bad);
        }
        assertThat(Path.of("/backup-rel")).doesNotExist();
    }

    @Test
    void demoTwiceReplacesItsOwnBackupAndRefusesAForeignFolder() throws Exception {
        Path out = tmp.resolve("demo-backup");
        String[] demo = {"demo", "--seed", "txn:rows=300,regions=2,seed=3", "--out", out.toString()};
        Run first = cli(demo);
        assertThat(first.code()).as(first.err()).isZero();
        List<String> files = names(out);
        assertThat(files).anyMatch(n -> n.endsWith("_write.sst"));
        Run second = cli(demo);
        assertThat(second.code()).as(second.err()).isZero();
        assertThat(second.out()).contains("replacing the earlier demo backup");
        assertThat(names(out)).hasSameSizeAs(files);

        Path foreign = Files.createDirectories(tmp.resolve("mine"));
        Files.writeString(foreign.resolve("notes.txt"), "keep me");
        Run refused = cli("demo", "--seed", "txn:rows=10,regions=1", "--out", foreign.toString());
        assertThat(refused.code()).isEqualTo(Main.FAILED);
        assertThat(refused.err()).contains(foreign.toString()).contains("not empty");
        assertThat(names(foreign)).containsExactly("notes.txt");
    }

    private static List<String> names(Path dir) throws Exception {
        try (var s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith(".")).sorted().toList();
        }
    }
}

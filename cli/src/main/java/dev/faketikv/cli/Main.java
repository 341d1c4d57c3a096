package dev.faketikv.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code bin/fake-tikv}: {@code serve} runs a store (or a cluster with {@code --stores N}), {@code demo} runs the
 * main job end to end, {@code br} is the BR-like client, {@code inspect} decodes a backup file.
 */
@Command(name = "fake-tikv", mixinStandardHelpOptions = true, version = "fake-tikv 0.1.0 (TiKV 5.4.0 backup endpoint)",
        description = "A fake TiKV store serving kvproto backup.Backup/backup over an embedded RocksDB.",
        subcommands = {ServeCommand.class, DemoCommand.class, dev.faketikv.cli.BrCommand.class, dev.faketikv.cli.InspectCommand.class})
public final class Main implements java.lang.Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the CLI and returns its exit code (for tests). */
    public static int run(String... args) {
        return new CommandLine(new Main()).execute(args);
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}

package dev.faketikv.cli;

import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * {@code bin/fake-tikv}: {@code serve} runs a store (or a cluster with {@code --stores N}), {@code demo} runs the
 * main job end to end, {@code br} is the BR-like client, {@code inspect} decodes a backup file.
 *
 * <p>Exit codes, for every command: {@value #OK} success; {@value #FAILED} the work failed (a backup that
 * could not finish, a port in use, a file that does not verify); {@value #USAGE} the command line is wrong
 * (an unknown option, a missing or bad value, no command). A mistake is reported as one line to stderr
 * naming what is wrong and what to do; {@code --verbose} anywhere on the line, or {@code FAKE_TIKV_DEBUG=1},
 * adds the stack trace of an unexpected failure.
 */
@Command(name = "fake-tikv", mixinStandardHelpOptions = true, version = "fake-tikv 0.1.0 (TiKV 5.4.0 backup endpoint)",
        description = "A fake TiKV store serving kvproto backup.Backup/backup over an embedded RocksDB.",
        subcommands = {ServeCommand.class, DemoCommand.class, BrCommand.class, InspectCommand.class})
public final class Main implements Callable<Integer> {
    static final int OK = 0;
    static final int FAILED = 1;
    static final int USAGE = 2;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the CLI and returns its exit code (for tests). */
    public static int run(String... args) {
        boolean verbose = List.of(args).contains("--verbose") || "1".equals(System.getenv("FAKE_TIKV_DEBUG"));
        String[] rest = List.of(args).stream().filter(a -> !a.equals("--verbose")).toArray(String[]::new);
        CommandLine cli = new CommandLine(new Main());
        cli.setUsageHelpAutoWidth(true);
        cli.setParameterExceptionHandler(Main::usageError);
        cli.setExecutionExceptionHandler((e, line, parsed) -> {
            line.getErr().println(line.getCommandName() + ": " + oneLine(e));
            if (verbose) {
                e.printStackTrace(line.getErr());
            } else {
                line.getErr().println("(run with --verbose or FAKE_TIKV_DEBUG=1 for the stack trace)");
            }
            return FAILED;
        });
        return cli.execute(rest);
    }

    /**
     * A command-line mistake: the unknown options first (picocli reports a missing required option before
     * an unknown one, which hides a typo such as {@code --pdd}), with picocli's suggestion, then how to get help.
     */
    private static int usageError(ParameterException e, String[] args) {
        CommandLine line = e.getCommandLine();
        PrintWriter err = line.getErr();
        ParseResult parsed = line.getParseResult();
        List<String> unknown = parsed == null ? List.of() : parsed.unmatched().stream().filter(a -> a.startsWith("-")).toList();
        String name = line.getCommandSpec().qualifiedName();
        if (!unknown.isEmpty() && !(e instanceof UnmatchedArgumentException)) {
            err.println(name + ": unknown option" + (unknown.size() > 1 ? "s " : " ") + String.join(", ", unknown.stream().map(u -> "'" + u + "'").toList()));
        } else {
            err.println(name + ": " + e.getMessage());
        }
        if (e instanceof UnmatchedArgumentException u) {
            List<String> suggestions = u.getSuggestions();
            if (!suggestions.isEmpty()) {
                err.println("did you mean " + String.join(" or ", suggestions) + "?");
            }
        }
        err.println("see '" + name + " --help'");
        return USAGE;
    }

    private static String oneLine(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String msg = root.getMessage() != null ? root.getMessage() : root.getClass().getSimpleName();
        return root == e ? msg : (e.getMessage() != null && !e.getMessage().contains(msg) ? e.getMessage() + ": " + msg : msg);
    }

    /** No command: the usage, to stderr, and the usage exit code. */
    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        spec.commandLine().getErr().println("fake-tikv: name a command (serve, demo, br, inspect)");
        return USAGE;
    }
}

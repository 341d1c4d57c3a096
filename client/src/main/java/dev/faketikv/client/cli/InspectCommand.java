package dev.faketikv.client.cli;

import dev.faketikv.client.Inspect;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code fake-tikv inspect FILE [--json]}: a backup SST or a backupmeta, decoded ({@link Inspect}). */
@Command(name = "inspect", mixinStandardHelpOptions = true, description = "Decode a backup SST or a backupmeta as text or JSON.")
public final class InspectCommand implements Callable<Integer> {
    @Parameters(index = "0", description = "an .sst file or a backupmeta")
    Path file;

    @Option(names = "--json", description = "JSON instead of text")
    boolean json;

    @Override
    public Integer call() {
        try {
            System.out.print(Inspect.render(file, json ? Inspect.Format.JSON : Inspect.Format.TEXT));
            System.out.flush();
            return 0;
        } catch (IllegalArgumentException | java.io.IOException e) {
            System.err.println("inspect: " + e.getMessage());
            return 1;
        }
    }
}

package dev.faketikv.cli;

import dev.faketikv.client.Inspect;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code fake-tikv inspect FILE [--json] [--crypter.*]}: a backup SST or a backupmeta (encrypted too), decoded ({@link Inspect}). */
@Command(name = "inspect", mixinStandardHelpOptions = true, description = "Decode a backup SST or a backupmeta as text or JSON.")
public final class InspectCommand implements Callable<Integer> {
    @Parameters(index = "0", description = "an .sst file or a backupmeta")
    Path file;

    @Option(names = "--json", description = "JSON instead of text")
    boolean json;

    @Option(names = "--crypter.method", description = "an encrypted backupmeta's method: aes128-ctr, aes192-ctr or aes256-ctr")
    String cryptMethod;

    @Option(names = "--crypter.key", description = "its key, hex")
    String cryptKey;

    @Override
    public Integer call() {
        Path plain = null;
        try {
            Path target = file;
            if (cryptMethod != null) {
                // an encrypted backupmeta (IV ‖ AES-CTR, as BR writes it): decrypt to a temp file first
                var meta = dev.faketikv.client.br.BackupMetas.decode(java.nio.file.Files.readAllBytes(file),
                        dev.faketikv.client.br.BackupMetas.cipher(cryptMethod, cryptKey));
                plain = java.nio.file.Files.createTempFile("backupmeta", ".plain");
                java.nio.file.Files.write(plain, meta.toByteArray());
                target = plain;
            }
            System.out.print(Inspect.render(target, json ? Inspect.Format.JSON : Inspect.Format.TEXT));
            System.out.flush();
            return 0;
        } catch (IllegalArgumentException | java.io.IOException | dev.faketikv.client.br.BrException e) {
            System.err.println("inspect: " + e.getMessage());
            return 1;
        } finally {
            if (plain != null) {
                plain.toFile().delete();
            }
        }
    }
}

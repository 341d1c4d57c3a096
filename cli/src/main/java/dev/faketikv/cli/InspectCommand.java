package dev.faketikv.cli;

import dev.faketikv.client.Inspect;
import dev.faketikv.client.br.BackupMetas;
import dev.faketikv.client.br.BrException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import org.tikv.kvproto.Brpb;

/** {@code fake-tikv inspect FILE [--json] [--crypter.*]}: a backup SST or a backupmeta (encrypted too), decoded ({@link Inspect}). */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        customSynopsis = "fake-tikv inspect FILE [--json] [--crypter.method=M --crypter.key=HEX]", description = "Decode a backup SST or a backupmeta as text or JSON.")
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
        try {
            // an encrypted backupmeta (IV ‖ AES-CTR, as BR writes it) is decrypted in memory
            Brpb.CipherInfo cipher = cryptMethod == null ? null : BackupMetas.cipher(cryptMethod, cryptKey);
            System.out.print(Inspect.render(file, json ? Inspect.Format.JSON : Inspect.Format.TEXT, cipher));
            System.out.flush();
            return 0;
        } catch (IllegalArgumentException | IOException | BrException e) {
            System.err.println("inspect: " + e.getMessage());
            return 1;
        }
    }
}

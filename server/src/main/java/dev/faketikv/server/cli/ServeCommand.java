package dev.faketikv.server.cli;

import dev.faketikv.server.FakeTikv;
import dev.faketikv.server.config.ConfigException;
import dev.faketikv.server.config.TikvConfig;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * {@code fake-tikv serve}: runs one store until SIGTERM/SIGINT. When it is ready it prints exactly one line
 * to stdout: {@code fake-tikv ready: addr=HOST:PORT status=HOST:PORT cluster-id=N store-id=N}.
 */
@Command(name = "serve", mixinStandardHelpOptions = true, description = "Run a fake TiKV store.")
final class ServeCommand implements Callable<Integer> {
    @Mixin
    ServerOptions options = new ServerOptions();

    @Override
    public Integer call() throws Exception {
        TikvConfig cfg;
        try {
            cfg = options.build(TikvConfig.defaults());
        } catch (ConfigException | IllegalArgumentException e) {
            System.err.println("fake-tikv: invalid configuration: " + e.getMessage());
            return 2;
        }
        FakeTikv tikv;
        try {
            tikv = FakeTikv.builder().config(cfg).start();
        } catch (IllegalArgumentException | ConfigException e) {
            System.err.println("fake-tikv: " + e.getMessage());
            return 2;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            tikv.close();
            stopped.countDown();
        }, "shutdown"));
        System.out.println(tikv.server().readyLine());
        System.out.flush();
        stopped.await();
        return 0;
    }
}

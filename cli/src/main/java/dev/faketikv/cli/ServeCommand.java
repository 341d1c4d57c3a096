package dev.faketikv.cli;

import dev.faketikv.pd.FakeCluster;
import dev.faketikv.server.FakeTikv;
import dev.faketikv.server.config.ConfigException;
import dev.faketikv.server.config.TikvConfig;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * {@code fake-tikv serve}: runs one store until SIGTERM/SIGINT. When it is ready it prints exactly one line
 * to stdout: {@code fake-tikv ready: addr=HOST:PORT status=HOST:PORT cluster-id=N store-id=N}. With
 * {@code --stores N} (N > 1) or {@code --pd-addr} it runs a {@link FakeCluster} and prints
 * {@code fake-tikv cluster ready: pd=HOST:PORT stores=N ...} followed by one ready line per store. Exit code 2
 * for a bad configuration, 1 when the store cannot start (a port in use, a data dir another process holds).
 */
@Command(name = "serve", mixinStandardHelpOptions = true, description = "Run a fake TiKV store, or a cluster of stores with a PD facade (--stores N).")
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
            return Main.USAGE;
        }
        if (cfg.get(TikvConfig.STORES) > 1 || !cfg.get(TikvConfig.PD_ADDR).isEmpty()) {
            return serveCluster(cfg);
        }
        FakeTikv tikv;
        try {
            tikv = FakeTikv.builder().config(cfg).start();
        } catch (IllegalArgumentException | ConfigException e) {
            System.err.println("fake-tikv: " + e.getMessage());
            return Main.USAGE;
        } catch (IOException e) {
            System.err.println("fake-tikv: cannot start: " + e.getMessage());
            return Main.FAILED;
        }
        return runUntilStopped(tikv, List.of(tikv.server().readyLine()));
    }

    /** Prints the ready lines, then waits for SIGTERM/SIGINT, whose hook closes {@code running}. */
    private static int runUntilStopped(AutoCloseable running, List<String> readyLines) throws InterruptedException {
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                running.close();
            } catch (Exception e) {
                System.err.println("fake-tikv: close failed: " + e);
            }
            stopped.countDown();
        }, "shutdown"));
        readyLines.forEach(System.out::println);
        System.out.flush();
        stopped.await();
        return 0;
    }

    private static Integer serveCluster(TikvConfig cfg) throws Exception {
        FakeCluster cluster;
        try {
            cluster = FakeCluster.start(cfg);
        } catch (IllegalArgumentException | ConfigException e) {
            System.err.println("fake-tikv: " + e.getMessage());
            return Main.USAGE;
        } catch (IOException e) {
            System.err.println("fake-tikv: cannot start the cluster: " + e.getMessage());
            return Main.FAILED;
        }
        return runUntilStopped(cluster, cluster.readyLines());
    }
}

package dev.faketikv.server;

import dev.faketikv.engine.Engine;
import dev.faketikv.engine.EngineException;
import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.stream.Stream;

/**
 * A store (or cluster) that cannot start says why in one line naming the config key and its value, and
 * leaves nothing behind: a port in use ({@code server.addr 127.0.0.1:20160 is in use}), a data dir another
 * process holds (RocksDB's {@code LOCK}), and {@link CreatedPaths} to remove what a failed start created in
 * the data dir. These are fake-tikv's own start-up messages (the wording is not TiKV's). Stateless;
 * {@link CreatedPaths} is used by the one starting thread.
 */
public final class StartupErrors {
    private StartupErrors() {}

    /**
     * Fails now, before the data dir is touched, when {@code addr} (a non-zero port) cannot be bound:
     * a store whose port is taken must not open, seed or create its data dir first.
     */
    public static void checkBindable(String key, String flag, InetSocketAddress addr) throws IOException {
        if (addr.getPort() == 0) {
            return;
        }
        try (ServerSocket probe = new ServerSocket()) {
            probe.setReuseAddress(true);
            probe.bind(addr);
        } catch (IOException e) {
            throw bindFailed(key, flag, addr.getHostString() + ":" + addr.getPort(), e);
        }
    }

    /** {@code key}'s address {@code addr} could not be bound: in use, or not an address of this machine. */
    public static IOException bindFailed(String key, String flag, String addr, IOException e) {
        if (inUse(e)) {
            return new IOException(key + " " + addr + " is in use: stop what listens there or choose another " + flag, e);
        }
        return new IOException(key + " " + addr + " cannot be bound (" + rootMessage(e) + "): choose another " + flag, e);
    }

    private static boolean inUse(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof BindException || String.valueOf(t.getMessage()).contains("in use")) {
                return true;
            }
        }
        return false;
    }

    private static String rootMessage(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return String.valueOf(root.getMessage());
    }

    /**
     * Opens the engine in {@code dataDir}/db; a data dir whose RocksDB {@code LOCK} another process holds
     * is reported naming the data dir and what to do.
     */
    public static Engine openEngine(Path dataDir) throws IOException {
        try {
            return Engine.open(dataDir.resolve("db"));
        } catch (EngineException e) {
            String msg = String.valueOf(e.getMessage());
            if (msg.contains("lock file") || msg.contains("LOCK")) {
                throw new IOException("storage.data-dir " + dataDir + " is used by another fake-tikv (RocksDB lock): "
                        + "stop it or use another --data-dir", e);
            }
            throw e;
        }
    }

    /**
     * What a start creates under a data dir, so that a failed start can remove it: the topmost missing
     * folder on the way to the data dir, or, when the data dir exists, the entries it did not have.
     */
    public static final class CreatedPaths {
        private final Path top;
        private final Path dir;
        private final Set<Path> before;

        private CreatedPaths(Path top, Path dir, Set<Path> before) {
            this.top = top;
            this.dir = dir;
            this.before = before;
        }

        /** Notes what exists at and above {@code dir} now. */
        public static CreatedPaths before(Path dir) throws IOException {
            Path abs = dir.toAbsolutePath().normalize();
            if (Files.isDirectory(abs)) {
                Set<Path> entries = new HashSet<>();
                try (Stream<Path> s = Files.list(abs)) {
                    s.forEach(entries::add);
                }
                return new CreatedPaths(null, abs, entries);
            }
            Path top = abs;
            while (top.getParent() != null && !Files.exists(top.getParent())) {
                top = top.getParent();
            }
            return new CreatedPaths(top, abs, Set.of());
        }

        /** Removes what was created since {@link #before} (call once everything that wrote there is closed). */
        public void undo() {
            if (top != null) {
                FakeTikv.deleteTree(top);
                return;
            }
            try (Stream<Path> s = Files.list(dir)) {
                s.filter(p -> !before.contains(p)).toList().forEach(FakeTikv::deleteTree);
            } catch (IOException ignored) {
                // the data dir went away: nothing of ours is left in it
            }
        }
    }
}

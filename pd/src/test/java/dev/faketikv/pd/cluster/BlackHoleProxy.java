package dev.faketikv.pd.cluster;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A TCP forwarder on loopback that can play a host that went away without a word: after {@link #die()} it
 * forwards nothing, answers nothing and closes nothing — open connections and new ones alike wait until the
 * client gives up (what a powered-off PD looks like from BR: calls time out instead of being refused).
 * Thread-safe; {@link #close()} closes every socket.
 */
final class BlackHoleProxy implements AutoCloseable {
    private final ServerSocket server;
    private final InetSocketAddress target;
    private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
    private volatile boolean dead;

    BlackHoleProxy(String targetHostPort) throws IOException {
        int colon = targetHostPort.lastIndexOf(':');
        this.target = new InetSocketAddress(targetHostPort.substring(0, colon), Integer.parseInt(targetHostPort.substring(colon + 1)));
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread t = new Thread(this::accept, "black-hole-accept");
        t.setDaemon(true);
        t.start();
    }

    String addr() {
        return "127.0.0.1:" + server.getLocalPort();
    }

    void die() {
        dead = true;
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket c = server.accept();
                sockets.add(c);
                if (dead) {
                    continue;
                }
                Socket b = new Socket(target.getAddress(), target.getPort());
                sockets.add(b);
                pump(c, b);
                pump(b, c);
            } catch (IOException e) {
                return;
            }
        }
    }

    private void pump(Socket from, Socket to) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[8192];
            try {
                InputStream in = from.getInputStream();
                OutputStream out = to.getOutputStream();
                int n;
                while ((n = in.read(buf)) >= 0) {
                    if (dead) {
                        return;
                    }
                    out.write(buf, 0, n);
                    out.flush();
                }
            } catch (IOException ignored) {
                // closed
            }
        }, "black-hole-pump");
        t.setDaemon(true);
        t.start();
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (Socket s : sockets) {
            s.close();
        }
    }
}

package dev.faketikv.pd;

import dev.faketikv.pd.etcd.Etcd;
import dev.faketikv.server.Addresses;
import com.sun.net.httpserver.HttpServer;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The PD facade's network side: gRPC ({@link PdService}) and PD's HTTP API on <b>one</b> address, as real
 * PD serves both on 2379 (newer BR builds its PD HTTP client on the gRPC member URLs). The gRPC server also
 * carries etcd's v3 API ({@link Etcd}), as PD registers its service on its embedded etcd's gRPC server.
 *
 * <p>How one port serves both: gRPC (Netty) and the HTTP API (JDK {@link HttpServer}) listen on loopback
 * ports of their own; the public socket accepts a connection, reads its first bytes and splices it to gRPC
 * when they are the HTTP/2 preface ({@code PRI * HTTP/2.0}), to the HTTP API otherwise. Two pump threads
 * per connection (BR opens a handful); at most {@value #MAX_CONNECTIONS} connections, and one that sends
 * nothing for {@value #PREFACE_TIMEOUT_MS} ms is closed.
 *
 * <p>HTTP paths: {@link PdHttpApi}.
 *
 * <p>TLS ({@code [security]} set, {@link #start(InetSocketAddress, PdService.Factory, String, String, SSLContext)}):
 * the public socket speaks TLS for gRPC and HTTP alike, as PD serves both on one etcd listener with one TLS
 * config (PD {@code server/config/config.go} {@code ClientTLSInfo}, etcd {@code embed/serve.go}): the handshake
 * requires a client certificate signed by the CA ({@code ClientCertAuth}; etcd's
 * {@code RequireAndVerifyClientCert}); ALPN offers {@code h2} (gRPC) and {@code http/1.1} (the HTTP API, which
 * must be spoken as HTTP/1.1 over TLS); the decrypted bytes are then routed as above. Plaintext, a client
 * without a certificate or one from another CA fails the handshake and is closed before any call is read.
 * {@code cert-allowed-cn} is not applied here, as PD 5.4 does not apply it to its client port
 * ({@code config.go:1253}, "Client no need to set the CN"; 19-facts §5.3).
 *
 * <p>Thread-safe; {@link #close()} stops all three listeners and every spliced connection.
 */
public final class PdServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(PdServer.class);
    private static final byte[] H2_PREFACE = "PRI ".getBytes(StandardCharsets.US_ASCII);
    /** Connections spliced at once; more are closed at accept (each costs two threads). */
    static final int MAX_CONNECTIONS = 256;
    /** How long a new connection may take to send its first bytes. */
    static final int PREFACE_TIMEOUT_MS = 10_000;

    private final PdService service;
    /** etcd's v3 API on the gRPC side of the port, as PD embeds etcd. */
    private final Etcd etcd;
    private final PdJournal journal = new PdJournal();
    private final PdScheduleState schedule = new PdScheduleState(System::currentTimeMillis);
    private final String version;
    private final Server grpc;
    private final HttpServer http;
    private final ServerSocket front;
    private final Thread acceptor;
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private final java.util.concurrent.atomic.AtomicInteger connections = new java.util.concurrent.atomic.AtomicInteger();
    private final String advertisedHost;
    /** Null: plaintext. */
    private final SSLContext tls;
    private volatile boolean closed;
    /** {@link #PREFACE_TIMEOUT_MS} unless a test shortens it ({@link #prefaceTimeoutMs(int)}). */
    private volatile int prefaceTimeoutMs = PREFACE_TIMEOUT_MS;

    private PdServer(InetSocketAddress addr, PdService.Factory factory, String version, String advertisedHost, SSLContext tls)
            throws IOException {
        this.version = version;
        this.advertisedHost = advertisedHost;
        this.tls = tls;
        this.front = new ServerSocket();
        boolean ok = false;
        Server g = null;
        HttpServer h = null;
        try {
            front.bind(addr);
            this.service = factory.create(this::clientUrl);
            this.etcd = Etcd.forPd(service.clusterId(), service::member);
            InetSocketAddress loop = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
            g = NettyServerBuilder.forAddress(loop).permitKeepAliveTime(5, TimeUnit.SECONDS).permitKeepAliveWithoutCalls(true)
                    .addService(io.grpc.ServerInterceptors.intercept(service, journal))
                    .addService(new io.grpc.protobuf.services.HealthStatusManager().getHealthService())
                    .addServices(etcd.services(journal)).build().start();
            h = HttpServer.create(loop, 64);
            h.createContext("/", new PdHttpApi(new PdHttpApi.Parts(service, journal, schedule, version, this::clientUrl))::handle);
            h.setExecutor(java.util.concurrent.Executors.newFixedThreadPool(2, r -> {
                Thread t = new Thread(r, "pd-http");
                t.setDaemon(true);
                return t;
            }));
            h.start();
            ok = true;
        } finally {
            if (!ok) {
                if (g != null) {
                    g.shutdownNow();
                }
                if (h != null) {
                    h.stop(0);
                }
                front.close();
            }
        }
        this.grpc = g;
        this.http = h;
        this.acceptor = new Thread(this::acceptLoop, "pd-accept");
        acceptor.setDaemon(true);
        acceptor.start();
        etcd.start();
    }

    /** Starts the facade on {@code addr} (port 0 = any). */
    public static PdServer start(InetSocketAddress addr, PdService.Factory factory, String version) throws IOException {
        return new PdServer(addr, factory, version, null, null);
    }

    /** Starts the facade on {@code addr}, telling clients {@code advertisedHost} (null = the bound host). */
    public static PdServer start(InetSocketAddress addr, PdService.Factory factory, String version, String advertisedHost) throws IOException {
        return new PdServer(addr, factory, version, advertisedHost, null);
    }

    /**
     * Starts the facade with TLS on its one port when {@code tls} is non-null: its key and certificate are the
     * server's, its trust store the CA client certificates must be signed by.
     */
    public static PdServer start(InetSocketAddress addr, PdService.Factory factory, String version, String advertisedHost, SSLContext tls)
            throws IOException {
        return new PdServer(addr, factory, version, advertisedHost, tls);
    }

    /** Test seam: how long a new connection may stay silent before it is closed (default {@value #PREFACE_TIMEOUT_MS} ms). */
    PdServer prefaceTimeoutMs(int ms) {
        this.prefaceTimeoutMs = ms;
        return this;
    }

    /** True when the port speaks TLS. */
    public boolean tls() {
        return tls != null;
    }

    public PdService service() {
        return service;
    }

    /** The schedule config and scheduler pauses the HTTP API shows and changes. */
    public PdScheduleState schedule() {
        return schedule;
    }

    /** The etcd this PD embeds. */
    public Etcd etcd() {
        return etcd;
    }

    /** Every call BR made to this PD. */
    public PdJournal journal() {
        return journal;
    }

    /** {@code host:port} clients dial, for gRPC and HTTP alike. */
    public String addr() {
        String host = advertisedHost != null ? advertisedHost : front.getInetAddress().getHostAddress();
        return Addresses.hostPort(host, front.getLocalPort());
    }

    private String clientUrl() {
        return (tls != null ? "https://" : "http://") + addr();
    }

    private void acceptLoop() {
        while (!closed) {
            Socket s;
            try {
                s = front.accept();
            } catch (IOException e) {
                if (!closed) {
                    LOG.warn("pd accept failed: {}", e.toString());
                }
                return;
            }
            if (connections.incrementAndGet() > MAX_CONNECTIONS) {
                connections.decrementAndGet();
                LOG.warn("pd: {} connections open, refusing {}", MAX_CONNECTIONS, s.getRemoteSocketAddress());
                close(s);
                continue;
            }
            Thread t = new Thread(() -> {
                try {
                    route(s);
                } finally {
                    connections.decrementAndGet();
                }
            }, "pd-conn");
            t.setDaemon(true);
            t.start();
        }
    }

    private void route(Socket accepted) {
        open.add(accepted);
        if (closed) {
            // close() ran between accept and here: it did not see this socket
            close(accepted);
            return;
        }
        Socket client = accepted;
        Socket backend = null;
        try {
            client.setTcpNoDelay(true);
            client.setSoTimeout(prefaceTimeoutMs);
            if (tls != null) {
                client = handshake(accepted);
            }
            InputStream in = client.getInputStream();
            byte[] head = new byte[H2_PREFACE.length];
            int n = 0;
            while (n < head.length) {
                int r = in.read(head, n, head.length - n);
                if (r < 0) {
                    close(client);
                    return;
                }
                n += r;
            }
            client.setSoTimeout(0);
            int port = Arrays.equals(head, H2_PREFACE) ? ((InetSocketAddress) grpc.getListenSockets().get(0)).getPort()
                    : http.getAddress().getPort();
            backend = new Socket(InetAddress.getLoopbackAddress(), port);
            backend.setTcpNoDelay(true);
            open.add(backend);
            backend.getOutputStream().write(head);
            Socket b = backend;
            Socket c = client;
            Thread up = new Thread(() -> pump(c, b), "pd-pump");
            up.setDaemon(true);
            up.start();
            pump(b, client);
        } catch (IOException e) {
            close(client);
            close(accepted);
            if (backend != null) {
                close(backend);
            }
        }
    }

    /**
     * The server side of TLS over {@code s}: client certificate required, ALPN {@code h2} or {@code http/1.1};
     * the handshake must end within the preface timeout. A failed handshake throws (the caller closes).
     */
    private SSLSocket handshake(Socket s) throws IOException {
        SSLSocket ssl = (SSLSocket) tls.getSocketFactory().createSocket(s, null, s.getPort(), true);
        open.add(ssl);
        ssl.setUseClientMode(false);
        SSLParameters p = ssl.getSSLParameters();
        p.setNeedClientAuth(true);
        p.setApplicationProtocols(new String[] {"h2", "http/1.1"});
        ssl.setSSLParameters(p);
        try {
            ssl.startHandshake();
        } catch (IOException e) {
            LOG.debug("pd: TLS handshake with {} failed: {}", s.getRemoteSocketAddress(), e.toString());
            close(ssl);
            throw e;
        }
        return ssl;
    }

    /** Copies {@code from} to {@code to} until either side closes, then closes both. */
    private void pump(Socket from, Socket to) {
        byte[] buf = new byte[16 << 10];
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            int r;
            while ((r = in.read(buf)) >= 0) {
                out.write(buf, 0, r);
                out.flush();
            }
        } catch (IOException ignored) {
            // one side went away
        } finally {
            close(from);
            close(to);
        }
    }

    private void close(Socket s) {
        open.remove(s);
        try {
            s.close();
        } catch (IOException ignored) {
            // closing
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            front.close();
        } catch (IOException ignored) {
            // closing
        }
        for (Socket s : open) {
            close(s);
        }
        grpc.shutdownNow();
        etcd.close();
        http.stop(0);
        ((java.util.concurrent.ExecutorService) http.getExecutor()).shutdownNow();
        try {
            grpc.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

package dev.faketikv.client;

import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.tikv.kvproto.BackupGrpc;
import org.tikv.kvproto.Brpb.BackupRequest;
import org.tikv.kvproto.Brpb.BackupResponse;

/**
 * Calls {@code backup.Backup/backup} on one store over plaintext gRPC or mutual TLS ({@link #tls}), as BR's per-store backup client
 * does (BR {@code br/pkg/backup/push.go}), without BR's retries. Thread-safe; close it to shut the
 * channel down.
 */
public final class BackupClient implements AutoCloseable {
    private final ManagedChannel channel;
    private final boolean ownsChannel;

    /** Dials {@code target} ({@code host:port}). */
    public BackupClient(String target) {
        this(ManagedChannelBuilder.forTarget(target).usePlaintext()
                .keepAliveTime(10, TimeUnit.SECONDS)
                .keepAliveTimeout(3, TimeUnit.SECONDS)
                .maxInboundMessageSize(128 << 20)
                .build(), true);
    }

    /**
     * Dials {@code target} over mutual TLS: {@code ca} verifies the store, {@code cert}/{@code key} (PEM,
     * PKCS#8) identify this client, as BR's {@code --ca --cert --key}.
     */
    public static BackupClient tls(String target, java.io.File ca, java.io.File cert, java.io.File key) throws java.io.IOException {
        io.grpc.ChannelCredentials creds = io.grpc.TlsChannelCredentials.newBuilder()
                .trustManager(ca).keyManager(cert, key).build();
        return new BackupClient(io.grpc.Grpc.newChannelBuilder(target, creds)
                .keepAliveTime(10, TimeUnit.SECONDS)
                .keepAliveTimeout(3, TimeUnit.SECONDS)
                .maxInboundMessageSize(128 << 20)
                .build(), true);
    }

    /** Uses an existing channel, which stays the caller's. */
    public BackupClient(ManagedChannel channel) {
        this(channel, false);
    }

    private BackupClient(ManagedChannel channel, boolean ownsChannel) {
        this.channel = channel;
        this.ownsChannel = ownsChannel;
    }

    /** Streams the responses of one request; the iterator ends when the server closes the stream. */
    public Iterator<BackupResponse> stream(BackupRequest request) {
        return BackupGrpc.newBlockingStub(channel).backup(request);
    }

    /** Collects every response of one request. */
    public List<BackupResponse> backup(BackupRequest request) {
        List<BackupResponse> out = new ArrayList<>();
        stream(request).forEachRemaining(out::add);
        return out;
    }

    public ManagedChannel channel() {
        return channel;
    }

    @Override
    public void close() {
        if (ownsChannel) {
            channel.shutdownNow();
            try {
                channel.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}

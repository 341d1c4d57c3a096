package dev.faketikv.server;

import com.google.protobuf.ByteString;
import dev.faketikv.client.BackupCheck;
import dev.faketikv.server.config.TikvConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Brpb.BackupRequest;
import org.tikv.kvproto.Brpb.BackupResponse;

/** Helpers to start a real store on loopback (port 0) and to check what a backup returned. */
public final class TestServers {
    /** A backup_ts later than every seeded version. */
    public static final long NOW_TS = System.currentTimeMillis() << 18;

    private TestServers() {}

    public static TikvConfig config(Path dataDir, String... extra) {
        TikvConfig c = TikvConfig.defaults()
                .with(TikvConfig.SERVER_ADDR.name(), "127.0.0.1:0")
                .with(TikvConfig.STATUS_ADDR.name(), "127.0.0.1:0")
                .with(TikvConfig.DATA_DIR.name(), dataDir.toString())
                .with(TikvConfig.NUM_THREADS.name(), 2);
        for (String kv : extra) {
            int eq = kv.indexOf('=');
            c = c.with(kv.substring(0, eq), kv.substring(eq + 1));
        }
        return c;
    }

    public static FakeTikvServer start(Path dataDir, List<String> seeds, String... extra) throws IOException {
        return FakeTikvServer.start(config(dataDir, extra).with(TikvConfig.SEED.name(), seeds));
    }

    public static Brpb.StorageBackend local(Path dir) {
        return Brpb.StorageBackend.newBuilder().setLocal(Brpb.Local.newBuilder().setPath(dir.toString())).build();
    }

    public static Brpb.StorageBackend noop() {
        return Brpb.StorageBackend.newBuilder().setNoop(Brpb.Noop.getDefaultInstance()).build();
    }

    public static BackupRequest.Builder txn(Brpb.StorageBackend backend) {
        return BackupRequest.newBuilder().setEndVersion(NOW_TS).setStorageBackend(backend);
    }

    public static BackupRequest.Builder raw(Brpb.StorageBackend backend, String cf) {
        return BackupRequest.newBuilder().setIsRawKv(true).setCf(cf).setStorageBackend(backend);
    }

    public static ByteString bs(byte[] b) {
        return ByteString.copyFrom(b);
    }

    /** Every problem the verifier and a range tree find; empty when the backup is complete and right. */
    public static List<String> problems(BackupRequest req, List<BackupResponse> responses, Path dir) {
        return BackupCheck.run(req, responses, dir).problems();
    }

    public static long totalKvs(List<BackupResponse> responses) {
        return responses.stream().flatMap(r -> r.getFilesList().stream()).mapToLong(Brpb.File::getTotalKvs).sum();
    }

    /** Starts {@code req} asynchronously inside {@code ctx} (cancel the context to leave), ignoring what comes back. */
    public static void startIgnoring(dev.faketikv.client.BackupClient client, BackupRequest req, io.grpc.Context.CancellableContext ctx) {
        ctx.run(() -> org.tikv.kvproto.BackupGrpc.newStub(client.channel()).backup(req, new io.grpc.stub.StreamObserver<>() {
            @Override
            public void onNext(BackupResponse value) {}

            @Override
            public void onError(Throwable t) {}

            @Override
            public void onCompleted() {}
        }));
    }
}

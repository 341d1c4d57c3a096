package dev.faketikv.pd.etcd;

import dev.faketikv.engine.Engine;
import dev.faketikv.engine.region.RegionMap;
import dev.faketikv.pd.PdServer;
import dev.faketikv.pd.PdService;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A PD facade on a loopback port (real RocksDB under its region map, real gRPC), its etcd's lease clock moved
 * by hand ({@link #advanceSeconds}), and a plain gRPC channel to the port.
 */
final class PdEtcd implements AutoCloseable {
    static final long CLUSTER_ID = 6_000_000_000_000_000_042L;

    final AtomicLong nowMillis = new AtomicLong(1_700_000_000_000L);
    final Engine engine;
    final PdServer pd;
    final ManagedChannel channel;

    PdEtcd(Path dir) throws IOException {
        engine = Engine.open(dir.resolve("engine"));
        RegionMap regions = RegionMap.load(engine);
        pd = PdServer.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
                url -> new PdService(CLUSTER_ID, List::of, regions, url, System::currentTimeMillis), "5.4.0");
        pd.etcd().useClock(nowMillis::get);
        channel = ManagedChannelBuilder.forTarget(pd.addr()).usePlaintext().build();
    }

    String endpoint() {
        return "http://" + pd.addr();
    }

    EtcdStore store() {
        return pd.etcd().store();
    }

    /** Moves the lease clock and expires what is due, as the sweeper would on its next round. */
    void advanceSeconds(long s) {
        nowMillis.addAndGet(s * 1000);
        store().expireLeases();
    }

    @Override
    public void close() throws InterruptedException {
        channel.shutdownNow();
        channel.awaitTermination(5, TimeUnit.SECONDS);
        pd.close();
        engine.close();
    }
}

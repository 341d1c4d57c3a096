package dev.faketikv.pd.etcd;

import io.grpc.BindableService;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.tikv.kvproto.Pdpb;

/**
 * The etcd v3 API PD embeds, on PD's own gRPC port: PD 5.4 starts an embedded etcd and registers its
 * {@code pdpb.PD} service on etcd's gRPC server ({@code server/server.go:254}, {@code ServiceRegister}), so one
 * address answers {@code pdpb.PD} and etcd's {@code etcdserverpb.KV}, {@code Watch}, {@code Lease} and
 * {@code Cluster} alike. TiDB's store driver and domain (and BR 5.4 through them) dial that address with
 * etcd's Go client: GC safe point reads, schema-version keys, server info, DDL owner election.
 *
 * <p>Served here: KV {@code Range}/{@code Put}/{@code DeleteRange}/{@code Txn}/{@code Compact}; Watch (create with
 * key, range end, start revision, filters and {@code prev_kv}; cancel; progress); Lease {@code LeaseGrant},
 * {@code LeaseKeepAlive} (bidirectional stream), {@code LeaseRevoke}, {@code LeaseTimeToLive}; Cluster
 * {@code MemberList} (etcd's client calls it every {@code AutoSyncInterval}; TiDB sets 30 s). Everything else
 * (auth, maintenance, member changes, the jetcd-only unary {@code Watch/Progress}) answers {@code UNIMPLEMENTED}.
 * Semantics and errors: {@link EtcdStore}, {@link EtcdErrors}. Messages are etcd's own, compiled from the
 * {@code rpc.proto}/{@code kv.proto}/{@code auth.proto} jetcd ships (package {@code io.etcd.jetcd.api}).
 *
 * <p>Gaps that proto imposes: {@code Lease/LeaseLeases} is not in it, so it answers {@code UNIMPLEMENTED}
 * (TiDB 5.4 calls it only when a DDL owner's wait for schema versions timed out and it cleans expired
 * {@code /tidb/ddl/all_schema_versions/} paths, {@code ddl/util/syncer.go} {@code StartCleanWork}; it logs and
 * retries); a {@code Compare} on a key's lease ({@code target LEASE}, etcd 3.4) is not in it either and never
 * holds. Fields newer than it (e.g. watch {@code fragment}) are ignored.
 *
 * <p>Response headers carry PD's cluster id and member id (fake-tikv's PD is member 1) and raft term 2, what a
 * freshly started single-member etcd reports. A real PD's etcd reports etcd's own cluster id there, not PD's;
 * etcd's clients do not read it.
 *
 * <p>Lifecycle: construct, {@link #start()} (a daemon thread expiring leases every {@value #SWEEP_MS} ms), then
 * {@link #close()}. Thread-safe.
 */
public final class Etcd implements AutoCloseable {
    /** How often due leases are expired without a call to notice them (watchers see the deletes). */
    static final long SWEEP_MS = 250;
    /** A fresh single-member etcd elects itself in term 2. */
    static final long RAFT_TERM = 2;

    private final EtcdStore store;
    private final Supplier<Pdpb.Member> member;
    private ScheduledExecutorService sweeper;

    public Etcd(EtcdStore store, Supplier<Pdpb.Member> member) {
        this.store = store;
        this.member = member;
    }

    /** The etcd of a PD answering as {@code member} of cluster {@code clusterId}, leases on the wall clock. */
    public static Etcd forPd(long clusterId, Supplier<Pdpb.Member> member) {
        long memberId = member.get().getMemberId();
        return new Etcd(new EtcdStore(new EtcdStore.Identity(clusterId, memberId, RAFT_TERM), System::currentTimeMillis), member);
    }

    public synchronized Etcd start() {
        if (sweeper == null) {
            sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "pd-etcd-lease");
                t.setDaemon(true);
                return t;
            });
            sweeper.scheduleWithFixedDelay(store::expireLeases, SWEEP_MS, SWEEP_MS, TimeUnit.MILLISECONDS);
        }
        return this;
    }

    public EtcdStore store() {
        return store;
    }

    /** Replaces the lease clock (milliseconds since the epoch), e.g. with a test's hand-moved clock. */
    public void useClock(LongSupplier clockMillis) {
        store.useClock(clockMillis);
    }

    /** The gRPC services, each behind {@code interceptor} (PD's journal). */
    public List<ServerServiceDefinition> services(ServerInterceptor interceptor) {
        List<BindableService> all = List.of(new EtcdKv(store), new EtcdWatch(store), new EtcdLease(store), new EtcdCluster(store, member));
        return all.stream().map(s -> ServerInterceptors.intercept(s, interceptor)).toList();
    }

    @Override
    public synchronized void close() {
        if (sweeper != null) {
            sweeper.shutdownNow();
        }
    }

    /** Answers a unary call with {@code f}'s value, or with the etcd error it threw. */
    static <T> void answer(StreamObserver<T> out, Supplier<T> f) {
        T v;
        try {
            v = f.get();
        } catch (StatusRuntimeException e) {
            out.onError(e);
            return;
        }
        out.onNext(v);
        out.onCompleted();
    }
}

package dev.faketikv.pd.etcd;

import io.etcd.jetcd.api.LeaseGrantRequest;
import io.etcd.jetcd.api.LeaseGrantResponse;
import io.etcd.jetcd.api.LeaseGrpc;
import io.etcd.jetcd.api.LeaseKeepAliveRequest;
import io.etcd.jetcd.api.LeaseKeepAliveResponse;
import io.etcd.jetcd.api.LeaseRevokeRequest;
import io.etcd.jetcd.api.LeaseRevokeResponse;
import io.etcd.jetcd.api.LeaseTimeToLiveRequest;
import io.etcd.jetcd.api.LeaseTimeToLiveResponse;
import io.grpc.stub.StreamObserver;

/**
 * {@code etcdserverpb.Lease} (etcd {@code etcdserver/api/v3rpc/lease.go}): a keep-alive for a lease that does not
 * exist (or has expired) is answered with TTL 0 rather than an error, and {@code LeaseTimeToLive} of one with
 * TTL -1, as etcd v3.4 answers. Thread-safe; each keep-alive stream's responses are sent one at a time.
 */
final class EtcdLease extends LeaseGrpc.LeaseImplBase {
    private final EtcdStore store;

    EtcdLease(EtcdStore store) {
        this.store = store;
    }

    @Override
    public void leaseGrant(LeaseGrantRequest request, StreamObserver<LeaseGrantResponse> out) {
        Etcd.answer(out, () -> store.grant(request.getTTL(), request.getID()));
    }

    @Override
    public void leaseRevoke(LeaseRevokeRequest request, StreamObserver<LeaseRevokeResponse> out) {
        Etcd.answer(out, () -> store.revoke(request.getID()));
    }

    @Override
    public void leaseTimeToLive(LeaseTimeToLiveRequest request, StreamObserver<LeaseTimeToLiveResponse> out) {
        Etcd.answer(out, () -> store.timeToLive(request.getID(), request.getKeys()));
    }

    @Override
    public StreamObserver<LeaseKeepAliveRequest> leaseKeepAlive(StreamObserver<LeaseKeepAliveResponse> out) {
        return new StreamObserver<>() {
            @Override
            public void onNext(LeaseKeepAliveRequest q) {
                long ttl = store.keepAlive(q.getID());
                LeaseKeepAliveResponse r = LeaseKeepAliveResponse.newBuilder().setHeader(store.header(store.revision()))
                        .setID(q.getID()).setTTL(ttl).build();
                synchronized (this) {
                    out.onNext(r);
                }
            }

            @Override
            public void onError(Throwable t) {
                // the client went away: nothing to renew any more
            }

            @Override
            public void onCompleted() {
                synchronized (this) {
                    out.onCompleted();
                }
            }
        };
    }
}

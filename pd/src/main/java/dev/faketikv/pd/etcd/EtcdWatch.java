package dev.faketikv.pd.etcd;

import io.etcd.jetcd.api.WatchGrpc;
import io.etcd.jetcd.api.WatchRequest;
import io.etcd.jetcd.api.WatchResponse;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * {@code etcdserverpb.Watch/Watch} (etcd {@code etcdserver/api/v3rpc/watch.go}): one bidirectional stream carries
 * many watches, numbered per stream from 0. A create is answered {@code created} (then any history since its
 * start revision, then new events); a cancel of a live watch is answered {@code canceled}, of an unknown one
 * not at all; a progress request is answered with the store revision under watch id -1 ("not associated with
 * any watch", which etcd's client hands to every watch on the stream). When the stream ends its watches go.
 *
 * <p>Threading: responses reach a stream from the store's writers and from its own requests; one stream's
 * sends are serialised on the stream.
 */
final class EtcdWatch extends WatchGrpc.WatchImplBase {
    private final EtcdStore store;

    EtcdWatch(EtcdStore store) {
        this.store = store;
    }

    @Override
    public StreamObserver<WatchRequest> watch(StreamObserver<WatchResponse> out) {
        Stream s = new Stream(out);
        if (out instanceof ServerCallStreamObserver<WatchResponse> call) {
            call.setOnCancelHandler(s::end);
        }
        return s;
    }

    private final class Stream implements StreamObserver<WatchRequest> {
        private final StreamObserver<WatchResponse> out;
        private final Map<Long, EtcdStore.Watcher> mine = new ConcurrentHashMap<>();
        // guarded by this
        private long nextId;
        private boolean done;

        Stream(StreamObserver<WatchResponse> out) {
            this.out = out;
        }

        /** Throws once the stream has ended, so the store drops the watcher. */
        private synchronized void send(WatchResponse r) {
            if (done) {
                throw new IllegalStateException("watch stream ended");
            }
            out.onNext(r);
        }

        private synchronized long newId() {
            return nextId++;
        }

        @Override
        public void onNext(WatchRequest q) {
            switch (q.getRequestUnionCase()) {
                case CREATE_REQUEST -> {
                    EtcdStore.Watcher w = new EtcdStore.Watcher(newId(), q.getCreateRequest(), this::send);
                    mine.put(w.id(), w);
                    if (store.watch(w) == null) {
                        mine.remove(w.id());
                    }
                }
                case CANCEL_REQUEST -> {
                    EtcdStore.Watcher w = mine.remove(q.getCancelRequest().getWatchId());
                    if (w != null) {
                        store.cancel(w, true);
                    }
                }
                case PROGRESS_REQUEST -> {
                    WatchResponse r = WatchResponse.newBuilder().setHeader(store.header(store.revision())).setWatchId(-1).build();
                    try {
                        send(r);
                    } catch (IllegalStateException ended) {
                        // nobody to tell
                    }
                }
                default -> {
                    // an empty request: etcd ignores it
                }
            }
        }

        @Override
        public void onError(Throwable t) {
            end();
        }

        @Override
        public void onCompleted() {
            end();
            synchronized (this) {
                out.onCompleted();
            }
        }

        void end() {
            synchronized (this) {
                done = true;
            }
            store.forget(mine.values());
            mine.clear();
        }
    }
}

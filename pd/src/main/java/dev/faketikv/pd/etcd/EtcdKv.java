package dev.faketikv.pd.etcd;

import io.etcd.jetcd.api.CompactionRequest;
import io.etcd.jetcd.api.CompactionResponse;
import io.etcd.jetcd.api.DeleteRangeRequest;
import io.etcd.jetcd.api.DeleteRangeResponse;
import io.etcd.jetcd.api.KVGrpc;
import io.etcd.jetcd.api.PutRequest;
import io.etcd.jetcd.api.PutResponse;
import io.etcd.jetcd.api.RangeRequest;
import io.etcd.jetcd.api.RangeResponse;
import io.etcd.jetcd.api.TxnRequest;
import io.etcd.jetcd.api.TxnResponse;
import io.grpc.stub.StreamObserver;

/** {@code etcdserverpb.KV} (etcd {@code etcdserver/api/v3rpc/key.go}) over {@link EtcdStore}. Thread-safe. */
final class EtcdKv extends KVGrpc.KVImplBase {
    private final EtcdStore store;

    EtcdKv(EtcdStore store) {
        this.store = store;
    }

    @Override
    public void range(RangeRequest request, StreamObserver<RangeResponse> out) {
        Etcd.answer(out, () -> store.range(request));
    }

    @Override
    public void put(PutRequest request, StreamObserver<PutResponse> out) {
        Etcd.answer(out, () -> store.put(request));
    }

    @Override
    public void deleteRange(DeleteRangeRequest request, StreamObserver<DeleteRangeResponse> out) {
        Etcd.answer(out, () -> store.deleteRange(request));
    }

    @Override
    public void txn(TxnRequest request, StreamObserver<TxnResponse> out) {
        Etcd.answer(out, () -> store.txn(request));
    }

    @Override
    public void compact(CompactionRequest request, StreamObserver<CompactionResponse> out) {
        Etcd.answer(out, () -> store.compact(request));
    }
}

package dev.faketikv.pd.etcd;

import io.etcd.jetcd.api.ClusterGrpc;
import io.etcd.jetcd.api.Member;
import io.etcd.jetcd.api.MemberListRequest;
import io.etcd.jetcd.api.MemberListResponse;
import io.grpc.stub.StreamObserver;
import java.util.function.Supplier;
import org.tikv.kvproto.Pdpb;

/**
 * {@code etcdserverpb.Cluster/MemberList}: the one member, PD itself, with PD's client URL as its client and peer
 * URL. etcd's Go client calls it every {@code AutoSyncInterval} to refresh its endpoints (TiDB sets 30 s), so
 * it must name the address clients already use. Thread-safe.
 */
final class EtcdCluster extends ClusterGrpc.ClusterImplBase {
    private final EtcdStore store;
    private final Supplier<Pdpb.Member> member;

    EtcdCluster(EtcdStore store, Supplier<Pdpb.Member> member) {
        this.store = store;
        this.member = member;
    }

    @Override
    public void memberList(MemberListRequest request, StreamObserver<MemberListResponse> out) {
        Etcd.answer(out, () -> {
            Pdpb.Member m = member.get();
            Member me = Member.newBuilder().setID(m.getMemberId()).setName(m.getName())
                    .addAllPeerURLs(m.getPeerUrlsList()).addAllClientURLs(m.getClientUrlsList()).build();
            return MemberListResponse.newBuilder().setHeader(store.header(store.revision())).addMembers(me).build();
        });
    }
}

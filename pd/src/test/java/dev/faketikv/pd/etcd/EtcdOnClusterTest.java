package dev.faketikv.pd.etcd;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.faketikv.pd.FakeCluster;
import io.etcd.jetcd.api.KVGrpc;
import io.etcd.jetcd.api.PutRequest;
import io.etcd.jetcd.api.RangeRequest;
import io.etcd.jetcd.api.RangeResponse;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;
import org.tikv.kvproto.PDGrpc;
import org.tikv.kvproto.Pdpb;

/**
 * A FakeCluster's one PD address answers etcd, PD's gRPC and PD's HTTP API side by side, on one channel for
 * the two gRPC services, as TiDB's PD client and etcd client share PD's address. (The etcd calls themselves are
 * tested with a real etcd client in {@link EtcdClientTest}.)
 */
class EtcdOnClusterTest {
    @Test
    void etcdPdGrpcAndHttpShareThePdAddress() throws Exception {
        try (FakeCluster cluster = FakeCluster.builder().stores(1).start()) {
            ManagedChannel ch = ManagedChannelBuilder.forTarget(cluster.pdAddr()).usePlaintext().build();
            try {
                KVGrpc.KVBlockingStub etcd = KVGrpc.newBlockingStub(ch);
                ByteString key = ByteString.copyFromUtf8("/tidb/store/gcworker/saved_safe_point");
                assertThat(etcd.range(RangeRequest.newBuilder().setKey(key).build()).getKvsList()).isEmpty();
                etcd.put(PutRequest.newBuilder().setKey(key).setValue(ByteString.copyFromUtf8("400000000000000000")).build());
                RangeResponse r = etcd.range(RangeRequest.newBuilder().setKey(key).build());
                assertThat(r.getKvs(0).getValue().toStringUtf8()).isEqualTo("400000000000000000");
                assertThat(r.getHeader().getClusterId()).isEqualTo(cluster.clusterId());

                Pdpb.GetMembersResponse m = PDGrpc.newBlockingStub(ch).getMembers(Pdpb.GetMembersRequest.getDefaultInstance());
                assertThat(m.getHeader().getClusterId()).isEqualTo(cluster.clusterId());
            } finally {
                ch.shutdownNow();
            }
            HttpResponse<String> v = HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(URI.create("http://" + cluster.pdAddr() + "/pd/api/v1/version")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(v.statusCode()).isEqualTo(200);
            assertThat(cluster.pdJournal().methods()).contains("etcdserverpb.KV/Range", "etcdserverpb.KV/Put", "pdpb.PD/GetMembers");
        }
    }
}

package dev.faketikv.pd.etcd;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.Lease;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.kv.DeleteResponse;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.kv.PutResponse;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.lease.LeaseKeepAliveResponse;
import io.etcd.jetcd.lease.LeaseTimeToLiveResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.LeaseOption;
import io.etcd.jetcd.options.PutOption;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.support.CloseableClient;
import io.etcd.jetcd.watch.WatchEvent;
import io.etcd.jetcd.watch.WatchResponse;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The PD port's etcd through a real etcd v3 client (jetcd): KV, txn, leases with a hand-moved clock, watches. */
class EtcdClientTest {
    static PdEtcd pd;
    static Client client;
    static KV kv;

    @BeforeAll
    static void start(@TempDir Path dir) throws Exception {
        pd = new PdEtcd(dir);
        client = Client.builder().endpoints(pd.endpoint()).build();
        kv = client.getKVClient();
    }

    @AfterAll
    static void stop() throws Exception {
        client.close();
        pd.close();
    }

    static ByteSequence b(String s) {
        return ByteSequence.from(s, UTF_8);
    }

    static String s(ByteSequence b) {
        return b.toString(UTF_8);
    }

    @Test
    void putGetPrefixAndRevisions() throws Exception {
        PutResponse first = kv.put(b("/kv/a"), b("1")).get();
        long r1 = first.getHeader().getRevision();
        PutResponse second = kv.put(b("/kv/a"), b("2"), PutOption.builder().withPrevKV().build()).get();
        assertThat(second.hasPrevKv()).isTrue();
        assertThat(s(second.getPrevKv().getValue())).isEqualTo("1");
        assertThat(second.getHeader().getRevision()).isEqualTo(r1 + 1);
        kv.put(b("/kv/ab"), b("3")).get();
        kv.put(b("/kw"), b("outside")).get();

        GetResponse one = kv.get(b("/kv/a")).get();
        KeyValue a = one.getKvs().get(0);
        assertThat(s(a.getValue())).isEqualTo("2");
        assertThat(a.getCreateRevision()).isEqualTo(r1);
        assertThat(a.getModRevision()).isEqualTo(r1 + 1);
        assertThat(a.getVersion()).isEqualTo(2);
        assertThat(one.getHeader().getClusterId()).isEqualTo(PdEtcd.CLUSTER_ID);
        assertThat(one.getHeader().getMemberId()).isEqualTo(1);

        GetResponse prefix = kv.get(b("/kv/"), GetOption.builder().isPrefix(true).build()).get();
        assertThat(prefix.getKvs()).extracting(k -> s(k.getKey())).containsExactly("/kv/a", "/kv/ab");
        assertThat(prefix.getCount()).isEqualTo(2);

        GetResponse limited = kv.get(b("/kv/"), GetOption.builder().isPrefix(true).withLimit(1)
                .withSortField(GetOption.SortTarget.KEY).withSortOrder(GetOption.SortOrder.DESCEND).build()).get();
        assertThat(limited.getKvs()).extracting(k -> s(k.getKey())).containsExactly("/kv/ab");
        assertThat(limited.isMore()).isTrue();
        assertThat(limited.getCount()).isEqualTo(2);

        GetResponse old = kv.get(b("/kv/a"), GetOption.builder().withRevision(r1).build()).get();
        assertThat(s(old.getKvs().get(0).getValue())).isEqualTo("1");

        GetResponse countOnly = kv.get(b("/kv/"), GetOption.builder().isPrefix(true).withCountOnly(true).build()).get();
        assertThat(countOnly.getKvs()).isEmpty();
        assertThat(countOnly.getCount()).isEqualTo(2);
    }

    @Test
    void deleteRangeReturnsWhatItDeleted() throws Exception {
        kv.put(b("/del/1"), b("x")).get();
        kv.put(b("/del/2"), b("y")).get();
        kv.put(b("/delx"), b("z")).get();
        DeleteResponse d = kv.delete(b("/del/"), DeleteOption.builder().isPrefix(true).withPrevKV(true).build()).get();
        assertThat(d.getDeleted()).isEqualTo(2);
        assertThat(d.getPrevKvs()).extracting(k -> s(k.getValue())).containsExactly("x", "y");
        assertThat(kv.get(b("/del/"), GetOption.builder().isPrefix(true).build()).get().getKvs()).isEmpty();
        assertThat(kv.get(b("/delx")).get().getKvs()).hasSize(1);

        long before = pd.store().revision();
        DeleteResponse none = kv.delete(b("/del/"), DeleteOption.builder().isPrefix(true).build()).get();
        assertThat(none.getDeleted()).isZero();
        assertThat(pd.store().revision()).as("deleting nothing makes no revision").isEqualTo(before);

        kv.put(b("/del/1"), b("again")).get();
        KeyValue back = kv.get(b("/del/1")).get().getKvs().get(0);
        assertThat(back.getVersion()).as("a re-created key starts over").isEqualTo(1);
        assertThat(back.getCreateRevision()).isEqualTo(back.getModRevision());
    }

    @Test
    void txnCompareAndSwap() throws Exception {
        ByteSequence k = b("/txn/cas");
        TxnResponse created = kv.txn().If(new Cmp(k, Cmp.Op.EQUAL, CmpTarget.createRevision(0)))
                .Then(Op.put(k, b("v1"), PutOption.DEFAULT)).Else(Op.get(k, GetOption.DEFAULT)).commit().get();
        assertThat(created.isSucceeded()).isTrue();
        assertThat(created.getPutResponses()).hasSize(1);

        TxnResponse again = kv.txn().If(new Cmp(k, Cmp.Op.EQUAL, CmpTarget.createRevision(0)))
                .Then(Op.put(k, b("other"), PutOption.DEFAULT)).Else(Op.get(k, GetOption.DEFAULT)).commit().get();
        assertThat(again.isSucceeded()).isFalse();
        assertThat(s(again.getGetResponses().get(0).getKvs().get(0).getValue())).isEqualTo("v1");

        TxnResponse swapped = kv.txn().If(new Cmp(k, Cmp.Op.EQUAL, CmpTarget.value(b("v1"))))
                .Then(Op.put(k, b("v2"), PutOption.DEFAULT), Op.get(k, GetOption.DEFAULT)).commit().get();
        assertThat(swapped.isSucceeded()).isTrue();
        assertThat(s(swapped.getGetResponses().get(0).getKvs().get(0).getValue())).as("a txn reads its own write").isEqualTo("v2");

        long mod = kv.get(k).get().getKvs().get(0).getModRevision();
        TxnResponse stale = kv.txn().If(new Cmp(k, Cmp.Op.LESS, CmpTarget.modRevision(mod)))
                .Then(Op.delete(k, DeleteOption.DEFAULT)).commit().get();
        assertThat(stale.isSucceeded()).isFalse();
        assertThat(kv.get(k).get().getKvs()).hasSize(1);
        TxnResponse version = kv.txn().If(new Cmp(k, Cmp.Op.GREATER, CmpTarget.version(1)))
                .Then(Op.delete(k, DeleteOption.DEFAULT)).commit().get();
        assertThat(version.isSucceeded()).isTrue();
        assertThat(version.getDeleteResponses().get(0).getDeleted()).isEqualTo(1);
        assertThat(kv.get(k).get().getKvs()).isEmpty();
    }

    @Test
    void leaseGrantKeepAliveRevokeAndExpiry() throws Exception {
        Lease lease = client.getLeaseClient();
        assertThat(lease.grant(1).get().getTTL()).as("etcd raises a TTL under its minimum").isEqualTo(EtcdStore.MIN_LEASE_TTL);

        long id = lease.grant(60).get().getID();
        kv.put(b("/lease/k"), b("v"), PutOption.builder().withLeaseId(id).build()).get();
        LeaseTimeToLiveResponse ttl = lease.timeToLive(id, LeaseOption.builder().withAttachedKeys().build()).get();
        assertThat(ttl.getGrantedTTL()).isEqualTo(60);
        assertThat(ttl.getKeys()).extracting(EtcdClientTest::s).containsExactly("/lease/k");

        pd.advanceSeconds(50);
        assertThat(lease.keepAliveOnce(id).get().getTTL()).isEqualTo(60);
        // jetcd's keepAliveOnce ends its stream by sending the request once more (WriteStream.end(req)), which may
        // land after the clock's next move and renew the lease to 60 s from then: so the checks below hold whether
        // that second keep-alive lands at +50 or at +100
        pd.advanceSeconds(50);
        assertThat(kv.get(b("/lease/k")).get().getKvs()).as("kept alive past its first deadline").hasSize(1);
        pd.advanceSeconds(61);
        assertThat(kv.get(b("/lease/k")).get().getKvs()).as("expired with its lease").isEmpty();
        assertThat(lease.timeToLive(id, LeaseOption.DEFAULT).get().getTTL()).isEqualTo(-1);

        // a lease nobody keeps alive expires exactly at its deadline
        long plain = lease.grant(60).get().getID();
        kv.put(b("/lease/p"), b("v"), PutOption.builder().withLeaseId(plain).build()).get();
        pd.advanceSeconds(59);
        assertThat(kv.get(b("/lease/p")).get().getKvs()).as("a second before its deadline").hasSize(1);
        pd.advanceSeconds(1);
        assertThat(kv.get(b("/lease/p")).get().getKvs()).as("at its deadline").isEmpty();

        long revoked = lease.grant(60).get().getID();
        kv.put(b("/lease/r"), b("v"), PutOption.builder().withLeaseId(revoked).build()).get();
        lease.revoke(revoked).get();
        assertThat(kv.get(b("/lease/r")).get().getKvs()).isEmpty();
        assertThatThrownBy(() -> lease.revoke(revoked).get()).isInstanceOf(ExecutionException.class)
                .hasMessageContaining("etcdserver: requested lease not found");
        assertThatThrownBy(() -> kv.put(b("/lease/x"), b("v"), PutOption.builder().withLeaseId(revoked).build()).get())
                .hasMessageContaining("etcdserver: requested lease not found");
    }

    @Test
    void keepAliveStreamRenews() throws Exception {
        Lease lease = client.getLeaseClient();
        long id = lease.grant(30).get().getID();
        List<LeaseKeepAliveResponse> got = new CopyOnWriteArrayList<>();
        try (CloseableClient keep = lease.keepAlive(id, new StreamObserver<>() {
            @Override
            public void onNext(LeaseKeepAliveResponse r) {
                got.add(r);
            }

            @Override
            public void onError(Throwable t) {
            }

            @Override
            public void onCompleted() {
            }
        })) {
            await().atMost(Duration.ofSeconds(10)).until(() -> !got.isEmpty());
            assertThat(got.get(0).getID()).isEqualTo(id);
            assertThat(got.get(0).getTTL()).isEqualTo(30);
        }
    }

    @Test
    void watchSeesPutsAndDeletesUntilCancelled() throws Exception {
        Watch watch = client.getWatchClient();
        long start = kv.put(b("/w/before"), b("0")).get().getHeader().getRevision();
        List<WatchEvent> events = new CopyOnWriteArrayList<>();
        int watchersBefore = pd.store().watcherCount();
        Watch.Watcher w = watch.watch(b("/w/"), WatchOption.builder().isPrefix(true).withPrevKV(true).withRevision(start).build(),
                r -> events.addAll(r.getEvents()));
        kv.put(b("/w/a"), b("1")).get();
        kv.put(b("/w/a"), b("2")).get();
        kv.put(b("/elsewhere"), b("x")).get();
        kv.delete(b("/w/a")).get();
        await().atMost(Duration.ofSeconds(10)).until(() -> events.size() >= 4);
        assertThat(events).extracting(WatchEvent::getEventType).containsExactly(
                WatchEvent.EventType.PUT, WatchEvent.EventType.PUT, WatchEvent.EventType.PUT, WatchEvent.EventType.DELETE);
        assertThat(s(events.get(0).getKeyValue().getKey())).as("history from the start revision").isEqualTo("/w/before");
        assertThat(s(events.get(2).getPrevKV().getValue())).isEqualTo("1");
        assertThat(s(events.get(3).getPrevKV().getValue())).isEqualTo("2");
        assertThat(pd.store().watcherCount()).isEqualTo(watchersBefore + 1);

        w.close();
        await().atMost(Duration.ofSeconds(10)).until(() -> pd.store().watcherCount() == watchersBefore);
        kv.put(b("/w/after"), b("x")).get();
        assertThat(events).hasSize(4);
    }

    @Test
    void leaseExpirySendsDeletesToWatchers() throws Exception {
        long id = client.getLeaseClient().grant(10).get().getID();
        kv.put(b("/exp/k"), b("v"), PutOption.builder().withLeaseId(id).build()).get();
        List<WatchEvent> events = new CopyOnWriteArrayList<>();
        List<WatchResponse> progress = new CopyOnWriteArrayList<>();
        Watch watch = client.getWatchClient();
        try (Watch.Watcher w = watch.watch(b("/exp/k"), WatchOption.DEFAULT, r -> {
            if (r.isProgressNotify()) {
                progress.add(r);
            }
            events.addAll(r.getEvents());
        })) {
            // a progress answer shows the watch is registered before the clock moves
            watch.requestProgress();
            await().atMost(Duration.ofSeconds(10)).until(() -> !progress.isEmpty());
            assertThat(progress.get(0).getHeader().getRevision()).isEqualTo(pd.store().revision());
            pd.advanceSeconds(11);
            await().atMost(Duration.ofSeconds(10)).until(() -> !events.isEmpty());
            assertThat(events.get(0).getEventType()).isEqualTo(WatchEvent.EventType.DELETE);
        }
    }
}

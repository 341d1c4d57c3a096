package dev.faketikv.pd.etcd;

import com.google.protobuf.ByteString;
import io.etcd.jetcd.api.Compare;
import io.etcd.jetcd.api.CompactionRequest;
import io.etcd.jetcd.api.CompactionResponse;
import io.etcd.jetcd.api.DeleteRangeRequest;
import io.etcd.jetcd.api.DeleteRangeResponse;
import io.etcd.jetcd.api.Event;
import io.etcd.jetcd.api.KeyValue;
import io.etcd.jetcd.api.LeaseGrantResponse;
import io.etcd.jetcd.api.LeaseRevokeResponse;
import io.etcd.jetcd.api.LeaseTimeToLiveResponse;
import io.etcd.jetcd.api.PutRequest;
import io.etcd.jetcd.api.PutResponse;
import io.etcd.jetcd.api.RangeRequest;
import io.etcd.jetcd.api.RangeResponse;
import io.etcd.jetcd.api.RequestOp;
import io.etcd.jetcd.api.ResponseHeader;
import io.etcd.jetcd.api.ResponseOp;
import io.etcd.jetcd.api.TxnRequest;
import io.etcd.jetcd.api.TxnResponse;
import io.etcd.jetcd.api.WatchCreateRequest;
import io.etcd.jetcd.api.WatchResponse;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * The embedded etcd's data, in memory: etcd v3's MVCC key space (etcd {@code mvcc/kvstore.go}: one store revision
 * that every write bumps by one, each key's {@code create_revision}, {@code mod_revision} and {@code version}),
 * its leases (etcd {@code lease/lessor.go}) and its watchers (etcd {@code mvcc/watchable_store.go}), with the
 * request semantics of etcd v3.4's {@code etcdserver/apply.go} (Range, Put, DeleteRange, Txn, Compact) for the
 * subset TiDB's store driver and domain use on PD's address.
 *
 * <p>Format: keys are kept per key as their revisions (a deletion is a tombstone: {@code version} 0), so a Range
 * may read at an older revision; every change is also kept as an {@link Event} in revision order, so a watch may
 * start at an older revision. History older than the compacted revision is dropped: by {@code Compact}, and on
 * its own once more than {@value #HISTORY_LIMIT} events are kept (PD compacts its etcd hourly; a fake keeps a
 * bounded window instead).
 *
 * <p>Revisions start at 1 as in a fresh etcd, so the first write is revision 2. A Txn with writes, a Put, a
 * DeleteRange that deletes something and a lease revoke that deletes keys each make one new revision; a
 * DeleteRange or Txn that changes nothing does not.
 *
 * <p>Leases: TTLs under {@value #MIN_LEASE_TTL} s are raised to it (etcd's {@code minLeaseTTL} =
 * ceil(3/2 × election timeout); PD 5.4 runs etcd with a 3 s election timeout, {@code server/config/config.go:220},
 * {@code :1239}), over {@value #MAX_LEASE_TTL} s refused. A lease expires when the injectable clock
 * ({@link #useClock}) passes its deadline: every call first expires what is due, and {@link Etcd}'s sweeper calls
 * {@link #expireLeases()} on its own; expiry deletes the lease's keys, as a revoke does.
 *
 * <p>Threading: one monitor guards everything; watchers are sent their responses while it is held, so each
 * watcher sees events in revision order and after its {@code created} response. Thread-safe.
 */
public final class EtcdStore {
    /** Seconds: etcd's {@code minLeaseTTL} for PD's tick (500 ms) and election (3 s) intervals. */
    public static final long MIN_LEASE_TTL = 5;
    /** Seconds: etcd {@code lease.MaxLeaseTTL}. */
    public static final long MAX_LEASE_TTL = 9_000_000_000L;
    /** etcd {@code embed.DefaultMaxTxnOps}; PD leaves it as is. */
    public static final int MAX_TXN_OPS = 128;
    static final int HISTORY_LIMIT = 100_000;
    private static final ByteString ZERO = ByteString.copyFrom(new byte[] {0});
    private static final Comparator<ByteString> BYTES = ByteString.unsignedLexicographicalComparator();

    /** The header fields every answer carries besides its revision. */
    public record Identity(long clusterId, long memberId, long raftTerm) {
    }

    /** One watch: what it covers and where its responses go (called with the store's monitor held). */
    public static final class Watcher {
        final long id;
        final ByteString key;
        /** Empty: only {@code key}; {@code \0}: every key from {@code key} on. */
        final ByteString end;
        final long minRev;
        final boolean noPut;
        final boolean noDelete;
        final boolean prevKv;
        final Consumer<WatchResponse> send;

        Watcher(long id, WatchCreateRequest c, Consumer<WatchResponse> send) {
            this.id = id;
            // etcd's watch server: an empty key watches "\0"
            this.key = c.getKey().isEmpty() ? ZERO : c.getKey();
            this.end = c.getRangeEnd();
            this.minRev = c.getStartRevision();
            this.noPut = c.getFiltersList().contains(WatchCreateRequest.FilterType.NOPUT);
            this.noDelete = c.getFiltersList().contains(WatchCreateRequest.FilterType.NODELETE);
            this.prevKv = c.getPrevKv();
            this.send = send;
        }

        public long id() {
            return id;
        }

        boolean wants(Event e, long rev) {
            if (rev < minRev || !covers(key, end, e.getKv().getKey())) {
                return false;
            }
            return e.getType() == Event.EventType.PUT ? !noPut : !noDelete;
        }
    }

    private static final class Lease {
        final long id;
        final long ttl;
        long deadlineMillis;
        final Set<ByteString> keys = new TreeSet<>(BYTES);

        Lease(long id, long ttl, long deadlineMillis) {
            this.id = id;
            this.ttl = ttl;
            this.deadlineMillis = deadlineMillis;
        }
    }

    private record Logged(long rev, Event event) {
    }

    /** The writes of one request: they all get revision {@code rev}, made current only if something changed. */
    private final class Batch {
        final long rev = revision + 1;
        final List<Event> events = new ArrayList<>();

        long visibleRev() {
            return events.isEmpty() ? revision : rev;
        }
    }

    private final Identity identity;
    /** Milliseconds; volatile: tests swap it while the sweeper reads it. */
    private volatile LongSupplier clockMillis;
    // all below guarded by this
    private final NavigableMap<ByteString, List<KeyValue>> keys = new TreeMap<>(BYTES);
    private final List<Logged> log = new ArrayList<>();
    private final Map<Long, Lease> leases = new HashMap<>();
    private final Set<Watcher> watchers = new LinkedHashSet<>();
    private long revision = 1;
    private long compactRevision;

    public EtcdStore(Identity identity, LongSupplier clockMillis) {
        this.identity = identity;
        this.clockMillis = clockMillis;
    }

    /** Replaces the lease clock (milliseconds), e.g. with a test's hand-moved clock. */
    public void useClock(LongSupplier clockMillis) {
        this.clockMillis = clockMillis;
    }

    public ResponseHeader header(long rev) {
        return ResponseHeader.newBuilder().setClusterId(identity.clusterId()).setMemberId(identity.memberId())
                .setRevision(rev).setRaftTerm(identity.raftTerm()).build();
    }

    public Identity identity() {
        return identity;
    }

    public synchronized long revision() {
        return revision;
    }

    public synchronized long compactRevision() {
        return compactRevision;
    }

    // ---- KV

    public RangeResponse range(RangeRequest r) {
        checkRange(r);
        synchronized (this) {
            expireDue();
            return rangeLocked(r, revision, revision);
        }
    }

    public PutResponse put(PutRequest p) {
        checkPut(p);
        synchronized (this) {
            expireDue();
            checkPutState(p);
            Batch b = new Batch();
            PutResponse.Builder out = putLocked(p, b);
            commit(b);
            return out.setHeader(header(revision)).build();
        }
    }

    public DeleteRangeResponse deleteRange(DeleteRangeRequest d) {
        checkDelete(d);
        synchronized (this) {
            expireDue();
            Batch b = new Batch();
            DeleteRangeResponse.Builder out = deleteLocked(d.getKey(), d.getRangeEnd(), d.getPrevKv(), b);
            commit(b);
            return out.setHeader(header(revision)).build();
        }
    }

    public TxnResponse txn(TxnRequest t) {
        checkTxn(t);
        synchronized (this) {
            expireDue();
            Batch b = new Batch();
            TxnResponse.Builder out = txnLocked(t, b);
            commit(b);
            return out.setHeader(header(revision)).build();
        }
    }

    public CompactionResponse compact(CompactionRequest c) {
        synchronized (this) {
            if (c.getRevision() > revision) {
                throw EtcdErrors.futureRev();
            }
            if (c.getRevision() <= compactRevision) {
                throw EtcdErrors.compacted();
            }
            compactLocked(c.getRevision());
            return CompactionResponse.newBuilder().setHeader(header(revision)).build();
        }
    }

    // ---- checks etcd's v3rpc layer makes before a request reaches the store (v3rpc/key.go)

    private static void checkRange(RangeRequest r) {
        if (r.getKey().isEmpty()) {
            throw EtcdErrors.emptyKey();
        }
    }

    private static void checkPut(PutRequest p) {
        if (p.getKey().isEmpty()) {
            throw EtcdErrors.emptyKey();
        }
        if (p.getIgnoreValue() && !p.getValue().isEmpty()) {
            throw EtcdErrors.valueProvided();
        }
        if (p.getIgnoreLease() && p.getLease() != 0) {
            throw EtcdErrors.leaseProvided();
        }
    }

    private static void checkDelete(DeleteRangeRequest d) {
        if (d.getKey().isEmpty()) {
            throw EtcdErrors.emptyKey();
        }
    }

    private static void checkTxn(TxnRequest t) {
        if (t.getCompareCount() > MAX_TXN_OPS || t.getSuccessCount() > MAX_TXN_OPS || t.getFailureCount() > MAX_TXN_OPS) {
            throw EtcdErrors.tooManyOps();
        }
        for (List<RequestOp> ops : List.of(t.getSuccessList(), t.getFailureList())) {
            for (RequestOp op : ops) {
                switch (op.getRequestCase()) {
                    case REQUEST_RANGE -> checkRange(op.getRequestRange());
                    case REQUEST_PUT -> checkPut(op.getRequestPut());
                    case REQUEST_DELETE_RANGE -> checkDelete(op.getRequestDeleteRange());
                    case REQUEST_TXN -> checkTxn(op.getRequestTxn());
                    default -> {
                        // an empty op: etcd answers it with an empty response
                    }
                }
            }
            checkNoDuplicateWrites(ops);
        }
    }

    /** etcd's {@code checkIntervals}: a branch may not write one key twice (put twice, or put and delete). */
    private static void checkNoDuplicateWrites(List<RequestOp> ops) {
        Set<ByteString> puts = new HashSet<>();
        for (RequestOp op : ops) {
            if (op.hasRequestPut() && !puts.add(op.getRequestPut().getKey())) {
                throw EtcdErrors.duplicateKey();
            }
        }
        for (RequestOp op : ops) {
            if (op.hasRequestDeleteRange()) {
                DeleteRangeRequest d = op.getRequestDeleteRange();
                for (ByteString k : puts) {
                    if (covers(d.getKey(), d.getRangeEnd(), k)) {
                        throw EtcdErrors.duplicateKey();
                    }
                }
            }
        }
    }

    /** Checks needing the store (etcd applier's {@code checkRequestPut}): the lease exists, an ignored field's key too. */
    private void checkPutState(PutRequest p) {
        if (p.getLease() != 0 && !leases.containsKey(p.getLease())) {
            throw EtcdErrors.leaseNotFound();
        }
        if ((p.getIgnoreValue() || p.getIgnoreLease()) && current(p.getKey()) == null) {
            throw EtcdErrors.keyNotFound();
        }
    }

    private void checkRangeState(RangeRequest r) {
        if (r.getRevision() > revision) {
            throw EtcdErrors.futureRev();
        }
        if (r.getRevision() > 0 && r.getRevision() < compactRevision) {
            throw EtcdErrors.compacted();
        }
    }

    // ---- applying

    /** Reads at {@code r}'s revision, or at {@code latest} (a txn reads its own writes) when it names none. */
    private RangeResponse rangeLocked(RangeRequest r, long latest, long headerRev) {
        checkRangeState(r);
        long at = r.getRevision() > 0 ? r.getRevision() : latest;
        List<KeyValue> found = new ArrayList<>();
        for (List<KeyValue> history : span(r.getKey(), r.getRangeEnd()).values()) {
            KeyValue kv = at(history, at);
            if (kv != null) {
                found.add(kv);
            }
        }
        long count = found.size();
        found.removeIf(kv -> (r.getMinModRevision() > 0 && kv.getModRevision() < r.getMinModRevision())
                || (r.getMaxModRevision() > 0 && kv.getModRevision() > r.getMaxModRevision())
                || (r.getMinCreateRevision() > 0 && kv.getCreateRevision() < r.getMinCreateRevision())
                || (r.getMaxCreateRevision() > 0 && kv.getCreateRevision() > r.getMaxCreateRevision()));
        sort(found, r);
        boolean more = false;
        if (r.getLimit() > 0 && found.size() > r.getLimit()) {
            found = found.subList(0, (int) Math.min(r.getLimit(), Integer.MAX_VALUE));
            more = true;
        }
        RangeResponse.Builder out = RangeResponse.newBuilder().setHeader(header(headerRev)).setCount(count).setMore(more);
        if (!r.getCountOnly()) {
            for (KeyValue kv : found) {
                out.addKvs(r.getKeysOnly() ? kv.toBuilder().clearValue().build() : kv);
            }
        }
        return out.build();
    }

    /** etcd's apply.go Range: a target other than KEY without an order sorts ascending; keys come in key order. */
    private static void sort(List<KeyValue> kvs, RangeRequest r) {
        RangeRequest.SortOrder order = r.getSortOrder();
        if (r.getSortTarget() != RangeRequest.SortTarget.KEY && order == RangeRequest.SortOrder.NONE) {
            order = RangeRequest.SortOrder.ASCEND;
        }
        if (order == RangeRequest.SortOrder.NONE || order == RangeRequest.SortOrder.UNRECOGNIZED) {
            return;
        }
        Comparator<KeyValue> by = switch (r.getSortTarget()) {
            case VERSION -> Comparator.comparingLong(KeyValue::getVersion);
            case CREATE -> Comparator.comparingLong(KeyValue::getCreateRevision);
            case MOD -> Comparator.comparingLong(KeyValue::getModRevision);
            case VALUE -> (a, b) -> BYTES.compare(a.getValue(), b.getValue());
            default -> (a, b) -> BYTES.compare(a.getKey(), b.getKey());
        };
        kvs.sort(order == RangeRequest.SortOrder.DESCEND ? by.reversed() : by);
    }

    private PutResponse.Builder putLocked(PutRequest p, Batch b) {
        KeyValue prev = current(p.getKey());
        long lease = p.getIgnoreLease() ? prev.getLease() : p.getLease();
        KeyValue kv = KeyValue.newBuilder().setKey(p.getKey())
                .setValue(p.getIgnoreValue() ? prev.getValue() : p.getValue())
                .setCreateRevision(prev == null ? b.rev : prev.getCreateRevision())
                .setModRevision(b.rev)
                .setVersion(prev == null ? 1 : prev.getVersion() + 1)
                .setLease(lease).build();
        if (prev != null && prev.getLease() != lease) {
            detach(prev);
        }
        if (lease != 0) {
            leases.get(lease).keys.add(p.getKey());
        }
        keys.computeIfAbsent(p.getKey(), k -> new ArrayList<>()).add(kv);
        Event.Builder e = Event.newBuilder().setType(Event.EventType.PUT).setKv(kv);
        if (prev != null) {
            e.setPrevKv(prev);
        }
        b.events.add(e.build());
        PutResponse.Builder out = PutResponse.newBuilder();
        if (p.getPrevKv() && prev != null) {
            out.setPrevKv(prev);
        }
        return out;
    }

    private DeleteRangeResponse.Builder deleteLocked(ByteString key, ByteString end, boolean wantPrev, Batch b) {
        DeleteRangeResponse.Builder out = DeleteRangeResponse.newBuilder();
        List<KeyValue> gone = new ArrayList<>();
        for (List<KeyValue> history : span(key, end).values()) {
            KeyValue kv = history.get(history.size() - 1);
            if (kv.getVersion() > 0) {
                gone.add(kv);
            }
        }
        for (KeyValue prev : gone) {
            detach(prev);
            KeyValue tomb = KeyValue.newBuilder().setKey(prev.getKey()).setModRevision(b.rev).build();
            keys.get(prev.getKey()).add(tomb);
            b.events.add(Event.newBuilder().setType(Event.EventType.DELETE).setKv(tomb).setPrevKv(prev).build());
            if (wantPrev) {
                out.addPrevKvs(prev);
            }
        }
        return out.setDeleted(gone.size());
    }

    private TxnResponse.Builder txnLocked(TxnRequest t, Batch b) {
        boolean ok = true;
        for (Compare c : t.getCompareList()) {
            if (!holds(c)) {
                ok = false;
                break;
            }
        }
        List<RequestOp> ops = ok ? t.getSuccessList() : t.getFailureList();
        checkOpsState(ops);
        TxnResponse.Builder out = TxnResponse.newBuilder().setSucceeded(ok);
        for (RequestOp op : ops) {
            ResponseOp.Builder r = ResponseOp.newBuilder();
            switch (op.getRequestCase()) {
                case REQUEST_RANGE -> r.setResponseRange(rangeLocked(op.getRequestRange(), b.rev, b.visibleRev()));
                case REQUEST_PUT -> r.setResponsePut(putLocked(op.getRequestPut(), b).setHeader(header(b.rev)));
                case REQUEST_DELETE_RANGE -> {
                    DeleteRangeRequest d = op.getRequestDeleteRange();
                    DeleteRangeResponse.Builder dr = deleteLocked(d.getKey(), d.getRangeEnd(), d.getPrevKv(), b);
                    r.setResponseDeleteRange(dr.setHeader(header(b.visibleRev())));
                }
                case REQUEST_TXN -> r.setResponseTxn(txnLocked(op.getRequestTxn(), b).setHeader(header(b.visibleRev())));
                default -> {
                    // nothing asked, nothing answered
                }
            }
            out.addResponses(r);
        }
        return out;
    }

    /** The taken branch's ops, checked against the store before any applies, so a txn applies all or nothing. */
    private void checkOpsState(List<RequestOp> ops) {
        for (RequestOp op : ops) {
            switch (op.getRequestCase()) {
                case REQUEST_RANGE -> checkRangeState(op.getRequestRange());
                case REQUEST_PUT -> checkPutState(op.getRequestPut());
                default -> {
                    // deletes need nothing; a nested txn checks its own branch when it runs
                }
            }
        }
    }

    /**
     * etcd's {@code applyCompare}: every key in the compared range must satisfy it; a missing key compares as
     * version, create and mod revision 0, and never equals a value.
     */
    private boolean holds(Compare c) {
        List<KeyValue> kvs = new ArrayList<>();
        for (List<KeyValue> history : span(c.getKey(), c.getRangeEnd()).values()) {
            KeyValue kv = at(history, revision + 1);
            if (kv != null) {
                kvs.add(kv);
            }
        }
        if (kvs.isEmpty()) {
            if (c.getTarget() == Compare.CompareTarget.VALUE) {
                return false;
            }
            kvs.add(KeyValue.getDefaultInstance());
        }
        for (KeyValue kv : kvs) {
            int r = switch (c.getTarget()) {
                case VERSION -> Long.compare(kv.getVersion(), c.getVersion());
                case CREATE -> Long.compare(kv.getCreateRevision(), c.getCreateRevision());
                case MOD -> Long.compare(kv.getModRevision(), c.getModRevision());
                case VALUE -> Integer.signum(BYTES.compare(kv.getValue(), c.getValue()));
                default -> Integer.MIN_VALUE;
            };
            if (r == Integer.MIN_VALUE) {
                return false;
            }
            boolean ok = switch (c.getResult()) {
                case EQUAL -> r == 0;
                case GREATER -> r > 0;
                case LESS -> r < 0;
                case NOT_EQUAL -> r != 0;
                default -> false;
            };
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    private void commit(Batch b) {
        if (b.events.isEmpty()) {
            return;
        }
        revision = b.rev;
        for (Event e : b.events) {
            log.add(new Logged(b.rev, e));
        }
        for (Watcher w : List.copyOf(watchers)) {
            deliver(w, b.rev, b.events);
        }
        if (log.size() > HISTORY_LIMIT) {
            compactLocked(log.get(log.size() - HISTORY_LIMIT / 2).rev());
        }
    }

    private void deliver(Watcher w, long rev, List<Event> events) {
        WatchResponse.Builder out = null;
        for (Event e : events) {
            if (w.wants(e, rev)) {
                if (out == null) {
                    out = WatchResponse.newBuilder().setHeader(header(rev)).setWatchId(w.id);
                }
                out.addEvents(w.prevKv ? e : e.toBuilder().clearPrevKv().build());
            }
        }
        if (out != null) {
            send(w, out.build());
        }
    }

    private void send(Watcher w, WatchResponse r) {
        try {
            w.send.accept(r);
        } catch (RuntimeException e) {
            // the stream is gone (cancelled call): stop watching for it
            watchers.remove(w);
        }
    }

    /**
     * etcd's compaction: history before {@code rev} is dropped; each key keeps its newest revision at or before
     * {@code rev} unless that is a deletion.
     */
    private void compactLocked(long rev) {
        compactRevision = rev;
        int drop = 0;
        while (drop < log.size() && log.get(drop).rev() < rev) {
            drop++;
        }
        log.subList(0, drop).clear();
        for (var it = keys.entrySet().iterator(); it.hasNext(); ) {
            List<KeyValue> history = it.next().getValue();
            int keep = history.size() - 1;
            while (keep > 0 && history.get(keep).getModRevision() > rev) {
                keep--;
            }
            if (history.get(keep).getModRevision() <= rev) {
                if (history.get(keep).getVersion() == 0) {
                    keep++;
                }
                history.subList(0, keep).clear();
            }
            if (history.isEmpty()) {
                it.remove();
            }
        }
    }

    // ---- leases

    public LeaseGrantResponse grant(long ttl, long id) {
        synchronized (this) {
            expireDue();
            if (ttl > MAX_LEASE_TTL) {
                throw EtcdErrors.leaseTtlTooLarge();
            }
            if (id != 0 && leases.containsKey(id)) {
                throw EtcdErrors.leaseExists();
            }
            while (id == 0 || leases.containsKey(id)) {
                // etcd hands out positive 63-bit ids
                id = ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE);
            }
            long granted = Math.max(ttl, MIN_LEASE_TTL);
            leases.put(id, new Lease(id, granted, clockMillis.getAsLong() + granted * 1000));
            return LeaseGrantResponse.newBuilder().setHeader(header(revision)).setID(id).setTTL(granted).build();
        }
    }

    public LeaseRevokeResponse revoke(long id) {
        synchronized (this) {
            expireDue();
            Lease l = leases.get(id);
            if (l == null) {
                throw EtcdErrors.leaseNotFound();
            }
            revokeLocked(l);
            return LeaseRevokeResponse.newBuilder().setHeader(header(revision)).build();
        }
    }

    /** Renews lease {@code id}: its TTL in seconds, or 0 when it does not exist or has expired (etcd's keep-alive). */
    public long keepAlive(long id) {
        synchronized (this) {
            expireDue();
            Lease l = leases.get(id);
            if (l == null) {
                return 0;
            }
            l.deadlineMillis = clockMillis.getAsLong() + l.ttl * 1000;
            return l.ttl;
        }
    }

    /** etcd's TimeToLive: remaining whole seconds, the granted TTL, the keys if asked; TTL -1 for no such lease. */
    public LeaseTimeToLiveResponse timeToLive(long id, boolean withKeys) {
        synchronized (this) {
            expireDue();
            LeaseTimeToLiveResponse.Builder out = LeaseTimeToLiveResponse.newBuilder().setHeader(header(revision)).setID(id);
            Lease l = leases.get(id);
            if (l == null) {
                return out.setTTL(-1).build();
            }
            out.setTTL(Math.max(0, (l.deadlineMillis - clockMillis.getAsLong()) / 1000)).setGrantedTTL(l.ttl);
            if (withKeys) {
                out.addAllKeys(l.keys);
            }
            return out.build();
        }
    }

    /** Revokes every lease whose deadline the clock has passed, deleting its keys. */
    public synchronized void expireLeases() {
        expireDue();
    }

    private void expireDue() {
        if (leases.isEmpty()) {
            return;
        }
        long now = clockMillis.getAsLong();
        List<Lease> due = new ArrayList<>();
        for (Lease l : leases.values()) {
            if (l.deadlineMillis <= now) {
                due.add(l);
            }
        }
        due.sort(Comparator.comparingLong(l -> l.deadlineMillis));
        for (Lease l : due) {
            revokeLocked(l);
        }
    }

    /** etcd lessor's revoke: the lease's keys go in one revision, then the lease. */
    private void revokeLocked(Lease l) {
        Batch b = new Batch();
        for (ByteString k : List.copyOf(l.keys)) {
            deleteLocked(k, ByteString.EMPTY, false, b);
        }
        leases.remove(l.id);
        commit(b);
    }

    private void detach(KeyValue kv) {
        Lease l = kv.getLease() == 0 ? null : leases.get(kv.getLease());
        if (l != null) {
            l.keys.remove(kv.getKey());
        }
    }

    // ---- watches

    /**
     * Registers {@code w} and sends its {@code created} response, then the events since its start revision, then
     * every new one. A start revision already compacted away gets {@code created} and then a cancel naming the
     * compacted revision, as etcd does; null is returned then.
     */
    public synchronized Watcher watch(Watcher w) {
        send(w, WatchResponse.newBuilder().setHeader(header(revision)).setWatchId(w.id).setCreated(true).build());
        if (w.minRev > 0 && w.minRev < compactRevision) {
            send(w, WatchResponse.newBuilder().setHeader(header(revision)).setWatchId(w.id)
                    .setCompactRevision(compactRevision).setCanceled(true).build());
            return null;
        }
        if (w.minRev > 0 && w.minRev <= revision) {
            int i = firstLoggedAt(w.minRev);
            while (i < log.size()) {
                long rev = log.get(i).rev();
                List<Event> same = new ArrayList<>();
                while (i < log.size() && log.get(i).rev() == rev) {
                    same.add(log.get(i++).event());
                }
                deliver(w, rev, same);
            }
        }
        watchers.add(w);
        return w;
    }

    /** Stops {@code w}; {@code canceled} is sent when it was watching. */
    public synchronized boolean cancel(Watcher w, boolean tell) {
        boolean was = watchers.remove(w);
        if (was && tell) {
            send(w, WatchResponse.newBuilder().setHeader(header(revision)).setWatchId(w.id).setCanceled(true).build());
        }
        return was;
    }

    /** Stops watchers without telling them (their stream ended). */
    public synchronized void forget(Iterable<Watcher> gone) {
        for (Watcher w : gone) {
            watchers.remove(w);
        }
    }

    public synchronized int watcherCount() {
        return watchers.size();
    }

    private int firstLoggedAt(long rev) {
        int lo = 0;
        int hi = log.size();
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (log.get(mid).rev() < rev) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    // ---- key helpers

    private KeyValue current(ByteString key) {
        List<KeyValue> history = keys.get(key);
        if (history == null) {
            return null;
        }
        KeyValue kv = history.get(history.size() - 1);
        return kv.getVersion() > 0 ? kv : null;
    }

    /** The key's value as of revision {@code rev}, null if it did not exist then. */
    private static KeyValue at(List<KeyValue> history, long rev) {
        for (int i = history.size() - 1; i >= 0; i--) {
            KeyValue kv = history.get(i);
            if (kv.getModRevision() <= rev) {
                return kv.getVersion() > 0 ? kv : null;
            }
        }
        return null;
    }

    /** etcd's key ranges: an empty end is the key alone, {@code \0} every key from the key on, else [key, end). */
    private NavigableMap<ByteString, List<KeyValue>> span(ByteString key, ByteString end) {
        if (end.isEmpty()) {
            List<KeyValue> one = keys.get(key);
            NavigableMap<ByteString, List<KeyValue>> m = new TreeMap<>(BYTES);
            if (one != null) {
                m.put(key, one);
            }
            return m;
        }
        if (end.equals(ZERO)) {
            return keys.tailMap(key, true);
        }
        if (BYTES.compare(key, end) >= 0) {
            return Collections.emptyNavigableMap();
        }
        return keys.subMap(key, true, end, false);
    }

    static boolean covers(ByteString key, ByteString end, ByteString k) {
        if (end.isEmpty()) {
            return key.equals(k);
        }
        if (BYTES.compare(k, key) < 0) {
            return false;
        }
        return end.equals(ZERO) || BYTES.compare(k, end) < 0;
    }
}

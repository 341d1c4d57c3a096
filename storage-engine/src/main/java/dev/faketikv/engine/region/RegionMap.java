package dev.faketikv.engine.region;

import dev.faketikv.engine.Cf;
import dev.faketikv.engine.Engine;
import dev.faketikv.engine.EngineException;
import dev.faketikv.engine.EngineIterator;
import dev.faketikv.engine.EngineSnapshot;
import dev.faketikv.engine.codec.Keys;
import dev.faketikv.engine.codec.NumberCodec;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.LongSupplier;
import java.util.Arrays;

/**
 * The persisted map of regions: what TiKV's {@code RegionInfoAccessor} answers
 * ({@code components/raftstore/src/coprocessor/region_info_accessor.rs}) combined with the store meta
 * raftstore keeps. Regions tile the whole key space without gaps or overlaps.
 *
 * <p>Storage: CF {@code meta}, key {@code "r" ++ BE64(region id)} → a versioned binary record; key
 * {@code "next-id"} → BE64 of the next id to allocate. Every change is one synced write batch, so the
 * map survives a crash and restart.
 *
 * <p>Thread-safe: readers take a read lock and get copies; changes take the write lock.
 */
public final class RegionMap {
    private static final byte[] NEXT_ID_KEY = "next-id".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    private static final byte REGION_KEY_PREFIX = 'r';
    private static final int RECORD_VERSION = 1;
    private static final Comparator<byte[]> UNSIGNED = Arrays::compareUnsigned;

    private final Engine engine;
    private final ReentrantReadWriteLock rw = new ReentrantReadWriteLock();
    /** start key → region. */
    private final TreeMap<byte[], Region> byStart = new TreeMap<>(UNSIGNED);
    private final Map<Long, Region> byId = new java.util.HashMap<>();
    private long nextId;

    private RegionMap(Engine engine) {
        this.engine = engine;
    }

    /** Loads the map persisted in {@code engine} (empty if none). */
    public static RegionMap load(Engine engine) {
        RegionMap m = new RegionMap(engine);
        byte[] next = engine.get(Cf.META, NEXT_ID_KEY);
        m.nextId = next == null ? 1 : NumberCodec.getU64(next, 0);
        try (EngineSnapshot snap = engine.snapshot();
             EngineIterator it = snap.iterator(Cf.META, new byte[] {REGION_KEY_PREFIX}, new byte[] {REGION_KEY_PREFIX + 1})) {
            for (it.seekToFirst(); it.valid(); it.next()) {
                Region r = decode(it.value());
                m.byStart.put(r.startKey(), r);
                m.byId.put(r.id(), r);
            }
            it.checkStatus();
        }
        return m;
    }

    /**
     * When the map is empty, creates one region covering the whole key space with a single peer on
     * {@code storeId}, which leads it (as a freshly bootstrapped TiKV cluster has). Returns whether it did.
     */
    public boolean bootstrapIfEmpty(long storeId) {
        rw.writeLock().lock();
        try {
            if (!byId.isEmpty()) {
                return false;
            }
            long regionId = nextId++;
            long peerId = nextId++;
            Region r = new Region(regionId, new byte[0], new byte[0], 1, 1, List.of(new Peer(peerId, storeId)), storeId);
            persist(List.of(r));
            return true;
        } finally {
            rw.writeLock().unlock();
        }
    }

    /** Every region in key order. */
    public List<Region> all() {
        rw.readLock().lock();
        try {
            return new ArrayList<>(byStart.values());
        } finally {
            rw.readLock().unlock();
        }
    }

    public int size() {
        rw.readLock().lock();
        try {
            return byId.size();
        } finally {
            rw.readLock().unlock();
        }
    }

    /** The region with this id, or null. */
    public Region get(long id) {
        rw.readLock().lock();
        try {
            return byId.get(id);
        } finally {
            rw.readLock().unlock();
        }
    }

    /** The region containing {@code key} (encoded, no {@code z}). */
    public Region locate(byte[] key) {
        rw.readLock().lock();
        try {
            Map.Entry<byte[], Region> e = byStart.floorEntry(key);
            return e == null ? null : e.getValue();
        } finally {
            rw.readLock().unlock();
        }
    }

    /** The region ending where {@code r} starts, or null for the first region. */
    public Region leftOf(Region r) {
        rw.readLock().lock();
        try {
            Map.Entry<byte[], Region> e = r.startKey().length == 0 ? null : byStart.lowerEntry(r.startKey());
            return e == null ? null : e.getValue();
        } finally {
            rw.readLock().unlock();
        }
    }

    /**
     * Up to {@code limit} regions in key order, starting with the one that contains {@code from}
     * (null or empty = the first region), like {@code RegionInfoAccessor::seek_region}.
     */
    public List<Region> scanFrom(byte[] from, int limit) {
        rw.readLock().lock();
        try {
            List<Region> out = new ArrayList<>(Math.min(limit, 64));
            byte[] first = from == null || from.length == 0 ? null : byStart.floorKey(from);
            Map<byte[], Region> tail = first == null ? byStart : byStart.tailMap(first, true);
            for (Region r : tail.values()) {
                if (out.size() >= limit) {
                    break;
                }
                out.add(r);
            }
            return out;
        } finally {
            rw.readLock().unlock();
        }
    }

    /**
     * Splits the region containing {@code splitKey} at it, as raftstore does with
     * {@code right_derive_when_split = true}: the existing region id keeps the right part
     * {@code [splitKey, end)}, a new region (new id, new peer ids on the same stores, same leader store)
     * takes {@code [start, splitKey)}, and both get epoch version + 1.
     *
     * @return {left, right}
     * @throws IllegalArgumentException if {@code splitKey} is empty or is already a region boundary
     */
    public Region[] split(byte[] splitKey) {
        rw.writeLock().lock();
        try {
            Region[] out = splitLocked(splitKey);
            persist(List.of(out));
            return out;
        } finally {
            rw.writeLock().unlock();
        }
    }

    /** Splits at every key of {@code splitKeys} (any order) in one synced write. */
    public void splitAll(List<byte[]> splitKeys) {
        rw.writeLock().lock();
        try {
            List<byte[]> sorted = new ArrayList<>(splitKeys);
            sorted.sort(UNSIGNED);
            Map<Long, Region> changed = new java.util.LinkedHashMap<>();
            for (byte[] k : sorted) {
                Region[] lr = splitLocked(k);
                changed.put(lr[0].id(), lr[0]);
                changed.put(lr[1].id(), lr[1]);
            }
            persist(changed.values());
        } finally {
            rw.writeLock().unlock();
        }
    }

    private Region[] splitLocked(byte[] splitKey) {
        if (splitKey.length == 0) {
            throw new IllegalArgumentException("split key is empty");
        }
        Region r = byStart.floorEntry(splitKey).getValue();
        if (Keys.compare(r.startKey(), splitKey) == 0) {
            throw new IllegalArgumentException("split key " + Keys.hex(splitKey) + " is already the start of region " + r.id());
        }
        long newVersion = r.version() + 1;
        List<Peer> newPeers = new ArrayList<>();
        long newRegionId = nextId++;
        for (Peer p : r.peers()) {
            newPeers.add(new Peer(nextId++, p.storeId()));
        }
        Region left = new Region(newRegionId, r.startKey(), splitKey, r.confVer(), newVersion, newPeers, r.leaderStoreId());
        Region right = r.withRange(splitKey, r.endKey(), newVersion);
        byStart.put(left.startKey(), left);
        byStart.put(right.startKey(), right);
        byId.put(left.id(), left);
        byId.put(right.id(), right);
        return new Region[] {left, right};
    }

    /**
     * Adds a peer of {@code regionId} on {@code storeId} (a conf change: conf_ver + 1). Returns the region
     * unchanged when the store already holds a peer.
     */
    public Region addPeer(long regionId, long storeId) {
        return update(regionId, r -> {
            if (r.peerOn(storeId) != null) {
                return r;
            }
            List<Peer> peers = new ArrayList<>(r.peers());
            peers.add(new Peer(nextId++, storeId));
            return new Region(r.id(), r.startKey(), r.endKey(), r.confVer() + 1, r.version(), peers, r.leaderStoreId());
        });
    }

    /**
     * Removes the peer of {@code regionId} on {@code storeId} (a conf change: conf_ver + 1). The leader must
     * be on another store; the region is returned unchanged when the store holds no peer.
     */
    public Region removePeer(long regionId, long storeId) {
        return update(regionId, r -> {
            if (r.peerOn(storeId) == null) {
                return r;
            }
            if (r.leaderStoreId() == storeId) {
                throw new IllegalArgumentException("region " + regionId + ": move the leader off store " + storeId + " first");
            }
            List<Peer> peers = new ArrayList<>(r.peers());
            peers.removeIf(p -> p.storeId() == storeId);
            return new Region(r.id(), r.startKey(), r.endKey(), r.confVer() + 1, r.version(), peers, r.leaderStoreId());
        });
    }

    /** Moves the leader of {@code regionId} to {@code storeId} (which must hold a peer). */
    public Region transferLeader(long regionId, long storeId) {
        return update(regionId, r -> {
            if (r.peerOn(storeId) == null) {
                throw new IllegalArgumentException("region " + regionId + " has no peer on store " + storeId);
            }
            return r.withLeader(storeId);
        });
    }

    /** Sets the epoch of {@code regionId} (a conf change or a merge elsewhere would do this in TiKV). */
    public Region setEpoch(long regionId, long confVer, long version) {
        return update(regionId, r -> r.withEpoch(confVer, version));
    }

    /** A change of one region in a bulk {@link #updateAll}: gets the region's index in key order and an id allocator. */
    @FunctionalInterface
    public interface BulkChange {
        /** The new region (same id and range), or {@code r} itself when it stays as it is. */
        Region apply(int index, Region r, LongSupplier newId);
    }

    /**
     * Applies {@code f} to every region in key order under one write lock and persists the regions it
     * changed in one synced write (peer placement of a cluster with a million regions: one batch, not a
     * synced write per peer). {@code f} must keep each region's id and range. Returns how many changed.
     */
    public int updateAll(BulkChange f) {
        rw.writeLock().lock();
        try {
            List<Region> changed = new ArrayList<>();
            int i = 0;
            for (Region r : new ArrayList<>(byStart.values())) {
                Region n = f.apply(i++, r, () -> nextId++);
                if (n != r) {
                    if (n.id() != r.id() || !Arrays.equals(n.startKey(), r.startKey())
                            || !Arrays.equals(n.endKey(), r.endKey())) {
                        throw new IllegalArgumentException("a bulk change must keep the id and range of region " + r.id());
                    }
                    changed.add(n);
                }
            }
            if (!changed.isEmpty()) {
                persist(changed);
            }
            return changed.size();
        } finally {
            rw.writeLock().unlock();
        }
    }

    private Region update(long regionId, java.util.function.UnaryOperator<Region> f) {
        rw.writeLock().lock();
        try {
            Region r = byId.get(regionId);
            if (r == null) {
                throw new IllegalArgumentException("region " + regionId + " not found");
            }
            Region n = f.apply(r);
            byStart.put(n.startKey(), n);
            byId.put(n.id(), n);
            persist(List.of(n));
            return n;
        } finally {
            rw.writeLock().unlock();
        }
    }

    private void persist(Iterable<Region> regions) {
        try (Engine.Batch b = engine.batch()) {
            for (Region r : regions) {
                byStart.put(r.startKey(), r);
                byId.put(r.id(), r);
                b.put(Cf.META, regionKey(r.id()), encode(r));
            }
            byte[] next = new byte[8];
            NumberCodec.putU64(next, 0, nextId);
            b.put(Cf.META, NEXT_ID_KEY, next);
            b.commit(true);
        }
    }

    private static byte[] regionKey(long id) {
        byte[] k = new byte[9];
        k[0] = REGION_KEY_PREFIX;
        NumberCodec.putU64(k, 1, id);
        return k;
    }

    static byte[] encode(Region r) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeByte(RECORD_VERSION);
            out.writeLong(r.id());
            out.writeInt(r.startKey().length);
            out.write(r.startKey());
            out.writeInt(r.endKey().length);
            out.write(r.endKey());
            out.writeLong(r.confVer());
            out.writeLong(r.version());
            out.writeInt(r.peers().size());
            for (Peer p : r.peers()) {
                out.writeLong(p.id());
                out.writeLong(p.storeId());
            }
            out.writeLong(r.leaderStoreId());
        } catch (IOException e) {
            throw new EngineException("cannot encode region", e);
        }
        return bytes.toByteArray();
    }

    static Region decode(byte[] b) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(b))) {
            int v = in.readUnsignedByte();
            if (v != RECORD_VERSION) {
                throw new EngineException("unknown region record version " + v);
            }
            long id = in.readLong();
            byte[] start = in.readNBytes(in.readInt());
            byte[] end = in.readNBytes(in.readInt());
            long confVer = in.readLong();
            long version = in.readLong();
            int n = in.readInt();
            List<Peer> peers = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                peers.add(new Peer(in.readLong(), in.readLong()));
            }
            long leader = in.readLong();
            return new Region(id, start, end, confVer, version, peers, leader);
        } catch (IOException e) {
            throw new EngineException("corrupt region record", e);
        }
    }
}

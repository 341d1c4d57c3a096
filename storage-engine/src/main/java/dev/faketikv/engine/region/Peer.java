package dev.faketikv.engine.region;

/** A replica of a region on a store ({@code metapb.Peer}: id, store_id; role is always voter here). */
public record Peer(long id, long storeId) {}

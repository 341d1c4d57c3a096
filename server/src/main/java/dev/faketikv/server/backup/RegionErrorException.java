package dev.faketikv.server.backup;

import org.tikv.kvproto.Errorpb;

/**
 * A region error raised where raftstore's read path would raise it (the snapshot of a range), carrying
 * the {@code errorpb.Error} TiKV would send and the {@code tikv_backup_error_counter} label.
 */
public final class RegionErrorException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final transient Errorpb.Error error;
    private final String label;

    public RegionErrorException(Errorpb.Error error, String label) {
        super(error.getMessage(), null, false, false);
        this.error = error;
        this.label = label;
    }

    public Errorpb.Error error() {
        return error;
    }

    /** The error-counter label, or null for kinds TiKV does not count. */
    public String label() {
        return label;
    }
}

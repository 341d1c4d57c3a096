package dev.faketikv.engine.mvcc;

/** Kinds of write-CF record ({@code txn_types::WriteType}), with their one-byte flags. */
public enum WriteType {
    PUT('P'),
    DELETE('D'),
    LOCK('L'),
    ROLLBACK('R');

    private final byte flag;

    WriteType(char flag) {
        this.flag = (byte) flag;
    }

    public byte flag() {
        return flag;
    }

    public static WriteType ofFlag(int flag) {
        for (WriteType t : values()) {
            if (t.flag == (byte) flag) {
                return t;
            }
        }
        throw new dev.faketikv.engine.codec.CodecException("invalid write type flag 0x" + Integer.toHexString(flag & 0xFF));
    }
}

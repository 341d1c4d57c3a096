package dev.faketikv.engine.mvcc;

/** Kinds of lock-CF record ({@code txn_types::LockType}), with their one-byte flags. */
public enum LockType {
    PUT('P'),
    DELETE('D'),
    LOCK('L'),
    PESSIMISTIC('S');

    private final byte flag;

    LockType(char flag) {
        this.flag = (byte) flag;
    }

    public byte flag() {
        return flag;
    }

    public static LockType ofFlag(int flag) {
        for (LockType t : values()) {
            if (t.flag == (byte) flag) {
                return t;
            }
        }
        throw new dev.faketikv.engine.codec.CodecException("invalid lock type flag 0x" + Integer.toHexString(flag & 0xFF));
    }
}

package dev.faketikv.client.inspect;

import dev.faketikv.engine.EngineException;
import dev.faketikv.engine.codec.BytesCodec;
import dev.faketikv.engine.codec.CodecException;
import dev.faketikv.engine.codec.Keys;
import dev.faketikv.engine.mvcc.Write;
import dev.faketikv.engine.sst.SstFileScanner;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One backup SST, decoded: read with {@link SstFileScanner} (which verifies block checksums), each
 * entry's {@code z} data prefix stripped, a key that is {@code memcomparable(user key) ++ BE64(~ts)}
 * taken as a txn key with its timestamp, anything else as a raw (API V1) key; in a {@code *_write.sst}
 * the values are decoded as TiKV write records ({@link Write}).
 *
 * @param cf              taken from the file name ({@code *_write.sst}, ...), or null
 * @param propertyEntries the entry count the table properties claim
 */
public record SstContents(Path file, String cf, String compression, long propertyEntries, List<Entry> entries) {
    /**
     * One SST entry. For a txn entry {@code userKey} and {@code ts} are set; for a raw one {@code userKey}
     * is the key without {@code z}. {@code write} is set for a decodable write-CF record, else
     * {@code writeError} may say why it is not.
     */
    record Entry(byte[] storedKey, boolean txn, byte[] userKey, long ts, byte[] value, Write write, String writeError) {
    }

    /**
     * Reads and decodes {@code file}.
     *
     * @throws IllegalArgumentException when RocksDB cannot read it
     */
    public static SstContents read(Path file) {
        String name = file.getFileName() == null ? "" : file.getFileName().toString();
        String cf = cfOfName(name);
        List<Entry> entries = new ArrayList<>();
        String compression;
        long propertyEntries;
        try (SstFileScanner s = SstFileScanner.open(file)) {
            compression = s.compressionName();
            propertyEntries = s.entries();
            for (; s.valid(); s.next()) {
                entries.add(decodeEntry(s.key(), s.value(), "write".equals(cf)));
            }
        } catch (EngineException e) {
            throw new IllegalArgumentException("not a readable SST: " + file + ": " + e.getMessage(), e);
        }
        return new SstContents(file, cf, compression, propertyEntries, entries);
    }

    /** Entries with a txn key. */
    long txnCount() {
        return entries.stream().filter(Entry::txn).count();
    }

    /** What the entries' timestamp is in this CF: {@code commit_ts} (write), {@code start_ts} (default, lock). */
    String tsLabel() {
        if ("write".equals(cf)) {
            return "commit_ts";
        }
        if ("default".equals(cf) || "lock".equals(cf)) {
            return "start_ts";
        }
        return "ts";
    }

    private static String cfOfName(String name) {
        for (String cf : new String[] {"write", "default", "lock"}) {
            if (name.endsWith("_" + cf + ".sst")) {
                return cf;
            }
        }
        return null;
    }

    static Entry decodeEntry(byte[] key, byte[] value, boolean writeCf) {
        boolean hasPrefix = key.length > 0 && key[0] == Keys.DATA_PREFIX;
        byte[] body = hasPrefix ? Arrays.copyOfRange(key, 1, key.length) : key;
        if (hasPrefix && body.length >= BytesCodec.encodedLength(0) + Keys.TS_LEN) {
            try {
                int end = body.length - Keys.TS_LEN;
                BytesCodec.Decoded d = BytesCodec.decodePrefix(body, 0, end);
                if (d.end() == end) {
                    long ts = Keys.decodeTs(body);
                    Write write = null;
                    String writeError = null;
                    if (writeCf) {
                        try {
                            write = Write.parse(value);
                        } catch (CodecException e) {
                            writeError = e.getMessage();
                        }
                    }
                    return new Entry(key, true, d.raw(), ts, value, write, writeError);
                }
            } catch (CodecException notTxn) {
                // fall through: a raw key
            }
        }
        return new Entry(key, false, body, 0, value, null, null);
    }
}

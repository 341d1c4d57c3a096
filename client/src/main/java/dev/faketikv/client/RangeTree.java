package dev.faketikv.client;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The key ranges a backup has covered, like BR's {@code rtree.RangeTree}
 * ({@code br/pkg/rtree/rtree.go}): ranges {@code [start, end)} over raw keys, an empty end meaning
 * "to the end of the key space". Answers which parts of a requested range are still missing and
 * whether any two ranges overlap. Not thread-safe.
 */
public final class RangeTree {
    private final TreeMap<byte[], byte[]> byStart = new TreeMap<>(Arrays::compareUnsigned);
    private final List<String> overlaps = new ArrayList<>();

    /** Records {@code [start, end)}; an overlap with a recorded range is remembered, not merged. */
    public void add(byte[] start, byte[] end) {
        Map.Entry<byte[], byte[]> before = byStart.floorEntry(start);
        if (before != null && after(before.getValue(), start)) {
            overlaps.add(describe(before.getKey(), before.getValue()) + " overlaps " + describe(start, end));
        }
        Map.Entry<byte[], byte[]> next = byStart.higherEntry(start);
        if (next != null && after(end, next.getKey())) {
            overlaps.add(describe(start, end) + " overlaps " + describe(next.getKey(), next.getValue()));
        }
        byStart.put(start, end);
    }

    /** Whether end-exclusive bound {@code end} (empty = +inf) lies after {@code key}. */
    private static boolean after(byte[] end, byte[] key) {
        return end.length == 0 || Arrays.compareUnsigned(end, key) > 0;
    }

    /** Overlaps found so far, described. */
    public List<String> overlaps() {
        return List.copyOf(overlaps);
    }

    /** The parts of {@code [start, end)} no recorded range covers. */
    public List<byte[][]> gaps(byte[] start, byte[] end) {
        List<byte[][]> out = new ArrayList<>();
        byte[] cursor = start;
        for (Map.Entry<byte[], byte[]> e : byStart.entrySet()) {
            if (!after(e.getValue(), cursor)) {
                continue;
            }
            if (end.length != 0 && Arrays.compareUnsigned(e.getKey(), end) >= 0) {
                break;
            }
            if (Arrays.compareUnsigned(e.getKey(), cursor) > 0) {
                out.add(new byte[][] {cursor, e.getKey()});
            }
            cursor = e.getValue();
            if (cursor.length == 0) {
                return out;
            }
            if (end.length != 0 && Arrays.compareUnsigned(cursor, end) >= 0) {
                return out;
            }
        }
        out.add(new byte[][] {cursor, end});
        return out;
    }

    public int size() {
        return byStart.size();
    }

    static String describe(byte[] start, byte[] end) {
        return "[" + java.util.HexFormat.of().formatHex(start) + ", " + (end.length == 0 ? "+inf" : java.util.HexFormat.of().formatHex(end)) + ")";
    }
}

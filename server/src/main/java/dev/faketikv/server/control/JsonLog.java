package dev.faketikv.server.control;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;

/**
 * A bounded, ordered log of JSON entries, each stamped with its time: the storage behind the store's
 * {@link Journal} and the PD facade's journal. The oldest entry goes when {@code capacity} is reached.
 * Thread-safe.
 */
public final class JsonLog {
    public static final ObjectMapper OM = new ObjectMapper();

    private final int capacity;
    private final Deque<ObjectNode> entries = new ArrayDeque<>();

    public JsonLog(int capacity) {
        this.capacity = capacity;
    }

    /** A new entry with {@code time} set, to fill and {@link #add}. */
    public static ObjectNode entry() {
        ObjectNode e = OM.createObjectNode();
        e.put("time", Instant.now().toString());
        return e;
    }

    public synchronized void add(ObjectNode e) {
        if (entries.size() >= capacity) {
            entries.removeFirst();
        }
        entries.addLast(e);
    }

    public synchronized List<ObjectNode> entries() {
        return List.copyOf(entries);
    }

    public synchronized void clear() {
        entries.clear();
    }

    public synchronized int size() {
        return entries.size();
    }

    /** Every entry, oldest first, as a pretty-printed JSON array. */
    public synchronized String toJson() {
        ArrayNode a = OM.createArrayNode();
        entries.forEach(a::add);
        try {
            return OM.writerWithDefaultPrettyPrinter().writeValueAsString(a) + "\n";
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}

package dev.faketikv.pd;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import dev.faketikv.server.control.JsonLog;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What BR asked the PD facade: every gRPC call (method, each request message as protobuf JSON, how it
 * ended), numbered in arrival order, newest {@value #CAPACITY} entries kept; {@code service_id} is shown as
 * text. PD requests carry no secrets.
 * Served at {@code GET /fake/journal} on the PD port. Thread-safe.
 */
public final class PdJournal implements ServerInterceptor {
    static final int CAPACITY = 10_000;
    private static final ObjectMapper OM = JsonLog.OM;

    private final JsonLog log = new JsonLog(CAPACITY);
    private final AtomicLong calls = new AtomicLong();

    @Override
    public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
        long n = calls.incrementAndGet();
        String method = call.getMethodDescriptor().getFullMethodName();
        ServerCall<Q, A> watched = new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
            @Override
            public void close(Status status, Metadata trailers) {
                ObjectNode e = entry(n, method, "end");
                e.put("status", status.getCode().name() + (status.getDescription() == null ? "" : ": " + status.getDescription()));
                add(e);
                super.close(status, trailers);
            }
        };
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(next.startCall(watched, headers)) {
            @Override
            public void onMessage(Q message) {
                ObjectNode e = entry(n, method, "request");
                if (message instanceof MessageOrBuilder m) {
                    try {
                        e.set("message", readable(m));
                    } catch (IOException ex) {
                        e.put("message", String.valueOf(message));
                    }
                }
                add(e);
                super.onMessage(message);
            }
        };
    }

    /**
     * {@code m} as protobuf JSON, except that {@code service_id} (bytes, BR's {@code br-<uuid>} in
     * {@code UpdateServiceGCSafePoint}) is shown as the text it is rather than base64.
     */
    static JsonNode readable(MessageOrBuilder m) throws IOException {
        JsonNode json = OM.readTree(JsonFormat.printer().preservingProtoFieldNames().print(m));
        FieldDescriptor f = m.getDescriptorForType().findFieldByName("service_id");
        if (json instanceof ObjectNode o && f != null && f.getType() == FieldDescriptor.Type.BYTES && !f.isRepeated()
                && o.has("service_id")) {
            o.put("service_id", ((ByteString) m.getField(f)).toStringUtf8());
        }
        return json;
    }

    private static ObjectNode entry(long call, String method, String kind) {
        ObjectNode e = JsonLog.entry();
        e.put("call", call);
        e.put("method", method);
        e.put("kind", kind);
        return e;
    }

    private void add(ObjectNode e) {
        log.add(e);
    }

    /** Methods called so far, in order, once per call (e.g. {@code pdpb.PD/Tso}). */
    public java.util.List<String> methods() {
        java.util.List<String> out = new java.util.ArrayList<>();
        java.util.Set<Long> seen = new java.util.HashSet<>();
        for (ObjectNode e : log.entries()) {
            if (seen.add(e.get("call").asLong())) {
                out.add(e.get("method").asText());
            }
        }
        return out;
    }

    public void clear() {
        log.clear();
    }

    public String toJson() {
        return log.toJson();
    }
}

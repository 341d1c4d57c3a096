package dev.faketikv.server.status;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.UncheckedIOException;

/** A status answer: code, content type and body. */
record Response(int code, String type, String body) {
    static final ObjectMapper OM = new ObjectMapper();
    static final String TEXT = "text/plain; charset=utf-8";
    static final String JSON = "application/json";

    static Response text(String body) {
        return new Response(200, TEXT, body);
    }

    /** Pre-rendered JSON. */
    static Response json(String body) {
        return new Response(200, JSON, body);
    }

    /** {@code n} pretty-printed, with a trailing newline. */
    static Response json(JsonNode n) {
        try {
            return new Response(200, JSON, OM.writerWithDefaultPrettyPrinter().writeValueAsString(n) + "\n");
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }
}

package dev.faketikv.server.status;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.HexFormat;
import java.util.regex.Matcher;

/**
 * One parsed status request: method, body (UTF-8, at most {@link StatusServer#MAX_BODY} bytes) and the
 * path parameters the matching route captured. Its helpers turn bad input into a 400 {@link HttpError}.
 */
record Request(String method, String path, String body, Matcher params) {
    private static final ObjectMapper OM = new ObjectMapper();

    /** Path parameter {@code group} of the route's pattern. */
    String param(int group) {
        return params.group(group);
    }

    /** The body as JSON (blank = {@code {}}). */
    JsonNode json() {
        try {
            JsonNode n = OM.readTree(body.isBlank() ? "{}" : body);
            return n == null ? OM.createObjectNode() : n;
        } catch (IOException e) {
            throw new HttpError(400, "invalid JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
    }

    static byte[] hex(String s) {
        try {
            return HexFormat.of().parseHex(s.trim());
        } catch (IllegalArgumentException e) {
            throw new HttpError(400, "not hex: " + s);
        }
    }
}

package dev.faketikv.server.status;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One resource of the status server: a path pattern and a handler per method. Dispatch is here; a
 * handler only validates its input and calls the store. A method the route lacks is a 405, naming the
 * one allowed method when there is only one.
 */
final class Route {
    /** Validates a request for this resource and answers it. */
    @FunctionalInterface
    interface Handler {
        Response handle(Request req);
    }

    private final Pattern path;
    private final Map<String, Handler> methods = new LinkedHashMap<>();

    private Route(Pattern path) {
        this.path = path;
    }

    /** A route for exactly {@code path}. */
    static Route exact(String path) {
        return new Route(Pattern.compile(Pattern.quote(path)));
    }

    /** A route for paths matching {@code regex} (whole path); its groups become path parameters. */
    static Route pattern(String regex) {
        return new Route(Pattern.compile(regex));
    }

    /** Adds {@code handler} for each of {@code methodNames}. */
    Route on(Handler handler, String... methodNames) {
        for (String m : methodNames) {
            methods.put(m, handler);
        }
        return this;
    }

    /** The path parameters when {@code p} is this route's, else null. */
    Matcher match(String p) {
        Matcher m = path.matcher(p);
        return m.matches() ? m : null;
    }

    Response dispatch(String method, String p, String body, Matcher params) {
        Handler h = methods.get(method);
        if (h == null) {
            throw new HttpError(405, methods.size() == 1
                    ? "method not allowed (use " + methods.keySet().iterator().next() + ")"
                    : "method not allowed");
        }
        return h.handle(new Request(method, p, body, params));
    }
}

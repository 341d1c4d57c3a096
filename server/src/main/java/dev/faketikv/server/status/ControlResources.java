package dev.faketikv.server.status;

import static dev.faketikv.server.status.Response.OM;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.faketikv.server.control.FailPoints;
import dev.faketikv.server.control.FaultRules;
import dev.faketikv.server.control.Faults;
import dev.faketikv.server.control.Journal;
import dev.faketikv.server.control.Trace;
import java.util.List;
import java.util.TreeMap;

/**
 * fake-tikv's control plane: {@code /fail} (TiKV's fail-rs endpoints, {@code /fail/{name}}),
 * {@code /faults} (fault rules), {@code /trace} and {@code /journal}. Loading rules and clearing the journal
 * both number the next request 1, so {@code match = { request = 1 }} means the next request.
 */
final class ControlResources {
    private final Faults faults;
    private final Trace trace;
    private final Journal journal;
    private final Runnable resetRequestNumbers;

    ControlResources(Faults faults, Trace trace, Journal journal, Runnable resetRequestNumbers) {
        this.faults = faults;
        this.trace = trace;
        this.journal = journal;
        this.resetRequestNumbers = resetRequestNumbers;
    }

    List<Route> routes() {
        FailPoints fp = faults.failPoints();
        FaultRules rules = faults.rules();
        return List.of(
                Route.exact("/fail").on(req -> {
                    ObjectNode o = OM.createObjectNode();
                    o.set("set", OM.valueToTree(fp.list()));
                    o.set("names", OM.valueToTree(new TreeMap<>(FailPoints.NAMES)));
                    return Response.json(o);
                }, "GET"),
                Route.pattern("^/fail/([A-Za-z0-9_.\\-]+)$")
                        .on(req -> Response.text(fp.get(req.param(1))
                                .orElseThrow(() -> notSet(req.param(1))) + "\n"), "GET")
                        .on(this::setFailPoint, "PUT", "POST")
                        .on(req -> {
                            if (!fp.remove(req.param(1))) {
                                throw notSet(req.param(1));
                            }
                            return Response.text("removed\n");
                        }, "DELETE"),
                Route.exact("/trace")
                        .on(req -> Response.text(String.join("\n", trace.lines()) + "\n"), "GET")
                        .on(req -> {
                            trace.enable(Boolean.parseBoolean(req.body().trim()));
                            return Response.text("trace " + (trace.enabled() ? "on" : "off") + "\n");
                        }, "PUT", "POST")
                        .on(req -> {
                            trace.clear();
                            return Response.text("cleared\n");
                        }, "DELETE"),
                Route.exact("/journal")
                        .on(req -> Response.json(journal.toJson()), "GET")
                        .on(req -> {
                            journal.clear();
                            resetRequestNumbers.run();
                            return Response.json("{}\n");
                        }, "DELETE"),
                Route.exact("/faults")
                        .on(req -> Response.json(rules.toJson()), "GET")
                        .on(req -> {
                            rules.replace(req.body());
                            resetRequestNumbers.run();
                            return Response.json(rules.toJson());
                        }, "PUT", "POST")
                        .on(req -> {
                            rules.clear();
                            return Response.json("[]\n");
                        }, "DELETE"),
                Route.pattern("^/faults/([^/]+)/release$")
                        .on(req -> ruleChanged(rules.release(req.param(1)), req.param(1)), "POST"),
                Route.pattern("^/faults/([^/]+)$")
                        .on(req -> ruleChanged(rules.remove(req.param(1)), req.param(1)), "DELETE"));
    }

    private Response setFailPoint(Request req) {
        if (req.body().isBlank()) {
            throw new HttpError(400, "the body must hold the actions, e.g. return(boom)");
        }
        if (!FailPoints.NAMES.containsKey(req.param(1))) {
            throw new HttpError(404, "no failpoint named " + req.param(1) + ": fake-tikv evaluates "
                    + String.join(", ", new TreeMap<>(FailPoints.NAMES).keySet()));
        }
        faults.failPoints().set(req.param(1), req.body().trim());
        return Response.text(req.body().trim() + "\n");
    }

    private Response ruleChanged(boolean found, String name) {
        if (!found) {
            throw new HttpError(404, "no fault rule named " + name);
        }
        return Response.json(faults.rules().toJson());
    }

    private static HttpError notSet(String name) {
        return new HttpError(404, "failpoint " + name + " is not set");
    }
}

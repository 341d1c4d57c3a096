package dev.faketikv.server.control;

/**
 * The fault controls of one store: failpoints ({@code /fail/{name}}) and fault rules
 * ({@code --faults FILE}, {@code /faults}). Thread-safe.
 */
public record Faults(FailPoints failPoints, FaultRules rules) {
    public static Faults none() {
        return new Faults(new FailPoints(), new FaultRules());
    }
}

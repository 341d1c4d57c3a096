package dev.faketikv.client.br;

/** BR's backoff sleeps, scaled (tests run them at a hundredth). Stateless. */
final class Backoff {
    private Backoff() {}

    /** Sleeps {@code ms × scale}; an interrupt ends the BR command. */
    static void sleep(long ms, double scale) {
        long scaled = (long) (ms * scale);
        if (scaled <= 0) {
            return;
        }
        try {
            Thread.sleep(scaled);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BrException("interrupted");
        }
    }
}

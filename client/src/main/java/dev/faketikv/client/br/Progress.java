package dev.faketikv.client.br;

import java.io.PrintStream;
import java.util.concurrent.atomic.AtomicLong;

/**
 * BR's progress bar: {@code total} units (regions for backup, files for restore), one tick per unit done;
 * drawn on one line with {@code \r}, at most every 200 ms. A null stream draws nothing (not a terminal).
 * Thread-safe.
 */
final class Progress {
    private final PrintStream out;
    private final String name;
    private final long total;
    private final AtomicLong done = new AtomicLong();
    private volatile long lastDraw;

    Progress(PrintStream out, String name, long total) {
        this.out = out;
        this.name = name;
        this.total = Math.max(1, total);
    }

    void tick() {
        long d = done.incrementAndGet();
        long now = System.nanoTime();
        if (out != null && (now - lastDraw > 200_000_000L || d == total)) {
            lastDraw = now;
            draw(Math.min(d, total));
        }
    }

    private synchronized void draw(long d) {
        int width = 40;
        int filled = (int) (width * d / total);
        out.print("\r" + name + " <" + "=".repeat(filled) + (filled < width ? ">" + "-".repeat(width - filled - 1) : "") + "> "
                + String.format(java.util.Locale.ROOT, "%.2f%%", 100.0 * d / total));
        out.flush();
    }

    void finish() {
        if (out != null) {
            draw(total);
            out.println();
        }
    }
}

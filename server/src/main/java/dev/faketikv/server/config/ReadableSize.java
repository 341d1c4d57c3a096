package dev.faketikv.server.config;

import java.util.Locale;

/**
 * TiKV's {@code ReadableSize} ({@code components/tikv_util/src/config.rs}): a byte count written as a
 * number with an optional binary unit, e.g. {@code "144MB"} = 144 × 1024² bytes. Units: B, KB/KiB/K,
 * MB/MiB/M, GB/GiB/G, TB/TiB/T, PB/PiB/P (all powers of 1024, as in TiKV); a bare integer is bytes.
 * Fractions are allowed ({@code "1.5GB"}).
 */
public final class ReadableSize {
    private ReadableSize() {}

    public static long parse(String text) {
        String s = text.trim().toUpperCase(Locale.ROOT).replace("_", "");
        int i = 0;
        while (i < s.length() && (Character.isDigit(s.charAt(i)) || s.charAt(i) == '.')) {
            i++;
        }
        if (i == 0) {
            throw new IllegalArgumentException("'" + text + "' is not a size (e.g. 144MB)");
        }
        double number = Double.parseDouble(s.substring(0, i));
        String unit = s.substring(i).trim();
        long mult = switch (unit) {
            case "", "B" -> 1L;
            case "K", "KB", "KIB" -> 1L << 10;
            case "M", "MB", "MIB" -> 1L << 20;
            case "G", "GB", "GIB" -> 1L << 30;
            case "T", "TB", "TIB" -> 1L << 40;
            case "P", "PB", "PIB" -> 1L << 50;
            default -> throw new IllegalArgumentException("'" + text + "' has an unknown size unit '" + unit + "'");
        };
        return (long) (number * mult);
    }

    /** TiKV's display form: the largest unit that divides evenly. */
    public static String format(long bytes) {
        String[] units = {"PB", "TB", "GB", "MB", "KB"};
        int[] shifts = {50, 40, 30, 20, 10};
        for (int k = 0; k < units.length; k++) {
            long m = 1L << shifts[k];
            if (bytes >= m && bytes % m == 0) {
                return (bytes / m) + units[k];
            }
        }
        return bytes + "B";
    }
}

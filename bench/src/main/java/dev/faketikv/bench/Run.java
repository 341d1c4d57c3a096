package dev.faketikv.bench;

import com.sun.management.OperatingSystemMXBean;
import dev.faketikv.client.BackupClient;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Brpb.BackupRequest;
import org.tikv.kvproto.Brpb.BackupResponse;

/**
 * One measured backup over gRPC: wall time, time to the first response, gaps between responses, the tail
 * (last response to the end of the stream), KV and
 * SST bytes, keys, files, process CPU, peak heap (JVM heap pools, reset before the run) and peak RSS
 * (sampled from /proc/self/status every 10 ms). The bench runs the server in the same process, so CPU,
 * heap and RSS cover server and client together.
 */
public record Run(double seconds, double firstResponseMs, double gapP50Ms, double gapP99Ms, long kvBytes, long sstBytes,
                  long kvs, long files, int responses, double cpuSeconds, long peakHeap, long peakRss, double tailMs) {

    public double kvMBps() {
        return kvBytes / 1048576.0 / seconds;
    }

    public double sstMBps() {
        return sstBytes / 1048576.0 / seconds;
    }

    public double keysPerSecond() {
        return kvs / seconds;
    }

    /** CPU cores busy on average during the run. */
    public double cores() {
        return cpuSeconds / seconds;
    }

    /** Runs {@code req} to completion through {@code client} and measures it; fails on an error response. */
    public static Run measure(BackupClient client, BackupRequest req) {
        OperatingSystemMXBean os = (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        List<MemoryPoolMXBean> heap = ManagementFactory.getMemoryPoolMXBeans().stream()
                .filter(p -> p.getType() == MemoryType.HEAP).toList();
        heap.forEach(MemoryPoolMXBean::resetPeakUsage);
        RssSampler rss = new RssSampler();
        rss.start();
        long cpu0 = os.getProcessCpuTime();
        long t0 = System.nanoTime();
        long first = -1;
        long last = t0;
        List<Long> gaps = new ArrayList<>();
        long kvBytes = 0;
        long sst = 0;
        long kvs = 0;
        long files = 0;
        int responses = 0;
        for (Iterator<BackupResponse> it = client.stream(req); it.hasNext(); ) {
            BackupResponse r = it.next();
            long now = System.nanoTime();
            if (first < 0) {
                first = now - t0;
            } else {
                gaps.add(now - last);
            }
            last = now;
            responses++;
            if (r.hasError()) {
                rss.stop();
                throw new IllegalStateException("backup error: " + r.getError().toString().trim());
            }
            for (Brpb.File f : r.getFilesList()) {
                kvBytes += f.getTotalBytes();
                sst += f.getSize();
                kvs += f.getTotalKvs();
                files++;
            }
        }
        long end = System.nanoTime();
        double secs = (end - t0) / 1e9;
        double cpu = (os.getProcessCpuTime() - cpu0) / 1e9;
        long peakRss = rss.stop();
        long peakHeap = heap.stream().mapToLong(p -> p.getPeakUsage().getUsed()).sum();
        long[] g = gaps.stream().mapToLong(Long::longValue).sorted().toArray();
        return new Run(secs, first / 1e6, percentile(g, 0.5) / 1e6, percentile(g, 0.99) / 1e6, kvBytes, sst, kvs, files,
                responses, cpu, peakHeap, peakRss, (end - last) / 1e6);
    }

    static double percentile(long[] sorted, double p) {
        if (sorted.length == 0) {
            return 0;
        }
        int i = (int) Math.ceil(p * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }

    static double percentile(double[] values, double p) {
        double[] s = values.clone();
        Arrays.sort(s);
        if (s.length == 0) {
            return 0;
        }
        int i = (int) Math.ceil(p * s.length) - 1;
        return s[Math.max(0, Math.min(s.length - 1, i))];
    }

    /** Samples VmRSS of this process until stopped; returns the peak in bytes (0 where /proc is absent). */
    static final class RssSampler {
        private volatile boolean running = true;
        private volatile long peak;
        private Thread thread;

        void start() {
            peak = read();
            thread = new Thread(() -> {
                while (running) {
                    peak = Math.max(peak, read());
                    try {
                        Thread.sleep(10);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "rss-sampler");
            thread.setDaemon(true);
            thread.start();
        }

        long stop() {
            running = false;
            try {
                thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return Math.max(peak, read());
        }

        static long read() {
            try {
                for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                    if (line.startsWith("VmRSS:")) {
                        return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                    }
                }
            } catch (IOException | NumberFormatException e) {
                return 0;
            }
            return 0;
        }
    }
}

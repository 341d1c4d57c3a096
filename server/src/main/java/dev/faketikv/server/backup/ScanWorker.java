package dev.faketikv.server.backup;

import io.grpc.Status;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One backup (scan) worker of a request: TiKV's {@code spawn_backup_worker}
 * ({@code components/backup/src/endpoint.rs}). Each turn it takes a soft-limit permit, takes up to
 * {@code batch-size} leader ranges from the shared {@link Progress}, and backs them up one by one; a
 * range that fails sends a response carrying only the error. With no ranges left the worker ends.
 *
 * <p>Where TiKV's async task yields between ranges, this worker re-submits itself to the {@code bkwkr}
 * pool after each batch, so the scan workers of concurrent requests take turns on the pool's threads.
 * It checks the cancel flag before each range (as 5.4) and between scan batches.
 */
final class ScanWorker implements Runnable {
    private static final Logger LOG = LoggerFactory.getLogger(ScanWorker.class);

    private final RequestContext ctx;

    ScanWorker(RequestContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void run() {
        boolean again = false;
        try {
            again = turn();
        } catch (Throwable e) {
            LOG.error("backup worker failed", e);
            try {
                ctx.sendError(e);
            } catch (Throwable sendFailed) {
                ctx.fail(Status.Code.UNAVAILABLE, "fake-tikv failed: " + sendFailed);
            }
        } finally {
            if (!again || !ctx.resubmit(this)) {
                ctx.task().sink().release();
            }
        }
    }

    /** One batch; true when the worker should run again. */
    private boolean turn() {
        if (ctx.task().cancelled() || !ctx.passHold()) {
            LOG.info("backup task has canceled");
            return false;
        }
        SoftLimit limit = ctx.softLimit();
        boolean permit = false;
        long w0 = System.nanoTime();
        try {
            limit.acquire();
            permit = true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            LOG.warn("failed to get soft limit permit, proceeding");
        }
        try {
            List<BackupRange> batch = ctx.progress().forward(ctx.config().batchSize());
            if (batch.isEmpty()) {
                ctx.trace("scan worker ends: no ranges left");
                return false;
            }
            ctx.trace("batch of %d ranges (regions %s) after %d ms for a soft-limit permit",
                    batch.size(), batch.stream().map(r -> Long.toString(r.region().id())).toList(), (System.nanoTime() - w0) / 1_000_000);
            for (BackupRange range : batch) {
                if (ctx.task().cancelled()) {
                    LOG.info("backup task has canceled");
                    return false;
                }
                try {
                    if (FaultInjector.beforeRange(ctx, range)) {
                        continue;
                    }
                    range.backup(ctx);
                } catch (CancelledException e) {
                    LOG.info("backup task has canceled");
                    return false;
                } catch (RuntimeException e) {
                    LOG.warn("backup region failed: {} {}", range, e.toString());
                    ctx.sendError(e);
                }
            }
            return true;
        } finally {
            if (permit) {
                limit.release();
            }
        }
    }
}

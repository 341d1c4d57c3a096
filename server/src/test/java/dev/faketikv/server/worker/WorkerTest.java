package dev.faketikv.server.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.faketikv.server.worker.yatp.ThreadPool;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class WorkerTest {
    static final class Recorder implements Runnable<Integer> {
        final List<Integer> seen = new CopyOnWriteArrayList<>();
        final AtomicInteger shutdowns = new AtomicInteger();
        final AtomicInteger inRun = new AtomicInteger();
        volatile boolean overlapped;

        @Override
        public void run(Integer task) {
            if (inRun.incrementAndGet() > 1) {
                overlapped = true;
            }
            seen.add(task);
            inRun.decrementAndGet();
        }

        @Override
        public void shutdown() {
            shutdowns.incrementAndGet();
        }
    }

    @Test
    void lazyWorkerDeliversEarlyTasksInOrderOnceStarted() throws Exception {
        Worker w = new Worker.Builder("test-bg").threadCount(2).pendingCapacity(3).create();
        try {
            LazyWorker<Integer> lazy = w.lazyBuild("lazy");
            Scheduler<Integer> s = lazy.scheduler();
            s.schedule(1);
            s.schedule(2);
            s.schedule(3);
            assertThatThrownBy(() -> s.schedule(4)).isInstanceOfSatisfying(ScheduleException.class,
                    e -> assertThat(e.kind()).isEqualTo(ScheduleException.Kind.FULL));
            assertThat(s.isBusy()).isTrue();
            Recorder r = new Recorder();
            assertThat(lazy.start(r)).isTrue();
            assertThat(lazy.start(new Recorder())).isFalse();
            await().atMost(Duration.ofSeconds(5)).until(() -> r.seen.size() == 3);
            assertThat(r.seen).containsExactly(1, 2, 3);
            await().atMost(Duration.ofSeconds(5)).until(() -> !s.isBusy());
            lazy.stop();
            assertThatThrownBy(() -> s.schedule(5)).isInstanceOfSatisfying(ScheduleException.class, e -> {
                assertThat(e.kind()).isEqualTo(ScheduleException.Kind.STOPPED);
                assertThat(e.getMessage()).isEqualTo("channel has been closed");
                assertThat(e.debug()).isEqualTo("Stopped(..)");
            });
            await().atMost(Duration.ofSeconds(5)).until(() -> r.shutdowns.get() == 1);
        } finally {
            w.stop();
        }
    }

    @Test
    void eachRunnableIsSequentialWhileRunnablesShareThePool() throws Exception {
        Worker w = new Worker.Builder("test-shared").threadCount(2).create();
        try {
            CountDownLatch bothInside = new CountDownLatch(2);
            CountDownLatch release = new CountDownLatch(1);
            Runnable<Integer> blocking = t -> {
                bothInside.countDown();
                try {
                    release.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            };
            Scheduler<Integer> a = w.start("a", blocking);
            Scheduler<Integer> b = w.start("b", blocking);
            a.schedule(1);
            b.schedule(1);
            // two runnables run at once on the two threads
            assertThat(bothInside.await(5, TimeUnit.SECONDS)).isTrue();
            release.countDown();

            Recorder r = new Recorder();
            Scheduler<Integer> s = w.start("seq", r);
            for (int i = 0; i < 2000; i++) {
                s.scheduleForce(i);
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> r.seen.size() == 2000);
            assertThat(r.overlapped).isFalse();
            assertThat(r.seen).isSorted();
        } finally {
            w.stop();
        }
    }

    @Test
    void threadPoolRunsLocalAndInjectedTasksAndWorkersSteal() throws Exception {
        ThreadPool pool = new ThreadPool("steal", 2);
        try {
            int n = 500;
            CountDownLatch done = new CountDownLatch(n + 1);
            ConcurrentHashMap<String, AtomicInteger> byThread = new ConcurrentHashMap<>();
            CountDownLatch gate = new CountDownLatch(1);
            // one task spawns n children onto its own local queue, then blocks: the other worker must steal them
            pool.spawn(() -> {
                for (int i = 0; i < n; i++) {
                    pool.spawn(() -> {
                        byThread.computeIfAbsent(Thread.currentThread().getName(), k -> new AtomicInteger()).incrementAndGet();
                        done.countDown();
                    });
                }
                try {
                    gate.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                done.countDown();
            });
            await().atMost(Duration.ofSeconds(5)).until(() -> done.getCount() == 1);
            assertThat(byThread.keySet()).hasSize(1);
            gate.countDown();
            assertThat(done.await(5, TimeUnit.SECONDS)).isTrue();
            assertThat(Thread.getAllStackTraces().keySet().stream().map(Thread::getName)).contains("steal-0", "steal-1");
        } finally {
            pool.shutdown();
        }
        assertThatThrownBy(() -> pool.spawn(() -> {})).isInstanceOf(IllegalStateException.class);
    }

    static final class Ticker implements RunnableWithTimer<Integer> {
        final AtomicInteger timeouts = new AtomicInteger();
        final AtomicInteger inside = new AtomicInteger();
        volatile boolean overlapped;
        volatile java.time.Duration interval = java.time.Duration.ofMillis(20);

        @Override
        public void run(Integer task) {
            enter();
        }

        @Override
        public void onTimeout() {
            timeouts.incrementAndGet();
            enter();
        }

        private void enter() {
            if (inside.incrementAndGet() > 1) {
                overlapped = true;
            }
            inside.decrementAndGet();
        }

        @Override
        public java.time.Duration getInterval() {
            return interval;
        }
    }

    @Test
    void timeoutsArriveOnTheRunnablesOwnMailbox() throws Exception {
        Worker w = new Worker.Builder("test-timer").threadCount(2).create();
        try {
            Ticker t = new Ticker();
            Scheduler<Integer> s = w.startWithTimer("ticker", t);
            for (int i = 0; i < 500; i++) {
                s.scheduleForce(i);
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> t.timeouts.get() >= 3);
            assertThat(t.overlapped).isFalse();
            // the interval is read again for every timeout: an hour from now on, so at most the one timeout
            // already scheduled at 20 ms fires (at the old interval some 30 would in the next 600 ms)
            t.interval = Duration.ofHours(1);
            int seen = t.timeouts.get();
            await().during(Duration.ofMillis(600)).atMost(Duration.ofSeconds(10)).until(() -> t.timeouts.get() <= seen + 1);
            assertThat(t.overlapped).isFalse();
            s.stop();
        } finally {
            w.stop();
        }
    }

    @Test
    void thePoolCanBeResizedAtRuntime() throws Exception {
        ThreadPool pool = new ThreadPool("resize", 3);
        try {
            pool.resize(1);
            ConcurrentHashMap<String, AtomicInteger> names = new ConcurrentHashMap<>();
            CountDownLatch done = new CountDownLatch(200);
            for (int i = 0; i < 200; i++) {
                pool.spawn(() -> {
                    names.computeIfAbsent(Thread.currentThread().getName(), k -> new AtomicInteger()).incrementAndGet();
                    done.countDown();
                });
            }
            assertThat(done.await(5, TimeUnit.SECONDS)).isTrue();
            assertThat(names.keySet()).containsExactly("resize-0");
            pool.resize(3);
            assertThat(pool.activeThreads()).isEqualTo(3);
            CountDownLatch all = new CountDownLatch(3);
            CountDownLatch release = new CountDownLatch(1);
            ConcurrentHashMap<String, Boolean> busy = new ConcurrentHashMap<>();
            for (int i = 0; i < 3; i++) {
                pool.spawn(() -> {
                    busy.put(Thread.currentThread().getName(), true);
                    all.countDown();
                    try {
                        release.await(5, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
            }
            // three blocking tasks run at once: all three threads take tasks again
            assertThat(all.await(5, TimeUnit.SECONDS)).isTrue();
            assertThat(busy.keySet()).hasSize(3);
            release.countDown();
            assertThatThrownBy(() -> pool.resize(4)).isInstanceOf(IllegalArgumentException.class);
        } finally {
            pool.shutdown();
        }
    }
}

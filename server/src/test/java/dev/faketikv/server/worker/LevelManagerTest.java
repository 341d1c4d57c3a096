package dev.faketikv.server.worker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faketikv.server.worker.yatp.LevelManager;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import org.junit.jupiter.api.Test;

/** yatp's multilevel feedback queue rules, with the random draws injected. */
class LevelManagerTest {
    static LevelManager withDraws(Double... draws) {
        Deque<Double> q = new ArrayDeque<>(List.of(draws));
        return new LevelManager(() -> q.isEmpty() ? 0.0 : q.poll());
    }

    @Test
    void levelsFollowAccumulatedRunningTime() {
        LevelManager m = withDraws();
        assertThat(m.levelOf(7)).isZero();
        m.record(7, 0, 4_999);
        assertThat(m.levelOf(7)).isZero();
        m.record(7, 0, 1);
        assertThat(m.levelOf(7)).isEqualTo(1);   // 5 ms
        m.record(7, 1, 95_000);
        assertThat(m.levelOf(7)).isEqualTo(2);   // 100 ms
        assertThat(m.levelOf(8)).isZero();       // another task id starts at level 0
    }

    @Test
    void expectedLevelDrawsLevel0ByChanceThenOneInFiveForLevel2() {
        LevelManager m = withDraws(0.79, 0.81, 0.5, 0.81, 0.9);
        assertThat(m.expectedLevel()).isZero();       // 0.79 < 0.8
        assertThat(m.expectedLevel()).isEqualTo(1);   // 0.81 >= 0.8, then 0.5 < 0.8
        assertThat(m.expectedLevel()).isEqualTo(2);   // 0.81, then 0.9 >= 0.8
    }

    @Test
    void chanceMovesTowardTheTargetAfterASecondOfBusyTime() {
        LevelManager m = withDraws();
        // level-0 tasks got 50% of the time: below 0.8 - 0.05, the chance rises
        m.record(1, 0, 500_000);
        m.record(2, 2, 499_999);
        assertThat(m.level0Chance()).isEqualTo(0.8);  // less than 1 s of busy time yet
        m.record(2, 2, 1);
        assertThat(m.level0Chance()).isEqualTo(0.86, org.assertj.core.data.Offset.offset(1e-9));
        // then 95% at level 0: above 0.8 + 0.05, it falls
        m.record(3, 0, 950_000);
        m.record(4, 2, 50_000);
        assertThat(m.level0Chance()).isEqualTo(0.80, org.assertj.core.data.Offset.offset(1e-9));
        // 80%: inside the dead band, unchanged
        m.record(5, 0, 800_000);
        m.record(6, 2, 200_000);
        assertThat(m.level0Chance()).isEqualTo(0.80, org.assertj.core.data.Offset.offset(1e-9));
        // it never leaves [0.5, 0.98]
        for (int i = 0; i < 20; i++) {
            m.record(9, 2, 1_000_000);
        }
        assertThat(m.level0Chance()).isEqualTo(0.98, org.assertj.core.data.Offset.offset(1e-9));
    }

    @Test
    void aMultilevelPoolQueuesByLevelAndAccountsRunningTime() throws Exception {
        LevelManager m = new LevelManager(Math::random);
        dev.faketikv.server.worker.yatp.ThreadPool pool = new dev.faketikv.server.worker.yatp.ThreadPool("mlfq", 1, m);
        try {
            java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(1);
            java.util.concurrent.CountDownLatch started = new java.util.concurrent.CountDownLatch(1);
            pool.spawn(100, () -> {
                started.countDown();
                try {
                    gate.await(5, java.util.concurrent.TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            assertThat(started.await(5, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            m.record(42, 2, 200_000);                 // task 42 already ran 200 ms: level 2
            java.util.concurrent.CountDownLatch ran = new java.util.concurrent.CountDownLatch(3);
            pool.spawn(42, ran::countDown);
            pool.spawn(1, ran::countDown);
            pool.spawn(9, () -> {                     // busy for ~6 ms under task id 9
                long until = System.nanoTime() + 6_000_000;
                while (System.nanoTime() < until) {
                    Thread.onSpinWait();
                }
                ran.countDown();
            });
            assertThat(pool.queuedByLevel()).containsExactly(2, 0, 1);
            gate.countDown();
            assertThat(ran.await(5, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            org.awaitility.Awaitility.await().until(() -> m.levelOf(9) == 1);
            assertThat(m.elapsedUs(100)).isGreaterThan(0);
            assertThat(pool.queuedByLevel()).containsExactly(0, 0, 0);
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void aTaskThatYieldsReentersAtItsLevel() throws Exception {
        LevelManager m = new LevelManager(Math::random);
        dev.faketikv.server.worker.yatp.ThreadPool pool = new dev.faketikv.server.worker.yatp.ThreadPool("yield", 1, m);
        try {
            m.record(77, 1, 150_000);   // task 77 has run 150 ms: level 2
            java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(1);
            java.util.concurrent.CountDownLatch queued = new java.util.concurrent.CountDownLatch(1);
            java.util.concurrent.CountDownLatch ranAgain = new java.util.concurrent.CountDownLatch(1);
            pool.spawn(77, () -> {
                // inside the pool: a yield goes to the level-2 injector, a plain spawn to the local deque
                pool.yieldTask(77, ranAgain::countDown);
                pool.spawn(77, () -> { });
                queued.countDown();
                try {
                    gate.await(5, java.util.concurrent.TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            assertThat(queued.await(5, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            assertThat(pool.queuedByLevel()).containsExactly(0, 0, 1);
            gate.countDown();
            assertThat(ranAgain.await(5, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        } finally {
            pool.shutdown();
        }
    }
}

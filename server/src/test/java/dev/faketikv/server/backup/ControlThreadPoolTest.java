package dev.faketikv.server.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class ControlThreadPoolTest {
    @Test
    void growsAtOnceAndShrinksOnlyWhenFarTooBig() {
        AtomicInteger gauge = new AtomicInteger();
        try (ControlThreadPool p = new ControlThreadPool(gauge::set)) {
            p.adjustWith(15);
            ExecutorService first = p.current();
            assertThat(p.size()).isEqualTo(15);
            p.adjustWith(10);
            assertThat(p.size()).isEqualTo(15);
            assertThat(p.current()).isSameAs(first);
            p.adjustWith(3);
            assertThat(p.size()).isEqualTo(3);
            assertThat(gauge.get()).isEqualTo(3);
            assertThat(first.isShutdown()).isTrue();
            p.adjustWith(4);
            assertThat(p.size()).isEqualTo(4);
        }
    }

    /** The race EndpointErrorsTest cannot time: a first request that sizes the pool while the endpoint closes. */
    @Test
    void aClosedPoolBuildsNoPoolAndRefusesTasks() {
        AtomicInteger gauge = new AtomicInteger(-1);
        ControlThreadPool never = new ControlThreadPool(gauge::set);
        never.close();
        never.adjustWith(4);
        assertThat(never.size()).isZero();
        assertThat(gauge.get()).isEqualTo(-1);
        assertThatThrownBy(() -> never.current().execute(() -> { })).isInstanceOf(RejectedExecutionException.class);

        ControlThreadPool used = new ControlThreadPool(gauge::set);
        used.adjustWith(2);
        ExecutorService first = used.current();
        used.close();
        used.adjustWith(64);
        assertThat(used.size()).isEqualTo(2);
        assertThat(used.current()).isSameAs(first);
        assertThat(first.isTerminated()).isTrue();
        assertThatThrownBy(() -> used.current().execute(() -> { })).isInstanceOf(RejectedExecutionException.class);
    }

    @Test
    void softLimitResizes() throws Exception {
        SoftLimit s = new SoftLimit(2);
        s.acquire();
        s.acquire();
        assertThat(s.available()).isZero();
        s.resize(1);
        assertThat(s.available()).isEqualTo(-1);
        s.release();
        // one permit still held and the cap is 1: nothing free until it is released
        assertThat(s.available()).isZero();
        s.resize(3);
        assertThat(s.available()).isEqualTo(2);
        assertThat(s.cap()).isEqualTo(3);
    }
}

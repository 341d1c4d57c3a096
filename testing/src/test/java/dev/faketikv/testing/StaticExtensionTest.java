package dev.faketikv.testing;

import dev.faketikv.server.control.FaultRules;
import static org.assertj.core.api.Assertions.assertThat;


import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;

/** A static extension is one store for the class and its @Nested classes, reset between tests. */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class StaticExtensionTest {
    @RegisterExtension
    static final FakeTikvExtension TIKV = FakeTikvExtension.builder().seed("txn:rows=50")
            .faults("[[rule]]\nname = \"kept\"\nmatch = { region = 1 }\naction = \"stale_command\"\n").build();
    /** The store's address when the class started (the extension starts it before any @BeforeAll of the class). */
    static String addrAtStart;

    @BeforeAll
    static void remember() {
        addrAtStart = TIKV.addr();
    }

    @Test
    @Order(1)
    void changesMadeByATest() {
        assertThat(TIKV.addr()).isEqualTo(addrAtStart);
        TIKV.failPoint("backup_before_scan", "return(x)");
        TIKV.faults("[[rule]]\nname = \"temp\"\nmatch = { region = 1 }\naction = \"stale_command\"\n");
    }

    @Test
    @Order(2)
    void areGoneInTheNextButTheBuildersRulesStay() {
        assertThat(TIKV.addr()).isEqualTo(addrAtStart);
        assertThat(TIKV.store().server().faults().failPoints().list()).isEmpty();
        assertThat(TIKV.store().server().faults().rules().rules()).extracting(FaultRules.Rule::name).containsExactly("kept");
    }

    @Nested
    class Inner {
        @Test
        void sharesTheOuterStore() {
            // the same store as the outer class (also when this test runs alone), reset like any other test
            assertThat(addrAtStart).isNotNull();
            assertThat(TIKV.addr()).isEqualTo(addrAtStart);
            assertThat(TIKV.store().server().faults().failPoints().list()).isEmpty();
            assertThat(TIKV.store().server().faults().rules().rules()).extracting(FaultRules.Rule::name).containsExactly("kept");
        }
    }
}

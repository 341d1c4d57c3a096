package dev.faketikv.pd.br;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.faketikv.pd.FakeCluster;
import dev.faketikv.pd.PdScheduleState;
import java.net.http.HttpResponse;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** PD 5.4's HTTP API on the fake PD port: shapes, effects, and PD's statuses and texts for bad input. */
class PdHttpApiTest {
    static FakeCluster cluster;
    static Br54Calls br;

    @BeforeAll
    static void start() throws Exception {
        cluster = FakeCluster.builder().stores(2).seed("raw:keys=100,regions=3,seed=4").start();
        br = new Br54Calls(cluster);
    }

    @AfterAll
    static void stop() {
        br.close();
        cluster.close();
    }

    @Test
    void scheduleConfigHasPdShapesAndDecodesAsGoWould() {
        JsonNode c = Br54Calls.json(br.get("pd/api/v1/config/schedule"));
        assertThat(c.get("max-merge-region-keys").asLong()).isEqualTo(200000);
        assertThat(c.get("enable-location-replacement").asText()).as("bool with ,string").isEqualTo("true");
        assertThat(c.get("split-merge-interval").asText()).isEqualTo("1h0m0s");
        assertThat(c.get("low-space-ratio").asDouble()).isEqualTo(0.8);
        assertThat(c.get("schedulers-v2")).hasSize(3);

        HttpResponse<String> garbage = br.post("pd/api/v1/config/schedule", "{nope");
        assertThat(garbage.statusCode()).isEqualTo(400);
        assertThat(Br54Calls.json(garbage).get("code").asText()).isEqualTo("input");
        HttpResponse<String> wrongType = br.post("pd/api/v1/config/schedule", "{\"max-snapshot-count\":\"many\"}");
        assertThat(wrongType.statusCode()).isEqualTo(400);
        assertThat(Br54Calls.json(wrongType).get("msg").asText())
                .isEqualTo("json: cannot unmarshal string into Go struct field ScheduleConfig.max-snapshot-count of type uint64");
        assertThat(br.post("pd/api/v1/config/schedule", "{\"max-snapshot-count\":-1}").statusCode()).isEqualTo(400);
        assertThat(br.post("pd/api/v1/config/schedule", "{\"enable-location-replacement\":false}").statusCode()).isEqualTo(400);
        HttpResponse<String> invalid = br.post("pd/api/v1/config/schedule", "{\"low-space-ratio\":2}");
        assertThat(invalid.statusCode()).isEqualTo(500);
        assertThat(invalid.body()).isEqualTo("\"low-space-ratio should between 0 and 1\"");
        assertThat(Br54Calls.json(br.get("pd/api/v1/config/schedule"))).as("a refused body changes nothing").isEqualTo(c);

        HttpResponse<String> ok = br.post("pd/api/v1/config/schedule?ttlSecond=5", "{\"patrol-region-interval\":\"90m\",\"no-such\":1,"
                + "\"hot-region-schedule-limit\":null,\"merge-schedule-limit\":9}");
        assertThat(ok.statusCode()).isEqualTo(200);
        assertThat(ok.body()).isEqualTo("\"The config is updated.\"");
        JsonNode after = Br54Calls.json(br.get("pd/api/v1/config/schedule"));
        assertThat(after.get("patrol-region-interval").asText()).isEqualTo("1h30m0s");
        assertThat(after.get("merge-schedule-limit").asLong()).isEqualTo(9);
        assertThat(after.get("hot-region-schedule-limit").asLong()).isEqualTo(4);
        assertThat(after.has("no-such")).isFalse();
        br.post("pd/api/v1/config/schedule", "{\"patrol-region-interval\":\"10ms\",\"merge-schedule-limit\":8}");
    }

    @Test
    void schedulerPauseAndResumeWithPdErrors() {
        assertThat(br.get("pd/api/v1/schedulers?status=paused").body()).isEqualTo("null");
        HttpResponse<String> unknown = br.post("pd/api/v1/schedulers/no-such-scheduler", "{\"delay\":10}");
        assertThat(unknown.statusCode()).isEqualTo(500);
        assertThat(unknown.body()).isEqualTo("\"[PD:scheduler:ErrSchedulerNotFound]scheduler not found\"");
        HttpResponse<String> noDelay = br.post("pd/api/v1/schedulers/balance-leader-scheduler", "{}");
        assertThat(noDelay.statusCode()).isEqualTo(400);
        assertThat(noDelay.body()).isEqualTo("\"missing pause time\"");
        assertThat(br.post("pd/api/v1/schedulers/balance-leader-scheduler", "{\"delay\":\"x\"}").statusCode()).isEqualTo(400);
        assertThat(br.post("pd/api/v1/schedulers/all", "{\"delay\":60}").statusCode()).isEqualTo(200);
        assertThat(br.paused()).hasSize(3);
        assertThat(br.post("pd/api/v1/schedulers/all", "{\"delay\":0}").body()).isEqualTo("\"Pause or resume the scheduler successfully.\"");
        assertThat(br.paused()).isEmpty();
        assertThat(br.get("pd/api/v1/schedulers").statusCode()).isEqualTo(200);
    }

    @Test
    void aPauseRunsOutAfterItsDelay() throws Exception {
        AtomicLong now = new AtomicLong(1_700_000_000_000L);
        PdScheduleState s = new PdScheduleState(now::get);
        s.pauseOrResume("balance-region-scheduler", 300);
        assertThat(s.paused()).containsExactly("balance-region-scheduler");
        now.addAndGet(299_999);
        assertThat(s.paused()).containsExactly("balance-region-scheduler");
        now.addAndGet(1);
        assertThat(s.paused()).as("paused while now < now0 + delay").isEmpty();
        s.pauseOrResume("balance-region-scheduler", 300_000_000_000L);
        now.addAndGet(86_400_000L * 365);
        assertThat(s.paused()).as("BR 5.4's nanosecond delay read as seconds: paused for millennia").containsExactly("balance-region-scheduler");
        s.pauseOrResume("balance-region-scheduler", 0);
        assertThat(s.paused()).isEmpty();
    }

    @Test
    void storesRulesResetTsAndRouting() {
        JsonNode store = Br54Calls.json(br.get("pd/api/v1/store/1"));
        assertThat(store.at("/store/id").asLong()).isEqualTo(1);
        assertThat(store.at("/store/state_name").asText()).isEqualTo("Up");
        assertThat(store.at("/store/address").asText()).isEqualTo(cluster.store(1).addr());
        assertThat(store.at("/status/region_count").asInt()).isEqualTo(cluster.regions().size());
        HttpResponse<String> missing = br.get("pd/api/v1/store/99");
        assertThat(missing.statusCode()).isEqualTo(404);
        assertThat(missing.body()).isEqualTo("\"store 99 not found\"");
        assertThat(br.get("pd/api/v1/store/x").statusCode()).isEqualTo(400);
        assertThat(Br54Calls.json(br.get("pd/api/v1/stores")).get("count").asInt()).isEqualTo(2);

        JsonNode rule = Br54Calls.json(br.get("pd/api/v1/config/rule/pd/default"));
        assertThat(rule.get("role").asText()).isEqualTo("voter");
        assertThat(rule.get("count").asInt()).isEqualTo(3);
        assertThat(Br54Calls.json(br.get("pd/api/v1/config/rules"))).hasSize(1);
        assertThat(Br54Calls.json(br.get("pd/api/v1/config/placement-rule")).get(0).get("rules")).hasSize(1);
        HttpResponse<String> noRule = br.get("pd/api/v1/config/rule/pd/nope");
        assertThat(noRule.statusCode()).isEqualTo(404);
        assertThat(noRule.body()).isEqualTo("null");

        long now = cluster.pd().nextTs(1);
        HttpResponse<String> smaller = br.post("pd/api/v1/admin/reset-ts", "{\"tso\":\"" + (now - (1L << 18) * 1000) + "\"}");
        assertThat(smaller.statusCode()).as("BR accepts 403").isEqualTo(403);
        assertThat(smaller.body()).contains("the specified ts is smaller than now");
        HttpResponse<String> far = br.post("pd/api/v1/admin/reset-ts", "{\"tso\":\"" + (now + (25L * 3600 * 1000 << 18)) + "\"}");
        assertThat(far.statusCode()).isEqualTo(403);
        assertThat(far.body()).contains("the specified ts is too larger than now");
        assertThat(br.post("pd/api/v1/admin/reset-ts", "{\"tso\":12}").body()).isEqualTo("\"invalid tso value\"");
        assertThat(br.post("pd/api/v1/admin/reset-ts", "{}").statusCode()).isEqualTo(400);
        long ahead = now + (60_000L << 18);
        HttpResponse<String> ok = br.post("pd/api/v1/admin/reset-ts", "{\"tso\":\"" + ahead + "\"}");
        assertThat(ok.statusCode()).isEqualTo(200);
        assertThat(ok.body()).isEqualTo("\"Reset ts successfully.\"");
        assertThat(cluster.pd().nextTs(1)).as("the next timestamp comes after the reset one").isGreaterThan(ahead);

        assertThat(br.post("pd/api/v1/version", "").statusCode()).isEqualTo(405);
        assertThat(br.post("pd/api/v1/config/rules", "[]").statusCode()).isEqualTo(405);
        assertThat(br.get("pd/api/v1/admin/reset-ts").statusCode()).isEqualTo(405);
        assertThat(br.get("pd/api/v1/nope").statusCode()).isEqualTo(404);
    }
}

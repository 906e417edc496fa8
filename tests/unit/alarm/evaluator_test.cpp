// AlarmEvaluator on samples and ticks: thresholds exactly at the level and
// at the return level, delays, references (threshold_of), equals, rate,
// stale, series that appear later, and a restart with an active alarm.
#include <gtest/gtest.h>

#include <cmath>

#include "alarm/evaluator.h"

using namespace gridlet;
using namespace gridlet::alarm;

namespace {

struct Fixture {
    SeriesRegistry registry;
    MemoryPersistence persistence;
    std::unique_ptr<AlarmTable> table;
    std::unique_ptr<AlarmEvaluator> eval;

    explicit Fixture(const std::string& alarms_toml, std::vector<std::string> series = {}) {
        for (const std::string& s : series) intern(s);
        start(alarms_toml);
    }
    void start(const std::string& alarms_toml, int64_t now = 0) {
        toml::table root = toml::parse(alarms_toml);
        config::Diagnostics d;
        auto rules = parse_alarm_rules(root, "site.toml", d);
        EXPECT_TRUE(d.empty()) << (d.empty() ? "" : d[0].to_string());
        eval.reset();
        table = std::make_unique<AlarmTable>(persistence);
        EXPECT_TRUE(table->load(now));
        eval = std::make_unique<AlarmEvaluator>(rules, *table, registry);
        eval->start(now);
    }
    uint32_t intern(const std::string& name, std::map<std::string, std::string> tags = {},
                    std::map<int64_t, std::string> states = {}) {
        SeriesMeta m;
        m.name = name;
        m.unit = "A";
        m.tags = std::move(tags);
        m.states = std::move(states);
        return *registry.intern(m);
    }
    void feed(const std::string& series, int64_t ts, double v, uint8_t q = GL_QUALITY_GOOD) {
        gl_sample s{};
        s.series_id = *registry.find(series);
        s.ts_ms = ts;
        s.value = v;
        s.quality = q;
        eval->on_samples(&s, 1);
    }
    std::vector<std::string> changes() {
        std::vector<std::string> out;
        for (const AlarmChange& c : table->take_transitions())
            out.push_back(std::string(transition_name(c.transition)) + "@" +
                          std::to_string(c.transition == Transition::raised ? c.alarm.start_ms : c.alarm.end_ms) +
                          " " + c.alarm.series);
        return out;
    }
};

const char* kHigh = R"([[alarms]]
name = "hi"
series = "d/x"
condition = "high"
threshold = 10
return_level = 8
)";

}  // namespace

TEST(AlarmEvaluator, ExactlyAtTheThresholdDoesNotRaiseExactlyAtTheReturnLevelEnds) {
    Fixture f(kHigh, {"d/x"});
    f.feed("d/x", 1000, 10);  // at the threshold: not above
    EXPECT_TRUE(f.changes().empty());
    f.feed("d/x", 2000, 10.001);
    EXPECT_EQ(f.changes(), std::vector<std::string>{"raised@2000 d/x"});
    f.feed("d/x", 3000, 9);  // between return level and threshold: still active (hysteresis)
    f.feed("d/x", 4000, 8.0001);
    EXPECT_TRUE(f.changes().empty());
    f.feed("d/x", 5000, 8);  // at the return level: ends
    EXPECT_EQ(f.changes(), std::vector<std::string>{"finished@5000 d/x"});
}

TEST(AlarmEvaluator, BadQualityAndNaNChangeNothing) {
    Fixture f(kHigh, {"d/x"});
    f.feed("d/x", 1000, 50, 0);
    f.feed("d/x", 2000, std::nan(""));
    f.feed("d/x", 3000, INFINITY);
    EXPECT_TRUE(f.changes().empty());
}

TEST(AlarmEvaluator, OnDelayAndOffDelayBySampleTimeAndByTick) {
    Fixture f(R"([[alarms]]
name = "hi"
series = "d/x"
condition = "high"
threshold = 10
on_delay_s = 5
off_delay_s = 3
)", {"d/x"});
    f.feed("d/x", 1000, 11);
    f.feed("d/x", 4000, 12);
    f.feed("d/x", 5000, 9);  // back before the delay: nothing
    f.feed("d/x", 6000, 11);
    f.eval->tick(10'999);
    EXPECT_TRUE(f.changes().empty());
    f.eval->tick(11'000);  // 5 s after 6000, no sample since: the tick raises
    EXPECT_EQ(f.changes(), std::vector<std::string>{"raised@11000 d/x"});
    f.feed("d/x", 12'000, 5);
    f.feed("d/x", 14'000, 11);  // back within the off-delay: stays
    f.feed("d/x", 15'000, 5);
    f.feed("d/x", 18'000, 5);  // 3 s below: ends at 18000
    EXPECT_EQ(f.changes(), std::vector<std::string>{"finished@18000 d/x"});
}

TEST(AlarmEvaluator, ThresholdOfASiblingPointAndOfATag) {
    Fixture f(R"([[alarms]]
name = "ov"
series = "p/branch*/current"
condition = "high"
threshold = 0.8
threshold_of = "breaker_size"
)", {"p/branch01/current", "p/branch01/breaker_size"});
    f.intern("p/branch02/current", {{"breaker_size", "40"}});
    f.feed("p/branch01/current", 1000, 30);  // reference not known yet: not judged
    EXPECT_TRUE(f.changes().empty());
    EXPECT_EQ(f.eval->counters().waiting_for_reference, 1u);
    f.feed("p/branch01/breaker_size", 1500, 20);  // the last current (30) is judged now: above 16
    f.feed("p/branch01/current", 2000, 16);  // 80 % of 20: at the return level, ends
    f.feed("p/branch01/current", 3000, 16.5);
    f.feed("p/branch02/current", 3000, 31);  // 80 % of 40 = 32
    f.feed("p/branch02/current", 4000, 33);
    EXPECT_EQ(f.changes(), (std::vector<std::string>{"raised@1500 p/branch01/current", "finished@2000 p/branch01/current",
                                                     "raised@3000 p/branch01/current", "raised@4000 p/branch02/current"}));
    auto a = f.table->active("site/ov|p/branch01/current");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->detail["threshold"], 16);
    EXPECT_EQ(a->detail["reference"]["value"], 20);
}

TEST(AlarmEvaluator, PatternsMatchSeriesThatAppearLater) {
    Fixture f(kHigh, {});
    f.intern("d/x");  // after start()
    f.feed("d/x", 1000, 11);
    EXPECT_EQ(f.changes(), std::vector<std::string>{"raised@1000 d/x"});
    EXPECT_EQ(f.eval->counters().instances, 1u);
}

TEST(AlarmEvaluator, EqualsAStateLabel) {
    SeriesRegistry r;
    Fixture f(R"([[alarms]]
name = "tripped"
series = "atys/position"
condition = "equals"
state = "tripped"
criticality = "critical"
)", {});
    f.intern("atys/position", {}, {{0, "open"}, {1, "closed"}, {2, "tripped"}});
    f.feed("atys/position", 1000, 1);
    f.feed("atys/position", 2000, 2);
    f.feed("atys/position", 3000, 0);
    EXPECT_EQ(f.changes(), (std::vector<std::string>{"raised@2000 atys/position", "finished@3000 atys/position"}));
}

TEST(AlarmEvaluator, RateOfChangePerSecond) {
    Fixture f(R"([[alarms]]
name = "jump"
series = "d/t"
condition = "rate"
threshold = 2.0
)", {"d/t"});
    f.feed("d/t", 0, 20);
    f.feed("d/t", 10'000, 30);  // 1/s
    EXPECT_TRUE(f.changes().empty());
    f.feed("d/t", 12'000, 36);  // 3/s
    EXPECT_EQ(f.changes(), std::vector<std::string>{"raised@12000 d/t"});
    EXPECT_EQ(f.table->active("site/jump|d/t")->value_start, 3);
    f.feed("d/t", 22'000, 36);  // 0/s
    EXPECT_EQ(f.changes(), std::vector<std::string>{"finished@22000 d/t"});
}

TEST(AlarmEvaluator, StaleSeriesRaiseAtTheTickAndEndAtTheNextGoodSample) {
    Fixture f(R"([[alarms]]
name = "silent"
series = "d/x"
condition = "stale"
stale_s = 30
)", {"d/x"});
    f.feed("d/x", 10'000, 1);
    f.eval->tick(39'999);
    EXPECT_TRUE(f.changes().empty());
    f.feed("d/x", 40'000, 1, 0);  // bad quality: not a good sample
    f.eval->tick(40'000);
    EXPECT_EQ(f.changes(), std::vector<std::string>{"raised@40000 d/x"});
    f.feed("d/x", 50'000, 2);
    EXPECT_EQ(f.changes(), std::vector<std::string>{"finished@50000 d/x"});
}

TEST(AlarmEvaluator, ActiveAlarmSurvivesARestartAndIsJudgedOnFreshData) {
    Fixture f(kHigh, {"d/x", "d/y"});
    f.feed("d/x", 1000, 11);
    ASSERT_EQ(f.changes().size(), 1u);
    // Restart: the same table's records, a new evaluator.
    f.start(kHigh, 5000);
    ASSERT_TRUE(f.table->active("site/hi|d/x"));
    f.feed("d/x", 6000, 9);  // above the return level: still the same alarm
    EXPECT_TRUE(f.changes().empty());
    EXPECT_EQ(f.table->active("site/hi|d/x")->id, 1u);
    f.feed("d/x", 7000, 7);
    EXPECT_EQ(f.changes(), std::vector<std::string>{"finished@7000 d/x"});
}

TEST(AlarmEvaluator, AlarmsOfARemovedRuleEndAtStart) {
    Fixture f(kHigh, {"d/x"});
    f.feed("d/x", 1000, 11);
    ASSERT_EQ(f.changes().size(), 1u);
    f.start(R"([[alarms]]
name = "other"
series = "d/x"
condition = "low"
threshold = 1
)", 5000);
    auto c = f.table->take_transitions();
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].transition, Transition::finished);
    EXPECT_NE(c[0].alarm.detail["end_reason"].get<std::string>().find("no longer"), std::string::npos);
}

TEST(AlarmEvaluator, LatchingStaysActiveUntilAcknowledged) {
    Fixture f(R"([[alarms]]
name = "hi"
series = "d/x"
condition = "high"
threshold = 10
latching = true
)", {"d/x"});
    f.feed("d/x", 1000, 11);
    f.feed("d/x", 2000, 5);
    auto a = f.table->active("site/hi|d/x");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->returned_ms, 2000);
    ASSERT_TRUE(f.table->acknowledge(a->id, "ann", "", 3000));
    EXPECT_FALSE(f.table->active("site/hi|d/x"));
    f.feed("d/x", 4000, 12);  // a new occurrence
    EXPECT_EQ(f.table->active("site/hi|d/x")->id, 2u);
}

TEST(AlarmEvaluator, AStaleSeriesTheRegistryHasNeverHeardOfIsRaisedAndEndsWhenItAppears) {
    const char* rules = R"([[alarms]]
name = "silent"
series = "room9/temperature"
condition = "stale"
stale_s = 30
)";
    Fixture f(rules, {});
    EXPECT_EQ(f.eval->next_due_ms(), 30'000);
    f.eval->tick(29'999);
    EXPECT_TRUE(f.changes().empty());
    f.eval->tick(30'000);
    ASSERT_EQ(f.changes(), std::vector<std::string>{"raised@30000 room9/temperature"});
    EXPECT_NE(f.table->active("site/silent|room9/temperature")->message.find("never heard"), std::string::npos);
    // A restart keeps it (its rule names that series), not ended as "no longer configured".
    f.start(rules, 40'000);
    EXPECT_TRUE(f.changes().empty());
    ASSERT_TRUE(f.table->active("site/silent|room9/temperature"));
    f.intern("room9/temperature");
    f.feed("room9/temperature", 50'000, 21.5);
    EXPECT_EQ(f.changes(), std::vector<std::string>{"finished@50000 room9/temperature"});
}

TEST(AlarmEvaluator, ADevicesAlarmPointIsAnAlarmWhileItIsSet) {
    Fixture f("", {});
    SeriesMeta m;
    m.name = "panel1/branch07/alarm/high_high";
    m.description = "latched high-high";
    m.tags = {{"alarm", "critical"}, {"device", "panel1"}};
    ASSERT_TRUE(f.registry.intern(m));
    f.feed("panel1/branch07/alarm/high_high", 1000, 0);
    f.feed("panel1/branch07/alarm/high_high", 2000, 1);
    auto a = f.table->active("device|panel1/branch07/alarm/high_high");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->origin, "device");
    EXPECT_EQ(a->category, "device");
    EXPECT_EQ(a->criticality, Criticality::critical);
    EXPECT_EQ(a->name, "branch07/alarm/high_high");
    EXPECT_EQ(a->message, "panel1 reports branch07/alarm/high_high (latched high-high)");
    f.feed("panel1/branch07/alarm/high_high", 3000, 0);  // reset on the device
    EXPECT_FALSE(f.table->active("device|panel1/branch07/alarm/high_high"));
}

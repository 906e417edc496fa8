// AlarmTable: lifecycle (raise, return, end, acknowledgement in both
// orders), persistence across a reload, flood control, history filters.
#include <gtest/gtest.h>

#include <cmath>

#include "alarm/alarm_table.h"

using namespace gridlet;
using namespace gridlet::alarm;

namespace {

RaiseRequest request(const std::string& key, int64_t ts, double value = 10, bool latching = false) {
    RaiseRequest r;
    r.key = key;
    r.name = "overload";
    r.source = "panel1";
    r.series = "panel1/branch01/current";
    r.category = "electrical";
    r.origin = "site";
    r.condition = "high";
    r.message = "too high";
    r.value = value;
    r.ts_ms = ts;
    r.worse = 1;
    r.latching = latching;
    return r;
}

std::vector<std::string> transitions(AlarmTable& t) {
    std::vector<std::string> out;
    for (const AlarmChange& c : t.take_transitions())
        out.push_back(std::string(transition_name(c.transition)) + " " + std::to_string(c.alarm.id));
    return out;
}

}  // namespace

TEST(AlarmTable, RaiseIsIdempotentPerKeyAndKeepsTheExtreme) {
    MemoryPersistence p;
    AlarmTable t(p);
    ASSERT_TRUE(t.load(0));
    auto a = t.raise(request("k", 1000, 10));
    ASSERT_TRUE(a) << a.status().message();
    EXPECT_EQ(a->id, 1u);
    EXPECT_EQ(a->status(), AlarmStatus::active_unacknowledged);
    auto again = t.raise(request("k", 2000, 12));
    ASSERT_TRUE(again);
    EXPECT_EQ(again->id, 1u) << "one alarm per key while it is active";
    t.observe("k", 15);
    t.observe("k", 11);  // not worse
    EXPECT_EQ(t.active("k")->value_extreme, 15);
    EXPECT_EQ(t.active("k")->value_start, 10);
    EXPECT_EQ(transitions(t), std::vector<std::string>{"raised 1"});
}

TEST(AlarmTable, NonLatchingEndsWhenTheConditionReturnsAndAckIsIndependent) {
    MemoryPersistence p;
    AlarmTable t(p);
    ASSERT_TRUE(t.load(0));
    ASSERT_TRUE(t.raise(request("k", 1000)));
    auto c = t.clear("k", 5000, 3);
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->has_value());
    EXPECT_EQ((*c)->end_ms, 5000);
    EXPECT_EQ((*c)->status(), AlarmStatus::finished_unacknowledged);
    EXPECT_EQ((*c)->detail["value_end"], 3);
    EXPECT_FALSE(t.active("k"));
    EXPECT_EQ(t.open_count(), 1u) << "finished but not acknowledged: still open";
    auto acked = t.acknowledge(1, "ann", "seen", 6000);
    ASSERT_TRUE(acked);
    EXPECT_EQ(acked->status(), AlarmStatus::finished_acknowledged);
    EXPECT_EQ(t.open_count(), 0u);
    // A second occurrence is a new alarm.
    auto b = t.raise(request("k", 7000));
    ASSERT_TRUE(b);
    EXPECT_EQ(b->id, 2u);
    EXPECT_EQ(transitions(t), (std::vector<std::string>{"raised 1", "finished 1", "acknowledged 1", "raised 2"}));
}

TEST(AlarmTable, LatchingAcknowledgedBeforeTheEndFinishesAtTheReturn) {
    MemoryPersistence p;
    AlarmTable t(p);
    ASSERT_TRUE(t.load(0));
    ASSERT_TRUE(t.raise(request("k", 1000, 10, true)));
    auto acked = t.acknowledge(1, "ann", "", 2000);
    ASSERT_TRUE(acked);
    EXPECT_EQ(acked->status(), AlarmStatus::active_acknowledged);
    auto c = t.clear("k", 3000, 1);
    ASSERT_TRUE(c && c->has_value());
    EXPECT_EQ((*c)->status(), AlarmStatus::finished_acknowledged);
    EXPECT_EQ((*c)->end_ms, 3000);
}

TEST(AlarmTable, LatchingAcknowledgedAfterTheReturnFinishesAtTheAck) {
    MemoryPersistence p;
    AlarmTable t(p);
    ASSERT_TRUE(t.load(0));
    ASSERT_TRUE(t.raise(request("k", 1000, 10, true)));
    auto c = t.clear("k", 3000, 1);
    ASSERT_TRUE(c && c->has_value());
    EXPECT_EQ((*c)->status(), AlarmStatus::active_unacknowledged) << "latched: active until acknowledged";
    EXPECT_EQ((*c)->returned_ms, 3000);
    // The condition comes back before anyone looked: the same alarm, reactivated.
    auto again = t.raise(request("k", 4000, 11, true));
    ASSERT_TRUE(again);
    EXPECT_EQ(again->id, 1u);
    EXPECT_EQ(again->returned_ms, 0);
    EXPECT_EQ(again->detail["reactivated_ms"], 4000);
    EXPECT_EQ(again->detail["reactivations"], 1);
    ASSERT_TRUE(t.clear("k", 5000, 1));
    auto acked = t.acknowledge(1, "ann", "reset", 9000);
    ASSERT_TRUE(acked);
    EXPECT_EQ(acked->status(), AlarmStatus::finished_acknowledged);
    EXPECT_EQ(acked->end_ms, 9000);
    EXPECT_EQ(transitions(t), (std::vector<std::string>{"raised 1", "returned 1", "reactivated 1", "returned 1",
                                                         "acknowledged 1", "finished 1"}));
}

TEST(AlarmTable, AcknowledgeRefusesTwiceAndUnknownIds) {
    MemoryPersistence p;
    AlarmTable t(p);
    ASSERT_TRUE(t.load(0));
    ASSERT_TRUE(t.raise(request("k", 1000)));
    ASSERT_TRUE(t.acknowledge(1, "ann", "", 2000));
    auto twice = t.acknowledge(1, "bob", "", 3000);
    ASSERT_FALSE(twice);
    EXPECT_EQ(twice.status().code(), StatusCode::already_exists);
    EXPECT_NE(twice.status().message().find("ann"), std::string::npos);
    ASSERT_TRUE(t.clear("k", 4000, 0));  // finished and acknowledged: history
    auto history = t.acknowledge(1, "bob", "", 5000);
    ASSERT_FALSE(history);
    EXPECT_EQ(history.status().code(), StatusCode::already_exists);
    auto unknown = t.acknowledge(42, "bob", "", 5000);
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.status().code(), StatusCode::not_found);
}

TEST(AlarmTable, ActiveAlarmsAndIdsSurviveAReload) {
    MemoryPersistence p;
    {
        AlarmTable t(p);
        ASSERT_TRUE(t.load(0));
        ASSERT_TRUE(t.raise(request("a", 1000)));
        ASSERT_TRUE(t.raise(request("b", 1000)));
        ASSERT_TRUE(t.clear("b", 2000, 0));
        ASSERT_TRUE(t.acknowledge(2, "ann", "", 3000));
        t.observe("a", 99);
        t.tick(4000);  // the extreme is written
    }
    AlarmTable t(p);
    ASSERT_TRUE(t.load(5000));
    ASSERT_TRUE(t.active("a"));
    EXPECT_EQ(t.active("a")->value_extreme, 99);
    EXPECT_FALSE(t.active("b"));
    auto c = t.raise(request("c", 6000));
    ASSERT_TRUE(c);
    EXPECT_EQ(c->id, 3u) << "ids are never reused";
    AlarmFilter all;
    auto list = t.list(all);
    ASSERT_TRUE(list);
    ASSERT_EQ(list->size(), 3u);
    EXPECT_EQ((*list)[0].id, 3u) << "newest first";
    AlarmFilter open;
    open.open = true;
    EXPECT_EQ(t.list(open)->size(), 2u);
    AlarmFilter done;
    ASSERT_TRUE(apply_status_filter("finished_acknowledged", done));
    ASSERT_EQ(t.list(done)->size(), 1u);
    EXPECT_EQ(t.list(done)->at(0).key, "b");
}

TEST(AlarmTable, HistoryOlderThanItsDaysIsDeletedAtLoad) {
    MemoryPersistence p;
    {
        AlarmTable t(p);
        ASSERT_TRUE(t.load(0));
        ASSERT_TRUE(t.raise(request("old", 1000)));
        ASSERT_TRUE(t.clear("old", 2000, 0));
        ASSERT_TRUE(t.acknowledge(1, "ann", "", 3000));
        ASSERT_TRUE(t.raise(request("old_unacked", 1000)));
        ASSERT_TRUE(t.clear("old_unacked", 2000, 0));
    }
    TableOptions o;
    o.history_days = 10;
    AlarmTable t(p, o);
    ASSERT_TRUE(t.load(int64_t{11} * 86'400'000));
    EXPECT_EQ(t.list(AlarmFilter{})->size(), 1u) << "a finished alarm nobody acknowledged is kept";
    EXPECT_EQ(p.load_all()->size(), 1u);
}

TEST(AlarmTable, FloodControlHoldsBackAndRaisesOneSystemAlarmThatEnds) {
    MemoryPersistence p;
    TableOptions o;
    o.flood_per_minute = 5;
    AlarmTable t(p, o);
    ASSERT_TRUE(t.load(0));
    int refused = 0;
    for (int i = 0; i < 10000; ++i) {
        auto a = t.raise(request("k" + std::to_string(i), 1000 + i));
        if (!a) {
            EXPECT_EQ(a.status().code(), StatusCode::unavailable);
            ++refused;
        }
    }
    EXPECT_EQ(refused, 10000 - 5);
    EXPECT_EQ(t.counters().held_back_by_flood, 9995u);
    auto flood = t.active("system/alarm_flood|panel1");
    ASSERT_TRUE(flood);
    EXPECT_EQ(flood->type, AlarmType::system);
    EXPECT_EQ(flood->detail["held_back"], 9995);
    EXPECT_EQ(t.open_count(), 6u) << "bounded: 5 alarms and the flood alarm, not 10,000";
    t.tick(1000 + 10000 + 30'000);
    EXPECT_TRUE(t.active("system/alarm_flood|panel1")) << "not quiet for a minute yet";
    t.tick(1000 + 10000 + 60'000);
    EXPECT_FALSE(t.active("system/alarm_flood|panel1"));
    // Quiet again: alarms from that source are raised again.
    EXPECT_TRUE(t.raise(request("later", 200'000)));
}

TEST(AlarmTable, RecordsRoundTripThroughJson) {
    Alarm a;
    a.id = 7;
    a.key = "site/x|d/p";
    a.name = "x";
    a.source = "d";
    a.series = "d/p";
    a.type = AlarmType::power_quality;
    a.criticality = Criticality::critical;
    a.start_ms = 5;
    a.end_ms = 9;
    a.value_start = 1.5;
    a.ack = Acknowledgement{"ann", 8, "ok"};
    a.detail = {{"threshold", 3}};
    auto back = alarm_from_json(to_json(a));
    ASSERT_TRUE(back) << back.status().message();
    EXPECT_EQ(back->id, 7u);
    EXPECT_EQ(back->type, AlarmType::power_quality);
    EXPECT_EQ(back->criticality, Criticality::critical);
    EXPECT_EQ(back->end_ms, 9);
    EXPECT_EQ(back->value_start, 1.5);
    EXPECT_TRUE(std::isnan(back->value_extreme));
    EXPECT_EQ(back->ack, a.ack);
    EXPECT_EQ(back->status(), AlarmStatus::finished_acknowledged);
    EXPECT_FALSE(alarm_from_json(nlohmann::json{{"id", 1}}));
}

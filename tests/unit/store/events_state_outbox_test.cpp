#include "test_util.h"

using namespace gridlet;
using namespace gridlet::store;
using namespace gridlet::store::test;

TEST(Events, AppendAndQueryByTimeSourceTypeSeverity) {
    TempDir dir;
    StoreOptions o = test_options(dir.path());
    {
        auto store = Store::open(o);
        ASSERT_TRUE(store);
        std::vector<Event> evs;
        for (int i = 0; i < 10; ++i) {
            Event e;
            e.ts = kT0 + (i / 2) * 1000;  // pairs share a timestamp
            e.source = i % 2 ? "rule/peak" : "plugin/modbus1";
            e.type = i % 3 ? "alarm.raised" : "info";
            e.severity = static_cast<Severity>(i % 6);
            e.body = R"({"i":)" + std::to_string(i) + "}";
            evs.push_back(e);
        }
        ASSERT_TRUE((*store)->events().append(evs));
        Event bad;
        bad.ts = kT0;
        bad.source = "x";
        bad.type = "y";
        bad.body = "{not json";
        EXPECT_EQ((*store)->events().append(bad).code(), StatusCode::invalid_argument);
    }
    auto store = Store::open(o);
    ASSERT_TRUE(store);
    auto all = (*store)->events().query(EventFilter{});
    ASSERT_TRUE(all);
    ASSERT_EQ(all->size(), 10u);
    for (int i = 0; i < 10; ++i) EXPECT_EQ((*all)[i].body, R"({"i":)" + std::to_string(i) + "}");  // stable order
    EventFilter f;
    f.from = kT0 + 1000;
    f.to = kT0 + 3000;
    f.source_pattern = "rule/*";
    auto r = (*store)->events().query(f);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ((*r)[0].source, "rule/peak");
    EXPECT_EQ((*r)[0].ts, kT0 + 1000);
    f = EventFilter{};
    f.min_severity = Severity::error;
    f.type = "alarm.raised";
    r = (*store)->events().query(f);
    ASSERT_TRUE(r);
    for (const Event& e : *r) EXPECT_GE(e.severity, Severity::error);
    EXPECT_EQ(r->size(), 2u);  // i = 4 (error) and i = 5 (critical)
    f = EventFilter{};
    f.limit = 3;
    EXPECT_EQ((*store)->events().query(f)->size(), 3u);
    EXPECT_EQ(*parse_severity("warn"), Severity::warning);
    EXPECT_FALSE(parse_severity("loud"));
}

TEST(State, PutGetListEraseSurviveRestart) {
    TempDir dir;
    StoreOptions o = test_options(dir.path());
    {
        auto store = Store::open(o);
        ASSERT_TRUE(store);
        auto& s = (*store)->state();
        ASSERT_TRUE(s.put("peak", "limit", "42"));
        ASSERT_TRUE(s.put("peak", "mode", "auto"));
        ASSERT_TRUE(s.put("peak2", "limit", "7"));  // a rule whose name extends another's
        ASSERT_TRUE(s.put("other", "k", std::string("bin\0ary", 7)));
        ASSERT_TRUE(s.erase("peak", "mode"));
        EXPECT_FALSE(s.put("", "k", "v"));
        EXPECT_FALSE(s.put(std::string("a\0b", 3), "k", "v"));
    }
    auto store = Store::open(o);
    ASSERT_TRUE(store);
    auto& s = (*store)->state();
    EXPECT_EQ(**s.get("peak", "limit"), "42");
    EXPECT_FALSE(*s.get("peak", "mode"));
    EXPECT_EQ(**s.get("other", "k"), std::string("bin\0ary", 7));
    auto l = s.list("peak");
    ASSERT_TRUE(l);
    ASSERT_EQ(l->size(), 1u);
    EXPECT_EQ((*l)[0], (std::pair<std::string, std::string>{"limit", "42"}));
    ASSERT_TRUE(s.erase_all("peak"));
    EXPECT_TRUE(s.list("peak")->empty());
    EXPECT_EQ(**s.get("peak2", "limit"), "7");
}

TEST(Outbox, AppendReadAckAcrossRestart) {
    TempDir dir;
    StoreOptions o = test_options(dir.path());
    o.outbox_max_entries = 5;
    {
        auto store = Store::open(o);
        ASSERT_TRUE(store);
        auto& ob = (*store)->outbox();
        EXPECT_EQ(*ob.append("mqtt", "m1"), 1u);
        EXPECT_EQ(*ob.append("mqtt", std::vector<std::string>{"m2", "m3", "m4"}), 4u);
        EXPECT_EQ(*ob.append("http", "h1"), 1u);
        EXPECT_EQ((*ob.last("mqtt"))->payload, "m4");
        EXPECT_EQ((*ob.last("mqtt"))->seq, 4u);
        EXPECT_FALSE(*ob.last("none"));
        EXPECT_EQ(*ob.queues(""), (std::vector<std::string>{"http", "mqtt"}));
        EXPECT_EQ(*ob.queues("mq"), (std::vector<std::string>{"mqtt"}));
        auto r = ob.read("mqtt", 0, 2);
        ASSERT_TRUE(r);
        ASSERT_EQ(r->size(), 2u);
        EXPECT_EQ((*r)[1].seq, 2u);
        EXPECT_EQ((*r)[1].payload, "m2");
        r = ob.read("mqtt", 2, 10);  // the cursor: after seq 2
        ASSERT_EQ(r->size(), 2u);
        EXPECT_EQ((*r)[0].payload, "m3");
        ASSERT_TRUE(ob.ack("mqtt", 2));
        EXPECT_EQ(*ob.size("mqtt"), 2u);
        EXPECT_FALSE(ob.ack("mqtt", 99));
    }
    auto store = Store::open(o);
    ASSERT_TRUE(store);
    auto& ob = (*store)->outbox();
    auto r = ob.read("mqtt", 0, 10);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ((*r)[0].seq, 3u);
    EXPECT_EQ(*ob.append("mqtt", "m5"), 5u);  // numbering continues
    EXPECT_EQ((*ob.last("mqtt"))->payload, "m5");  // across the restart
    ASSERT_TRUE(ob.ack("mqtt", 5));
    EXPECT_EQ(*ob.size("mqtt"), 0u);
    EXPECT_FALSE(*ob.last("mqtt")) << "an emptied queue has no last entry";
    EXPECT_EQ(*ob.queues(""), (std::vector<std::string>{"http"})) << "an emptied queue is not listed";
    EXPECT_EQ(*ob.append("mqtt", "m6"), 6u);
    // Over the limit (5), the oldest go.
    for (int i = 7; i <= 12; ++i) ASSERT_TRUE(ob.append("mqtt", "m" + std::to_string(i)));
    r = ob.read("mqtt", 0, 100);
    ASSERT_EQ(r->size(), 5u);
    EXPECT_EQ((*r)[0].payload, "m8");
    EXPECT_EQ(ob.dropped("mqtt"), 2u);
    EXPECT_EQ(ob.read("http", 0, 10)->size(), 1u);
}

// Two lanes (a forwarder's backlog and live data) acknowledge out of order:
// remove() deletes any entries, the head moves past those removed at the
// front, numbering goes on after a restart, and drop_oldest() counts.
TEST(Outbox, RemoveOutOfOrderAndDropOldest) {
    TempDir dir;
    StoreOptions o = test_options(dir.path());
    {
        auto store = Store::open(o);
        ASSERT_TRUE(store);
        auto& ob = (*store)->outbox();
        for (int i = 1; i <= 6; ++i) ASSERT_TRUE(ob.append("north/x", "e" + std::to_string(i)));
        ASSERT_TRUE(ob.remove("north/x", {5, 6}));  // the live lane went first
        EXPECT_EQ(*ob.bounds("north/x"), (std::pair<uint64_t, uint64_t>{1, 7}));
        auto r = ob.read("north/x", 0, 10);
        ASSERT_EQ(r->size(), 4u);
        EXPECT_EQ(r->back().seq, 4u);
        ASSERT_TRUE(ob.remove("north/x", {2, 1}));  // the head moves past 1 and 2
        EXPECT_EQ(*ob.bounds("north/x"), (std::pair<uint64_t, uint64_t>{3, 7}));
        EXPECT_FALSE(ob.remove("north/x", {9})) << "beyond the last entry";
        EXPECT_TRUE(ob.remove("north/x", {1})) << "already gone: nothing to do";
        EXPECT_GT(*ob.approximate_bytes("north/x"), 0u);
    }
    auto store = Store::open(o);
    ASSERT_TRUE(store);
    auto& ob = (*store)->outbox();
    EXPECT_EQ(*ob.bounds("north/x"), (std::pair<uint64_t, uint64_t>{3, 7})) << "after a restart";
    ASSERT_TRUE(ob.remove("north/x", {3, 4}));  // everything left: empty
    EXPECT_EQ(*ob.size("north/x"), 0u);
    EXPECT_EQ(*ob.append("north/x", "e7"), 7u) << "numbering continues";
    ASSERT_TRUE(ob.append("north/x", std::vector<std::string>{"e8", "e9"}));
    EXPECT_EQ(*ob.drop_oldest("north/x", 8), 2u);
    EXPECT_EQ(ob.dropped("north/x"), 2u);
    EXPECT_EQ(*ob.drop_oldest("north/x", 8), 0u);
    EXPECT_EQ(ob.read("north/x", 0, 10)->front().payload, "e9");
}

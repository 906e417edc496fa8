// The disk budget (store/disk_budget.h): over its size budget, the store
// sheds raw samples covered by rollups first, oldest first, never the last
// day; then outboxes; then 1-minute rollups; then events; and says when
// nothing is left. Queries still answer the shed periods from the rollups,
// and the store opens again intact.
#include <thread>

#include "store/disk_budget.h"
#include "store/keys.h"
#include "support/time_units.h"
#include "test_util.h"

using namespace gridlet::testing::time_units;
using namespace gridlet;
using namespace gridlet::store;
using namespace gridlet::store::test;

namespace {

// Waits (at most 30 s) until `pred` holds on the store's budget status.
template <class Pred>
bool wait_budget(Store& s, Pred pred) {
    for (int i = 0; i < 3000; ++i) {
        if (pred(s.budget_status())) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

// 10 days of 10-second samples of `n` series with noisy values (so that
// chunks do not compress to nothing), ending at now.
void fill(Store& s, const std::vector<uint32_t>& ids, int64_t now) {
    std::vector<gl_sample> b;
    uint64_t x = 88172645463325252ull;
    for (uint32_t id : ids) {
        for (int64_t t = now - 10 * kDay; t < now; t += 10 * kSec) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            b.push_back(gs(id, t, static_cast<double>(x % 100000) / 7.0));
            if (b.size() >= 50000) {
                ASSERT_TRUE(s.append(b));
                b.clear();
            }
        }
    }
    ASSERT_TRUE(s.append(b));
}

// A store on `clock` that only its budget sheds: raw samples kept `raw_days`
// (longer than the data), 1-minute rollups and events kept forever.
StoreOptions budget_options(const TempDir& dir, ManualClock& clock, int64_t raw_days) {
    StoreOptions o = test_options(dir.path());
    o.clock = &clock;
    o.retention.raw_ms = raw_days * kDay;
    o.retention.min1_ms = 0;
    o.retention.events_ms = 0;
    return o;
}

}  // namespace

TEST(DiskBudget, RawGoesFirstOldestFirstAndRollupsStillAnswer) {
    TempDir dir;
    ManualClock clock(kT0 + 20 * kDay);
    const int64_t now = clock.now_ms();
    // Raw kept longer than the data: only the budget sheds. (Raw kept forever
    // would make the finer rollups sparse: see "Disk budget" in the store README.)
    StoreOptions o = budget_options(dir, clock, 30);
    std::vector<uint32_t> ids;
    {
        auto store = Store::open(o);
        ASSERT_TRUE(store);
        for (int i = 0; i < 8; ++i) ids.push_back(*(*store)->registry().intern(meta("dev/s" + std::to_string(i))));
        fill(**store, ids, now);
        ASSERT_TRUE((*store)->roll_up_now());
        ASSERT_TRUE((*store)->compact_all());
    }
    const uint64_t full = folder_bytes(dir.path());
    ASSERT_GT(full, 2'000'000u) << "the test needs a store of some size";

    // A budget of 70 % of that: raw samples go, oldest first, the last day
    // stays (with raw at its floor, the rollups alone are about 60 %).
    o.max_size_bytes = full * 7 / 10;
    o.budget_check_interval_ms = 20;
    auto store = Store::open(o);
    ASSERT_TRUE(store);
    Store& s = **store;
    ASSERT_TRUE(wait_budget(s, [](const BudgetStatus& b) { return b.checked_ms != 0 && !b.over; }))
        << "size " << s.budget_status().size_bytes << " budget " << o.max_size_bytes
        << " last: " << s.budget_status().last_action;
    const BudgetStatus b = s.budget_status();
    EXPECT_TRUE(b.configured);
    EXPECT_GE(b.raw_steps, 1u);
    EXPECT_EQ(b.rollup_steps, 0u) << "1-minute rollups go only once raw samples are at their floor";
    EXPECT_EQ(b.event_steps, 0u);
    EXPECT_FALSE(b.exhausted);
    EXPECT_LE(b.size_bytes, o.max_size_bytes);
    EXPECT_NE(b.last_action.find("raw samples before"), std::string::npos) << b.last_action;

    for (uint32_t id : ids) {
        auto raw = s.query().raw(id, now - 10 * kDay, now);
        ASSERT_TRUE(raw);
        ASSERT_FALSE(raw->empty());
        // The oldest raw samples are gone; the last day is whole.
        EXPECT_GT(raw->front().ts, now - 10 * kDay + kDay) << "series " << id;
        EXPECT_LE(raw->front().ts, now - kDay);
        EXPECT_EQ(raw->back().ts, now - 10 * kSec);
        // The shed days still answer, from the rollups, to the minute.
        auto day = s.query().downsample(id, now - 10 * kDay, now - 9 * kDay, kDay, Aggregate::count);
        ASSERT_TRUE(day);
        ASSERT_EQ(day->size(), 1u);
        EXPECT_EQ((*day)[0].value, 8640) << "samples of the first day, counted by its rollups";
        auto minutes = s.query().downsample(id, now - 10 * kDay, now - 10 * kDay + kHour, kMin, Aggregate::count);
        ASSERT_TRUE(minutes);
        ASSERT_EQ(minutes->size(), 60u);
        EXPECT_EQ((*minutes)[0].value, 6);
    }
    store->reset();
    // Intact: every table checksum, the manifest and the WAL; and it opens again.
    auto report = verify_store(o.path);
    ASSERT_TRUE(report);
    EXPECT_TRUE(report->ok()) << (report->ok() ? "" : report->problems.front().file + ": " + report->problems.front().problem);
    o.max_size_bytes = 0;
    auto again = Store::open(o);
    ASSERT_TRUE(again) << again.status().message();
}

TEST(DiskBudget, WhenRawIsAtItsFloorOutboxesThenMinutesThenEventsGoAndThenItSaysSo) {
    TempDir dir;
    ManualClock clock(kT0 + 20 * kDay);
    const int64_t now = clock.now_ms();
    StoreOptions o = budget_options(dir, clock, 90);
    o.budget_check_interval_ms = 20;
    o.max_size_bytes = 1;  // nothing fits: every step is taken
    auto store = Store::open(o);
    ASSERT_TRUE(store);
    Store& s = **store;
    const uint32_t id = *s.registry().intern(meta("dev/g"));
    std::vector<gl_sample> b;
    for (int64_t t = now - 60 * kDay; t < now; t += kMin) b.push_back(gs(id, t, static_cast<double>(t % 977)));
    ASSERT_TRUE(s.append(b));
    ASSERT_TRUE(s.roll_up_now());
    for (int d = 0; d < 60; ++d) {
        Event e;
        e.ts = now - d * kDay;
        e.source = "kernel";
        e.type = "tick";
        ASSERT_TRUE(s.events().append(e));
    }
    ASSERT_TRUE(s.outbox().append("export/ftp", std::vector<std::string>(100, std::string(1000, 'x'))));
    ASSERT_TRUE(wait_budget(s, [](const BudgetStatus& st) { return st.exhausted; })) << s.budget_status().last_action;
    const BudgetStatus st = s.budget_status();
    EXPECT_GE(st.raw_steps, 1u);
    EXPECT_GE(st.outbox_steps, 1u);
    EXPECT_EQ(st.outbox_entries_dropped, 100u);
    EXPECT_GE(st.rollup_steps, 1u);
    EXPECT_GE(st.event_steps, 1u);
    EXPECT_TRUE(st.over);
    // What the floors keep: raw samples of the last day, 1-minute rollups of
    // the last 7 days, events of the last 30 days; and the coarse rollups.
    auto raw = s.query().raw(id, now - 60 * kDay, now);
    ASSERT_TRUE(raw);
    ASSERT_FALSE(raw->empty());
    EXPECT_GE(raw->front().ts, now - 2 * kDay);
    EXPECT_LE(raw->front().ts, now - kDay);
    auto ev = s.events().query(EventFilter{});
    ASSERT_TRUE(ev);
    EXPECT_GE(ev->size(), 29u);
    EXPECT_LE(ev->size(), 31u);
    auto first_day = s.query().downsample(id, now - 60 * kDay, now - 59 * kDay, kDay, Aggregate::count);
    ASSERT_TRUE(first_day);
    ASSERT_EQ(first_day->size(), 1u);
    EXPECT_EQ((*first_day)[0].value, 1440) << "the hourly rollups still count the first day";
    auto q = s.outbox().size("export/ftp");
    ASSERT_TRUE(q);
    EXPECT_EQ(*q, 0u);
    // Writes go on.
    ASSERT_TRUE(s.append(std::vector<gl_sample>{gs(id, now, 1)}));
}

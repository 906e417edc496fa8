#include <cmath>
#include <random>

#include "store/keys.h"
#include "test_util.h"

using namespace gridlet;
using namespace gridlet::store;
using namespace gridlet::store::test;

namespace {
constexpr int64_t kMin = 60'000;
constexpr int64_t kHour = 3'600'000;

void expect_rows_equal(const std::vector<RollupRow>& a, const std::vector<RollupRow>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].count, b[i].count) << "bucket " << i;
        EXPECT_EQ(a[i].intervals, b[i].intervals) << "bucket " << i;
        if (a[i].count == 0) continue;
        EXPECT_EQ(a[i].min, b[i].min) << i;
        EXPECT_EQ(a[i].max, b[i].max) << i;
        EXPECT_NEAR(a[i].sum, b[i].sum, 1e-6 * (1 + std::fabs(a[i].sum))) << i;
        EXPECT_EQ(a[i].first, b[i].first) << i;
        EXPECT_EQ(a[i].last, b[i].last) << i;
        EXPECT_EQ(a[i].first_ts, b[i].first_ts) << i;
        EXPECT_EQ(a[i].last_ts, b[i].last_ts) << i;
        EXPECT_NEAR(a[i].consumption, b[i].consumption, 1e-6 * (1 + std::fabs(a[i].consumption))) << i;
    }
}
}  // namespace

TEST(Rollups, CounterConsumptionAcrossResetsAndRollover) {
    TempDir dir;
    auto store = Store::open(test_options(dir.path()));
    ASSERT_TRUE(store);
    uint32_t c = *(*store)->registry().intern(meta("meter/energy", SeriesKind::counter));
    uint32_t w = *(*store)->registry().intern(meta("meter/pulses", SeriesKind::counter, {{"rollover", "1000"}}));
    // Every 10 min for 3 h: +5 per interval, reset to 0 at 01:20 (then +5 from there).
    std::vector<gl_sample> b;
    double v = 100;
    double p = 980;
    for (int i = 0; i <= 18; ++i) {
        int64_t t = kT0 + i * 10 * kMin;
        if (i == 8) v = 3;  // reset: the counter restarted and counted 3
        b.push_back(gs(c, t, v));
        b.push_back(gs(w, t, p));
        v += 5;
        p = std::fmod(p + 7, 1000);  // wraps at 1000
    }
    ASSERT_TRUE((*store)->append(b));
    for (bool rolled : {false, true}) {
        if (rolled) {
            ASSERT_TRUE((*store)->roll_up_now());
        }
        QueryStats qs;
        auto h = (*store)->query().downsample(c, kT0, kT0 + 3 * kHour, kHour, Aggregate::consumption, &qs);
        ASSERT_TRUE(h) << h.status().to_string();
        ASSERT_EQ(h->size(), 3u);
        // Hour 0: 6 intervals x 5. Hour 1: 01:00->01:10 +5, 01:10->01:20 reset (+3), then 4 x 5.
        EXPECT_EQ((*h)[0].value, 30);
        EXPECT_EQ((*h)[1].value, 5 + 3 + 20);
        // Hour 2: 02:00..02:50 are 6 intervals, the last one closed by 03:00.
        EXPECT_EQ((*h)[2].value, 30);
        EXPECT_EQ(qs.resolution.has_value(), rolled);
        auto p = (*store)->query().downsample(w, kT0, kT0 + 3 * kHour, kHour, Aggregate::consumption);
        ASSERT_TRUE(p);
        ASSERT_EQ(p->size(), 3u);
        for (const Point& pt : *p) EXPECT_EQ(pt.value, 42);  // 6 x 7, wraps included
    }
    // The last sample (03:00) starts an interval that has not ended: not counted.
    auto tail = (*store)->query().downsample(c, kT0 + 3 * kHour, kT0 + 4 * kHour, kHour, Aggregate::consumption);
    ASSERT_TRUE(tail);
    EXPECT_TRUE(tail->empty());
    // Consumption of a gauge is refused with the series name.
    uint32_t g = *(*store)->registry().intern(meta("meter/power"));
    auto bad = (*store)->query().downsample(g, kT0, kT0 + kHour, kHour, Aggregate::consumption);
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.status().message().find("meter/power"), std::string::npos);
}

TEST(Rollups, GapsAreNotInterpolated) {
    TempDir dir;
    auto store = Store::open(test_options(dir.path()));
    ASSERT_TRUE(store);
    uint32_t c = *(*store)->registry().intern(meta("meter/energy", SeriesKind::counter));
    uint32_t g = *(*store)->registry().intern(meta("meter/power"));
    // Readings at 00:00 and 05:00 only.
    ASSERT_TRUE((*store)->append(std::vector<gl_sample>{gs(c, kT0, 10), gs(c, kT0 + 5 * kHour, 60), gs(g, kT0, 1),
                                                        gs(g, kT0 + 5 * kHour, 6)}));
    ASSERT_TRUE((*store)->roll_up_now());
    auto h = (*store)->query().downsample(c, kT0, kT0 + 6 * kHour, kHour, Aggregate::consumption);
    ASSERT_TRUE(h);
    ASSERT_EQ(h->size(), 1u);  // all 50 charged to hour 0, where the interval starts
    EXPECT_EQ((*h)[0], (Point{kT0, 50}));
    auto avg = (*store)->query().downsample(g, kT0, kT0 + 6 * kHour, kHour, Aggregate::avg);
    ASSERT_TRUE(avg);
    ASSERT_EQ(avg->size(), 2u);  // hours 1..4 have no data and no point
    EXPECT_EQ((*avg)[1], (Point{kT0 + 5 * kHour, 6}));
}

TEST(Rollups, RollupsGiveTheSameAnswerAsRaw) {
    TempDir dir;
    StoreOptions o = test_options(dir.path());
    o.chunk_max_samples = 200;
    auto store = Store::open(o);
    ASSERT_TRUE(store);
    uint32_t g = *(*store)->registry().intern(meta("dev/gauge"));
    uint32_t c = *(*store)->registry().intern(meta("dev/counter", SeriesKind::counter));
    std::mt19937_64 rng(3);
    const int64_t span = 3 * 86'400'000LL;
    double counter = 1000;
    auto write_block = [&](int64_t from, int64_t to) {
        std::vector<gl_sample> b;
        for (int64_t t = from; t < to; t += 7000 + static_cast<int64_t>(rng() % 20000)) {
            b.push_back(gs(g, t, static_cast<double>(rng() % 10000) / 100.0, rng() % 50 == 0 ? 0 : 192));
            counter += static_cast<double>(rng() % 100) / 10.0;
            if (rng() % 2000 == 0) counter = 0;
            b.push_back(gs(c, t, counter));
        }
        ASSERT_TRUE((*store)->append(b));
    };
    for (int64_t t = kT0; t < kT0 + span; t += 6 * kHour) {
        write_block(t, t + 6 * kHour);
        ASSERT_TRUE((*store)->roll_up_now());
    }
    auto compare_all = [&](const char* when, bool clean = true) {
        SCOPED_TRACE(when);
        for (uint32_t id : {g, c}) {
            struct Case {
                int64_t from, to, step;
            };
            for (Case k : {Case{kT0, kT0 + span, 86'400'000}, Case{kT0, kT0 + span, kHour},
                           Case{kT0 + 15 * kMin, kT0 + span - 3 * kHour, 15 * kMin},
                           Case{kT0 + 12345, kT0 + span - 6789, kHour}, Case{kT0 + 7 * kMin, kT0 + 2 * kHour, kMin},
                           Case{kT0, kT0 + span, 7 * kMin}}) {
                auto edges = QueryEngine::step_edges(k.from, k.to, k.step);
                ASSERT_TRUE(edges);
                QueryStats qs;
                auto fast = (*store)->query().aggregate(id, *edges, &qs);
                auto slow = (*store)->query().aggregate(id, *edges, nullptr, true);
                ASSERT_TRUE(fast && slow);
                expect_rows_equal(*fast, *slow);
                if (clean && k.step % kHour == 0 && k.from % kHour == 0) {
                    EXPECT_TRUE(qs.resolution.has_value());
                    EXPECT_LT(qs.raw_samples, 2000u);
                }
            }
        }
    };
    compare_all("in order");
    // Late samples and overwrites into rolled-up time: dirty minutes.
    std::vector<gl_sample> late;
    for (int i = 0; i < 50; ++i) {
        int64_t t = kT0 + static_cast<int64_t>(rng() % static_cast<uint64_t>(span - kHour));
        late.push_back(gs(g, t, 500 + i));
        late.push_back(gs(c, t, counter / 2));
    }
    ASSERT_TRUE((*store)->append(late));
    compare_all("late, before the roller ran (dirty buckets from raw)", false);
    auto pass = (*store)->roll_up_now();
    ASSERT_TRUE(pass);
    EXPECT_GT(pass->dirty_minutes, 0u);
    compare_all("late, repaired");
    ASSERT_TRUE((*store)->compact_all());
    compare_all("compacted");
}

TEST(Rollups, WatermarkSurvivesRestartAndRollupsContinue) {
    TempDir dir;
    StoreOptions o = test_options(dir.path());
    uint32_t g = 0;
    {
        auto store = Store::open(o);
        ASSERT_TRUE(store);
        g = *(*store)->registry().intern(meta("dev/g"));
        std::vector<gl_sample> b;
        for (int i = 0; i < 120; ++i) b.push_back(gs(g, kT0 + i * 30'000, i));
        ASSERT_TRUE((*store)->append(b));
        ASSERT_TRUE((*store)->roll_up_now());
    }
    auto store = Store::open(o);
    ASSERT_TRUE(store);
    std::vector<gl_sample> b;
    for (int i = 120; i < 240; ++i) b.push_back(gs(g, kT0 + i * 30'000, i));
    b.push_back(gs(g, kT0 + 5 * 30'000, 1000));  // overwrite before the watermark
    b.push_back(gs(g, kT0 + 250 * 30'000, 250));  // completes hour 1
    ASSERT_TRUE((*store)->append(b));
    ASSERT_TRUE((*store)->roll_up_now());
    QueryStats qs;
    auto r = (*store)->query().downsample(g, kT0, kT0 + 2 * kHour, kHour, Aggregate::max, &qs);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ((*r)[0].value, 1000);
    EXPECT_EQ((*r)[1].value, 239);
    EXPECT_EQ(qs.resolution, Resolution::hour1);
    EXPECT_EQ(qs.raw_samples, 0u);
}

#include "test_util.h"
#include "support/time_units.h"

#include <algorithm>
#include <cstring>
#include <random>

using namespace gridlet::testing::time_units;

using namespace gridlet;
using namespace gridlet::store;
using namespace gridlet::store::test;

namespace {

int64_t utc(const char* iso) { return *TimeZone::utc().parse_iso(iso); }
}  // namespace

TEST(Query, DownsampleBucketsAreEpochAlignedAndClipped) {
    TempDir dir;
    auto store = Store::open(test_options(dir.path()));
    ASSERT_TRUE(store);
    uint32_t g = *(*store)->registry().intern(meta("dev/g"));
    std::vector<gl_sample> b;
    for (int i = 0; i < 60; ++i) b.push_back(gs(g, kT0 + i * kMin, i));
    ASSERT_TRUE((*store)->append(b));
    // [00:07, 00:38) in 15-min steps: buckets labelled 00:00 (only 07..14), 00:15, 00:30 (only 30..37).
    auto r = (*store)->query().downsample(g, kT0 + 7 * kMin, kT0 + 38 * kMin, 15 * kMin, Aggregate::count);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->size(), 3u);
    EXPECT_EQ((*r)[0], (Point{kT0, 8}));
    EXPECT_EQ((*r)[1], (Point{kT0 + 15 * kMin, 15}));
    EXPECT_EQ((*r)[2], (Point{kT0 + 30 * kMin, 8}));
    auto first = (*store)->query().downsample(g, kT0 + 7 * kMin, kT0 + 38 * kMin, 15 * kMin, Aggregate::first);
    ASSERT_TRUE(first);
    EXPECT_EQ((*first)[0].value, 7);
    auto last = (*store)->query().downsample(g, kT0 + 7 * kMin, kT0 + 38 * kMin, 15 * kMin, Aggregate::last);
    EXPECT_EQ((*last)[2].value, 37);
    auto avg = (*store)->query().downsample(g, kT0, kT0 + kHour, 30 * kMin, Aggregate::avg);
    EXPECT_EQ((*avg)[0].value, 14.5);
    EXPECT_FALSE((*store)->query().downsample(g, kT0, kT0, kMin, Aggregate::avg));
    EXPECT_FALSE((*store)->query().downsample(g, kT0, kT0 + kHour, 0, Aggregate::avg));
    // 8.6 billion 1-ms buckets: answered bucket by bucket, only those with data.
    auto fine = (*store)->query().downsample(g, kT0, kT0 + 100 * kDay, 1, Aggregate::avg);
    ASSERT_TRUE(fine) << fine.status().to_string();
    EXPECT_EQ(fine->size(), 60u);
}

TEST(Query, BadQualityIsStoredButNotAggregated) {
    TempDir dir;
    auto store = Store::open(test_options(dir.path()));
    ASSERT_TRUE(store);
    uint32_t g = *(*store)->registry().intern(meta("dev/g"));
    ASSERT_TRUE((*store)->append(std::vector<gl_sample>{gs(g, kT0, 1), gs(g, kT0 + 1000, 999, GL_QUALITY_BAD),
                                                        gs(g, kT0 + 2000, 3)}));
    EXPECT_EQ((*store)->query().raw(g, kT0, kT0 + kMin)->size(), 3u);
    auto mx = (*store)->query().downsample(g, kT0, kT0 + kMin, kMin, Aggregate::max);
    EXPECT_EQ((*mx)[0].value, 3);
    EXPECT_EQ((*(*store)->query().downsample(g, kT0, kT0 + kMin, kMin, Aggregate::count))[0].value, 2);
}

TEST(Query, SeveralSeriesByPatternAndTags) {
    TempDir dir;
    auto store = Store::open(test_options(dir.path()));
    ASSERT_TRUE(store);
    auto& reg = (*store)->registry();
    uint32_t a = *reg.intern(meta("panel1/branch01/power", SeriesKind::gauge, {{"floor", "1"}, {"usage", "hvac"}}));
    uint32_t b = *reg.intern(meta("panel1/branch02/power", SeriesKind::gauge, {{"floor", "2"}, {"usage", "hvac"}}));
    uint32_t c = *reg.intern(meta("panel2/branch01/power", SeriesKind::gauge, {{"floor", "1"}, {"usage", "light"}}));
    std::vector<gl_sample> batch;
    for (uint32_t id : {a, b, c})
        for (int i = 0; i < 10; ++i) batch.push_back(gs(id, kT0 + i * kMin, id * 10.0 + i));
    ASSERT_TRUE((*store)->append(batch));
    auto r = (*store)->query().downsample_many("panel1/*/power", "", kT0, kT0 + 10 * kMin, 5 * kMin, Aggregate::sum);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ((*r)[0].meta.name, "panel1/branch01/power");
    EXPECT_EQ((*r)[0].points[0].value, a * 50.0 + 10);
    auto t = (*store)->query().downsample_many("", "floor=1", kT0, kT0 + 10 * kMin, 10 * kMin, Aggregate::max);
    ASSERT_TRUE(t);
    ASSERT_EQ(t->size(), 2u);
    EXPECT_EQ((*t)[1].meta.name, "panel2/branch01/power");
    EXPECT_EQ((*t)[1].points[0].value, c * 10.0 + 9);
    auto raw = (*store)->query().raw_many("panel2/", "usage=light", kT0, kT0 + 3 * kMin);
    ASSERT_TRUE(raw);
    ASSERT_EQ(raw->size(), 1u);
    EXPECT_EQ((*raw)[0].points.size(), 3u);
    EXPECT_FALSE((*store)->query().downsample_many("", "floor", kT0, kT0 + kMin, kMin, Aggregate::sum));
}

TEST(Query, CalendarDaysAcrossParisDstChanges) {
    TempDir dir;
    auto store = Store::open(test_options(dir.path()));
    ASSERT_TRUE(store);
    uint32_t c = *(*store)->registry().intern(meta("meter/energy", SeriesKind::counter));
    uint32_t g = *(*store)->registry().intern(meta("meter/power"));
    auto paris = TimeZone::load("Europe/Paris");
    ASSERT_TRUE(paris);
    // 1-minute counter (+1 per minute) around both 2024 changes.
    for (auto [from, to] : {std::pair{utc("2024-03-29T00:00:00Z"), utc("2024-04-02T00:00:00Z")},
                            std::pair{utc("2024-10-25T00:00:00Z"), utc("2024-10-29T00:00:00Z")}}) {
        std::vector<gl_sample> b;
        double v = 0;
        for (int64_t t = from; t <= to; t += kMin) {
            b.push_back(gs(c, t, v++));
            b.push_back(gs(g, t, 1));
        }
        ASSERT_TRUE((*store)->append(b));
    }
    for (bool rolled : {false, true}) {
        if (rolled) {
            ASSERT_TRUE((*store)->roll_up_now());
        }
        SCOPED_TRACE(rolled ? "from rollups" : "from raw");
        QueryStats qs;
        auto spring = (*store)->query().calendar(c, *paris->parse_iso("2024-03-30"), *paris->parse_iso("2024-04-01"),
                                                 CalendarUnit::day, *paris, Aggregate::consumption, &qs);
        ASSERT_TRUE(spring) << spring.status().to_string();
        ASSERT_EQ(spring->size(), 2u);
        EXPECT_EQ((*spring)[0], (Point{utc("2024-03-29T23:00:00Z"), 24 * 60}));
        EXPECT_EQ((*spring)[1], (Point{utc("2024-03-30T23:00:00Z"), 23 * 60}));  // March 31: 23 h
        if (rolled) {
            EXPECT_EQ(qs.resolution, Resolution::hour1);
        }
        auto autumn = (*store)->query().calendar(c, *paris->parse_iso("2024-10-26"), *paris->parse_iso("2024-10-28"),
                                                 CalendarUnit::day, *paris, Aggregate::consumption);
        ASSERT_TRUE(autumn);
        ASSERT_EQ(autumn->size(), 2u);
        EXPECT_EQ((*autumn)[0], (Point{utc("2024-10-25T22:00:00Z"), 24 * 60}));
        EXPECT_EQ((*autumn)[1], (Point{utc("2024-10-26T22:00:00Z"), 25 * 60}));  // October 27: 25 h
        auto counts = (*store)->query().calendar(g, *paris->parse_iso("2024-10-27"), *paris->parse_iso("2024-10-28"),
                                                 CalendarUnit::day, *paris, Aggregate::count);
        ASSERT_TRUE(counts);
        EXPECT_EQ((*counts)[0].value, 25 * 60);
        // A week holding the spring change, and a month bucket labelled by its local start.
        auto week = (*store)->query().calendar(c, *paris->parse_iso("2024-03-29"), *paris->parse_iso("2024-04-01"),
                                               CalendarUnit::week, *paris, Aggregate::consumption);
        ASSERT_TRUE(week);
        ASSERT_EQ(week->size(), 1u);
        EXPECT_EQ((*week)[0].ts, utc("2024-03-24T23:00:00Z"));
        EXPECT_EQ((*week)[0].value, (23 + 24 + 23) * 60);  // Fri 01:00 local .. Mon 00:00 local
    }
    // Half-hour zone: local midnights are not whole UTC hours: 15-min rows
    // up to the first whole hour and from the last one, hour rows between.
    auto kolkata = TimeZone::load("Asia/Kolkata");
    ASSERT_TRUE(kolkata);
    QueryStats qs;
    auto d = (*store)->query().calendar(c, *kolkata->parse_iso("2024-03-30"), *kolkata->parse_iso("2024-04-01"),
                                        CalendarUnit::day, *kolkata, Aggregate::consumption, &qs);
    ASSERT_TRUE(d);
    ASSERT_EQ(d->size(), 2u);
    EXPECT_EQ((*d)[0], (Point{utc("2024-03-29T18:30:00Z"), 24 * 60}));
    EXPECT_EQ((*d)[1].value, 24 * 60);
    EXPECT_EQ(qs.resolution, Resolution::hour1);
    // One bucket has no inner edge: the coarsest rollup inside it, raw at both ends.
    auto one = (*store)->query().calendar(c, *kolkata->parse_iso("2024-03-30"), *kolkata->parse_iso("2024-03-31"),
                                          CalendarUnit::day, *kolkata, Aggregate::consumption, &qs);
    ASSERT_TRUE(one);
    EXPECT_EQ((*one)[0].value, 24 * 60);
    EXPECT_EQ(qs.resolution, Resolution::hour1);
    EXPECT_LE(qs.raw_samples, 62u);
}

// Issue 12: a rule's query is bounded while it is read, not after. A week of
// 1 s samples (604,800) is refused after about max_rows samples decoded, and
// a meter that says stop ends the read at once.
TEST(Query, ALimitEndsTheReadWhileReadingNotAfter) {
    TempDir dir;
    auto store = Store::open(test_options(dir.path()));
    ASSERT_TRUE(store);
    uint32_t g = *(*store)->registry().intern(meta("dev/g"));
    const int64_t n = 7 * 86'400;
    std::vector<gl_sample> b;
    for (int64_t i = 0; i < n; ++i) {
        b.push_back(gs(g, kT0 + i * 1000, static_cast<double>(i % 100)));
        if (b.size() == 50'000) {
            ASSERT_TRUE((*store)->append(b));
            b.clear();
        }
    }
    ASSERT_TRUE((*store)->append(b));
    const QueryEngine& q = (*store)->query();
    uint64_t work = 0;
    QueryLimit limit{10'000, [&](uint64_t w) {
                         work += w;
                         return Status::ok();
                     }};
    // Raw: more than 10,000 samples is refused, having decoded about that many.
    auto raw = q.raw(g, kT0, kT0 + n * 1000, limit);
    ASSERT_FALSE(raw);
    EXPECT_NE(raw.status().message().find("more than 10000 rows"), std::string::npos) << raw.status().message();
    EXPECT_LT(work, 20'000u);
    EXPECT_GT(work, 0u);
    // Rows already produced for the same request count.
    work = 0;
    auto some = q.raw(g, kT0, kT0 + 6000 * 1000, limit, 3000);
    EXPECT_TRUE(some) << some.status().message();
    auto over = q.raw(g, kT0, kT0 + 8000 * 1000, limit, 3000);
    EXPECT_FALSE(over);
    // Buckets: 1 s steps over the week make 604,800 rows: refused early.
    work = 0;
    auto fine = q.downsample(g, kT0, kT0 + n * 1000, 1000, Aggregate::avg, nullptr, &limit);
    ASSERT_FALSE(fine);
    EXPECT_NE(fine.status().message().find("more than 10000 rows"), std::string::npos);
    EXPECT_LT(work, 40'000u);
    // 15-min buckets of the week are 672 rows: answered.
    auto coarse = q.downsample(g, kT0, kT0 + n * 1000, 15 * kMin, Aggregate::avg, nullptr, &limit);
    ASSERT_TRUE(coarse) << coarse.status().message();
    EXPECT_EQ(coarse->size(), 672u);
    // A meter that says stop (a rule out of time) ends a one-bucket total
    // over the raw week at the first chunk, and its Status is the answer.
    int calls = 0;
    QueryLimit deadline{0, [&](uint64_t) {
                            ++calls;
                            return Status::timeout("out of time");
                        }};
    auto total = q.total(g, kT0, kT0 + n * 1000, Aggregate::avg, nullptr, &deadline);
    ASSERT_FALSE(total);
    EXPECT_EQ(total.status().code(), StatusCode::timeout);
    EXPECT_EQ(calls, 1);
    auto raw_stopped = q.raw(g, kT0, kT0 + n * 1000, deadline);
    ASSERT_FALSE(raw_stopped);
    EXPECT_EQ(calls, 2);
}

// A long walk is read in two halves on two threads (QueryEngine::
// kParallelBuckets): the rows must be those of one walk, bit for bit, for a
// counter with glitches, resets and gaps, over rolled-up rows and over raw
// samples past the watermark.
TEST(Query, AggregateInTwoHalvesEqualsOneWalk) {
    TempDir dir;
    auto store = Store::open(test_options(dir.path()));
    ASSERT_TRUE(store);
    Store& s = **store;
    const uint32_t c = *s.registry().intern(meta("dev/kwh", SeriesKind::counter));
    std::mt19937_64 rng(5);
    std::uniform_real_distribution<double> u(0, 1);
    const int64_t days = 30, end = kT0 + days * kDay;
    double v = 100;
    std::vector<gl_sample> rolled, after;  // rows for 20 days, raw samples only after
    for (int64_t t = kT0; t < end; t += static_cast<int64_t>(10 + u(rng) * 20) * kSec) {
        if (u(rng) < 0.00003) t += static_cast<int64_t>(u(rng) * 48) * kHour;  // a gap, sometimes over max_gap
        const double r = u(rng);
        double value = v += u(rng);
        if (r < 0.001) value = 0;                     // a glitch
        else if (r < 0.0015) value = v = u(rng) * 3;  // a reset
        (t < kT0 + 20 * kDay ? rolled : after).push_back(gs(c, t, value, u(rng) < 0.01 ? GL_QUALITY_BAD : GL_QUALITY_GOOD));
    }
    ASSERT_TRUE(s.append(rolled));
    ASSERT_TRUE(s.roll_up_now());
    ASSERT_TRUE(s.append(after));
    auto edges = QueryEngine::step_edges(kT0 - 7 * kMin, end, 15 * kMin);
    ASSERT_TRUE(edges);
    ASSERT_GE(edges->size() - 1, QueryEngine::kParallelBuckets);
    QueryStats stats;
    auto halves = s.query().aggregate(c, *edges, &stats);
    ASSERT_TRUE(halves) << halves.status().to_string();
    EXPECT_GT(stats.rollup_rows, 1000u);  // both kinds of answer were used
    EXPECT_GT(stats.raw_samples, 1000u);
    // One walk: the streaming form, over the same buckets.
    std::vector<RollupRow> one(edges->size() - 1);
    BucketPlan plan = step_buckets(edges->front(), edges->back(), 15 * kMin);
    ASSERT_TRUE(s.query().for_each_bucket(c, edges->front(), edges->back(), plan, [&](int64_t start, int64_t, const RollupRow& row) {
        const auto i = static_cast<size_t>(std::upper_bound(edges->begin(), edges->end(), start) - edges->begin()) - 1;
        one[i] = row;
    }));
    size_t consumed = 0;
    for (size_t i = 0; i < one.size(); ++i) {
        SCOPED_TRACE("bucket " + std::to_string(i));
        const RollupRow &a = one[i], &h = (*halves)[i];
        consumed += a.intervals > 0;
        ASSERT_TRUE(same_row_bits(a, h));
    }
    EXPECT_GT(consumed, one.size() * 3 / 4);
    // And raw only, in halves, gives the same consumption (the rows are exact).
    auto raw = s.query().aggregate(c, *edges, nullptr, true);
    ASSERT_TRUE(raw);
    for (size_t i = 0; i < one.size(); ++i) ASSERT_EQ(0, std::memcmp(&one[i].consumption, &(*raw)[i].consumption, sizeof(double))) << i;
}

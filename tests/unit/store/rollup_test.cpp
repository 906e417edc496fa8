#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <memory>
#include <span>

#include <rocksdb/write_batch.h>

#include "store/db.h"
#include "store/keys.h"
#include "test_util.h"
#include "support/time_units.h"

using namespace gridlet::testing::time_units;

using namespace gridlet;
using namespace gridlet::store;
using namespace gridlet::store::test;

namespace {

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// A row as version 2 wrote it (absolute times, every extreme): what stores
// written before version 3 hold. By hand, so that it stays what they hold.
std::string encode_row_v2(const RollupRow& r) {
    std::string out(1, '\x02');
    auto varint = [&out](uint64_t v) {
        while (v >= 0x80) {
            out.push_back(static_cast<char>(v | 0x80));
            v >>= 7;
        }
        out.push_back(static_cast<char>(v));
    };
    auto zz = [](int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); };
    auto put = [&out](double d) { out.append(reinterpret_cast<const char*>(&d), sizeof d); };
    varint(r.count);
    varint(r.intervals);
    if (r.count == 1) {
        put(r.first);
        varint(zz(r.first_ts));
    } else if (r.count > 1) {
        put(r.min), put(r.max), put(r.sum), put(r.first), put(r.last);
        varint(zz(r.first_ts));
        varint(static_cast<uint64_t>(r.last_ts - r.first_ts));
    }
    if (r.intervals > 0) put(r.consumption);
    return out;
}


void expect_rows_equal(const std::vector<RollupRow>& a, const std::vector<RollupRow>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].count, b[i].count) << "bucket " << i;
        EXPECT_EQ(a[i].intervals, b[i].intervals) << "bucket " << i;
        if (a[i].count == 0) continue;
        EXPECT_EQ(a[i].min, b[i].min) << i;
        EXPECT_EQ(a[i].max, b[i].max) << i;
        // Bit for bit: rollups and raw sum in the same order (aggregation.h).
        EXPECT_TRUE(same_bits(a[i].sum, b[i].sum)) << i << ": " << a[i].sum << " vs " << b[i].sum;
        EXPECT_EQ(a[i].first, b[i].first) << i;
        EXPECT_EQ(a[i].last, b[i].last) << i;
        EXPECT_EQ(a[i].first_ts, b[i].first_ts) << i;
        EXPECT_EQ(a[i].last_ts, b[i].last_ts) << i;
        EXPECT_TRUE(same_bits(a[i].consumption, b[i].consumption))
            << i << ": " << a[i].consumption << " vs " << b[i].consumption;
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
        auto edges = QueryEngine::step_edges(kT0, kT0 + 3 * kHour, kHour);
        ASSERT_TRUE(edges);
        auto fast = (*store)->query().aggregate(c, *edges);
        auto slow = (*store)->query().aggregate(c, *edges, nullptr, true);
        ASSERT_TRUE(fast && slow);
        expect_rows_equal(*fast, *slow);
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

namespace {
// Rows stored for `series` at resolution `r`.
size_t stored_rows(Store& s, uint32_t series, Resolution r) {
    std::unique_ptr<rocksdb::Iterator> it(s.db().db()->NewIterator(rocksdb::ReadOptions(), s.db().cf(Cf::rollups)));
    const std::string prefix = rollup_key(series, r, 0).substr(0, 5);
    size_t n = 0;
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) ++n;
    return n;
}

uint64_t sst_bytes(Store& s, Cf cf) {
    uint64_t v = 0;
    s.db().db()->GetIntProperty(s.db().cf(cf), "rocksdb.total-sst-files-size", &v);
    return v;
}

// Every aggregate of every bucket, from rollups (where the engine chooses)
// and from raw samples only.
void expect_same_as_raw(Store& s, uint32_t id, int64_t from, int64_t to, std::span<const int64_t> steps) {
    for (int64_t step : steps) {
        SCOPED_TRACE("step " + std::to_string(step));
        auto edges = QueryEngine::step_edges(from, to, step);
        ASSERT_TRUE(edges);
        auto fast = s.query().aggregate(id, *edges);
        auto slow = s.query().aggregate(id, *edges, nullptr, true);
        ASSERT_TRUE(fast && slow);
        expect_rows_equal(*fast, *slow);
    }
}
}  // namespace

// Sparse series (10-min energy readings): 1-min, 15-min and 1-h rows would
// each hold 1 to 6 samples and are not stored (raw is kept forever here);
// queries at every step still equal the raw answers, resets and rollovers
// included, and day queries read day rows.
TEST(Rollups, SparseSeriesStoreOnlyRowsWorthTheirBytes) {
    TempDir dir;
    auto store = Store::open(test_options(dir.path()));
    ASSERT_TRUE(store);
    Store& s = **store;
    uint32_t c = *s.registry().intern(meta("meter/energy", SeriesKind::counter));
    uint32_t w = *s.registry().intern(meta("meter/pulses", SeriesKind::counter, {{"rollover", "1000"}}));
    uint32_t g = *s.registry().intern(meta("meter/temp"));
    const int64_t days = 4;
    std::vector<gl_sample> b;
    double v = 100, p = 900;
    // One reading past the last day: a counter's last interval is settled
    // by the two good readings after its start (aggregation.h).
    for (int64_t i = 0; i <= days * 144 + 1; ++i) {
        const int64_t t = kT0 + i * 10 * kMin;
        if (i == 200) v = 2;  // reset
        // A bad reading now and then: ignored, also as the end of an interval.
        const uint8_t q = i % 37 == 5 ? 0 : 192;
        b.push_back(gs(c, t, q ? v : 99999, q));
        b.push_back(gs(w, t, p));
        b.push_back(gs(g, t, 20 + static_cast<double>(i % 13) / 10));
        v += 1.25 + static_cast<double>(i % 7) / 4;
        p = std::fmod(p + 37, 1000);
    }
    ASSERT_TRUE(s.append(b));
    ASSERT_TRUE(s.roll_up_now());
    for (uint32_t id : {c, w, g}) {
        EXPECT_EQ(stored_rows(s, id, Resolution::min1), 0u);
        EXPECT_EQ(stored_rows(s, id, Resolution::min15), 0u);
        EXPECT_EQ(stored_rows(s, id, Resolution::hour1), 0u);
        EXPECT_EQ(stored_rows(s, id, Resolution::day1), static_cast<size_t>(days));
    }
    const int64_t steps[] = {kMin, 7 * kMin, 15 * kMin, kHour, 3 * kHour, 86'400'000};
    const int64_t end = kT0 + days * 86'400'000 + kHour;
    for (uint32_t id : {c, w, g}) {
        SCOPED_TRACE(id);
        expect_same_as_raw(s, id, kT0, end, steps);
        expect_same_as_raw(s, id, kT0 + 5 * kMin + 17, end - 3 * kHour - 1, steps);
    }
    // Day buckets come from day rows, with few raw samples.
    QueryStats qs;
    auto d = s.query().downsample(c, kT0, kT0 + days * 86'400'000, 86'400'000, Aggregate::consumption, &qs);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->size(), static_cast<size_t>(days));
    EXPECT_EQ(qs.resolution, Resolution::day1);
    EXPECT_EQ(qs.raw_samples, 0u);
    // Europe/Paris days (23:00Z edges): hour buckets without rows, from raw.
    auto paris = TimeZone::load("Europe/Paris");
    ASSERT_TRUE(paris);
    auto edges = QueryEngine::calendar_edges(kT0, end, CalendarUnit::day, *paris);
    ASSERT_TRUE(edges);
    auto fast = s.query().aggregate(c, *edges);
    auto slow = s.query().aggregate(c, *edges, nullptr, true);
    ASSERT_TRUE(fast && slow);
    expect_rows_equal(*fast, *slow);

    // Late samples and overwrites: repaired day rows, still no finer rows.
    std::vector<gl_sample> late{gs(c, kT0 + 3 * kHour + 5 * kMin, v / 3), gs(g, kT0 + 30 * kHour + 1, 99),
                                gs(w, kT0 + 50 * kHour, 10)};
    ASSERT_TRUE(s.append(late));
    ASSERT_TRUE(s.roll_up_now());
    for (uint32_t id : {c, w, g}) {
        SCOPED_TRACE(id);
        EXPECT_EQ(stored_rows(s, id, Resolution::min1), 0u);
        expect_same_as_raw(s, id, kT0, end, steps);
    }
    ASSERT_TRUE(s.compact_all());
    expect_same_as_raw(s, c, kT0, end, steps);
}

// A bucket whose row was stored and then lost samples (overwritten as bad
// quality) below kMinRowSamples: its row goes, the raw samples answer.
TEST(Rollups, RowsBelowTheThresholdAfterARepairAreDeleted) {
    TempDir dir;
    auto store = Store::open(test_options(dir.path()));
    ASSERT_TRUE(store);
    Store& s = **store;
    uint32_t g = *s.registry().intern(meta("dev/g"));
    std::vector<gl_sample> b;
    for (int i = 0; i < 20; ++i) b.push_back(gs(g, kT0 + i * 3000, i));     // minute 0: 20 samples
    for (int i = 0; i < 60; ++i) b.push_back(gs(g, kT0 + kMin + i * 1000, 100 + i));  // minute 1: 60
    b.push_back(gs(g, kT0 + 3 * kMin, 7));
    ASSERT_TRUE(s.append(b));
    ASSERT_TRUE(s.roll_up_now());
    EXPECT_EQ(stored_rows(s, g, Resolution::min1), 2u);
    std::vector<gl_sample> bad;
    for (int i = 0; i < 10; ++i) bad.push_back(gs(g, kT0 + i * 3000, 1000, 0));
    for (int i = 0; i < 60; ++i) bad.push_back(gs(g, kT0 + kMin + i * 1000, 1000, 0));
    ASSERT_TRUE(s.append(bad));
    ASSERT_TRUE(s.roll_up_now());
    EXPECT_EQ(stored_rows(s, g, Resolution::min1), 0u);  // 10 good samples left, and none
    QueryStats qs;
    auto m = s.query().downsample(g, kT0, kT0 + 4 * kMin, kMin, Aggregate::count, &qs);
    ASSERT_TRUE(m);
    ASSERT_EQ(m->size(), 2u);  // minute 1 holds only bad samples: no point
    EXPECT_EQ((*m)[0], (Point{kT0, 10}));
    EXPECT_EQ((*m)[1], (Point{kT0 + 3 * kMin, 1}));
    EXPECT_FALSE(qs.resolution);  // no row is left to use
    EXPECT_EQ(qs.raw_samples, 81u);
    auto mx = s.query().downsample(g, kT0, kT0 + 4 * kMin, kMin, Aggregate::max);
    ASSERT_TRUE(mx);
    ASSERT_EQ(mx->size(), 2u);
    EXPECT_EQ((*mx)[0], (Point{kT0, 19}));
}

// Issue 3's target on a small data set: 10-min energy registers cost at
// most 2 bytes per sample on disk, rollups included.
TEST(Rollups, SparseCountersCostAtMostTwoBytesPerSample) {
    TempDir dir;
    auto store = Store::open(test_options(dir.path()));
    ASSERT_TRUE(store);
    Store& s = **store;
    std::mt19937_64 rng(7);
    std::vector<uint32_t> ids;
    for (int i = 0; i < 40; ++i) ids.push_back(*s.registry().intern(meta("e/m" + std::to_string(i), SeriesKind::counter)));
    std::vector<double> kwh(ids.size(), 5000.0), kw(ids.size(), 20.0);
    uint64_t samples = 0;
    for (int64_t day = 0; day < 60; ++day) {
        std::vector<gl_sample> b;
        for (int64_t k = 0; k < 144; ++k)
            for (size_t i = 0; i < ids.size(); ++i) {
                kw[i] = std::clamp(kw[i] + static_cast<double>(static_cast<int>(rng() % 5) - 2) / 2, 5.0, 80.0);
                kwh[i] += kw[i] / 6;
                b.push_back(gs(ids[i], kT0 + (day * 144 + k) * 10 * kMin, std::round(kwh[i] * 100) / 100));
            }
        ASSERT_TRUE(s.append(b));
        samples += b.size();
    }
    ASSERT_TRUE(s.roll_up_now());
    ASSERT_TRUE(s.compact_all());
    const double chunks = static_cast<double>(sst_bytes(s, Cf::chunks));
    const double rollups = static_cast<double>(sst_bytes(s, Cf::rollups));
    EXPECT_LE((chunks + rollups) / static_cast<double>(samples), 2.0)
        << "chunks " << chunks / samples << " B/sample, rollups " << rollups / samples;
    EXPECT_LT(rollups, chunks);  // rollups cost less than the data they summarize
}

// Row encoding (rollup.cpp, version 3): every row decodes to the very same
// values, bit for bit, whichever extremes are its first or last; rows
// written by earlier versions (version 2: absolute times, every extreme)
// still decode; damaged bytes are refused; a counter's row is a third smaller.
TEST(Rollups, RowsRoundTripBitForBitAndVersion2RowsStillDecode) {
    const int64_t block = kT0 + 15 * kMin;
    std::vector<RollupRow> rows;
    auto row = [&](uint32_t count, double mn, double mx, double first, double last, uint32_t intervals = 0) {
        RollupRow r;
        r.count = count;
        r.intervals = intervals;
        r.min = mn, r.max = mx, r.first = first, r.last = last;
        r.sum = first + last + 0.125;
        r.first_ts = block + 7 * kSec;
        r.last_ts = block + 14 * kMin;
        r.consumption = intervals ? last - first : 0;
        rows.push_back(r);
    };
    row(5, 10, 20, 10, 20, 4);        // a counter: min first, max last
    row(5, 10, 20, 20, 10);           // falling: min last, max first
    row(5, 5, 30, 10, 20);            // extremes inside
    row(5, 0.0, 7, -0.0, 7);          // 0.0 is not -0.0: min kept
    row(3, -0.0, -0.0, -0.0, -0.0);   // flat at -0.0
    row(4, 1, 1, 1, 1, 3);            // flat
    row(2, std::nextafter(1.0, 0.0), 1, 1, 1);
    row(5, 10, 20, 10, 20, 4);        // times in ms (not whole seconds)
    rows.back().first_ts = block + 1'234;
    rows.back().last_ts = block + 14 * kMin + 999;
    row(5, 10, 20, 10, 20, 4);        // a first reading before the block (whole seconds)
    rows.back().first_ts = block - 2 * kSec;
    RollupRow one;
    one.add_sample(Sample{block + 59 * kSec, 42.5, GL_QUALITY_GOOD});
    rows.push_back(one);
    RollupRow before_block = one;  // a time before its block start still round-trips
    before_block.first_ts = before_block.last_ts = block - 3 * kSec;
    rows.push_back(before_block);
    RollupRow empty_counter;  // an interval charged, no good sample in the block
    empty_counter.intervals = 1;
    empty_counter.consumption = 2.5;
    rows.push_back(empty_counter);
    for (size_t i = 0; i < rows.size(); ++i) {
        const std::string bytes = encode_row(rows[i], block);
        auto back = decode_row(bytes, block);
        ASSERT_TRUE(back) << i << ": " << back.status().to_string();
        EXPECT_TRUE(same_row_bits(*back, rows[i])) << "row " << i;
        // Every cut of the bytes is refused, never read past.
        for (size_t n = 0; n < bytes.size(); ++n) EXPECT_FALSE(decode_row(bytes.substr(0, n), block)) << i << " cut at " << n;
        EXPECT_FALSE(decode_row(bytes + "x", block)) << i;
    }
    // A counter's row read on the second: 21 bytes fewer than version 2
    // (60 -> 39 here); in ms, 19 fewer.
    EXPECT_EQ(encode_row(rows[0], block).size(), 39u);
    EXPECT_EQ(encode_row(rows[7], block).size(), 41u);
    // Unknown flags or versions are damage.
    std::string bad_flags = encode_row(rows[2], block);
    bad_flags[3] = static_cast<char>(0x20);
    EXPECT_FALSE(decode_row(bad_flags, block));
    EXPECT_FALSE(decode_row(std::string("\x04\x01\x00", 3), block));
    EXPECT_FALSE(decode_row(std::string("\x01\x01\x00", 3), block));

    // Version 2, as earlier stores hold it (bytes written by hand).
    for (size_t i = 0; i < rows.size(); ++i) {
        auto back = decode_row(encode_row_v2(rows[i]), block);
        ASSERT_TRUE(back) << i << ": " << back.status().to_string();
        EXPECT_TRUE(same_row_bits(*back, rows[i])) << "version 2 row " << i;
    }
    EXPECT_EQ(encode_row_v2(rows[0]).size(), 60u);
}

// A store whose rollup rows were all written by the previous version
// (version 2) answers exactly as the same store in version 3: every row of
// a rolled-up counter and gauge is rewritten in version 2, and the answers
// over every resolution are compared, bit for bit.
TEST(Rollups, AStoreOfVersion2RowsAnswersAsBefore) {
    TempDir dir;
    auto store = Store::open(test_options(dir.path()));
    ASSERT_TRUE(store);
    Store& s = **store;
    const uint32_t c = *s.registry().intern(meta("d/kwh", SeriesKind::counter));
    const uint32_t g = *s.registry().intern(meta("d/w"));
    std::vector<gl_sample> b;
    std::mt19937_64 rng(3);
    std::uniform_real_distribution<double> u(0, 1);
    double v = 10;
    // Every 2-3.5 s: 1-min rows are stored too (a sparse row needs 16 samples).
    for (int64_t t = kT0; t < kT0 + 3 * kDay; t += 2 * kSec + static_cast<int64_t>(u(rng) * 1500)) {
        b.push_back(gs(c, t, v += u(rng)));
        b.push_back(gs(g, t, 100 * u(rng) - 50));
    }
    ASSERT_TRUE(s.append(b));
    ASSERT_TRUE(s.roll_up_now());
    auto answers = [&] {
        std::vector<std::vector<RollupRow>> out;
        for (uint32_t id : {c, g})
            for (int64_t step : {kMin, 15 * kMin, kHour, kDay}) {
                auto edges = QueryEngine::step_edges(kT0, kT0 + 3 * kDay, step);
                auto rows = s.query().aggregate(id, *edges);
                EXPECT_TRUE(rows);
                out.push_back(rows ? *rows : std::vector<RollupRow>{});
            }
        return out;
    };
    const auto before = answers();
    // Every stored row, rewritten as version 2.
    size_t rewritten = 0;
    {
        rocksdb::WriteBatch batch;
        std::unique_ptr<rocksdb::Iterator> it(s.db().db()->NewIterator(rocksdb::ReadOptions(), s.db().cf(Cf::rollups)));
        for (it->SeekToFirst(); it->Valid(); it->Next()) {
            const int64_t block = get_time(it->key().data() + 5);
            auto row = decode_row(std::string_view(it->value().data(), it->value().size()), block);
            ASSERT_TRUE(row);
            ASSERT_EQ(it->value()[0], 3) << "rows are written in version 3";
            batch.Put(s.db().cf(Cf::rollups), it->key(), encode_row_v2(*row));
            ++rewritten;
        }
        ASSERT_TRUE(it->status().ok());
        ASSERT_TRUE(s.db().db()->Write(rocksdb::WriteOptions(), &batch).ok());
    }
    EXPECT_GT(rewritten, 2 * 3 * 1440u);  // every level, 1-min rows included
    const auto after = answers();
    ASSERT_EQ(before.size(), after.size());
    for (size_t q = 0; q < before.size(); ++q) {
        ASSERT_EQ(before[q].size(), after[q].size());
        for (size_t i = 0; i < before[q].size(); ++i) {
            ASSERT_TRUE(same_row_bits(before[q][i], after[q][i])) << "query " << q << ", bucket " << i;
        }
    }
}

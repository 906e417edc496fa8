// The one definition of the store's aggregates (store/aggregation.h):
// issue 11 items 1-5 (right answers), 7 (far timestamps) and 8 (query edges).
#include <sys/resource.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <random>

#include "script/sim_host.h"
#include "store/aggregation.h"
#include "store/chunk_reader.h"
#include "test_util.h"
#include "support/time_units.h"

using namespace gridlet::testing::time_units;

using namespace gridlet;
using namespace gridlet::store;
using namespace gridlet::store::test;

namespace {

int64_t at(int h, int m, int s = 0) { return kT0 + h * kHour + m * kMin + s * kSec; }

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// The single bucket [from, to) of `agg`, from rollups where the engine can,
// checked bit for bit against the raw-only answer.
std::optional<double> one_bucket(Store& s, uint32_t id, int64_t from, int64_t to, Aggregate agg) {
    const int64_t edges[] = {from, to};
    auto fast = s.query().aggregate(id, edges);
    auto slow = s.query().aggregate(id, edges, nullptr, true);
    EXPECT_TRUE(fast && slow);
    if (!fast || !slow) return std::nullopt;
    auto a = (*fast)[0].value(agg), b = (*slow)[0].value(agg);
    EXPECT_EQ(a.has_value(), b.has_value());
    if (a && b) {
        EXPECT_TRUE(same_bits(*a, *b)) << *a << " (rollups) vs " << *b << " (raw)";
    }
    return a;
}

void expect_rows_identical(const std::vector<RollupRow>& a, const std::vector<RollupRow>& b, const std::string& what) {
    ASSERT_EQ(a.size(), b.size()) << what;
    for (size_t i = 0; i < a.size(); ++i) {
        SCOPED_TRACE(what + ", bucket " + std::to_string(i));
        EXPECT_EQ(a[i].count, b[i].count);
        EXPECT_EQ(a[i].intervals, b[i].intervals);
        if (a[i].count > 0) {
            EXPECT_TRUE(same_bits(a[i].sum, b[i].sum)) << a[i].sum << " vs " << b[i].sum;
            EXPECT_TRUE(same_bits(a[i].min, b[i].min));
            EXPECT_TRUE(same_bits(a[i].max, b[i].max));
            EXPECT_TRUE(same_bits(a[i].first, b[i].first));
            EXPECT_TRUE(same_bits(a[i].last, b[i].last));
        }
        if (a[i].intervals > 0) {
            EXPECT_TRUE(same_bits(a[i].consumption, b[i].consumption));
        }
    }
}

struct Site {
    TempDir dir;
    std::unique_ptr<Store> store;
    explicit Site(StoreOptions o = {}) {
        if (o.path.empty()) o = test_options(dir.path());
        auto s = Store::open(o);
        EXPECT_TRUE(s) << s.status().to_string();
        store = std::move(*s);
    }
    uint32_t series(const std::string& name, SeriesKind kind = SeriesKind::gauge,
                    std::map<std::string, std::string> tags = {}) {
        return *store->registry().intern(meta(name, kind, std::move(tags)));
    }
    void add(std::vector<gl_sample> b) { ASSERT_TRUE(store->append(b)); }
    void roll() { ASSERT_TRUE(store->roll_up_now()); }
};

long max_rss_kb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}
}  // namespace

// Item 1: a rollup pass while the newest readings are bad (quality 0, NaN
// or inf) must not lose the interval from the last good reading to the
// next good one.
TEST(Aggregation, TrailingBadReadingsDoNotLoseAnInterval) {
    const double bads[] = {-1, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()};
    for (double bad : bads) {
        SCOPED_TRACE(bad);
        Site site;
        const uint32_t c = site.series("m/kwh", SeriesKind::counter);
        const uint8_t q = bad == -1 ? 0 : GL_QUALITY_GOOD;  // -1: bad quality; NaN/inf: good quality, bad value
        site.add({gs(c, at(10, 0), 100), gs(c, at(10, 0, 30), 100.3), gs(c, at(10, 1), bad, q),
                  gs(c, at(10, 2), bad, q)});
        site.roll();
        site.add({gs(c, at(10, 5), 105), gs(c, at(10, 6), 105.1)});
        site.roll();
        site.add({gs(c, at(10, 7), 105.2), gs(c, at(12, 0), 110)});
        site.roll();
        auto hour = one_bucket(*site.store, c, at(10, 0), at(11, 0), Aggregate::consumption);
        ASSERT_TRUE(hour);
        EXPECT_NEAR(*hour, 10, 1e-9);  // 100 .. 110: the interval from 10:07 to 12:00 starts in this hour
        auto minute = one_bucket(*site.store, c, at(10, 0), at(10, 1), Aggregate::consumption);
        ASSERT_TRUE(minute);
        EXPECT_NEAR(*minute, 5.0, 1e-9);  // 100 -> 100.3 -> 105 both start in 10:00
    }
}

// Item 2: a non-finite value is bad data, decided once at ingest: stored
// with quality 0, ignored by every aggregate, also as the neighbour of a
// late reading.
TEST(Aggregation, NonFiniteValuesAreBadDataEverywhere) {
    Site site;
    const uint32_t c = site.series("m/kwh", SeriesKind::counter);
    std::vector<gl_sample> b{gs(c, at(10, 0, 10), 100), gs(c, at(10, 1, 10), std::nan(""))};
    for (int i = 0; i < 8; ++i) b.push_back(gs(c, at(10, 3 + i, 10), 103 + i));
    site.add(b);
    site.roll();
    site.add({gs(c, at(10, 2, 30), 101)});  // late
    site.roll();
    auto q = one_bucket(*site.store, c, at(10, 0), at(10, 15), Aggregate::consumption);
    ASSERT_TRUE(q);
    EXPECT_EQ(*q, 10);
    auto n = one_bucket(*site.store, c, at(10, 0), at(10, 15), Aggregate::count);
    EXPECT_EQ(n, 10);
    auto raw = site.store->query().raw(c, at(10, 1), at(10, 2));
    ASSERT_TRUE(raw);
    ASSERT_EQ(raw->size(), 1u);
    EXPECT_TRUE(std::isnan(raw->front().value));
    EXPECT_EQ(raw->front().quality, 0);  // kept, as bad data
}

// Item 3: rollups answer bit for bit what raw samples alone answer: sums,
// averages and consumption included, over random data with gaps, bursts,
// bad readings, late samples and overwrites, and when a sum overflows.
class RollupsEqualRaw : public ::testing::TestWithParam<const char*> {};

TEST_P(RollupsEqualRaw, BitForBit) {
    TempDir dir;
    StoreOptions o = test_options(dir.path());
    o.day_zone = GetParam();  // day rows on UTC days, or on Kolkata's (+05:30) local days
    Site site(o);
    ASSERT_EQ(site.store->day_zone().name(), GetParam());
    const uint32_t g = site.series("m/power");
    const uint32_t c = site.series("m/kwh", SeriesKind::counter);
    const uint32_t w = site.series("m/pulses", SeriesKind::counter, {{"rollover", "65536"}});
    const uint32_t huge = site.series("m/huge");
    std::mt19937_64 rng(11);
    std::uniform_real_distribution<double> u(0, 1);
    double energy = 1000, pulses = 60000;
    const int64_t span = 3 * kDay;
    for (int pass = 0; pass < 6; ++pass) {
        std::vector<gl_sample> b;
        const int64_t lo = pass * span / 6, hi = (pass + 1) * span / 6;
        for (int64_t t = lo; t < hi;) {
            const int64_t ts = kT0 + t;
            const uint8_t q = u(rng) < 0.03 ? 0 : GL_QUALITY_GOOD;
            b.push_back(gs(g, ts, (u(rng) - 0.3) * std::pow(10, static_cast<int>(u(rng) * 12) - 4), q));
            energy += u(rng) < 0.002 ? -energy + u(rng) : u(rng) * 0.37;  // now and then a reset
            const double reading = u(rng) < 0.01 ? 0.0 : energy;               // now and then a glitch
            b.push_back(gs(c, ts, reading, q));
            pulses = std::fmod(pulses + std::floor(u(rng) * 900), 65536);
            b.push_back(gs(w, ts, pulses));
            b.push_back(gs(huge, ts, (u(rng) < 0.5 ? 1 : -1) * 1.7e308 * u(rng)));
            // Dense minutes, sparse hours and a gap of half a day.
            const double r = u(rng);
            t += r < 0.6 ? 1 + static_cast<int64_t>(u(rng) * 5000) : r < 0.95 ? 40 * kSec : 23 * kMin;
            if (t > kDay && t < kDay + 12 * kHour) t = kDay + 12 * kHour + 7;
        }
        // Late samples and overwrites into what is already rolled up.
        for (int i = 0; i < 40 && pass > 0; ++i) {
            const int64_t ts = kT0 + static_cast<int64_t>(u(rng) * static_cast<double>(lo));
            b.push_back(gs(g, ts, u(rng) * 100));
            b.push_back(gs(c, ts, energy * u(rng)));
            b.push_back(gs(huge, ts, -1.7e308));
        }
        site.add(b);
        site.roll();
    }
    const int64_t end = kT0 + span + kHour;
    const int64_t steps[] = {1 * kSec, 7 * kSec, kMin, 5 * kMin, 15 * kMin, kHour, 2 * kHour, 36 * kHour, kDay};
    for (uint32_t id : {g, c, w, huge}) {
        for (int64_t step : steps) {
            for (int64_t from : {kT0, kT0 + 17 * kMin + 123, kT0 + 5 * kHour + 59 * kSec}) {
                const int64_t to = step < kMin ? from + 6 * kHour : end - 13 * kSec;
                auto edges = QueryEngine::step_edges(from, to, step);
                ASSERT_TRUE(edges);
                QueryStats qs;
                auto fast = site.store->query().aggregate(id, *edges, &qs);
                auto slow = site.store->query().aggregate(id, *edges, nullptr, true);
                ASSERT_TRUE(fast && slow);
                expect_rows_identical(*fast, *slow,
                                      "series " + std::to_string(id) + " step " + std::to_string(step));
            }
        }
        for (const char* zone : {"Europe/Paris", "Asia/Kolkata"}) {
            auto tz = TimeZone::load(zone);
            ASSERT_TRUE(tz);
            auto edges = QueryEngine::calendar_edges(kT0, end, CalendarUnit::day, *tz);
            ASSERT_TRUE(edges);
            auto fast = site.store->query().aggregate(id, *edges);
            auto slow = site.store->query().aggregate(id, *edges, nullptr, true);
            ASSERT_TRUE(fast && slow);
            expect_rows_identical(*fast, *slow, std::string(zone) + " days, series " + std::to_string(id));
        }
    }
    // The overflowing series did overflow somewhere (the test is about something).
    auto day = site.store->query().downsample(huge, kT0, end, kDay, Aggregate::sum);
    ASSERT_TRUE(day);
    bool overflowed = false;
    for (const Point& p : *day) overflowed = overflowed || !std::isfinite(p.value);
    EXPECT_TRUE(overflowed);
}
INSTANTIATE_TEST_SUITE_P(Aggregation, RollupsEqualRaw, ::testing::Values("UTC", "Asia/Kolkata"));

// Item 4: a one-poll drop that returns to the previous level is a glitch,
// not a reset; a reset is accepted once the next reading confirms it.
TEST(Aggregation, CounterGlitchesAreNotResets) {
    Site site;
    const uint32_t c = site.series("m/kwh", SeriesKind::counter);
    site.add({gs(c, at(1, 0), 40482.83), gs(c, at(5, 0), 0.0), gs(c, at(9, 0), 40482.83), gs(c, at(13, 0), 0.0),
              gs(c, at(17, 0), 40484.52), gs(c, kT0 + kDay + kHour, 40485), gs(c, kT0 + kDay + 2 * kHour, 40486)});
    site.roll();
    auto day = one_bucket(*site.store, c, kT0, kT0 + kDay, Aggregate::consumption);
    ASSERT_TRUE(day);
    EXPECT_NEAR(*day, 40485 - 40482.83, 1e-9);  // 40484.52 - 40482.83, then the interval to 40485
    auto mn = one_bucket(*site.store, c, kT0, kT0 + kDay, Aggregate::min);
    EXPECT_EQ(mn, 0.0);  // the glitches stay in the data

    // A confirmed reset (the meter was replaced), and one still pending.
    const uint32_t r = site.series("m/reset", SeriesKind::counter);
    site.add({gs(r, at(1, 0), 100), gs(r, at(1, 10), 105), gs(r, at(1, 20), 2)});
    site.roll();
    EXPECT_EQ(one_bucket(*site.store, r, at(1, 0), at(2, 0), Aggregate::consumption), 5);  // 105 -> 2: not known yet
    site.add({gs(r, at(1, 30), 4), gs(r, at(1, 40), 6)});
    site.roll();
    EXPECT_EQ(one_bucket(*site.store, r, at(1, 0), at(2, 0), Aggregate::consumption), 5 + 2 + 2 + 2);

    // With a rollover tag: a wrap is confirmed like a reset; a glitch is not a wrap.
    const uint32_t w = site.series("m/pulses", SeriesKind::counter, {{"rollover", "1000"}});
    site.add({gs(w, at(2, 0), 990), gs(w, at(2, 1), 5), gs(w, at(2, 2), 10), gs(w, at(2, 3), 0), gs(w, at(2, 4), 12),
              gs(w, at(2, 5), 13), gs(w, at(2, 6), 14)});
    site.roll();
    EXPECT_EQ(one_bucket(*site.store, w, at(2, 0), at(2, 5), Aggregate::consumption), 15 + 5 + 2 + 1);
}

// A counter away longer than its max_gap (36 h unless tagged): the
// interval across the gap is charged to no bucket, so the day the gap
// starts keeps its own consumption only; a shorter gap is charged whole to
// the bucket where it starts; the tag changes the limit, rollups or not.
TEST(Aggregation, ACounterGapLongerThanMaxGapIsChargedNowhere) {
    Site site;
    const uint32_t c = site.series("m/kwh", SeriesKind::counter);
    const uint32_t tagged = site.series("m/kwh_long", SeriesKind::counter, {{"max_gap", "10d"}});
    const uint32_t tight = site.series("m/kwh_tight", SeriesKind::counter, {{"max_gap", "2h"}});
    std::vector<gl_sample> b;
    // Hourly readings +1 kWh on day 0, then nothing until day 5 00:00 (the meter
    // counted 100 kWh meanwhile), then hourly again; a 3-hour gap on day 6.
    for (uint32_t id : {c, tagged, tight}) {
        double e = 0;
        for (int h = 0; h < 24; ++h) b.push_back(gs(id, kT0 + h * kHour, e++));
        e += 100;
        for (int h = 0; h < 48; ++h) {
            if (h >= 26 && h < 29) {
                e += 1;
                continue;
            }
            b.push_back(gs(id, kT0 + 5 * kDay + h * kHour, e++));
        }
    }
    site.add(b);
    for (bool rolled : {false, true}) {
        if (rolled) site.roll();
        const std::string when = rolled ? "from rollups" : "from raw samples";
        EXPECT_EQ(one_bucket(*site.store, c, kT0, kT0 + kDay, Aggregate::consumption), 23) << when;
        EXPECT_FALSE(one_bucket(*site.store, c, kT0 + kDay, kT0 + 2 * kDay, Aggregate::consumption)) << when;
        EXPECT_EQ(one_bucket(*site.store, c, kT0 + 6 * kDay, kT0 + 7 * kDay, Aggregate::consumption), 22 + 1) << when;
        EXPECT_EQ(one_bucket(*site.store, tagged, kT0, kT0 + kDay, Aggregate::consumption), 23 + 101) << when;
        EXPECT_EQ(one_bucket(*site.store, tight, kT0 + 6 * kDay, kT0 + 7 * kDay, Aggregate::consumption), 22 - 3)
            << when << ": the 4-hour interval across the 3 missing readings is a gap of its own";
    }
}

// Item 5: the offline rule harness answers queries with the store's own
// code: the same buckets, the same intervals, the same numbers.
TEST(Aggregation, OfflineHarnessAnswersAsTheStore) {
    Site site;
    const uint32_t c = site.series("m/kwh", SeriesKind::counter);
    const uint32_t g = site.series("m/power");
    script::SimHost host(kT0, TimeZone::utc());
    const uint32_t hc = host.intern("m/kwh", SeriesKind::counter, "kWh");
    const uint32_t hg = host.intern("m/power", SeriesKind::gauge, "W");
    std::mt19937_64 rng(5);
    std::uniform_real_distribution<double> u(0, 1);
    std::vector<gl_sample> b;
    double e = 10;
    for (int64_t t = kT0; t < kT0 + 6 * kHour; t += 10 * kSec + static_cast<int64_t>(u(rng) * 50'000)) {
        if (t > kT0 + 2 * kHour && t < kT0 + 3 * kHour) continue;  // a gap
        e += u(rng) < 0.01 ? -e : u(rng);
        const uint8_t q = u(rng) < 0.05 ? 0 : GL_QUALITY_GOOD;
        b.push_back(gs(c, t, u(rng) < 0.01 ? 0 : e, q));
        b.push_back(gs(g, t, u(rng) * 1000, q));
    }
    b.push_back(gs(g, kT0 + 30 * kMin, std::nan("")));
    site.add(b);
    site.roll();
    for (gl_sample s : b) {
        s.series_id = s.series_id == c ? hc : hg;
        host.record(s);
    }
    for (int64_t step : {kMin, 15 * kMin, kHour, 90 * kMin}) {
        for (int64_t from : {kT0, kT0 + 7 * kMin + 5}) {
            for (Aggregate agg : {Aggregate::consumption, Aggregate::avg, Aggregate::sum, Aggregate::count}) {
                for (auto [sid, hid] : {std::pair{c, hc}, std::pair{g, hg}}) {
                    if (agg == Aggregate::consumption && sid == g) continue;
                    SCOPED_TRACE("step " + std::to_string(step) + " from " + std::to_string(from) + " agg " +
                                 std::to_string(static_cast<int>(agg)) + " series " + std::to_string(sid));
                    auto live = site.store->query().downsample(sid, from, kT0 + 6 * kHour, step, agg);
                    script::QuerySpec spec;
                    spec.series = {hid};
                    spec.from_ms = from;
                    spec.to_ms = kT0 + 6 * kHour;
                    spec.step_ms = step;
                    spec.aggregate = agg;
                    auto offline = host.query(spec);
                    ASSERT_TRUE(live && offline);
                    ASSERT_EQ(live->size(), offline->size());
                    for (size_t i = 0; i < live->size(); ++i) {
                        EXPECT_EQ((*live)[i].ts, (*offline)[i].ts_ms) << i;
                        EXPECT_TRUE(same_bits((*live)[i].value, (*offline)[i].value))
                            << i << ": " << (*live)[i].value << " vs " << (*offline)[i].value;
                    }
                }
            }
        }
    }
}

// Item 7: memory never follows the time span of a series. Two samples 2025
// years apart are rolled up and queried with a few MB.
TEST(Aggregation, FarTimestampsCostNoMemory) {
    TempDir dir;
    StoreOptions o = test_options(dir.path());
    o.accept_from_ms = kMinStoreTime;  // let year 1 in (the default refuses it)
    Site site(o);
    const uint32_t g = site.series("m/g");
    // max_gap=0: the interval across 2025 years is charged (the default
    // would leave it out as a gap; tested in ACounterGapLonger...).
    const uint32_t c = site.series("m/c", SeriesKind::counter, {{"max_gap", "0"}});
    const int64_t year1 = kMinStoreTime, y2026 = 1767225600000;  // 0001-01-01, 2026-01-01
    const long rss_before = max_rss_kb();
    site.add({gs(g, year1, 1), gs(g, y2026, 2), gs(c, year1, 10), gs(c, year1 + 1, 11), gs(c, y2026, 12),
              gs(c, y2026 + kSec, 13), gs(c, y2026 + 2 * kSec, 14)});
    site.roll();
    site.add({gs(g, year1 + kHour, 3), gs(c, year1 + 2, 11.5)});  // late, into the far past
    site.roll();
    auto days = site.store->query().downsample(g, year1, y2026 + kDay, kDay, Aggregate::sum);
    ASSERT_TRUE(days) << days.status().to_string();
    ASSERT_EQ(days->size(), 2u);
    EXPECT_EQ((*days)[0], (Point{year1, 4}));
    EXPECT_EQ((*days)[1], (Point{y2026, 2}));
    auto paris = TimeZone::load("Europe/Paris");
    ASSERT_TRUE(paris);
    auto years = site.store->query().calendar(c, year1, y2026 + kDay, CalendarUnit::year, *paris, Aggregate::consumption);
    ASSERT_TRUE(years) << years.status().to_string();
    ASSERT_EQ(years->size(), 2u);
    EXPECT_EQ((*years)[0].value, 2);  // 10 -> 11 -> 11.5 -> 12: the interval from 11.5 starts in year 1
    auto minutes = site.store->query().downsample(g, year1, y2026 + kDay, kMin, Aggregate::count);
    ASSERT_TRUE(minutes);
    EXPECT_EQ(minutes->size(), 3u);
    EXPECT_LT(max_rss_kb() - rss_before, 200 * 1024) << "KiB";

    // With the default window, a seconds or a microseconds timestamp is refused and counted.
    Site strict;
    const uint32_t s = strict.series("m/s");
    const int64_t now = SystemClock::instance().now_ms();
    strict.add({gs(s, now, 1), gs(s, now / 1000, 2), gs(s, now * 1000, 3), gs(s, now + 2 * kDay, 4)});
    EXPECT_EQ(strict.store->samples_refused().too_old, 1u);
    EXPECT_EQ(strict.store->samples_refused().too_far_ahead, 2u);
    auto kept = strict.store->query().raw(s, kMinStoreTime, kMaxStoreTime);
    ASSERT_TRUE(kept);
    ASSERT_EQ(kept->size(), 1u);
    EXPECT_EQ(kept->front().value, 1);
}

// Item 8: every query answers or refuses with a clear message, never
// wraps, never allocates for the span.
TEST(Aggregation, QueriesAtTheEdgesAnswerOrRefuse) {
    TempDir dir;
    StoreOptions o = test_options(dir.path());
    o.accept_from_ms = kMinStoreTime;
    Site site(o);
    const uint32_t g = site.series("m/g");
    site.add({gs(g, kMinStoreTime, 1), gs(g, kT0, 2)});
    const int64_t kMax = std::numeric_limits<int64_t>::max(), kMinI = std::numeric_limits<int64_t>::min();
    auto far = site.store->query().downsample(g, 9223372036854775000, kMax, kMin, Aggregate::count);
    ASSERT_FALSE(far);
    EXPECT_NE(far.status().message().find("between 0001-01-01"), std::string::npos) << far.status().message();
    EXPECT_FALSE(site.store->query().downsample(g, kMinI, kMinI + 1000, kMin, Aggregate::count));
    EXPECT_FALSE(site.store->query().downsample(g, kT0, kT0 + kDay, kMax, Aggregate::count));
    EXPECT_FALSE(site.store->query().downsample(g, kT0, kT0 + kDay, -5, Aggregate::count));
    auto paris = TimeZone::load("Europe/Paris");
    ASSERT_TRUE(paris);
    EXPECT_FALSE(site.store->query().calendar(g, kMinI, 0, CalendarUnit::day, *paris, Aggregate::count));
    // The whole range of the store, 1-ms buckets: only the two with data.
    auto all = site.store->query().downsample(g, kMinStoreTime, kMaxStoreTime, 1, Aggregate::count);
    ASSERT_TRUE(all) << all.status().to_string();
    ASSERT_EQ(all->size(), 2u);
    EXPECT_EQ((*all)[0], (Point{kMinStoreTime, 1}));
    // Calendar years over ten millennia, labelled by their local start.
    auto years = site.store->query().calendar(g, kMinStoreTime, kMaxStoreTime, CalendarUnit::year, *paris,
                                              Aggregate::count);
    ASSERT_TRUE(years) << years.status().to_string();
    ASSERT_EQ(years->size(), 2u);
    EXPECT_EQ((*years)[1].ts, *paris->parse_iso("2024-01-01"));
}

// Item 6: day rows follow the site's local days, so local calendar queries
// are answered as long as day rows are kept, not only while hour rows are.
TEST(Aggregation, LocalDaysLastAsLongAsDayRows) {
    TempDir dir;
    ManualClock clock(kT0 + 12 * kDay);
    StoreOptions o = test_options(dir.path());
    o.clock = &clock;
    o.day_zone = "Europe/Paris";
    o.retention.raw_ms = 2 * kDay;
    o.retention.min1_ms = 3 * kDay;
    o.retention.min15_ms = 4 * kDay;
    o.retention.hour1_ms = 5 * kDay;
    o.retention.day1_ms = 0;
    auto paris = TimeZone::load("Europe/Paris");
    ASSERT_TRUE(paris);
    {
        Site site(o);
        EXPECT_EQ(site.store->day_zone().name(), "Europe/Paris");
        const uint32_t c = site.series("m/kwh", SeriesKind::counter);
        std::vector<gl_sample> b;
        for (int64_t t = kT0 - kDay; t <= kT0 + 12 * kDay; t += 10 * kMin)
            b.push_back(gs(c, t, static_cast<double>((t - kT0) / (10 * kMin))));
        site.add(b);
        site.roll();
        // Day rows start at Paris midnights (23:00Z in winter).
        std::unique_ptr<rocksdb::Iterator> it(
            site.store->db().db()->NewIterator(rocksdb::ReadOptions(), site.store->db().cf(Cf::rollups)));
        const std::string prefix = rollup_key(c, Resolution::day1, 0).substr(0, 5);
        size_t days = 0;
        for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next(), ++days) {
            const int64_t start = get_time(it->key().data() + 5);
            EXPECT_EQ(paris->start_of_day(start), start);
            EXPECT_EQ(start % kDay, 23 * kHour);
        }
        EXPECT_EQ(days, 13u);
        ASSERT_TRUE(site.store->enforce_retention());
        QueryStats qs;
        auto local = site.store->query().calendar(c, kT0 - kHour, kT0 + 11 * kDay - kHour, CalendarUnit::day, *paris,
                                                  Aggregate::consumption, &qs);
        ASSERT_TRUE(local) << local.status().to_string();
        ASSERT_EQ(local->size(), 11u);  // every local day, hour rows long gone
        for (const Point& p : *local) EXPECT_EQ(p.value, 144) << p.ts;
        EXPECT_EQ(qs.resolution, Resolution::day1);
        EXPECT_EQ(qs.raw_samples, 0u);
    }
    // The zone is the store's for life: reopened under another site zone, days stay Paris days.
    o.day_zone = "Asia/Tokyo";
    Site again(o);
    EXPECT_EQ(again.store->day_zone().name(), "Europe/Paris");
    auto ro = Store::open_read_only(o.path);
    ASSERT_TRUE(ro);
    EXPECT_EQ((*ro)->day_zone().name(), "Europe/Paris");
}

// The RocksDB sample cursor answers exactly as the in-memory one, over
// small chunks, late samples, overwrites and bad readings, for random
// forward walks (the roller and the queries rely on it).
TEST(Aggregation, ChunkCursorAgreesWithMemory) {
    TempDir dir;
    StoreOptions o = test_options(dir.path());
    o.chunk_max_samples = 16;
    Site site(o);
    const uint32_t id = site.series("m/c", SeriesKind::counter);
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> u(0, 1);
    std::map<int64_t, Sample> truth;
    for (int batch = 0; batch < 40; ++batch) {
        std::vector<gl_sample> b;
        const int64_t base = kT0 + batch * 10 * kMin;
        for (int i = 0; i < 50; ++i) {
            const int64_t ts = u(rng) < 0.2 ? kT0 + static_cast<int64_t>(u(rng) * static_cast<double>(base - kT0 + 1))
                                            : base + static_cast<int64_t>(u(rng) * 10 * kMin);
            const uint8_t q = u(rng) < 0.2 ? 0 : GL_QUALITY_GOOD;
            b.push_back(gs(id, ts, u(rng) * 100, q));
        }
        site.add(b);
        for (const gl_sample& s : b) truth[s.ts_ms] = Sample{s.ts_ms, s.value, s.quality};
    }
    std::vector<Sample> mem;
    for (const auto& [t, s] : truth) mem.push_back(s);
    for (int walk = 0; walk < 200; ++walk) {
        ChunkCursor db_cursor(site.store->db(), nullptr, id);
        VectorSampleSource mem_cursor(mem);
        int64_t t = kT0 - kMin + static_cast<int64_t>(u(rng) * 60 * kMin);
        for (int step = 0; step < 30 && t < kT0 + 420 * kMin; ++step) {
            const int64_t len = 1 + static_cast<int64_t>(u(rng) * u(rng) * 90 * kMin);
            std::vector<Sample> a, b;
            switch (rng() % 4) {
                case 0: {
                    auto collect = [](std::vector<Sample>& into) {
                        return [&into](std::span<const Sample> run) { into.insert(into.end(), run.begin(), run.end()); };
                    };
                    ASSERT_TRUE(db_cursor.read(t, t + len, collect(a)));
                    ASSERT_TRUE(mem_cursor.read(t, t + len, collect(b)));
                    t += len;
                    break;
                }
                case 1: {
                    auto x = db_cursor.next_time(t), y = mem_cursor.next_time(t);
                    ASSERT_TRUE(x && y);
                    EXPECT_EQ(*x, *y) << "next_time(" << t << ")";
                    t += len / 2;
                    break;
                }
                case 2:
                    ASSERT_TRUE(db_cursor.good_before(t, 2, a));
                    ASSERT_TRUE(mem_cursor.good_before(t, 2, b));
                    break;
                default:
                    ASSERT_TRUE(db_cursor.good_from(t, 2, a));
                    ASSERT_TRUE(mem_cursor.good_from(t, 2, b));
            }
            ASSERT_EQ(a, b) << "walk " << walk << " step " << step << " at " << t;
        }
    }
}

// A walk over many small buckets folds minutes ahead in one pass
// (Aggregator::read_ahead_until); every bucket must be bit for bit the one
// a fold of each minute gives, whatever the counter does across the edges
// of the passes: glitches, resets, a rollover, bad readings, gaps, several
// readings a minute, and buckets that end inside a minute.
TEST(Aggregation, FoldingMinutesAheadChangesNoAnswer) {
    std::mt19937_64 rng(11);
    std::uniform_real_distribution<double> u(0, 1);
    for (double rollover : {0.0, 1000.0}) {
        std::vector<Sample> mem;
        double v = 10;
        for (int64_t t = kT0; t < kT0 + 3 * 1440 * kMin; t += static_cast<int64_t>(1 + u(rng) * 50) * kSec) {
            if (u(rng) < 0.002) t += static_cast<int64_t>(u(rng) * 120) * kMin;  // a gap
            const double r = u(rng);
            double value = v += u(rng) * 3;
            if (rollover > 0 && v > rollover) value = v = v - rollover;  // a wrap
            else if (r < 0.01) value = 0;                                 // a glitch (one reading at 0)
            else if (r < 0.015) value = v = u(rng) * 5;                   // a reset
            mem.push_back(Sample{t, value, static_cast<uint8_t>(u(rng) < 0.05 ? 0 : GL_QUALITY_GOOD)});
        }
        CounterRule rule;
        rule.counter = true;
        rule.rollover = rollover;
        const BlockGrid grid;
        for (int64_t step : {kMin, 15 * kMin, 7 * kMin + 30 * kSec, kHour}) {
            SCOPED_TRACE("step " + std::to_string(step) + " ms, rollover " + std::to_string(rollover));
            VectorSampleSource one_by_one_src(mem), ahead_src(mem);
            Aggregator one_by_one(one_by_one_src, nullptr, grid, rule, Aggregator::kNoRows);
            Aggregator ahead(ahead_src, nullptr, grid, rule, Aggregator::kNoRows);
            const int64_t to = kT0 + 3 * 1440 * kMin;
            ahead.read_ahead_until(to);
            size_t buckets = 0, consumed = 0;
            for (int64_t t = kT0; t < to; t += step) {
                auto a = one_by_one.span(t, t + step), b = ahead.span(t, t + step);
                ASSERT_TRUE(a && b);
                ++buckets;
                consumed += a->intervals > 0;
                ASSERT_EQ(a->count, b->count) << "bucket at " << t;
                ASSERT_EQ(a->intervals, b->intervals) << "bucket at " << t;
                ASSERT_TRUE(same_bits(a->consumption, b->consumption)) << a->consumption << " vs " << b->consumption;
                ASSERT_TRUE(same_bits(a->sum, b->sum));
                ASSERT_TRUE(same_bits(a->first, b->first) && same_bits(a->last, b->last));
                ASSERT_TRUE(same_bits(a->min, b->min) && same_bits(a->max, b->max));
            }
            EXPECT_GT(consumed, buckets / 2);  // the data is not mostly gaps
            // The pass read each sample once; minute by minute reads them
            // once too, plus the context at both ends of every minute. (A
            // bucket ending inside a minute reads that minute again.)
            if (step % kMin == 0) {
                EXPECT_LE(ahead.stats().raw_samples, one_by_one.stats().raw_samples);
            }
        }
    }
}

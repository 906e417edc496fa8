#include "store/keys.h"
#include "test_util.h"
#include "support/time_units.h"

using namespace gridlet::testing::time_units;

using namespace gridlet;
using namespace gridlet::store;
using namespace gridlet::store::test;

namespace {

size_t count_keys(Store& s, Cf cf) {
    std::unique_ptr<rocksdb::Iterator> it(s.db().db()->NewIterator(rocksdb::ReadOptions(), s.db().cf(cf)));
    size_t n = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
    return n;
}
}  // namespace

TEST(Retention, EachResolutionExpiresOnItsOwn) {
    TempDir dir;
    ManualClock clock(kT0 + 10 * kDay);
    StoreOptions o = test_options(dir.path());
    o.clock = &clock;
    o.chunk_max_samples = 60;
    o.retention.raw_ms = 2 * kDay;
    o.retention.min1_ms = 4 * kDay;
    o.retention.min15_ms = 6 * kDay;
    o.retention.hour1_ms = 0;
    o.retention.day1_ms = 0;
    o.retention.events_ms = 3 * kDay;
    auto store = Store::open(o);
    ASSERT_TRUE(store);
    uint32_t g = *(*store)->registry().intern(meta("dev/g"));
    // 10 days of 1-minute data, days 0..9.
    std::vector<gl_sample> b;
    for (int64_t t = kT0; t < kT0 + 10 * kDay; t += kMin) b.push_back(gs(g, t, 1));
    ASSERT_TRUE((*store)->append(b));
    ASSERT_TRUE((*store)->roll_up_now());
    for (int d = 0; d < 10; ++d) {
        Event e;
        e.ts = kT0 + d * kDay;
        e.source = "rule/test";
        e.type = "tick";
        ASSERT_TRUE((*store)->events().append(e));
    }
    ASSERT_TRUE((*store)->enforce_retention());

    auto raw = (*store)->query().raw(g, kT0, kT0 + 10 * kDay);
    ASSERT_TRUE(raw);
    ASSERT_FALSE(raw->empty());
    // Whole chunks older than now - 2 d are gone; the chunk straddling the cutoff stays.
    EXPECT_GE(raw->front().ts, kT0 + 8 * kDay - 60 * kMin);
    EXPECT_LE(raw->front().ts, kT0 + 8 * kDay);
    EXPECT_EQ(raw->back().ts, kT0 + 10 * kDay - kMin);

    auto count_rows = [&](Resolution r) {
        auto edges = QueryEngine::step_edges(kT0, kT0 + 10 * kDay, resolution_ms(r));
        size_t n = 0;
        std::unique_ptr<rocksdb::Iterator> it(
            (*store)->db().db()->NewIterator(rocksdb::ReadOptions(), (*store)->db().cf(Cf::rollups)));
        int64_t first = std::numeric_limits<int64_t>::max();
        for (it->Seek(rollup_key(g, r, kT0 - kDay)); it->Valid() && it->key().starts_with(rollup_key(g, r, 0).substr(0, 5));
             it->Next()) {
            ++n;
            first = std::min(first, get_time(it->key().data() + 5));
        }
        (void)edges;
        return std::pair{n, first};
    };
    auto [m1, m1_first] = count_rows(Resolution::min1);
    EXPECT_EQ(m1_first, kT0 + 6 * kDay);  // rows ending after now - 4 d
    EXPECT_EQ(m1, static_cast<size_t>(4 * 1440 - 1));  // the last minute is still open
    auto [m15, m15_first] = count_rows(Resolution::min15);
    EXPECT_EQ(m15_first, kT0 + 4 * kDay);
    auto [h1, h1_first] = count_rows(Resolution::hour1);
    EXPECT_EQ(h1_first, kT0);  // kept forever
    EXPECT_GT(h1, 200u);

    // Queries still answer old periods from the coarser rollups that remain.
    QueryStats qs;
    auto day1 = (*store)->query().downsample(g, kT0, kT0 + kDay, kDay, Aggregate::count, &qs);
    ASSERT_TRUE(day1);
    ASSERT_EQ(day1->size(), 1u);
    EXPECT_EQ((*day1)[0].value, 1440);

    auto ev = (*store)->events().query(EventFilter{});
    ASSERT_TRUE(ev);
    EXPECT_EQ(ev->size(), 3u);  // days 7, 8, 9 (ts >= now - 3 d)

    // Moving the clock on expires more, in the background filters, without touching writes.
    clock.advance(3 * kDay);
    ASSERT_TRUE((*store)->append(std::vector<gl_sample>{gs(g, kT0 + 13 * kDay, 2)}));
    ASSERT_TRUE((*store)->enforce_retention());
    raw = (*store)->query().raw(g, kT0, kT0 + 20 * kDay);
    ASSERT_TRUE(raw);
    ASSERT_EQ(raw->size(), 1u);
    EXPECT_EQ(raw->front().value, 2);
    EXPECT_EQ(count_keys(**store, Cf::events), 0u);
}

namespace {
size_t rows_of(Store& s, uint32_t series, Resolution r) {
    std::unique_ptr<rocksdb::Iterator> it(s.db().db()->NewIterator(rocksdb::ReadOptions(), s.db().cf(Cf::rollups)));
    const std::string prefix = rollup_key(series, r, 0).substr(0, 5);
    size_t n = 0;
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) ++n;
    return n;
}
}  // namespace

// Sparse rows are only skipped at resolutions whose rows raw samples outlive:
// after raw expiry every resolution still answers what it kept.
TEST(Retention, SparseRowsOnlyWhereRawOutlivesThem) {
        for (bool raw_as_long_as_1m : {false, true}) {
        SCOPED_TRACE(raw_as_long_as_1m ? "raw = 1m = 4 d" : "raw 2 d, 1m 4 d");
        TempDir dir;
        ManualClock clock(kT0 + 10 * kDay);
        StoreOptions o = test_options(dir.path());
        o.clock = &clock;
        o.chunk_max_samples = 60;
        o.retention.raw_ms = raw_as_long_as_1m ? 4 * kDay : 2 * kDay;
        o.retention.min1_ms = 4 * kDay;
        o.retention.min15_ms = 6 * kDay;
        o.retention.hour1_ms = 0;
        o.retention.day1_ms = 0;
        auto store = Store::open(o);
        ASSERT_TRUE(store);
        Store& s = **store;
        uint32_t c = *s.registry().intern(meta("meter/energy", SeriesKind::counter));
        // 10 days of 10-min readings, +2 each.
        std::vector<gl_sample> b;
        // (and one past them: the last counter interval is settled by two readings)
        for (int64_t i = 0; i <= 10 * 144 + 1; ++i) b.push_back(gs(c, kT0 + i * 10 * kMin, 1000 + 2.0 * i));
        ASSERT_TRUE(s.append(b));
        ASSERT_TRUE(s.roll_up_now());
        // 1 min is sparse only when raw is kept as long; 15 min (6 d) and 1 h never here.
        EXPECT_EQ(rows_of(s, c, Resolution::min1), raw_as_long_as_1m ? 0u : static_cast<size_t>(10 * 144));
        EXPECT_EQ(rows_of(s, c, Resolution::min15), static_cast<size_t>(10 * 96));
        EXPECT_EQ(rows_of(s, c, Resolution::hour1), static_cast<size_t>(10 * 24));
        auto before = s.query().downsample(c, kT0 + 5 * kDay, kT0 + 10 * kDay, kMin, Aggregate::consumption);
        ASSERT_TRUE(before);
        ASSERT_EQ(before->size(), static_cast<size_t>(5 * 144));

        ASSERT_TRUE(s.enforce_retention());
        auto raw = s.query().raw(c, kT0, kT0 + 11 * kDay);
        ASSERT_TRUE(raw);
        ASSERT_FALSE(raw->empty());
        EXPECT_GE(raw->front().ts, kT0 + (raw_as_long_as_1m ? 6 : 8) * kDay - kDay / 2);
        // 1-min answers over days 6..9 (1-min retention): identical, whether
        // from 1-min rows (raw expired) or from raw (rows never stored).
        auto after = s.query().downsample(c, kT0 + 6 * kDay, kT0 + 10 * kDay, kMin, Aggregate::consumption);
        ASSERT_TRUE(after);
        std::vector<Point> expected(before->begin() + 144, before->end());
        EXPECT_EQ(*after, expected);
        // 15-min and hourly answers for days 4..9 and 0..9 from the rows that remain.
        auto q15 = s.query().downsample(c, kT0 + 4 * kDay, kT0 + 10 * kDay, 15 * kMin, Aggregate::consumption);
        ASSERT_TRUE(q15);
        ASSERT_EQ(q15->size(), static_cast<size_t>(6 * 96));
        // xx:00 and xx:30 hold two readings (2 intervals), xx:15 and xx:45 one.
        for (const Point& p : *q15) EXPECT_EQ(p.value, p.ts % (30 * kMin) == 0 ? 4 : 2) << p.ts;
        auto h = s.query().downsample(c, kT0, kT0 + 10 * kDay, kHour, Aggregate::consumption);
        ASSERT_TRUE(h);
        ASSERT_EQ(h->size(), static_cast<size_t>(240));
        for (const Point& p : *h) EXPECT_EQ(p.value, 12);
    }
}

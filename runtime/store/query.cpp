#include "store/query.h"

#include <algorithm>
#include <array>
#include <functional>
#include <memory>

#include "store/chunk_reader.h"
#include "store/roller.h"

namespace gridlet::store {

namespace {
constexpr size_t kMaxBuckets = 10'000'000;

// A snapshot on a primary (consistent watermark, markers and rows); none on
// a secondary, whose view only changes on catch_up().
class ReadView {
public:
    explicit ReadView(const StoreDb& db) : db_(db), snap_(db.read_only() ? nullptr : db.db()->GetSnapshot()) {}
    ~ReadView() {
        if (snap_) db_.db()->ReleaseSnapshot(snap_);
    }
    ReadView(const ReadView&) = delete;
    ReadView& operator=(const ReadView&) = delete;
    const rocksdb::Snapshot* get() const { return snap_; }

private:
    const StoreDb& db_;
    const rocksdb::Snapshot* snap_;
};

// Index of the bucket holding t (edges sorted; t within [front, back)).
struct BucketCursor {
    std::span<const int64_t> edges;
    size_t i = 0;
    size_t at(int64_t t) {
        while (i + 1 < edges.size() && edges[i + 1] <= t) ++i;
        return i;
    }
};

std::vector<Point> to_points(const std::vector<RollupRow>& rows, std::span<const int64_t> labels, Aggregate agg) {
    std::vector<Point> out;
    for (size_t i = 0; i < rows.size(); ++i) {
        if (rows[i].empty()) continue;
        auto v = rows[i].value(agg);
        if (v) out.push_back(Point{labels[i], *v});
    }
    return out;
}
}  // namespace

Expected<std::vector<Sample>> QueryEngine::raw(uint32_t series, int64_t from, int64_t to, size_t limit) const {
    std::vector<Sample> out;
    if (from >= to) return out;
    ReadView view(db_);
    ChunkReader reader(db_, view.get());
    Status st = reader.scan(series, from, to, [&](std::span<const Sample> run) {
        size_t take = run.size();
        if (limit && out.size() + take > limit) take = limit - out.size();
        out.insert(out.end(), run.begin(), run.begin() + static_cast<std::ptrdiff_t>(take));
    });
    if (!st) return st;
    return out;
}

Expected<std::optional<Sample>> QueryEngine::last(uint32_t series) const {
    ReadView view(db_);
    ChunkReader reader(db_, view.get());
    return reader.last(series);
}

Status QueryEngine::check_agg(uint32_t series, Aggregate agg) const {
    if (agg != Aggregate::consumption) return Status::ok();
    auto m = registry_.get(series);
    if (!m) return Status::not_found("series " + std::to_string(series) + " is not registered");
    if (m->kind != SeriesKind::counter)
        return Status::invalid("series '" + m->name + "' is a " + series_kind_name(m->kind) +
                               ": consumption needs a counter");
    return Status::ok();
}

Expected<std::vector<int64_t>> QueryEngine::step_edges(int64_t from, int64_t to, int64_t step) {
    if (step <= 0) return Status::invalid("query: step must be > 0 ms");
    if (from >= to) return Status::invalid("query: from must be before to");
    if (static_cast<uint64_t>((to - from) / step) > kMaxBuckets)
        return Status::invalid("query: more than " + std::to_string(kMaxBuckets) + " buckets; use a larger step");
    std::vector<int64_t> edges{from};
    for (int64_t e = floor_to(from, step) + step; e < to; e += step) edges.push_back(e);
    edges.push_back(to);
    return edges;
}

Expected<std::vector<int64_t>> QueryEngine::calendar_edges(int64_t from, int64_t to, CalendarUnit unit,
                                                           const TimeZone& tz) {
    if (from >= to) return Status::invalid("query: from must be before to");
    std::vector<int64_t> edges{from};
    for (int64_t e = tz.next_start(unit, from); e < to; e = tz.next_start(unit, e)) {
        edges.push_back(e);
        if (edges.size() > kMaxBuckets) return Status::invalid("query: too many calendar buckets");
    }
    edges.push_back(to);
    return edges;
}

Expected<std::vector<RollupRow>> QueryEngine::aggregate(uint32_t series, std::span<const int64_t> edges,
                                                        QueryStats* stats, bool force_raw) const {
    if (edges.size() < 2) return Status::invalid("query: need at least one bucket");
    const int64_t from = edges.front(), to = edges.back();
    std::vector<RollupRow> rows(edges.size() - 1);
    QueryStats local;
    QueryStats& qs = stats ? *stats : local;
    qs = QueryStats();
    auto meta = registry_.get(series);
    const CounterRule rule = meta ? counter_rule(*meta) : CounterRule{};

    ReadView view(db_);
    // The coarsest resolution dividing every inner edge that has at least one
    // whole bucket inside [from, to).
    std::optional<Resolution> res;
    if (!force_raw) {
        for (auto it = kResolutions.rbegin(); it != kResolutions.rend() && !res; ++it) {
            int64_t w = resolution_ms(*it);
            constexpr int64_t kSane = int64_t{1} << 62;  // keeps ceil/floor from overflowing
            bool ok = from > -kSane && to < kSane && ceil_to(from, w) < floor_to(to, w);
            for (size_t i = 1; i + 1 < edges.size() && ok; ++i) ok = edges[i] % w == 0;
            if (ok) res = *it;
        }
    }
    // Rollups are exact below `clean`: the watermark, and before any dirty
    // bucket (for counters, before the interval a late sample cut in two).
    int64_t clean = kNoWatermark;
    if (res) {
        auto wm = read_watermark(db_, series, view.get());
        if (!wm) return wm.status();
        clean = *wm;
        if (clean != kNoWatermark) {
            auto dirty = read_dirty_minutes(db_, series, view.get());
            if (!dirty) return dirty.status();
            for (int64_t m : *dirty) {
                if (m + 60'000 <= from || (!rule.counter && m >= to)) continue;
                int64_t first_stale = m;
                if (rule.counter) {
                    ChunkReader r(db_, view.get());
                    auto prev = r.last_good_before(series, m);
                    if (!prev) return prev.status();
                    if (*prev) first_stale = std::min(first_stale, (*prev)->ts);
                }
                clean = std::min(clean, first_stale);
                break;
            }
        }
    }
    ChunkReader reader(db_, view.get());
    auto raw_part = [&](int64_t lo, int64_t hi) -> Status {
        if (lo >= hi) return Status::ok();
        RowFolder folder(rows, rule);
        BucketCursor cur{edges};
        std::optional<Sample> after;
        Status st = reader.scan(
            series, lo, hi,
            [&](std::span<const Sample> run) {
                qs.raw_samples += run.size();
                for (const Sample& s : run) folder.add(s, cur.at(s.ts));
            },
            &after);
        if (!st) return st;
        if (after) folder.add(*after, RowFolder::npos);
        return Status::ok();
    };
    rocksdb::ReadOptions ro;
    ro.snapshot = view.get();
    // One iterator per resolution: a gap between the rows of one resolution
    // is covered by the finer ones while its iterator stays where it is.
    std::array<std::unique_ptr<rocksdb::Iterator>, kResolutions.size()> its;
    std::function<Status(int64_t, int64_t, int)> cover;
    // Rows of kResolutions[level] for the buckets in [lo, hi) (aligned). A
    // bucket without a row may hold samples (too few for a row to be stored,
    // see RollupPolicy in roller.h): it is never taken as empty, the finer
    // resolutions and raw samples answer it.
    auto rollup_part = [&](int level, int64_t lo, int64_t hi) -> Status {
        const Resolution r = kResolutions[static_cast<size_t>(level)];
        const int64_t w = resolution_ms(r);
        auto& it = its[static_cast<size_t>(level)];
        if (!it) it.reset(db_.db()->NewIterator(ro, db_.cf(Cf::rollups)));
        const std::string end = rollup_key(series, r, hi);
        BucketCursor cur{edges};
        int64_t next = lo;  // the first bucket not answered yet
        for (it->Seek(rollup_key(series, r, lo)); it->Valid() && it->key().compare(end) < 0; it->Next()) {
            const int64_t t = get_time(it->key().data() + 5);
            auto row = decode_row(std::string_view(it->value().data(), it->value().size()));
            if (!row) return row.status().with_context("store " + db_.path() + ": series " + std::to_string(series));
            if (t > next)
                if (Status st = cover(next, t, level - 1); !st) return st;
            rows[cur.at(t)].merge(*row);
            ++qs.rollup_rows;
            next = t + w;
        }
        if (!it->status().ok()) return db_.convert(it->status(), "read rollups");
        return cover(next, hi, level - 1);
    };
    // A staircase: the chosen resolution in the middle, finer ones (which
    // divide the edges too) towards the ends, raw samples at the very ends.
    cover = [&](int64_t lo, int64_t hi, int level) -> Status {
        if (lo >= hi) return Status::ok();
        if (level < 0 || clean == kNoWatermark) return raw_part(lo, hi);
        const Resolution r = kResolutions[static_cast<size_t>(level)];
        const int64_t w = resolution_ms(r);
        const int64_t a = ceil_to(lo, w);
        const int64_t b = std::min(floor_to(hi, w), floor_to(clean, w));
        if (a >= b) return cover(lo, hi, level - 1);
        if (!qs.resolution) qs.resolution = r;
        if (Status st = cover(lo, a, level - 1); !st) return st;
        if (Status st = rollup_part(level, a, b); !st) return st;
        return cover(b, hi, level - 1);
    };
    int top = -1;
    if (res) top = static_cast<int>(std::find(kResolutions.begin(), kResolutions.end(), *res) - kResolutions.begin());
    if (Status st = cover(from, to, top); !st) return st;
    return rows;
}

Expected<std::vector<Point>> QueryEngine::downsample(uint32_t series, int64_t from, int64_t to, int64_t step,
                                                     Aggregate agg, QueryStats* stats) const {
    if (Status st = check_agg(series, agg); !st) return st;
    auto edges = step_edges(from, to, step);
    if (!edges) return edges.status();
    auto rows = aggregate(series, *edges, stats);
    if (!rows) return rows.status();
    std::vector<int64_t> labels(rows->size());
    for (size_t i = 0; i < labels.size(); ++i) labels[i] = floor_to((*edges)[i], step);
    return to_points(*rows, labels, agg);
}

Expected<std::vector<Point>> QueryEngine::calendar(uint32_t series, int64_t from, int64_t to, CalendarUnit unit,
                                                   const TimeZone& tz, Aggregate agg, QueryStats* stats) const {
    if (Status st = check_agg(series, agg); !st) return st;
    auto edges = calendar_edges(from, to, unit, tz);
    if (!edges) return edges.status();
    auto rows = aggregate(series, *edges, stats);
    if (!rows) return rows.status();
    std::vector<int64_t> labels(rows->size());
    for (size_t i = 0; i < labels.size(); ++i) labels[i] = tz.start_of(unit, (*edges)[i]);
    return to_points(*rows, labels, agg);
}

Expected<std::vector<SeriesPoints>> QueryEngine::downsample_many(std::string_view pattern, std::string_view tags,
                                                                 int64_t from, int64_t to, int64_t step,
                                                                 Aggregate agg) const {
    auto sel = select(pattern, tags);
    if (!sel) return sel.status();
    std::vector<SeriesPoints> out;
    for (SeriesMeta& m : *sel) {
        auto pts = downsample(m.id, from, to, step, agg);
        if (!pts) return pts.status();
        out.push_back(SeriesPoints{std::move(m), std::move(*pts)});
    }
    return out;
}

Expected<std::vector<SeriesPoints>> QueryEngine::calendar_many(std::string_view pattern, std::string_view tags,
                                                               int64_t from, int64_t to, CalendarUnit unit,
                                                               const TimeZone& tz, Aggregate agg) const {
    auto sel = select(pattern, tags);
    if (!sel) return sel.status();
    std::vector<SeriesPoints> out;
    for (SeriesMeta& m : *sel) {
        auto pts = calendar(m.id, from, to, unit, tz, agg);
        if (!pts) return pts.status();
        out.push_back(SeriesPoints{std::move(m), std::move(*pts)});
    }
    return out;
}

Expected<std::vector<SeriesPoints>> QueryEngine::raw_many(std::string_view pattern, std::string_view tags,
                                                          int64_t from, int64_t to) const {
    auto sel = select(pattern, tags);
    if (!sel) return sel.status();
    std::vector<SeriesPoints> out;
    for (SeriesMeta& m : *sel) {
        auto samples = raw(m.id, from, to);
        if (!samples) return samples.status();
        SeriesPoints sp{std::move(m), {}};
        sp.points.reserve(samples->size());
        for (const Sample& s : *samples) sp.points.push_back(Point{s.ts, s.value});
        out.push_back(std::move(sp));
    }
    return out;
}

}  // namespace gridlet::store

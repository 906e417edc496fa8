#include "store/query.h"

#include <algorithm>
#include <array>
#include <functional>
#include <limits>
#include <memory>
#include <system_error>
#include <thread>

#include "store/chunk_reader.h"
#include "store/roller.h"
#include "store/stored_rows.h"

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
        return Status::ok();
    });
    if (!st) return st;
    return out;
}

Expected<std::vector<Sample>> QueryEngine::raw(uint32_t series, int64_t from, int64_t to, const QueryLimit& bound,
                                               size_t rows_before) const {
    std::vector<Sample> out;
    if (from >= to) return out;
    ReadView view(db_);
    ChunkReader reader(db_, view.get());
    Status st = reader.scan(series, from, to, [&](std::span<const Sample> run) {
        if (bound.meter)
            if (Status m = bound.meter(run.size()); !m) return m;
        if (bound.max_rows && rows_before + out.size() + run.size() > bound.max_rows) return bound.too_many_rows();
        out.insert(out.end(), run.begin(), run.end());
        return Status::ok();
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

Expected<int64_t> QueryEngine::rows_until(uint32_t series, const CounterRule& rule, int64_t from, int64_t to,
                                          const rocksdb::Snapshot* snap) const {
    auto wm = read_watermark(db_, series, snap);
    if (!wm) return wm.status();
    if (*wm == kNoWatermark) return Aggregator::kNoRows;
    int64_t clean = *wm;
    auto dirty = read_dirty_minutes(db_, series, snap);
    if (!dirty) return dirty.status();
    for (int64_t m : *dirty) {
        auto stale = stale_range(db_, snap, series, rule, m, m + 60'000);
        if (!stale) return stale.status();
        const int64_t first = stale->first, last_end = stale->end;
        if (last_end <= from || first >= to) continue;
        clean = std::min(clean, first);
        break;  // minutes are sorted: the first that matters bounds the rest
    }
    return clean;
}

Status QueryEngine::for_each_bucket(uint32_t series, int64_t from, int64_t to, const BucketPlan& plan,
                                    const RowFn& fn, QueryStats* stats, bool force_raw, const QueryLimit* bound,
                                    size_t rows_before) const {
    ReadView view(db_);
    return walk(series, from, to, plan, fn, stats, force_raw, bound, rows_before, view.get());
}

Status QueryEngine::walk(uint32_t series, int64_t from, int64_t to, const BucketPlan& plan, const RowFn& fn,
                         QueryStats* stats, bool force_raw, const QueryLimit* bound, size_t rows_before,
                         const rocksdb::Snapshot* snap) const {
    if (Status st = check_query_range(from, to); !st) return st;
    auto meta = registry_.get(series);
    const CounterRule rule = meta ? counter_rule(*meta) : CounterRule{};
    int64_t until = Aggregator::kNoRows;
    if (!force_raw) {
        auto u = rows_until(series, rule, from, to, snap);
        if (!u) return u.status();
        until = *u;
    }
    ChunkCursor raw(db_, snap, series);
    if (bound && bound->meter) raw.set_meter(bound->meter);
    StoredRows rows(db_, snap, series);
    Aggregator agg(raw, until == Aggregator::kNoRows ? nullptr : &rows, grid_, rule, until);
    if (Status st = walk_buckets(agg, from, to, plan, fn, bound, rows_before); !st) return st;
    if (stats) {
        stats->resolution = agg.stats().coarsest;
        stats->raw_samples = agg.stats().raw_samples;
        stats->rollup_rows = agg.stats().rollup_rows;
    }
    return Status::ok();
}

Status QueryEngine::aggregate_part(uint32_t series, std::span<const int64_t> edges, size_t lo, size_t hi,
                                   std::vector<RollupRow>& rows, QueryStats* stats, bool force_raw,
                                   const rocksdb::Snapshot* snap) const {
    // The bucket holding t: the walk moves forward, so the one after the
    // last answer usually is it (a binary search otherwise).
    const std::span<const int64_t> part = edges.subspan(lo, hi - lo + 1);
    size_t last = 0;
    auto index = [&](int64_t t) {
        if (last + 1 >= part.size() || t < part[last] || t >= part[last + 1]) {
            if (last + 2 < part.size() && t >= part[last + 1] && t < part[last + 2]) ++last;
            else last = static_cast<size_t>(std::upper_bound(part.begin(), part.end(), t) - part.begin()) - 1;
        }
        return last;
    };
    BucketPlan plan;
    plan.start = [&](int64_t t) { return part[index(t)]; };
    plan.end = [&](int64_t t) { return part[index(t) + 1]; };
    return walk(
        series, part.front(), part.back(), plan,
        [&](int64_t start, int64_t, const RollupRow& row) { rows[lo + index(start)] = row; }, stats, force_raw,
        nullptr, 0, snap);
}

Expected<std::vector<RollupRow>> QueryEngine::aggregate(uint32_t series, std::span<const int64_t> edges,
                                                        QueryStats* stats, bool force_raw) const {
    if (edges.size() < 2) return Status::invalid("query: need at least one bucket");
    const size_t buckets = edges.size() - 1;
    std::vector<RollupRow> rows(buckets);
    ReadView view(db_);  // one view for both halves
    if (buckets < kParallelBuckets) {
        if (Status st = aggregate_part(series, edges, 0, buckets, rows, stats, force_raw, view.get()); !st) return st;
        return rows;
    }
    const size_t mid = buckets / 2;
    QueryStats second_stats;
    Status second = Status::ok();
    std::thread helper;
    try {
        helper = std::thread([&] {
            try {
                second = aggregate_part(series, edges, mid, buckets, rows, &second_stats, force_raw, view.get());
            } catch (const std::exception& e) {  // std::bad_alloc: a Status, as on the calling thread
                second = Status::internal(std::string("query: ") + e.what());
            }
        });
    } catch (const std::system_error&) {  // no thread to be had: the second half here too
        second = aggregate_part(series, edges, mid, buckets, rows, &second_stats, force_raw, view.get());
    }
    QueryStats first_stats;
    Status first = aggregate_part(series, edges, 0, mid, rows, &first_stats, force_raw, view.get());
    if (helper.joinable()) helper.join();
    if (!first) return first;
    if (!second) return second;
    if (stats) {
        stats->resolution = first_stats.resolution;
        if (second_stats.resolution && (!stats->resolution || *stats->resolution < *second_stats.resolution))
            stats->resolution = second_stats.resolution;
        stats->raw_samples = first_stats.raw_samples + second_stats.raw_samples;
        stats->rollup_rows = first_stats.rollup_rows + second_stats.rollup_rows;
    }
    return rows;
}

Expected<std::vector<Point>> QueryEngine::downsample(uint32_t series, int64_t from, int64_t to, int64_t step,
                                                     Aggregate agg, QueryStats* stats, const QueryLimit* bound,
                                                     size_t rows_before) const {
    if (Status st = check_agg(series, agg); !st) return st;
    if (Status st = check_query_step(step); !st) return st;
    if (Status st = check_query_range(from, to); !st) return st;
    return points(series, from, to, step_buckets(from, to, step), agg, stats, bound, rows_before);
}

Expected<std::vector<Point>> QueryEngine::total(uint32_t series, int64_t from, int64_t to, Aggregate agg,
                                                QueryStats* stats, const QueryLimit* bound) const {
    if (Status st = check_agg(series, agg); !st) return st;
    if (Status st = check_query_range(from, to); !st) return st;
    return points(series, from, to, single_bucket(from, to), agg, stats, bound, 0);
}

Expected<std::vector<Point>> QueryEngine::calendar(uint32_t series, int64_t from, int64_t to, CalendarUnit unit,
                                                   const TimeZone& tz, Aggregate agg, QueryStats* stats,
                                                   const QueryLimit* bound, size_t rows_before) const {
    if (Status st = check_agg(series, agg); !st) return st;
    if (Status st = check_query_range(from, to); !st) return st;
    return points(series, from, to, calendar_buckets(from, to, unit, tz), agg, stats, bound, rows_before);
}

Expected<std::vector<Point>> QueryEngine::points(uint32_t series, int64_t from, int64_t to, const BucketPlan& plan,
                                                 Aggregate agg, QueryStats* stats, const QueryLimit* bound,
                                                 size_t rows_before) const {
    std::vector<Point> out;
    Status st = for_each_bucket(
        series, from, to, plan,
        [&](int64_t start, int64_t, const RollupRow& row) {
            if (auto v = row.value(agg)) out.push_back(Point{plan.label(start), *v});
        },
        stats, false, bound, rows_before);
    if (!st) return st;
    return out;
}

Expected<std::vector<SeriesPoints>> QueryEngine::downsample_many(std::string_view pattern, std::string_view tags,
                                                                 int64_t from, int64_t to, int64_t step,
                                                                 Aggregate agg, const QueryLimit* bound) const {
    auto sel = select(pattern, tags);
    if (!sel) return sel.status();
    std::vector<SeriesPoints> out;
    size_t rows = 0;
    for (SeriesMeta& m : *sel) {
        auto pts = downsample(m.id, from, to, step, agg, nullptr, bound, rows);
        if (!pts) return pts.status();
        rows += pts->size();
        out.push_back(SeriesPoints{std::move(m), std::move(*pts), {}});
    }
    return out;
}

Expected<std::vector<SeriesPoints>> QueryEngine::calendar_many(std::string_view pattern, std::string_view tags,
                                                               int64_t from, int64_t to, CalendarUnit unit,
                                                               const TimeZone& tz, Aggregate agg,
                                                               const QueryLimit* bound) const {
    auto sel = select(pattern, tags);
    if (!sel) return sel.status();
    std::vector<SeriesPoints> out;
    size_t rows = 0;
    for (SeriesMeta& m : *sel) {
        auto pts = calendar(m.id, from, to, unit, tz, agg, nullptr, bound, rows);
        if (!pts) return pts.status();
        rows += pts->size();
        out.push_back(SeriesPoints{std::move(m), std::move(*pts), {}});
    }
    return out;
}

Expected<std::vector<SeriesPoints>> QueryEngine::raw_many(std::string_view pattern, std::string_view tags,
                                                          int64_t from, int64_t to, const QueryLimit* bound) const {
    if (Status st = check_query_range(from, to); !st) return st;
    auto sel = select(pattern, tags);
    if (!sel) return sel.status();
    std::vector<SeriesPoints> out;
    size_t rows = 0;
    for (SeriesMeta& m : *sel) {
        auto samples = bound ? raw(m.id, from, to, *bound, rows) : raw(m.id, from, to);
        if (!samples) return samples.status();
        rows += samples->size();
        SeriesPoints sp{std::move(m), {}, {}};
        sp.points.reserve(samples->size());
        sp.quality.reserve(samples->size());
        for (const Sample& s : *samples) {
            sp.points.push_back(Point{s.ts, s.value});
            sp.quality.push_back(s.quality);
        }
        out.push_back(std::move(sp));
    }
    return out;
}

}  // namespace gridlet::store

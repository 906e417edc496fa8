// QueryEngine: reads for the Lua rules, the CLI and the HTTP API.
//
// Semantics
//   raw(s, from, to)             samples with from <= ts < to, time order
//   last(s)                      the latest sample
//   downsample(s, from, to, step, agg)
//       buckets [k*step, (k+1)*step) aligned on the Unix epoch (UTC),
//       clipped to [from, to); a point is labelled with its bucket's
//       aligned start (so the first may be earlier than `from`)
//   calendar(s, from, to, unit, tz, agg)
//       local days / ISO weeks / months / years of `tz`, clipped to
//       [from, to), labelled with the local period start (UTC ms)
//   Buckets without data are absent: gaps are never filled or interpolated.
//   Aggregates follow rollup.h (bad-quality samples ignored, avg unweighted,
//   consumption only for counters, charged to the bucket where each
//   interval starts).
//
// How an aggregate is computed: store/aggregation.h, the one definition the
// roller uses too. Each bucket is split greedily into the coarsest rollup
// blocks that fit and the raw samples at its ragged ends; a block's stored
// row is used when it is exact (it ends at or before the series' rollup
// watermark, and before any bucket a late sample made stale), otherwise the
// block is computed from finer blocks and raw samples, in the same order
// the roller used. So an answer is bit-for-bit the one raw samples alone
// give (force_raw; tests check it), sums and averages included, also when
// a sum overflows.
//
// Memory and time: buckets are produced one at a time and empty stretches
// are skipped by looking up the next data, so neither depends on the span
// of the range, only on the data in it. Times outside 0001-01-01 ..
// 9999-12-31 (UTC) are refused (invalid_argument), never wrapped.
//
// Thread-safe: any number of threads may query at once. Works on a primary
// and on a read-only (secondary) StoreDb.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/series_registry.h"
#include "core/timezone.h"
#include "store/chunk_codec.h"
#include "store/aggregation.h"
#include "store/db.h"
#include "store/keys.h"
#include "store/rollup.h"

namespace gridlet::store {

struct Point {
    int64_t ts = 0;
    double value = 0;
    bool operator==(const Point&) const = default;
};

// How a query was answered (tests, --verbose).
struct QueryStats {
    std::optional<Resolution> resolution;  // the coarsest rollup used, if any
    uint64_t raw_samples = 0;              // raw samples folded
    uint64_t rollup_rows = 0;              // rollup rows used
};

struct SeriesPoints {
    SeriesMeta meta;
    std::vector<Point> points;
    std::vector<uint8_t> quality;  // raw queries: the quality of each point; aggregates: empty
};

class QueryEngine {
public:
    // Both borrowed; they must outlive the engine.
    QueryEngine(const StoreDb& db, const SeriesRegistry& registry) : db_(db), registry_(registry) {}

    // The samples in [from, to), oldest first (none when from >= to);
    // `limit` 0: no limit, else the first `limit` samples. Any range, for
    // tools and tests; what users send goes through raw_many or
    // check_query_range first.
    Expected<std::vector<Sample>> raw(uint32_t series, int64_t from, int64_t to, size_t limit = 0) const;
    // The same, bounded while it is read (QueryLimit, aggregation.h): more
    // than bound.max_rows - rows_before samples end it with too_many_rows().
    Expected<std::vector<Sample>> raw(uint32_t series, int64_t from, int64_t to, const QueryLimit& bound,
                                      size_t rows_before = 0) const;
    Expected<std::optional<Sample>> last(uint32_t series) const;

    // `bound` (optional): QueryLimit, counting `rows_before` rows already
    // produced for the same request.
    Expected<std::vector<Point>> downsample(uint32_t series, int64_t from, int64_t to, int64_t step_ms, Aggregate agg,
                                            QueryStats* stats = nullptr, const QueryLimit* bound = nullptr,
                                            size_t rows_before = 0) const;
    // One bucket [from, to) labelled `from` (no point when it holds no data).
    Expected<std::vector<Point>> total(uint32_t series, int64_t from, int64_t to, Aggregate agg,
                                       QueryStats* stats = nullptr, const QueryLimit* bound = nullptr) const;
    Expected<std::vector<Point>> calendar(uint32_t series, int64_t from, int64_t to, CalendarUnit unit,
                                          const TimeZone& tz, Aggregate agg, QueryStats* stats = nullptr,
                                          const QueryLimit* bound = nullptr, size_t rows_before = 0) const;

    // The general form: one row per bucket [edges[i], edges[i+1]).
    // `force_raw` skips rollups (tests compare both). A long walk (at least
    // kParallelBuckets buckets, e.g. a year of 15-min periods) is read in
    // two halves, the second on a thread of its own, from one snapshot: a
    // bucket's row does not depend on where the walk started, so the rows
    // are the same as one walk's (Query.AggregateInTwoHalvesEqualsOneWalk).
    static constexpr size_t kParallelBuckets = 2048;
    Expected<std::vector<RollupRow>> aggregate(uint32_t series, std::span<const int64_t> edges,
                                               QueryStats* stats = nullptr, bool force_raw = false) const;

    // The streaming form: `fn(start, end, row)` for each bucket of `plan`
    // (aggregation.h) in [from, to) that holds data, in time order.
    using RowFn = std::function<void(int64_t start, int64_t end, const RollupRow& row)>;
    Status for_each_bucket(uint32_t series, int64_t from, int64_t to, const BucketPlan& plan, const RowFn& fn,
                           QueryStats* stats = nullptr, bool force_raw = false, const QueryLimit* bound = nullptr,
                           size_t rows_before = 0) const;

    // Several series at once: pattern (core/pattern.h) and tag selector "k=v,...".
    // `bound` (optional): QueryLimit over the rows of every series together.
    Expected<std::vector<SeriesMeta>> select(std::string_view pattern, std::string_view tags) const {
        return registry_.select(pattern, tags);
    }
    Expected<std::vector<SeriesPoints>> downsample_many(std::string_view pattern, std::string_view tags, int64_t from,
                                                        int64_t to, int64_t step_ms, Aggregate agg,
                                                        const QueryLimit* bound = nullptr) const;
    Expected<std::vector<SeriesPoints>> calendar_many(std::string_view pattern, std::string_view tags, int64_t from,
                                                      int64_t to, CalendarUnit unit, const TimeZone& tz,
                                                      Aggregate agg, const QueryLimit* bound = nullptr) const;
    Expected<std::vector<SeriesPoints>> raw_many(std::string_view pattern, std::string_view tags, int64_t from,
                                                 int64_t to, const QueryLimit* bound = nullptr) const;

    // Bucket edges: epoch-aligned steps, or calendar periods (tests; at most
    // 10 million buckets).
    static Expected<std::vector<int64_t>> step_edges(int64_t from, int64_t to, int64_t step_ms);
    static Expected<std::vector<int64_t>> calendar_edges(int64_t from, int64_t to, CalendarUnit unit,
                                                         const TimeZone& tz);

    // The grid of rollup blocks (day blocks in the store's day zone).
    const BlockGrid& grid() const { return grid_; }
    void set_grid(BlockGrid grid) { grid_ = std::move(grid); }

private:
    Status check_agg(uint32_t series, Aggregate agg) const;
    Expected<std::vector<Point>> points(uint32_t series, int64_t from, int64_t to, const BucketPlan& plan,
                                        Aggregate agg, QueryStats* stats, const QueryLimit* bound,
                                        size_t rows_before) const;
    // for_each_bucket at a given view (snapshot).
    Status walk(uint32_t series, int64_t from, int64_t to, const BucketPlan& plan, const RowFn& fn, QueryStats* stats,
                bool force_raw, const QueryLimit* bound, size_t rows_before, const rocksdb::Snapshot* snap) const;
    // aggregate() of edges[lo..hi] (hi > lo) at a view, into rows[lo..hi).
    Status aggregate_part(uint32_t series, std::span<const int64_t> edges, size_t lo, size_t hi,
                          std::vector<RollupRow>& rows, QueryStats* stats, bool force_raw,
                          const rocksdb::Snapshot* snap) const;
    // The end of exact rows for `series` at the view (watermark, stale buckets).
    Expected<int64_t> rows_until(uint32_t series, const CounterRule& rule, int64_t from, int64_t to,
                                 const rocksdb::Snapshot* snap) const;
    BlockGrid grid_;
    const StoreDb& db_;
    const SeriesRegistry& registry_;
};

}  // namespace gridlet::store

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
// Rollup choice: the coarsest resolution whose width divides every inner
// bucket edge answers the part of [from, to) it covers exactly (between
// the aligned ends of the range and below the series' rollup watermark,
// outside dirty buckets); raw samples answer the rest. A bucket without a
// row is never taken as empty: rows holding few samples are not stored
// (RollupPolicy, roller.h), so the finer resolutions and raw samples answer
// it. Results are exactly those computed from raw samples alone (tests check it).
//
// Thread-safe: any number of threads may query at once. Works on a primary
// and on a read-only (secondary) StoreDb.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/series_registry.h"
#include "core/timezone.h"
#include "store/chunk_codec.h"
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
    std::optional<Resolution> resolution;  // the rollup used, if any
    uint64_t raw_samples = 0;              // raw samples decoded in range
    uint64_t rollup_rows = 0;              // rollup rows read
};

struct SeriesPoints {
    SeriesMeta meta;
    std::vector<Point> points;
};

class QueryEngine {
public:
    // Both borrowed; they must outlive the engine.
    QueryEngine(const StoreDb& db, const SeriesRegistry& registry) : db_(db), registry_(registry) {}

    // `limit` 0: no limit.
    Expected<std::vector<Sample>> raw(uint32_t series, int64_t from, int64_t to, size_t limit = 0) const;
    Expected<std::optional<Sample>> last(uint32_t series) const;

    Expected<std::vector<Point>> downsample(uint32_t series, int64_t from, int64_t to, int64_t step_ms, Aggregate agg,
                                            QueryStats* stats = nullptr) const;
    Expected<std::vector<Point>> calendar(uint32_t series, int64_t from, int64_t to, CalendarUnit unit,
                                          const TimeZone& tz, Aggregate agg, QueryStats* stats = nullptr) const;

    // The general form: one row per bucket [edges[i], edges[i+1]).
    // `force_raw` skips rollups (tests compare both).
    Expected<std::vector<RollupRow>> aggregate(uint32_t series, std::span<const int64_t> edges,
                                               QueryStats* stats = nullptr, bool force_raw = false) const;

    // Several series at once: pattern (core/pattern.h) and tag selector "k=v,...".
    Expected<std::vector<SeriesMeta>> select(std::string_view pattern, std::string_view tags) const {
        return registry_.select(pattern, tags);
    }
    Expected<std::vector<SeriesPoints>> downsample_many(std::string_view pattern, std::string_view tags, int64_t from,
                                                        int64_t to, int64_t step_ms, Aggregate agg) const;
    Expected<std::vector<SeriesPoints>> calendar_many(std::string_view pattern, std::string_view tags, int64_t from,
                                                      int64_t to, CalendarUnit unit, const TimeZone& tz,
                                                      Aggregate agg) const;
    Expected<std::vector<SeriesPoints>> raw_many(std::string_view pattern, std::string_view tags, int64_t from,
                                                 int64_t to) const;

    // Bucket edges: epoch-aligned steps, or calendar periods.
    static Expected<std::vector<int64_t>> step_edges(int64_t from, int64_t to, int64_t step_ms);
    static Expected<std::vector<int64_t>> calendar_edges(int64_t from, int64_t to, CalendarUnit unit,
                                                         const TimeZone& tz);

private:
    Status check_agg(uint32_t series, Aggregate agg) const;
    const StoreDb& db_;
    const SeriesRegistry& registry_;
};

}  // namespace gridlet::store

// Rollup rows: the summary of one block of time (count, min, max, sum,
// first, last, counter consumption), their merge, their encoding, and the
// counter delta rule. Which samples and intervals a row holds, and in which
// order rows are merged, is defined once in store/aggregation.h.
//
// Value types; pure functions; any thread.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/aggregate.h"
#include "core/series_registry.h"
#include "core/status.h"
#include "store/chunk_codec.h"

namespace gridlet::store {

struct RollupRow {
    uint32_t count = 0;      // good samples
    uint32_t intervals = 0;  // counter intervals charged here
    double min = std::numeric_limits<double>::infinity();
    double max = -std::numeric_limits<double>::infinity();
    double sum = 0;
    double first = 0, last = 0;
    int64_t first_ts = std::numeric_limits<int64_t>::max();
    int64_t last_ts = std::numeric_limits<int64_t>::min();
    double consumption = 0;

    bool empty() const { return count == 0 && intervals == 0; }
    void add_sample(const Sample& s);
    // Combines another row of a disjoint span of time.
    void merge(const RollupRow& o);
    // The aggregate, or nullopt when there is no data for it.
    std::optional<double> value(Aggregate a) const;
    bool operator==(const RollupRow&) const = default;
};

// A row's bytes; `block_start` is the start of its block (times are stored
// as offsets from it). decode_row: corruption on bytes that are not a row.
std::string encode_row(const RollupRow& r, int64_t block_start);
Expected<RollupRow> decode_row(std::string_view bytes, int64_t block_start);

// An interval between two counter readings longer than this is a gap: its
// delta is not charged to any bucket (missing data is left out, never put
// on the day the gap starts). 36 h keeps a meter read once a day (24 h, 25 h
// on the day DST ends, and some jitter); the series tag `max_gap` ("2h",
// "7d", "0" for none) sets it per series.
inline constexpr int64_t kDefaultMaxGapMs = 36LL * 3'600'000;

// How counter deltas are computed for one series.
struct CounterRule {
    bool counter = false;
    double rollover = 0;  // 0: a drop is a reset
    int64_t max_gap_ms = kDefaultMaxGapMs;  // 0: no limit
    double delta(double prev, double cur) const {
        if (cur >= prev) return cur - prev;
        if (rollover > 0 && prev < rollover) return rollover - prev + cur;
        return cur;
    }
};
CounterRule counter_rule(const SeriesMeta& meta);

}  // namespace gridlet::store

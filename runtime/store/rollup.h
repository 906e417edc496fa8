// Rollup rows and the arithmetic shared by the roller (rollups from raw) and
// the query engine (aggregates from raw, rollups or both).
//
// Counter consumption: the interval between two consecutive good samples
// [t_i, t_i+1) is charged, whole, to the bucket holding its start t_i (a
// reading at 00:00 each day gives day D = reading(D+1) - reading(D)). It is
// never split or interpolated, also across a gap. Its delta is v_i+1 - v_i;
// a drop is a reset (delta = v_i+1, the counter restarted from 0) unless the
// series has a `rollover` tag (e.g. rollover=65536), then it is a wrap
// (delta = rollover - v_i + v_i+1).
//
// Samples with quality 0 (bad) are kept in raw data but ignored by every
// aggregate (so are NaN values). avg is the plain mean of the samples (not time-weighted).
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

std::string encode_row(const RollupRow& r);
Expected<RollupRow> decode_row(std::string_view bytes);

// How counter deltas are computed for one series.
struct CounterRule {
    bool counter = false;
    double rollover = 0;  // 0: a drop is a reset
    double delta(double prev, double cur) const {
        if (cur >= prev) return cur - prev;
        if (rollover > 0 && prev < rollover) return rollover - prev + cur;
        return cur;
    }
};
CounterRule counter_rule(const SeriesMeta& meta);

// Folds time-ordered samples into rows. Each add() names the row of the
// sample, or npos for a sample outside the range (before it: only sets the
// previous value, its interval is not charged; after it: closes the last
// interval of the range).
class RowFolder {
public:
    static constexpr size_t npos = static_cast<size_t>(-1);
    RowFolder(std::vector<RollupRow>& rows, CounterRule rule) : rows_(rows), rule_(rule) {}
    void add(const Sample& s, size_t row) {
        if (s.quality == 0 || s.value != s.value) return;  // bad quality or NaN
        if (row != npos) rows_[row].add_sample(s);
        if (rule_.counter) {
            if (has_prev_ && prev_row_ != npos) {
                rows_[prev_row_].consumption += rule_.delta(prev_value_, s.value);
                ++rows_[prev_row_].intervals;
            }
            has_prev_ = true;
            prev_value_ = s.value;
            prev_row_ = row;
        }
    }

private:
    std::vector<RollupRow>& rows_;
    CounterRule rule_;
    bool has_prev_ = false;
    double prev_value_ = 0;
    size_t prev_row_ = npos;
};

}  // namespace gridlet::store

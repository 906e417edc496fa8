// Aggregation: the one definition of every aggregate the store answers, used
// by the roller (rollup rows), the query engine (answers from rows and raw
// samples) and the offline rule harness (script/sim_host.h, raw samples in
// memory). Because all three compute through this code, in the same order,
// an answer is bit-for-bit the same whether rollups exist or not.
//
// Blocks. The rollup grid has four levels: 1 min, 15 min, 1 h (aligned on
// the Unix epoch) and 1 day (aligned on the local midnights of the store's
// day zone, UTC unless the store was created with a site time zone; see
// BlockGrid). A *block* is one cell of the grid.
//
// Summation order (what makes rollups equal raw, sums included). The row of
// a span [a, b) is the merge, in time order, of the parts of its greedy
// decomposition: from a, take the coarsest block that starts at the current
// point and ends at or before b; where no block starts (inside a minute),
// take the samples up to the next minute. The row of a block is the merge,
// in time order, of the greedy decomposition of its span into finer blocks;
// the row of a 1-min block (or a piece of a minute) folds its samples in
// time order. A stored rollup row is that same value, computed once.
//
// Counters (series kind counter). Consumption sums the deltas of intervals
// between consecutive *accepted* good readings; each interval is charged,
// whole, to the bucket holding its start. A reading r_k (good readings
// r_1..r_n in time order) is
//   - a glitch when r_k < r_k-1 and r_k+1 >= r_k-1: a one-reading drop that
//     returns to the previous level (a meter or gateway answering 0 or a
//     stale value for one poll). It is kept in raw data and counted by
//     count/min/max/avg, but no interval starts or ends at it;
//   - pending when it is the newest reading and r_n < r_n-1: whether it is a
//     reset or a glitch is known only with the next reading, so the
//     interval ending at it is not charged yet;
//   - accepted otherwise. The delta from accepted a to accepted c is c - a,
//     or, when c < a (a reset confirmed by the reading after c), c (the
//     counter restarted from 0), or with a `rollover` tag R and a < R,
//     R - a + c (a wrap).
// An interval longer than the series' max_gap (36 h unless its `max_gap`
// tag says otherwise; rollup.h) is a gap: its delta is charged to no bucket
// (missing data are left out, not put on the bucket where the gap starts).
// Good: quality > 0 and a finite value (is_good). Everything else is kept in
// raw data and ignored by every aggregate.
//
// Memory: every function here holds one row per open block level and a few
// samples; nothing is proportional to the time span of a series or query.
//
// Threads: an Aggregator and its sources are used by one thread.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <vector>

#include "core/status.h"
#include "core/timezone.h"
#include "store/chunk_codec.h"
#include "store/keys.h"
#include "store/rollup.h"

namespace gridlet::store {

// The one test of a usable sample (quality 0 is bad; NaN and +-inf are bad
// data whatever their quality; the writer stores them with quality 0).
inline bool is_good(const Sample& s) { return s.quality != 0 && std::isfinite(s.value); }

// Times the store works with: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z
// (ISO 8601 four-digit years). Samples outside are refused at ingest and
// queries outside are refused, so no block arithmetic can overflow.
inline constexpr int64_t kMinStoreTime = kFirstIsoYearMs;
inline constexpr int64_t kMaxStoreTime = kLastIsoYearMs;
inline constexpr bool in_store_time(int64_t t) { return t >= kMinStoreTime && t <= kMaxStoreTime; }

// The rollup grid. Day blocks follow `day_zone` (local midnights; 23, 24 or
// 25 h long); the other levels are epoch-aligned. Value type; const methods
// safe from any thread. Times must be in_store_time.
class BlockGrid {
public:
    explicit BlockGrid(TimeZone day_zone = TimeZone::utc());
    const TimeZone& day_zone() const { return zone_; }
    // Start of the block of `r` holding t, and the end of the block starting at `start`.
    int64_t start(Resolution r, int64_t t) const;
    int64_t end(Resolution r, int64_t start) const;
    bool is_start(Resolution r, int64_t t) const { return start(r, t) == t; }

private:
    TimeZone zone_;
    bool utc_days_ = true;
};

// Folds good samples, in time order, into rows (see the counter rules
// above). add(s, row) names the row of the sample, or npos for a context
// sample outside the range being computed: the good reading before it (so
// the first reading of the range can be classified) and the two good
// readings after it (so the last interval starting in the range is closed).
// Bad samples are ignored. finish() closes the last interval when it can be.
class RowFolder {
public:
    static constexpr size_t npos = static_cast<size_t>(-1);
    RowFolder(std::vector<RollupRow>& rows, CounterRule rule) : rows_(rows), rule_(rule) {}
    void add(const Sample& s, size_t row);
    void finish();

private:
    struct Reading {
        double value = 0;
        int64_t ts = 0;
        size_t row = npos;
    };
    void accept(const Reading& r);
    std::vector<RollupRow>& rows_;
    CounterRule rule_;
    std::optional<Reading> prev_;      // the good reading before cur_
    std::optional<Reading> cur_;       // the newest good reading, not classified yet
    std::optional<Reading> accepted_;  // the last accepted reading
};

// The raw samples of one series, read forward in time.
class SampleSource {
public:
    virtual ~SampleSource() = default;
    // Calls fn with the samples in [a, b), in time order, a run at a time.
    // Successive calls mostly move forward; a read may start again before
    // the previous b (a bucket ending inside a minute after the minutes
    // were folded ahead): sources must answer it, at some cost.
    virtual Status read(int64_t a, int64_t b, const std::function<void(std::span<const Sample>)>& fn) = 0;
    // The time of the first sample (any quality) at or after t, nullopt if
    // none. Successive calls move forward (t never decreases).
    virtual Expected<std::optional<int64_t>> next_time(int64_t t) = 0;
    // Up to `n` good samples before t (the nearest first), and up to `n`
    // good samples at or after t (the nearest first). Any order of calls.
    virtual Status good_before(int64_t t, size_t n, std::vector<Sample>& out) = 0;
    virtual Status good_from(int64_t t, size_t n, std::vector<Sample>& out) = 0;
};

// Samples held in memory (sorted by time, unique timestamps).
class VectorSampleSource final : public SampleSource {
public:
    explicit VectorSampleSource(std::span<const Sample> samples) : s_(samples) {}
    Status read(int64_t a, int64_t b, const std::function<void(std::span<const Sample>)>& fn) override;
    Expected<std::optional<int64_t>> next_time(int64_t t) override;
    Status good_before(int64_t t, size_t n, std::vector<Sample>& out) override;
    Status good_from(int64_t t, size_t n, std::vector<Sample>& out) override;

private:
    size_t lower(int64_t t) const;
    std::span<const Sample> s_;
};

// Stored rollup rows of one series.
class RowSource {
public:
    virtual ~RowSource() = default;
    // The start of the first stored row of `r` at or after t (nullopt: none),
    // and the row starting there. Per resolution, t never decreases.
    virtual Expected<std::optional<int64_t>> next_row(Resolution r, int64_t t) = 0;
    virtual Expected<RollupRow> row_at(Resolution r) = 0;  // the row next_row(r, ...) found
};

// How a span was answered (tests, --verbose).
struct AggregationStats {
    std::optional<Resolution> coarsest;  // the coarsest stored row used
    uint64_t raw_samples = 0;            // raw samples folded
    uint64_t rollup_rows = 0;            // stored rows used
};

// Computes rows of spans and blocks of one series. Stored rows are used only
// for blocks ending at or before `rows_until` (the rollup watermark, or the
// first stale bucket); pass kNoRows (or rows == nullptr) to fold raw only.
class Aggregator {
public:
    static constexpr int64_t kNoRows = std::numeric_limits<int64_t>::min();
    Aggregator(SampleSource& raw, RowSource* rows, const BlockGrid& grid, CounterRule rule, int64_t rows_until)
        : raw_(raw), rows_(rows), grid_(grid), rule_(rule), rows_until_(rows ? rows_until : kNoRows) {}

    // The row of [a, b) (a < b, both in_store_time). Successive calls move forward.
    Expected<RollupRow> span(int64_t a, int64_t b);
    // The row of the block of `r` starting at `start`, computed from finer
    // blocks (its own stored row is not read: the roller recomputes it).
    Expected<RollupRow> recompute(Resolution r, int64_t start);
    // Rows of every 1-min block in [a, b) (a, b minute-aligned) that holds a
    // good sample or an interval start, with their starts; one pass over raw.
    Status minutes(int64_t a, int64_t b, std::vector<int64_t>& starts, std::vector<RollupRow>& rows);
    // The earliest time >= t at which the span may hold data (any stored
    // row or raw sample); nullopt when nothing follows. Forward.
    Expected<std::optional<int64_t>> next_data(int64_t t);
    // Lets a 1-min block without a stored row be folded together with the
    // minutes after it, up to `t` (at most a day ahead, never into the next
    // stored row of a level whose blocks fit in the span being computed), in
    // one pass over the raw samples: a walk over many
    // small buckets (a year of 15-min periods of a 1-min counter) then reads
    // each sample once instead of looking up the counter context at both
    // ends of every minute. The rows are the ones minutes() gives, which are
    // the ones a fold of each minute gives (the roller stores them), so
    // answers do not change, only their cost. Off (kNoRows) by default.
    void read_ahead_until(int64_t t) { read_ahead_until_ = t; }

    const AggregationStats& stats() const { return stats_; }

private:
    // Greedy decomposition of [a, b) into blocks of levels <= top (index in
    // kResolutions, -1: raw only), merged into `acc`.
    Status compose(int64_t a, int64_t b, int top, RollupRow& acc);
    Status block(int level, int64_t start, int64_t end, bool use_stored, RollupRow& acc);
    // Merges the stored row of `r` starting at `start` into acc: false when
    // there is none (the caller checked rows_until_).
    Expected<bool> merge_stored(Resolution r, int64_t start, RollupRow& acc);
    // Folds the good samples of [a, b) into rows[row_of(ts)], with the
    // counter context (one good reading before, two after).
    Status fold(int64_t a, int64_t b, std::vector<RollupRow>& rows, const std::function<size_t(int64_t)>& row_of);
    Status fold_raw(int64_t a, int64_t b, RollupRow& acc);
    // Earliest data at or after t in finer levels than `level` and raw.
    Expected<std::optional<int64_t>> next_below(int level, int64_t t);
    // The 1-min block at `start` from the rows folded ahead (false: not
    // folded ahead); fold_ahead folds the minutes from `start` and merges it.
    bool merge_folded_ahead(int64_t start, RollupRow& acc);
    Status fold_ahead(int64_t start, RollupRow& acc);

    SampleSource& raw_;
    RowSource* rows_;
    const BlockGrid& grid_;
    CounterRule rule_;
    int64_t rows_until_;
    AggregationStats stats_;
    std::vector<Sample> context_;
    int64_t read_ahead_until_ = kNoRows;
    int64_t span_len_ = 0;  // the length of the span being computed
    int64_t ahead_lo_ = 0, ahead_hi_ = 0;  // the minutes [ahead_lo_, ahead_hi_) are folded ahead
    size_t ahead_pos_ = 0;                 // where the last lookup stopped
    std::vector<int64_t> ahead_starts_;
    std::vector<RollupRow> ahead_rows_;
};

// Buckets of a query over [from, to): where the bucket holding t starts
// (clipped to from), where the bucket starting at t ends (clipped to to),
// and the label of the bucket starting at t.
struct BucketPlan {
    std::function<int64_t(int64_t)> start, end, label;
};
// Epoch-aligned steps of `step` ms, labelled with the aligned start (so the
// first label may be before `from`).
BucketPlan step_buckets(int64_t from, int64_t to, int64_t step);
// The whole of [from, to) as one bucket labelled `from`.
BucketPlan single_bucket(int64_t from, int64_t to);
// Local days / ISO weeks / months / years of `tz`, labelled with the local period start.
BucketPlan calendar_buckets(int64_t from, int64_t to, CalendarUnit unit, const TimeZone& tz);

// The checks every aggregate query passes: both ends in_store_time, from < to,
// and (step_buckets) 0 < step <= the store's time range. invalid_argument says which.
Status check_query_range(int64_t from, int64_t to);
Status check_query_step(int64_t step);

// What a reader bounds one query by, while it is read (the rules'
// gridlet.query and gridlet.window; the CLI passes none).
//   max_rows  at most this many rows (raw samples, or buckets that hold
//             data) are produced; one more ends the query with
//             too_many_rows() (invalid_argument). 0: no limit.
//   meter     told the work done since its last call (samples decoded,
//             buckets made), at each chunk decoded and every kMeterEvery
//             buckets; a non-ok Status ends the query with that Status (a
//             rule's time budget).
struct QueryLimit {
    size_t max_rows = 0;
    std::function<Status(uint64_t work)> meter;
    static constexpr uint64_t kMeterEvery = 1024;
    Status too_many_rows() const;  // "more than N rows; narrow the range or use step/agg"
};

// Calls fn(bucket start, bucket end, row) for each bucket of `plan` in
// [from, to) that holds data, in time order; empty stretches are skipped
// by asking the aggregator where data comes next. `limit` (optional): see
// QueryLimit; rows already produced by the caller count against max_rows
// through `rows_before`.
Status walk_buckets(Aggregator& agg, int64_t from, int64_t to, const BucketPlan& plan,
                    const std::function<void(int64_t, int64_t, const RollupRow&)>& fn,
                    const QueryLimit* limit = nullptr, size_t rows_before = 0);

}  // namespace gridlet::store

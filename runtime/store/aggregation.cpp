#include "store/aggregation.h"

#include <algorithm>
#include <string>

namespace gridlet::store {

namespace {
constexpr int64_t kMinute = 60'000;
constexpr int kTopLevel = static_cast<int>(kResolutions.size()) - 1;

std::optional<int64_t> earliest(std::optional<int64_t> a, std::optional<int64_t> b) {
    if (!a) return b;
    if (!b) return a;
    return std::min(*a, *b);
}
}  // namespace

// ---------------------------------------------------------------- BlockGrid

BlockGrid::BlockGrid(TimeZone day_zone) : zone_(std::move(day_zone)), utc_days_(zone_.name() == "UTC") {}

int64_t BlockGrid::start(Resolution r, int64_t t) const {
    if (r == Resolution::day1 && !utc_days_) return zone_.start_of_day(t);
    return floor_to(t, resolution_ms(r));
}

int64_t BlockGrid::end(Resolution r, int64_t start) const {
    if (r == Resolution::day1 && !utc_days_) return zone_.next_midnight(start);
    return start + resolution_ms(r);
}

// ---------------------------------------------------------------- RowFolder

void RowFolder::add(const Sample& s, size_t row) {
    if (!is_good(s)) return;
    if (row != npos) rows_[row].add_sample(s);
    if (!rule_.counter) return;
    const Reading next{s.value, s.ts, row};
    if (cur_) {
        const bool glitch = prev_ && cur_->value < prev_->value && next.value >= prev_->value;
        if (!glitch) accept(*cur_);
        prev_ = cur_;
    }
    cur_ = next;
}

void RowFolder::finish() {
    if (!rule_.counter || !cur_) return;
    const bool pending = prev_ && cur_->value < prev_->value;
    if (!pending) accept(*cur_);
    prev_.reset();
    cur_.reset();
}

void RowFolder::accept(const Reading& r) {
    // A gap longer than max_gap is charged to no bucket.
    if (accepted_ && accepted_->row != npos && (rule_.max_gap_ms <= 0 || r.ts - accepted_->ts <= rule_.max_gap_ms)) {
        RollupRow& row = rows_[accepted_->row];
        row.consumption += rule_.delta(accepted_->value, r.value);
        ++row.intervals;
    }
    accepted_ = r;
}

// ---------------------------------------------------------------- VectorSampleSource

size_t VectorSampleSource::lower(int64_t t) const {
    return static_cast<size_t>(
        std::lower_bound(s_.begin(), s_.end(), t, [](const Sample& x, int64_t v) { return x.ts < v; }) - s_.begin());
}

Status VectorSampleSource::read(int64_t a, int64_t b, const std::function<void(std::span<const Sample>)>& fn) {
    const size_t lo = lower(a), hi = lower(b);
    if (hi > lo) fn(s_.subspan(lo, hi - lo));
    return Status::ok();
}

Expected<std::optional<int64_t>> VectorSampleSource::next_time(int64_t t) {
    const size_t i = lower(t);
    if (i == s_.size()) return std::optional<int64_t>();
    return std::optional<int64_t>(s_[i].ts);
}

Status VectorSampleSource::good_before(int64_t t, size_t n, std::vector<Sample>& out) {
    out.clear();
    for (size_t i = lower(t); i > 0 && out.size() < n; --i)
        if (is_good(s_[i - 1])) out.push_back(s_[i - 1]);
    return Status::ok();
}

Status VectorSampleSource::good_from(int64_t t, size_t n, std::vector<Sample>& out) {
    out.clear();
    for (size_t i = lower(t); i < s_.size() && out.size() < n; ++i)
        if (is_good(s_[i])) out.push_back(s_[i]);
    return Status::ok();
}

// ---------------------------------------------------------------- Aggregator

Expected<std::optional<int64_t>> Aggregator::next_below(int level, int64_t t) {
    // Stored rows first, coarsest first, raw samples last (reading them may
    // decode a chunk): once something is found at t itself, nothing is earlier.
    std::optional<int64_t> best;
    if (rows_ && rows_until_ != kNoRows) {
        for (int l = level - 1; l >= 0 && !(best && *best == t); --l) {
            auto r = rows_->next_row(kResolutions[static_cast<size_t>(l)], t);
            if (!r) return r.status();
            best = earliest(best, *r);
        }
    }
    if (best && *best == t) return best;
    auto raw = raw_.next_time(t);
    if (!raw) return raw.status();
    return earliest(best, *raw);
}

Expected<std::optional<int64_t>> Aggregator::next_data(int64_t t) { return next_below(kTopLevel + 1, t); }

Status Aggregator::fold(int64_t a, int64_t b, std::vector<RollupRow>& rows,
                        const std::function<size_t(int64_t)>& row_of) {
    RowFolder folder(rows, rule_);
    bool any_good = false;
    Status failed = Status::ok();
    Status st = raw_.read(a, b, [&](std::span<const Sample> run) {
        stats_.raw_samples += run.size();
        for (const Sample& s : run) {
            if (!is_good(s)) continue;
            if (!any_good && rule_.counter) {
                // The reading before the range classifies its first reading.
                if (Status c = raw_.good_before(a, 1, context_); !c) failed = c;
                for (const Sample& p : context_) folder.add(p, RowFolder::npos);
            }
            any_good = true;
            folder.add(s, row_of(s.ts));
        }
    });
    if (!st) return st;
    if (!failed) return failed;
    if (any_good && rule_.counter) {
        // The two readings after the range close its last interval.
        if (Status c = raw_.good_from(b, 2, context_); !c) return c;
        for (const Sample& n : context_) folder.add(n, RowFolder::npos);
        folder.finish();
    }
    return Status::ok();
}

Status Aggregator::fold_raw(int64_t a, int64_t b, RollupRow& acc) {
    std::vector<RollupRow> one(1);
    if (Status st = fold(a, b, one, [](int64_t) { return size_t{0}; }); !st) return st;
    acc.merge(one[0]);
    return Status::ok();
}

Status Aggregator::minutes(int64_t a, int64_t b, std::vector<int64_t>& starts, std::vector<RollupRow>& rows) {
    starts.clear();
    rows.clear();
    return fold(a, b, rows, [&](int64_t ts) {
        const int64_t m = floor_to(ts, kMinute);
        if (starts.empty() || starts.back() != m) {
            starts.push_back(m);
            rows.emplace_back();
        }
        return rows.size() - 1;
    });
}

bool Aggregator::merge_folded_ahead(int64_t start, RollupRow& acc) {
    if (start < ahead_lo_ || start >= ahead_hi_) return false;
    if (ahead_pos_ > 0 && ahead_starts_[ahead_pos_ - 1] >= start) ahead_pos_ = 0;
    while (ahead_pos_ < ahead_starts_.size() && ahead_starts_[ahead_pos_] < start) ++ahead_pos_;
    if (ahead_pos_ < ahead_starts_.size() && ahead_starts_[ahead_pos_] == start) acc.merge(ahead_rows_[ahead_pos_]);
    return true;
}

Status Aggregator::fold_ahead(int64_t start, RollupRow& acc) {
    constexpr int64_t kFoldAheadMax = 1440 * kMinute;  // a day of minute rows: ~100 KB
    int64_t hi = std::min(start + kFoldAheadMax, floor_to(read_ahead_until_, kMinute));
    // Never into a stored row that may answer a later block instead: the
    // next row, starting after this minute, of each level whose blocks fit
    // in a span as long as this one (a walk's buckets are alike: 15-min
    // periods never use hour rows).
    if (rows_ && rows_until_ != kNoRows)
        for (const Resolution r : kResolutions) {
            if (hi <= start + kMinute) break;
            if (grid_.end(r, grid_.start(r, start)) - grid_.start(r, start) > span_len_) break;
            auto next = rows_->next_row(r, start + 1);
            if (!next) return next.status();
            if (*next && **next < rows_until_) hi = std::min(hi, **next);
        }
    if (hi <= start + kMinute) return fold_raw(start, start + kMinute, acc);
    ahead_lo_ = ahead_hi_ = 0;
    if (Status st = minutes(start, hi, ahead_starts_, ahead_rows_); !st) return st;
    ahead_lo_ = start;
    ahead_hi_ = hi;
    ahead_pos_ = 0;
    merge_folded_ahead(start, acc);
    return Status::ok();
}

Expected<bool> Aggregator::merge_stored(Resolution r, int64_t start, RollupRow& acc) {
    auto at = rows_->next_row(r, start);
    if (!at) return at.status();
    if (!*at || **at != start) return false;
    auto row = rows_->row_at(r);
    if (!row) return row.status();
    acc.merge(*row);
    ++stats_.rollup_rows;
    if (!stats_.coarsest || *stats_.coarsest < r) stats_.coarsest = r;
    return true;
}

Status Aggregator::block(int level, int64_t start, int64_t end, bool use_stored, RollupRow& acc) {
    const Resolution r = kResolutions[static_cast<size_t>(level)];
    if (level == 0 && merge_folded_ahead(start, acc)) return Status::ok();
    if (use_stored && rows_until_ != kNoRows && end <= rows_until_) {
        auto took = merge_stored(r, start, acc);
        if (!took) return took.status();
        if (*took) return Status::ok();
    }
    auto next = next_below(level, start);
    if (!next) return next.status();
    if (!*next || **next >= end) return Status::ok();  // nothing in this block
    if (level == 0) return read_ahead_until_ == kNoRows ? fold_raw(start, end, acc) : fold_ahead(start, acc);
    RollupRow own;
    if (Status st = compose(start, end, level - 1, own); !st) return st;
    acc.merge(own);
    return Status::ok();
}

Status Aggregator::compose(int64_t a, int64_t b, int top, RollupRow& acc) {
    int64_t t = a;
    while (t < b) {
        bool took = false;
        for (int l = top; l >= 0 && !took; --l) {
            const Resolution r = kResolutions[static_cast<size_t>(l)];
            // (A local day is 23 to 25 h, never under 12: skip the zone lookup.)
            if (r == Resolution::day1 && b - t < 12 * 3'600'000) continue;
            if (!grid_.is_start(r, t)) continue;
            const int64_t e = grid_.end(r, t);
            if (e > b) continue;
            if (Status st = block(l, t, e, true, acc); !st) return st;
            t = e;
            took = true;
        }
        if (took) continue;
        // Inside a minute: the samples up to the next minute (or b).
        const int64_t u = std::min(b, floor_to(t, kMinute) + kMinute);
        auto next = raw_.next_time(t);
        if (!next) return next.status();
        if (*next && **next < u)
            if (Status st = fold_raw(t, u, acc); !st) return st;
        t = u;
    }
    return Status::ok();
}

Expected<RollupRow> Aggregator::span(int64_t a, int64_t b) {
    span_len_ = b - a;
    RollupRow acc;
    // A span that is one block with a stored row (a walk over 15-min or
    // hourly periods): that row, which is what compose() takes for it.
    if (rows_ && rows_until_ != kNoRows && b <= rows_until_ && b - a < 12 * 3'600'000)
        for (int l = kTopLevel - 1; l >= 0; --l) {
            const Resolution r = kResolutions[static_cast<size_t>(l)];
            if (grid_.end(r, a) - a < b - a) break;  // finer blocks are shorter still
            if (grid_.end(r, a) - a != b - a || !grid_.is_start(r, a)) continue;
            auto took = merge_stored(r, a, acc);
            if (!took) return took.status();
            if (*took) return acc;
            break;
        }
    if (Status st = compose(a, b, kTopLevel, acc); !st) return st;
    return acc;
}

Expected<RollupRow> Aggregator::recompute(Resolution r, int64_t start) {
    const int level = static_cast<int>(std::find(kResolutions.begin(), kResolutions.end(), r) - kResolutions.begin());
    RollupRow acc;
    if (Status st = block(level, start, grid_.end(r, start), false, acc); !st) return st;
    return acc;
}

// ---------------------------------------------------------------- buckets

Status check_query_range(int64_t from, int64_t to) {
    if (!in_store_time(from) || !in_store_time(to))
        return Status::invalid("query: times must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z (from " +
                               std::to_string(from) + " ms, to " + std::to_string(to) + " ms since 1970)");
    if (from >= to) return Status::invalid("query: from must be before to");
    return Status::ok();
}

Status check_query_step(int64_t step) {
    if (step <= 0) return Status::invalid("query: step must be > 0 ms");
    if (step > kMaxStoreTime - kMinStoreTime)
        return Status::invalid("query: step " + std::to_string(step) + " ms is longer than years 0001 to 9999");
    return Status::ok();
}

BucketPlan step_buckets(int64_t from, int64_t to, int64_t step) {
    BucketPlan p;
    p.start = [from, step](int64_t t) { return std::max(from, floor_to(t, step)); };
    p.end = [to, step](int64_t t) {
        const int64_t f = floor_to(t, step);
        return f >= to - step ? to : f + step;  // never past `to`, never overflowing
    };
    p.label = [step](int64_t t) { return floor_to(t, step); };
    return p;
}

BucketPlan single_bucket(int64_t from, int64_t to) {
    BucketPlan p;
    p.start = [from](int64_t) { return from; };
    p.end = [to](int64_t) { return to; };
    p.label = [from](int64_t) { return from; };
    return p;
}

BucketPlan calendar_buckets(int64_t from, int64_t to, CalendarUnit unit, const TimeZone& tz) {
    BucketPlan p;
    p.start = [from, unit, tz](int64_t t) { return std::max(from, tz.start_of(unit, t)); };
    p.end = [to, unit, tz](int64_t t) { return std::min(to, tz.next_start(unit, t)); };
    p.label = [unit, tz](int64_t t) { return tz.start_of(unit, t); };
    return p;
}

Status QueryLimit::too_many_rows() const {
    return Status::invalid("more than " + std::to_string(max_rows) + " rows; narrow the range or use step/agg");
}

Status walk_buckets(Aggregator& agg, int64_t from, int64_t to, const BucketPlan& plan,
                    const std::function<void(int64_t, int64_t, const RollupRow&)>& fn, const QueryLimit* limit,
                    size_t rows_before) {
    agg.read_ahead_until(to);
    int64_t t = from;
    size_t rows = rows_before;
    uint64_t unmetered = 0;
    bool had_data = false;  // the bucket before held data: the next one likely does too
    while (t < to) {
        if (limit && limit->meter && ++unmetered == QueryLimit::kMeterEvery) {
            if (Status st = limit->meter(unmetered); !st) return st;
            unmetered = 0;
        }
        if (!had_data) {  // look for the next data, skipping empty buckets at once
            auto next = agg.next_data(t);
            if (!next) return next.status();
            if (!*next || **next >= to) break;
            if (**next > t) t = std::max(t, plan.start(**next));
        }
        const int64_t e = plan.end(t);
        if (e <= t) return Status::internal("query: the bucket at " + std::to_string(t) + " ms does not advance");
        auto row = agg.span(t, e);
        if (!row) return row.status();
        had_data = !row->empty();
        if (had_data) {
            if (limit && limit->max_rows && ++rows > limit->max_rows) return limit->too_many_rows();
            fn(t, e, *row);
        }
        t = e;
    }
    return Status::ok();
}

}  // namespace gridlet::store

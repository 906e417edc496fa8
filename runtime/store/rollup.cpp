#include "store/rollup.h"

#include "store/bitstream.h"
#include "store/time_spec.h"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace gridlet::store {

namespace {
constexpr uint8_t kRowVersion = 3;
// |an offset| or span in a row: 20,000 years, far past the store's times
// (years 1..9999), so no sum of them overflows.
constexpr int64_t kMaxRowTimeMs = 20'000LL * 366 * 86'400'000;
}  // namespace

void RollupRow::add_sample(const Sample& s) {
    ++count;
    min = std::min(min, s.value);
    max = std::max(max, s.value);
    sum += s.value;
    if (s.ts < first_ts) {
        first_ts = s.ts;
        first = s.value;
    }
    if (s.ts >= last_ts) {
        last_ts = s.ts;
        last = s.value;
    }
}

void RollupRow::merge(const RollupRow& o) {
    if (o.empty()) return;
    count += o.count;
    intervals += o.intervals;
    consumption += o.consumption;
    if (o.count == 0) return;
    min = std::min(min, o.min);
    max = std::max(max, o.max);
    sum += o.sum;
    if (o.first_ts < first_ts) {
        first_ts = o.first_ts;
        first = o.first;
    }
    if (o.last_ts >= last_ts) {
        last_ts = o.last_ts;
        last = o.last;
    }
}

std::optional<double> RollupRow::value(Aggregate a) const {
    if (a == Aggregate::consumption) {
        if (intervals == 0) return std::nullopt;
        return consumption;
    }
    if (a == Aggregate::count) return static_cast<double>(count);
    if (count == 0) return std::nullopt;
    switch (a) {
        case Aggregate::avg: return sum / count;
        case Aggregate::min: return min;
        case Aggregate::max: return max;
        case Aggregate::sum: return sum;
        case Aggregate::first: return first;
        case Aggregate::last: return last;
        default: return std::nullopt;
    }
}

// Row layout, version 3 (written now):
//   u8 version, varint count, varint intervals,
//   count == 1: value (f64), zigzag (ts - block start)
//   count > 1:  u8 flags: which extremes are first or last (kMinIsFirst...),
//               and kWholeSeconds; sum, first, last (f64), min and max (f64)
//               unless named by the flags, zigzag (first_ts - block start),
//               last_ts - first_ts: in seconds with kWholeSeconds (both
//               whole seconds, as a polled meter's times mostly are), else ms
//   intervals > 0: consumption (f64)
// A counter's row (it rises through its block) stores neither min nor max,
// and its times are short offsets: 21 bytes fewer than version 2 for a
// 15-min row of a meter read on the second, over a third of the row, so more rows fit in the block cache and fewer bytes are
// decompressed. The flags compare bits, so every row decodes to the very
// same doubles (-0.0 stays -0.0).
// Version 2 (read, no longer written): count > 1 as min, max, sum, first,
// last, zigzag first_ts (absolute), last_ts - first_ts; count == 1 as
// value, zigzag ts (absolute).
namespace {
constexpr uint8_t kRowV2 = 2;
constexpr uint8_t kMinIsFirst = 1, kMinIsLast = 2, kMaxIsFirst = 4, kMaxIsLast = 8;
constexpr uint8_t kWholeSeconds = 16;  // the time offset and span are in seconds
constexpr uint8_t kKnownFlags = kMinIsFirst | kMinIsLast | kMaxIsFirst | kMaxIsLast | kWholeSeconds;

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }
}  // namespace

std::string encode_row(const RollupRow& r, int64_t block_start) {
    std::string out;
    out.reserve(48);
    out.push_back(static_cast<char>(kRowVersion));
    put_varint(out, r.count);
    put_varint(out, r.intervals);
    auto put = [&out](double v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); };
    if (r.count == 1) {
        put(r.first);
        put_varint(out, zigzag(r.first_ts - block_start));
    } else if (r.count > 1) {
        uint8_t flags = 0;
        if (same_bits(r.min, r.first)) flags |= kMinIsFirst;
        else if (same_bits(r.min, r.last)) flags |= kMinIsLast;
        if (same_bits(r.max, r.last)) flags |= kMaxIsLast;
        else if (same_bits(r.max, r.first)) flags |= kMaxIsFirst;
        const int64_t offset = r.first_ts - block_start, span = r.last_ts - r.first_ts;
        const int64_t unit = offset % 1000 == 0 && span % 1000 == 0 ? 1000 : 1;
        if (unit == 1000) flags |= kWholeSeconds;
        out.push_back(static_cast<char>(flags));
        put(r.sum);
        put(r.first);
        put(r.last);
        if (!(flags & (kMinIsFirst | kMinIsLast))) put(r.min);
        if (!(flags & (kMaxIsFirst | kMaxIsLast))) put(r.max);
        put_varint(out, zigzag(offset / unit));
        put_varint(out, static_cast<uint64_t>(span / unit));
    }
    if (r.intervals > 0) put(r.consumption);
    return out;
}

Expected<RollupRow> decode_row(std::string_view b, int64_t block_start) {
    auto bad = [] { return Status::corruption("rollup row: truncated or bad version"); };
    auto p = reinterpret_cast<const uint8_t*>(b.data());
    auto end = p + b.size();
    if (b.empty() || (*p != kRowVersion && *p != kRowV2)) return bad();
    const bool v2 = *p++ == kRowV2;
    const int64_t base = v2 ? 0 : block_start;
    RollupRow r;
    uint64_t count = 0, intervals = 0, z = 0, span = 0;
    if (!get_varint(p, end, count) || !get_varint(p, end, intervals) || count > UINT32_MAX || intervals > UINT32_MAX)
        return bad();
    r.count = static_cast<uint32_t>(count);
    r.intervals = static_cast<uint32_t>(intervals);
    auto get = [&](double& v) {
        if (end - p < 8) return false;
        std::memcpy(&v, p, 8);
        p += 8;
        return true;
    };
    // A time offset or span no row can have (past the store's years) is damage.
    int64_t unit = 1;  // ms per stored time unit
    auto time_at = [&](uint64_t zz, int64_t& t) {
        const int64_t off = unzigzag(zz);
        if (off < -kMaxRowTimeMs / unit || off > kMaxRowTimeMs / unit) return false;
        t = base + off * unit;
        return true;
    };
    if (count == 1) {
        if (!get(r.first) || !get_varint(p, end, z) || !time_at(z, r.first_ts)) return bad();
        r.last = r.min = r.max = r.sum = r.first;
        r.last_ts = r.first_ts;
    } else if (count > 1) {
        if (v2) {
            if (!get(r.min) || !get(r.max) || !get(r.sum) || !get(r.first) || !get(r.last)) return bad();
        } else {
            if (p == end) return bad();
            const uint8_t flags = *p++;
            if ((flags & ~kKnownFlags) != 0) return bad();
            if (flags & kWholeSeconds) unit = 1000;
            if (!get(r.sum) || !get(r.first) || !get(r.last)) return bad();
            if (flags & kMinIsFirst) r.min = r.first;
            else if (flags & kMinIsLast) r.min = r.last;
            else if (!get(r.min)) return bad();
            if (flags & kMaxIsLast) r.max = r.last;
            else if (flags & kMaxIsFirst) r.max = r.first;
            else if (!get(r.max)) return bad();
        }
        if (!get_varint(p, end, z) || !time_at(z, r.first_ts) || !get_varint(p, end, span) ||
            span > static_cast<uint64_t>(kMaxRowTimeMs / unit))
            return bad();
        r.last_ts = r.first_ts + static_cast<int64_t>(span) * unit;
    }
    if (intervals > 0 && !get(r.consumption)) return bad();
    if (p != end) return bad();
    return r;
}

CounterRule counter_rule(const SeriesMeta& meta) {
    CounterRule r;
    r.counter = meta.kind == SeriesKind::counter;
    auto it = meta.tags.find("rollover");
    if (r.counter && it != meta.tags.end()) {
        double v = 0;
        auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
        if (ec == std::errc() && p == it->second.data() + it->second.size() && v > 0) r.rollover = v;
    }
    if (auto gap = meta.tags.find("max_gap"); r.counter && gap != meta.tags.end()) {
        if (gap->second == "0") r.max_gap_ms = 0;
        else if (auto ms = parse_duration_ms(gap->second); ms && *ms > 0) r.max_gap_ms = *ms;
    }
    return r;
}

}  // namespace gridlet::store

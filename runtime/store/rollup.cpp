#include "store/rollup.h"

#include "store/bitstream.h"
#include "store/time_spec.h"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace gridlet::store {

namespace {
constexpr uint8_t kRowVersion = 2;
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

// Row layout (version 2, compact: most rows of slow series hold one sample):
//   u8 version, varint count, varint intervals,
//   count == 1: value (f64), zigzag ts
//   count > 1:  min, max, sum, first, last (f64), zigzag first_ts, last_ts - first_ts
//   intervals > 0: consumption (f64)
std::string encode_row(const RollupRow& r) {
    std::string out;
    out.reserve(64);
    out.push_back(static_cast<char>(kRowVersion));
    put_varint(out, r.count);
    put_varint(out, r.intervals);
    auto put = [&out](double v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); };
    if (r.count == 1) {
        put(r.first);
        put_varint(out, zigzag(r.first_ts));
    } else if (r.count > 1) {
        put(r.min);
        put(r.max);
        put(r.sum);
        put(r.first);
        put(r.last);
        put_varint(out, zigzag(r.first_ts));
        put_varint(out, static_cast<uint64_t>(r.last_ts - r.first_ts));
    }
    if (r.intervals > 0) put(r.consumption);
    return out;
}

Expected<RollupRow> decode_row(std::string_view b) {
    auto bad = [] { return Status::corruption("rollup row: truncated or bad version"); };
    auto p = reinterpret_cast<const uint8_t*>(b.data());
    auto end = p + b.size();
    if (b.empty() || *p++ != kRowVersion) return bad();
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
    if (count == 1) {
        if (!get(r.first) || !get_varint(p, end, z)) return bad();
        r.last = r.min = r.max = r.sum = r.first;
        r.first_ts = r.last_ts = unzigzag(z);
    } else if (count > 1) {
        if (!get(r.min) || !get(r.max) || !get(r.sum) || !get(r.first) || !get(r.last) || !get_varint(p, end, z) ||
            !get_varint(p, end, span))
            return bad();
        r.first_ts = unzigzag(z);
        r.last_ts = r.first_ts + static_cast<int64_t>(span);
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

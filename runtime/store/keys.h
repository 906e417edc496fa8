// Key layout of the store's column families. Every integer in a key is
// big-endian and signed times have their sign bit flipped, so the bytewise
// order of keys is (series, time) order and a range scan is sequential.
//
//   registry    'S' | id:u32                       -> series metadata (JSON)
//   chunks      id:u32 | chunk_start:i64           -> chunk (chunk_codec.h)
//   rollups     id:u32 | res:u8 | bucket_start:i64 -> RollupRow (rollup.h)
//   rollup_meta 'W' | id:u32                       -> rolled-up-until watermark:i64
//               'D' | id:u32 | minute:i64 | seq:u64 -> "" (a 1-min bucket to recompute)
//   events      ts:i64 | seq:u64                   -> event (events.h)
//   state       rule | 0x00 | key                  -> value bytes
//   outbox      queue | 0x00 | seq:u64             -> payload bytes
//
// Pure functions; any thread.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace gridlet::store {

// The smallest time: the start of a series in key order (no sample before).
inline constexpr int64_t kMinTs = std::numeric_limits<int64_t>::min();


inline constexpr const char* kCfRegistry = "registry";
inline constexpr const char* kCfChunks = "chunks";
inline constexpr const char* kCfRollups = "rollups";
inline constexpr const char* kCfRollupMeta = "rollup_meta";
inline constexpr const char* kCfEvents = "events";
inline constexpr const char* kCfState = "state";
inline constexpr const char* kCfOutbox = "outbox";

// Rollup resolutions, finest first. The numeric value is the key byte.
enum class Resolution : uint8_t { min1 = 1, min15 = 2, hour1 = 3, day1 = 4 };
inline constexpr std::array<Resolution, 4> kResolutions{Resolution::min1, Resolution::min15, Resolution::hour1,
                                                        Resolution::day1};

constexpr int64_t resolution_ms(Resolution r) {
    switch (r) {
        case Resolution::min1: return 60'000;
        case Resolution::min15: return 900'000;
        case Resolution::hour1: return 3'600'000;
        case Resolution::day1: return 86'400'000;
    }
    return 60'000;
}
const char* resolution_name(Resolution r) noexcept;  // "1m", "15m", "1h", "1d"

// Floor / ceil of `t` to a multiple of `step` (> 0), correct for t < 0.
constexpr int64_t floor_to(int64_t t, int64_t step) {
    int64_t q = t / step;
    if (t % step != 0 && t < 0) --q;
    return q * step;
}
constexpr int64_t ceil_to(int64_t t, int64_t step) {
    int64_t f = floor_to(t, step);
    return f == t ? t : f + step;
}

inline void put_be32(std::string& out, uint32_t v) {
    char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                 static_cast<char>(v)};
    out.append(b, 4);
}
inline void put_be64(std::string& out, uint64_t v) {
    put_be32(out, static_cast<uint32_t>(v >> 32));
    put_be32(out, static_cast<uint32_t>(v));
}
// A signed time, ordered bytewise.
inline void put_time(std::string& out, int64_t t) { put_be64(out, static_cast<uint64_t>(t) ^ (uint64_t{1} << 63)); }

inline uint32_t get_be32(const char* p) {
    auto u = reinterpret_cast<const unsigned char*>(p);
    return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}
inline uint64_t get_be64(const char* p) { return (uint64_t{get_be32(p)} << 32) | get_be32(p + 4); }
inline int64_t get_time(const char* p) { return static_cast<int64_t>(get_be64(p) ^ (uint64_t{1} << 63)); }

inline std::string chunk_key(uint32_t series, int64_t start) {
    std::string k;
    k.reserve(12);
    put_be32(k, series);
    put_time(k, start);
    return k;
}
inline std::string series_prefix(uint32_t series) {
    std::string k;
    put_be32(k, series);
    return k;
}
inline std::string rollup_key(uint32_t series, Resolution r, int64_t bucket) {
    std::string k;
    k.reserve(13);
    put_be32(k, series);
    k.push_back(static_cast<char>(r));
    put_time(k, bucket);
    return k;
}
inline std::string watermark_key(uint32_t series) {
    std::string k = "W";
    put_be32(k, series);
    return k;
}
inline std::string dirty_prefix(uint32_t series) {
    std::string k = "D";
    put_be32(k, series);
    return k;
}
inline std::string dirty_key(uint32_t series, int64_t minute, uint64_t seq) {
    std::string k = dirty_prefix(series);
    put_time(k, minute);
    put_be64(k, seq);
    return k;
}
inline std::string event_key(int64_t ts, uint64_t seq) {
    std::string k;
    put_time(k, ts);
    put_be64(k, seq);
    return k;
}
inline std::string named_prefix(std::string_view name) {
    std::string k(name);
    k.push_back('\0');
    return k;
}

// The smallest key greater than every key starting with `prefix` ("" when
// there is none, i.e. the prefix is all 0xff).
std::string prefix_end(std::string_view prefix);

}  // namespace gridlet::store

// Chunk codec: a time-ordered run of samples of one series, compressed for
// meter data. One chunk is one RocksDB value (key: series | chunk start).
//
// Layout (integers are LEB128 varints unless noted):
//   u8   magic 0xC1
//   u8   mode (low 2 bits: 0 xor, 1 decimal delta, 2 decimal delta-of-delta)
//        | decimals << 4
//   count
//   zigzag(first_ts) , last_ts - first_ts            (header: cheap to peek)
//   nruns, then nruns x (run length, u8 quality)     (quality run-length)
//   timestamp stream byte length, then the streams:
//   timestamps: delta-of-delta in ms, prefix codes
//       0 -> 0 | 10+7 bits | 110+10 | 1110+16 | 11110+32 | 11111+64 (zigzag)
//   values, mode xor:   Gorilla XOR (8 raw bytes first, then 0 | 10 reuse
//                       window | 11 + 5-bit leading zeros + 6-bit length)
//   values, decimal:    every value is n / 10^decimals for an integer n that
//                       round-trips bit-exactly; zigzag(n0) varint, then the
//                       deltas (mode 1) or deltas of deltas (mode 2) of n,
//                       prefix codes 0 | 10+4 | 110+8 | 1110+16 | 11110+32 | 11111+64
// The encoder picks the smallest of the three value encodings per chunk.
//
// Pure functions; any thread. Encoded chunks are also the merge operands of
// the chunks column family (chunk_merge.h).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace gridlet::store {

struct Sample {
    int64_t ts = 0;  // UTC ms
    double value = 0;
    uint8_t quality = 192;
    bool operator==(const Sample&) const = default;
};

struct ChunkHeader {
    uint32_t count = 0;
    int64_t first_ts = 0;
    int64_t last_ts = 0;
};

enum class ValueMode : uint8_t { xor_float = 0, decimal_delta = 1, decimal_delta2 = 2 };

// Encodes `samples` (sorted by ts, unique ts, at least one) and appends to `out`.
void encode_chunk(std::span<const Sample> samples, std::string& out);

// Decodes a chunk and appends its samples to `out`. Corruption names the problem.
Status decode_chunk(std::string_view chunk, std::vector<Sample>& out);

// The header only (count and time span), without decoding the streams.
Expected<ChunkHeader> peek_chunk_header(std::string_view chunk);

// The value encoding chosen for a chunk (for tests and the benchmark).
Expected<ValueMode> chunk_value_mode(std::string_view chunk);

// Sorts `samples` by ts (stable) and keeps, for equal timestamps, the last
// one: the store's duplicate rule (a later write of the same ts overwrites).
void sort_and_dedup(std::vector<Sample>& samples);
// The same in place on a span; returns the new length.
size_t sort_and_dedup(std::span<Sample> samples);

}  // namespace gridlet::store

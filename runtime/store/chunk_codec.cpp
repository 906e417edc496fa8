#include "store/chunk_codec.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "store/bitstream.h"

namespace gridlet::store {

namespace {
constexpr uint8_t kMagic = 0xC1;
constexpr int kMaxDecimals = 9;
constexpr double kPow10[kMaxDecimals + 1] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
constexpr double kMaxExactInt = 9007199254740992.0;  // 2^53

// n such that n / 10^d reproduces v bit-exactly, or false.
inline bool to_decimal(double v, int d, int64_t& n) {
    double scaled = v * kPow10[d];
    if (!(std::fabs(scaled) < kMaxExactInt)) return false;  // also rejects NaN
    n = std::llround(scaled);
    double back = static_cast<double>(n) / kPow10[d];
    return std::bit_cast<uint64_t>(back) == std::bit_cast<uint64_t>(v);
}

// The smallest decimals count that represents every value, or -1.
int detect_decimals(std::span<const Sample> s) {
    int d = 0;
    int64_t n = 0;
    for (const Sample& x : s) {
        while (!to_decimal(x.value, d, n)) {
            if (++d > kMaxDecimals) return -1;
        }
    }
    // A value exact at fewer decimals is not always exact at more (found by
    // tests/fuzz/chunk_codec_fuzz: -7886098432.000001 at 6 but not at 7): the
    // chosen count must hold for every value, or the chunk is stored as XOR.
    for (const Sample& x : s)
        if (!to_decimal(x.value, d, n)) return -1;
    return d;
}

// Prefix code for value deltas: 0 | 10+4 | 110+8 | 1110+16 | 11110+32 | 11111+64.
inline int value_code_bits(uint64_t zz) {
    if (zz == 0) return 1;
    if (zz < (1u << 4)) return 6;
    if (zz < (1u << 8)) return 11;
    if (zz < (1u << 16)) return 20;
    if (zz < (uint64_t{1} << 32)) return 37;
    return 69;
}
// The two prefix codes differ only in the widths of their two smallest
// buckets: 0 | 10+W1 | 110+W2 | 1110+16 | 11110+32 | 11111+64.
template <int W1, int W2>
inline void write_prefix_code(BitWriter& w, uint64_t zz) {
    if (zz == 0) w.write(0, 1);
    else if (zz < (uint64_t{1} << W1)) w.write((uint64_t{0b10} << W1) | zz, 2 + W1);
    else if (zz < (uint64_t{1} << W2)) w.write((uint64_t{0b110} << W2) | zz, 3 + W2);
    else if (zz < (1u << 16)) w.write((uint64_t{0b1110} << 16) | zz, 20);
    else if (zz < (uint64_t{1} << 32)) {
        w.write(0b11110, 5);
        w.write(zz, 32);
    } else {
        w.write(0b11111, 5);
        w.write(zz, 64);
    }
}
template <int W1, int W2>
inline uint64_t read_prefix_code(BitReader& r) {
    uint64_t p = r.peek(5);
    if (!(p & 0b10000)) {
        r.skip(1);
        return 0;
    }
    if (!(p & 0b01000)) {
        r.skip(2);
        return r.read(W1);
    }
    if (!(p & 0b00100)) {
        r.skip(3);
        return r.read(W2);
    }
    if (!(p & 0b00010)) {
        r.skip(4);
        return r.read(16);
    }
    r.skip(5);
    return (p & 1) ? r.read(64) : r.read(32);
}
// Integer value deltas: 0 | 10+4 | 110+8 | ...; timestamp delta-of-deltas: 0 | 10+7 | 110+10 | ...
inline void write_value_code(BitWriter& w, uint64_t zz) { write_prefix_code<4, 8>(w, zz); }
inline uint64_t read_value_code(BitReader& r) { return read_prefix_code<4, 8>(r); }
inline void write_ts_code(BitWriter& w, uint64_t zz) { write_prefix_code<7, 10>(w, zz); }
inline uint64_t read_ts_code(BitReader& r) { return read_prefix_code<7, 10>(r); }

void encode_timestamps(std::span<const Sample> s, std::string& out) {
    BitWriter w(out);
    uint64_t prev = static_cast<uint64_t>(s[0].ts);
    uint64_t prev_delta = 0;
    for (size_t i = 1; i < s.size(); ++i) {
        uint64_t t = static_cast<uint64_t>(s[i].ts);
        uint64_t delta = t - prev;
        write_ts_code(w, zigzag(static_cast<int64_t>(delta - prev_delta)));
        prev_delta = delta;
        prev = t;
    }
}

void encode_xor(std::span<const Sample> s, std::string& out) {
    BitWriter w(out);
    uint64_t prev = std::bit_cast<uint64_t>(s[0].value);
    w.write(prev, 64);
    int lead = -1, trail = 0;
    for (size_t i = 1; i < s.size(); ++i) {
        uint64_t cur = std::bit_cast<uint64_t>(s[i].value);
        uint64_t x = cur ^ prev;
        prev = cur;
        if (x == 0) {
            w.write(0, 1);
            continue;
        }
        int l = std::min(std::countl_zero(x), 31);
        int t = std::countr_zero(x);
        if (lead >= 0 && l >= lead && t >= trail) {
            w.write(0b10, 2);
            w.write(x >> trail, 64 - lead - trail);
        } else {
            lead = l;
            trail = t;
            int len = 64 - l - t;
            w.write((uint64_t{0b11} << 11) | (uint64_t(l) << 6) | uint64_t(len - 1), 13);
            w.write(x >> t, len);
        }
    }
}

void encode_decimal(std::span<const Sample> s, int d, bool second_order, std::string& out) {
    int64_t n0 = 0;
    to_decimal(s[0].value, d, n0);
    put_varint(out, zigzag(n0));
    BitWriter w(out);
    int64_t prev = n0, prev_delta = 0;
    for (size_t i = 1; i < s.size(); ++i) {
        int64_t n = 0;
        to_decimal(s[i].value, d, n);
        int64_t delta = n - prev;
        write_value_code(w, zigzag(second_order ? delta - prev_delta : delta));
        prev_delta = delta;
        prev = n;
    }
}

// Estimated bits of the decimal delta (first) and delta-of-delta (second) streams.
std::pair<uint64_t, uint64_t> decimal_costs(std::span<const Sample> s, int d) {
    uint64_t c1 = 0, c2 = 0;
    int64_t prev = 0, prev_delta = 0;
    to_decimal(s[0].value, d, prev);
    for (size_t i = 1; i < s.size(); ++i) {
        int64_t n = 0;
        to_decimal(s[i].value, d, n);
        int64_t delta = n - prev;
        c1 += static_cast<uint64_t>(value_code_bits(zigzag(delta)));
        c2 += static_cast<uint64_t>(value_code_bits(zigzag(delta - prev_delta)));
        prev_delta = delta;
        prev = n;
    }
    return {c1, c2};
}

struct Parsed {
    ChunkHeader header;
    ValueMode mode = ValueMode::xor_float;
    int decimals = 0;
    const uint8_t* runs = nullptr;  // quality runs (after nruns)
    uint64_t nruns = 0;
    const uint8_t* ts = nullptr;
    size_t ts_size = 0;
    const uint8_t* values = nullptr;
    size_t values_size = 0;
};

Status parse(std::string_view chunk, Parsed& out, bool header_only) {
    auto p = reinterpret_cast<const uint8_t*>(chunk.data());
    const uint8_t* end = p + chunk.size();
    if (chunk.size() < 4 || p[0] != kMagic) return Status::corruption("chunk: bad magic byte");
    uint8_t mode = p[1] & 0x3;
    if (mode > 2) return Status::corruption("chunk: unknown value mode " + std::to_string(mode));
    out.mode = static_cast<ValueMode>(mode);
    out.decimals = p[1] >> 4;
    if (out.decimals > kMaxDecimals) return Status::corruption("chunk: decimals out of range");
    p += 2;
    uint64_t count = 0, first = 0, span = 0;
    if (!get_varint(p, end, count) || !get_varint(p, end, first) || !get_varint(p, end, span))
        return Status::corruption("chunk: truncated header");
    if (count == 0 || count > (1u << 30)) return Status::corruption("chunk: bad sample count");
    out.header.count = static_cast<uint32_t>(count);
    out.header.first_ts = unzigzag(first);
    // (A damaged span must not overflow: found by tests/fuzz/chunk_codec_fuzz with UBSan.)
    if (span > static_cast<uint64_t>(INT64_MAX) ||
        __builtin_add_overflow(out.header.first_ts, static_cast<int64_t>(span), &out.header.last_ts))
        return Status::corruption("chunk: bad time span");
    if (header_only) return Status::ok();
    if (!get_varint(p, end, out.nruns)) return Status::corruption("chunk: truncated quality runs");
    out.runs = p;
    for (uint64_t i = 0; i < out.nruns; ++i) {
        uint64_t len = 0;
        if (!get_varint(p, end, len) || p >= end) return Status::corruption("chunk: truncated quality runs");
        ++p;
    }
    uint64_t ts_size = 0;
    if (!get_varint(p, end, ts_size) || ts_size > static_cast<uint64_t>(end - p))
        return Status::corruption("chunk: truncated timestamp stream");
    out.ts = p;
    out.ts_size = ts_size;
    out.values = p + ts_size;
    out.values_size = static_cast<size_t>(end - out.values);
    // Every sample after the first costs at least one bit in each stream: a
    // count the streams cannot hold is damage (and must not size a buffer).
    if (count - 1 > 8 * static_cast<uint64_t>(ts_size) || count - 1 > 8 * static_cast<uint64_t>(out.values_size))
        return Status::corruption("chunk: sample count larger than its streams");
    return Status::ok();
}
}  // namespace

void encode_chunk(std::span<const Sample> s, std::string& out) {
    const size_t n = s.size();
    int d = detect_decimals(s);
    ValueMode mode = ValueMode::xor_float;
    if (d >= 0) {
        auto [c1, c2] = decimal_costs(s, d);
        mode = c2 < c1 ? ValueMode::decimal_delta2 : ValueMode::decimal_delta;
    }
    out.push_back(static_cast<char>(kMagic));
    out.push_back(static_cast<char>(static_cast<uint8_t>(mode) | (d > 0 ? d << 4 : 0)));
    put_varint(out, n);
    put_varint(out, zigzag(s[0].ts));
    put_varint(out, static_cast<uint64_t>(s[n - 1].ts - s[0].ts));

    // Quality runs.
    std::string runs;
    uint64_t nruns = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && s[j].quality == s[i].quality) ++j;
        put_varint(runs, j - i);
        runs.push_back(static_cast<char>(s[i].quality));
        ++nruns;
        i = j;
    }
    put_varint(out, nruns);
    out += runs;

    std::string ts;
    if (n > 1) encode_timestamps(s, ts);
    put_varint(out, ts.size());
    out += ts;
    if (mode == ValueMode::xor_float) encode_xor(s, out);
    else encode_decimal(s, d, mode == ValueMode::decimal_delta2, out);
}

Expected<ChunkHeader> peek_chunk_header(std::string_view chunk) {
    Parsed p;
    Status st = parse(chunk, p, true);
    if (!st) return st;
    return p.header;
}

Expected<ValueMode> chunk_value_mode(std::string_view chunk) {
    Parsed p;
    Status st = parse(chunk, p, true);
    if (!st) return st;
    return p.mode;
}

Status decode_chunk(std::string_view chunk, std::vector<Sample>& out) {
    Parsed p;
    Status st = parse(chunk, p, false);
    if (!st) return st;
    const size_t n = p.header.count;
    const size_t base = out.size();
    out.resize(base + n);
    Sample* s = out.data() + base;

    // Qualities.
    {
        const uint8_t* q = p.runs;
        const uint8_t* qend = p.ts;
        size_t i = 0;
        for (uint64_t r = 0; r < p.nruns; ++r) {
            uint64_t len = 0;
            get_varint(q, qend, len);
            uint8_t quality = *q++;
            if (len > n - i) {
                out.resize(base);
                return Status::corruption("chunk: quality runs longer than the chunk");
            }
            for (uint64_t k = 0; k < len; ++k) s[i++].quality = quality;
        }
        if (i != n) {
            out.resize(base);
            return Status::corruption("chunk: quality runs shorter than the chunk");
        }
    }
    // Timestamps.
    {
        BitReader r(p.ts, p.ts_size);
        uint64_t t = static_cast<uint64_t>(p.header.first_ts);
        uint64_t delta = 0;
        s[0].ts = p.header.first_ts;
        bool ordered = true;
        for (size_t i = 1; i < n; ++i) {
            delta += static_cast<uint64_t>(unzigzag(read_ts_code(r)));
            t += delta;
            s[i].ts = static_cast<int64_t>(t);
            ordered = ordered && s[i].ts > s[i - 1].ts;
        }
        if (r.overrun() || !ordered || s[n - 1].ts != p.header.last_ts) {
            out.resize(base);
            return Status::corruption("chunk: timestamp stream does not match the header");
        }
    }
    // Values.
    if (p.mode == ValueMode::xor_float) {
        BitReader r(p.values, p.values_size);
        uint64_t prev = r.read(64);
        s[0].value = std::bit_cast<double>(prev);
        int lead = 0, len = 0;
        bool bad = false;
        for (size_t i = 1; i < n && !bad; ++i) {
            uint64_t c = r.peek(2);
            if (!(c & 0b10)) {
                r.skip(1);
            } else {
                r.skip(2);
                if (c & 1) {
                    uint64_t h = r.read(11);
                    lead = static_cast<int>(h >> 6);
                    len = static_cast<int>(h & 63) + 1;
                }
                if (len == 0 || lead + len > 64) {
                    bad = true;
                    break;
                }
                prev ^= r.read(len) << (64 - lead - len);
            }
            s[i].value = std::bit_cast<double>(prev);
        }
        if (bad || r.overrun()) {
            out.resize(base);
            return Status::corruption("chunk: value stream truncated");
        }
    } else {
        const uint8_t* v = p.values;
        const uint8_t* vend = p.values + p.values_size;
        uint64_t z0 = 0;
        if (!get_varint(v, vend, z0)) {
            out.resize(base);
            return Status::corruption("chunk: value stream truncated");
        }
        const double scale = kPow10[p.decimals];
        BitReader r(v, static_cast<size_t>(vend - v));
        uint64_t cur = static_cast<uint64_t>(unzigzag(z0));
        uint64_t delta = 0;
        s[0].value = static_cast<double>(static_cast<int64_t>(cur)) / scale;
        const bool second = p.mode == ValueMode::decimal_delta2;
        for (size_t i = 1; i < n; ++i) {
            uint64_t dz = static_cast<uint64_t>(unzigzag(read_value_code(r)));
            delta = second ? delta + dz : dz;
            cur += delta;
            s[i].value = static_cast<double>(static_cast<int64_t>(cur)) / scale;
        }
        if (r.overrun()) {
            out.resize(base);
            return Status::corruption("chunk: value stream truncated");
        }
    }
    return Status::ok();
}

size_t sort_and_dedup(std::span<Sample> v) {
    if (v.size() < 2) return v.size();
    bool sorted_unique = true;
    for (size_t i = 1; i < v.size(); ++i)
        if (v[i].ts <= v[i - 1].ts) {
            sorted_unique = false;
            break;
        }
    if (sorted_unique) return v.size();
    std::stable_sort(v.begin(), v.end(), [](const Sample& a, const Sample& b) { return a.ts < b.ts; });
    size_t out = 0;
    for (size_t i = 0; i < v.size(); ++i) {
        if (out > 0 && v[out - 1].ts == v[i].ts) v[out - 1] = v[i];  // the later write wins
        else v[out++] = v[i];
    }
    return out;
}

void sort_and_dedup(std::vector<Sample>& v) { v.resize(sort_and_dedup(std::span<Sample>(v))); }

}  // namespace gridlet::store

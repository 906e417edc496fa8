// Poll decoding: a profile's points compiled against a read plan into one flat
// table, so that turning a poll's registers into samples is a tight loop that
// never touches the profile's Point structs (strings, vectors) again. This is
// the poller's hot path: the BCPM decodes ~78 points per request, more CPU
// than libmodbus spends on the request itself. The table depends only on the
// profile, so devices of one profile share it (100 BCPMs: one 52 kB table,
// not 100 of them evicting each other from the cache); series ids are the
// device's own and passed in.
//
// Registers of all requests of a plan live in one flat buffer: request i at
// request_offset(i), request_offset(i + 1) - request_offset(i) registers (bits
// of fc 1/2 one per uint16).
//
// The rules (the same for a poll and for a write's read-back):
//   value = raw × multiplier × 10^(scale + scale register), or the bit; a raw
//   value equal to an `invalid` marker, a NaN/Inf or a scale register reading
//   0x8000 gives NaN with GL_QUALITY_BAD; a point whose request (or scale
//   register's request) was not read gives nothing.
//
// Thread-safety: immutable after construction; the profile need not outlive it.
#pragma once

#include "profile.h"
#include "register_plan.h"

#include <gridlet/plugin.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace gridlet::modbus {

inline double pow10i(int e) {
    static constexpr double table[] = {1e-15, 1e-14, 1e-13, 1e-12, 1e-11, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5,
                                       1e-4,  1e-3,  1e-2,  1e-1,  1e0,   1e1,   1e2,  1e3,  1e4,  1e5,  1e6,
                                       1e7,   1e8,   1e9,   1e10,  1e11,  1e12,  1e13, 1e14, 1e15};
    return e >= -15 && e <= 15 ? table[e + 15] : std::pow(10.0, e);
}

// raw × multiplier × 10^exp, dividing by powers of ten rather than
// multiplying by their inverses, which are not exact in binary: 2540 / 100
// is 25.4 (the double nearest to it), 2540 × 0.01 is 25.400000000000002.
inline double scaled(double raw, double multiplier, int exp) {
    const double v = multiplier == 1.0 ? raw : raw * multiplier;
    return exp >= 0 ? v * pow10i(exp) : v / pow10i(-exp);
}

// A multiplier that is 10^-k (0.1, 0.01, ...) folded into the exponent, so
// that scaled() divides once: {multiplier, exponent} after folding.
inline std::pair<double, int> fold_multiplier(double multiplier, int exp) {
    for (int k = 1; k <= 15; ++k)
        if (multiplier == pow10i(-k)) return {1.0, exp - k};
    return {multiplier, exp};
}

class PointDecoder {
public:
    PointDecoder() = default;
    PointDecoder(const Profile& profile, const RegisterPlan& plan);

    size_t request_offset(size_t request) const { return req_offset_[request]; }
    size_t buffer_size() const { return req_offset_.empty() ? 0 : req_offset_.back(); }
    size_t points() const { return entries_.size(); }

    // Samples (profile order, stamped ts, series[i] for point i) of every
    // point whose registers were read (ok[request] != 0). `out` has room for
    // points(); returns the count.
    size_t decode(const uint16_t* regs, const uint8_t* ok, int64_t ts, const uint32_t* series, gl_sample* out) const;
    // One point; false if its data was not read.
    bool value(size_t point, const uint16_t* regs, const uint8_t* ok, double* value, uint8_t* quality) const;

private:
    // How the raw bits are taken from the registers (the common cases inline).
    enum class Shape : uint8_t { One, OneSwapped, TwoBig, TwoWordSwapped, Other };
    // Common single-register points get a straight-line path; the rest Generic.
    // (Fast kinds: in the plan, one register as is, at most one invalid marker.)
    enum class Kind : uint8_t { Generic, Bit, Int16, Int16Scaled, Uint16 };

    struct Entry {
        double multiplier;
        uint64_t invalid0;       // the first invalid marker (fast kinds: ~0 when none)
        uint32_t offset;         // of the value in the flat buffer
        uint32_t scale_offset;   // of the scale register (when scale_req >= 0)
        int32_t req;             // -1: not in the plan
        int32_t scale_req;       // -1: fixed scale
        uint32_t invalid_begin;  // further markers: into invalid_
        uint32_t invalid_count;
        int32_t scale;
        int8_t bit;              // -1: the whole value
        Kind kind;
        Shape shape;
        ValueType type;
        Order word_order, byte_order;
    };

    // False: no data; else *v and *q are set.
    bool decode_generic(const Entry& e, const uint16_t* regs, const uint8_t* ok, double* v, uint8_t* q) const;

    std::vector<Entry> entries_;
    std::vector<uint64_t> invalid_;
    std::vector<size_t> req_offset_;  // requests + 1 entries
};

}  // namespace gridlet::modbus

// Realistic daily load curves for simulated branch circuits.
#pragma once

#include <cstdint>

namespace gridlet::sim {

enum class LoadKind : uint8_t { Spare, Lighting, Hvac, Plug, It, Motor };

struct LoadShape {
    LoadKind kind = LoadKind::Plug;
    double peak_amps = 0;  // at curve value 1.0
    double pf = 0.9;
};

// The shape a channel gets, derived deterministically from (seed, channel).
LoadShape load_shape_for(uint32_t seed, int channel, double breaker_amps);

// Curve value in [0, 1] for a kind at local time of day `hour` (0..24) and
// elapsed simulated seconds `t` (for cycling loads).
double load_curve(LoadKind kind, double hour, double t);

// Small deterministic noise generator (xorshift), in [-1, 1].
class Noise {
public:
    explicit Noise(uint64_t seed) : s_(seed ? seed : 0x9E3779B97F4A7C15ull) {}
    double next() {
        s_ ^= s_ << 13;
        s_ ^= s_ >> 7;
        s_ ^= s_ << 17;
        return static_cast<double>(s_ >> 11) / static_cast<double>(1ull << 53) * 2.0 - 1.0;
    }

private:
    uint64_t s_;
};

}  // namespace gridlet::sim

#include "load_curve.h"

#include <algorithm>
#include <cmath>

namespace gridlet::sim {
namespace {

double smoothstep(double a, double b, double x) {
    double t = std::clamp((x - a) / (b - a), 0.0, 1.0);
    return t * t * (3 - 2 * t);
}

uint32_t mix(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352d;
    x ^= x >> 15;
    x *= 0x846ca68b;
    x ^= x >> 16;
    return x;
}

}  // namespace

LoadShape load_shape_for(uint32_t seed, int channel, double breaker_amps) {
    uint32_t h = mix(seed * 0x9E3779B9u + static_cast<uint32_t>(channel) * 0x85EBCA6Bu);
    LoadShape s;
    if (h % 12 == 11) {
        s.kind = LoadKind::Spare;
        return s;
    }
    static constexpr LoadKind kinds[] = {LoadKind::Lighting, LoadKind::Hvac, LoadKind::Plug, LoadKind::It, LoadKind::Motor};
    static constexpr double pfs[] = {0.95, 0.86, 0.9, 0.97, 0.8};
    int k = static_cast<int>((h >> 8) % 5);
    s.kind = kinds[k];
    s.pf = pfs[k];
    double frac = 0.25 + 0.30 * static_cast<double>((h >> 16) % 100) / 100.0;  // 25..55 % of breaker
    s.peak_amps = breaker_amps * frac;
    return s;
}

double load_curve(LoadKind kind, double hour, double t) {
    switch (kind) {
    case LoadKind::Spare:
        return 0;
    case LoadKind::Lighting:
        return 0.08 + 0.92 * smoothstep(6.5, 7.5, hour) * (1 - smoothstep(18.5, 19.5, hour));
    case LoadKind::Hvac: {
        double d = (hour >= 6 && hour <= 20) ? std::sin(M_PI * (hour - 6) / 14) : 0;
        return 0.15 + 0.85 * std::max(0.0, d);
    }
    case LoadKind::Plug: {
        double office = smoothstep(7.5, 8.5, hour) * (1 - smoothstep(17.5, 18.5, hour));
        double lunch = 1 - 0.3 * smoothstep(12, 12.3, hour) * (1 - smoothstep(13, 13.3, hour));
        return 0.2 + 0.8 * office * lunch;
    }
    case LoadKind::It:
        return 0.85 + 0.05 * std::sin(2 * M_PI * hour / 24);
    case LoadKind::Motor:  // compressor: 7 min on, 11 min off
        return std::fmod(t, 1080.0) < 420.0 ? 1.0 : 0.02;
    }
    return 0;
}

}  // namespace gridlet::sim

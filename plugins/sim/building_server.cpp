#include "building_server.h"

#include <algorithm>
#include <cmath>

#include "load_curve.h"

namespace gridlet::sim {

BuildingServer::BuildingServer(BuildingServerOptions o) : o_(std::move(o)), on_(o_.loads.size(), true), tcp_(*this) {}

BuildingServer::~BuildingServer() { stop(); }

std::string BuildingServer::start() {
    tcp_.set_ticker([this] { tick(); }, std::chrono::milliseconds(o_.tick_ms));
    return tcp_.start(o_.port, o_.bind);
}

void BuildingServer::stop() { tcp_.stop(); }

double BuildingServer::office_day(double hour) {
    const double h = std::fmod(std::fmod(hour, 24.0) + 24.0, 24.0);
    const double lighting = load_curve(LoadKind::Lighting, h, 0);  // 0.08 .. 1
    const double hvac = load_curve(LoadKind::Hvac, h, 0);          // 0.15 .. 1
    const double plug = load_curve(LoadKind::Plug, h, 0);          // 0.2 .. 1, lunch dip
    // Weighted to 0..1: about 0.15 at night, 1 in the early afternoon.
    const double raw = 0.25 * lighting + 0.40 * hvac + 0.35 * plug;
    const double night = 0.25 * 0.08 + 0.40 * 0.15 + 0.35 * 0.2;
    return std::clamp((raw - night) / (1 - night) * 0.85 + 0.15, 0.0, 1.0);
}

double BuildingServer::other_kw(double t_s) const {
    if (o_.day_s > 0) return o_.base_kw + o_.swing_kw * office_day(24.0 * std::fmod(t_s, o_.day_s) / o_.day_s);
    return o_.base_kw + o_.swing_kw * (0.5 - 0.5 * std::cos(2 * M_PI * t_s / o_.period_s));
}

double BuildingServer::power_locked(double t_s) const {
    double kw = other_kw(t_s);
    for (size_t k = 0; k < o_.loads.size(); ++k)
        if (on_[k]) kw += o_.loads[k].kw;
    return kw;
}

double BuildingServer::power_kw(double t_s) const {
    std::lock_guard lock(mu_);
    return power_locked(t_s);
}

bool BuildingServer::relay(size_t k) const {
    std::lock_guard lock(mu_);
    return k < on_.size() && on_[k];
}

void BuildingServer::tick() {
    std::lock_guard lock(mu_);
    const double dt = o_.tick_ms / 1000.0;
    energy_wh_ += power_locked(t_s_) * 1000 * dt / 3600;
    t_s_ += dt;
}

uint8_t BuildingServer::read_registers(int fc, uint16_t addr, uint16_t count, uint16_t* out) {
    if (fc != 3) return kIllegalFunction;
    std::lock_guard lock(mu_);
    const uint32_t w = static_cast<uint32_t>(std::lround(power_locked(t_s_) * 1000));
    const uint32_t wh = static_cast<uint32_t>(std::fmod(energy_wh_, 4294967296.0));
    for (uint16_t i = 0; i < count; ++i) {
        const uint32_t a = static_cast<uint32_t>(addr) + i;
        if (a == 0) out[i] = static_cast<uint16_t>(w >> 16);
        else if (a == 1) out[i] = static_cast<uint16_t>(w & 0xFFFF);
        else if (a == 2) out[i] = static_cast<uint16_t>(wh >> 16);
        else if (a == 3) out[i] = static_cast<uint16_t>(wh & 0xFFFF);
        else if (a >= 4 && a < 4 + o_.loads.size())
            out[i] = on_[a - 4] ? static_cast<uint16_t>(std::lround(o_.loads[a - 4].kw * 10)) : 0;
        else if (a < 4 + kSlots) out[i] = 0;  // a relay with no load
        else return kIllegalDataAddress;
    }
    return kOk;
}

uint8_t BuildingServer::write_registers(int, uint16_t, uint16_t, const uint16_t*) { return kIllegalDataAddress; }

uint8_t BuildingServer::read_bits(int fc, uint16_t addr, uint16_t count, uint8_t* out) {
    if (fc != 1) return kIllegalFunction;
    std::lock_guard lock(mu_);
    if (static_cast<size_t>(addr) + count > kSlots) return kIllegalDataAddress;
    for (uint16_t i = 0; i < count; ++i) out[i] = addr + i < on_.size() && on_[addr + i] ? 1 : 0;
    return kOk;
}

uint8_t BuildingServer::write_bits(int fc, uint16_t addr, uint16_t count, const uint8_t* values) {
    if (fc != 5 && fc != 15) return kIllegalFunction;
    std::lock_guard lock(mu_);
    if (static_cast<size_t>(addr) + count > on_.size()) return kIllegalDataAddress;
    for (uint16_t i = 0; i < count; ++i) on_[addr + i] = values[i] != 0;
    return kOk;
}

}  // namespace gridlet::sim

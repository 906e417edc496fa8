#include "building_server.h"

#include <cmath>

namespace gridlet::sim {

BuildingServer::BuildingServer(BuildingServerOptions o) : o_(std::move(o)), on_(o_.loads.size(), true), tcp_(*this) {}

BuildingServer::~BuildingServer() { stop(); }

std::string BuildingServer::start() {
    tcp_.set_ticker([this] { tick(); }, std::chrono::milliseconds(o_.tick_ms));
    return tcp_.start(o_.port, o_.bind);
}

void BuildingServer::stop() { tcp_.stop(); }

double BuildingServer::power_locked(double t_s) const {
    double kw = o_.base_kw + o_.swing_kw * (0.5 - 0.5 * std::cos(2 * M_PI * t_s / o_.period_s));
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

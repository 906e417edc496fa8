#include "evse_model.h"

#include <algorithm>
#include <cmath>

namespace gridlet::sim {

namespace {
constexpr double kMinCurrent = 6.0;  // IEC 61851: below this a vehicle cannot charge

uint16_t tenths(double v) { return static_cast<uint16_t>(std::clamp(std::lround(v * 10), 0L, 65535L)); }
void put32(uint16_t* r, uint16_t at, double v) {
    auto u = static_cast<uint32_t>(std::clamp(std::llround(v), 0LL, 0xFFFFFFFFLL));
    r[at] = static_cast<uint16_t>(u >> 16);
    r[at + 1] = static_cast<uint16_t>(u & 0xFFFF);
}
}  // namespace

EvseStation::EvseStation(EvseStationOptions o) : o_(o), setpoint_(o.rated_current) {}

void EvseStation::arrive(const Vehicle& v) {
    vehicle_ = v;
    full_ = false;
    ah_ = wh_ = session_s_ = 0;
    left_s_ = v.stay_s;
}

void EvseStation::depart() {
    vehicle_.reset();
    enable_ = false;  // the next vehicle must be authorized again
    current_ = pending_ = pending_for_ = 0;
}

void EvseStation::set_failure(bool failed) {
    failed_ = failed;
    if (failed) current_ = pending_ = 0;
}

double EvseStation::target() const {
    if (failed_ || !vehicle_ || !enable_ || full_) return 0;
    if (vehicle_->ignores_setpoint) return std::min(vehicle_->max_current, o_.rated_current);
    if (setpoint_ < kMinCurrent) return 0;
    return std::min({setpoint_, vehicle_->max_current, o_.rated_current});
}

EvseStation::State EvseStation::state() const {
    if (failed_) return Error;
    if (!vehicle_) return Available;
    if (!enable_) return Connected;
    if (full_ || setpoint_ < kMinCurrent) return Waiting;
    return Charging;
}

void EvseStation::advance(double dt) {
    if (dt <= 0) return;
    if (vehicle_) {
        left_s_ -= dt;
        if (left_s_ <= 0) {
            depart();
            return;
        }
        session_s_ += dt;
    }
    const double t = target();
    if (t != pending_) {  // a new target: followed after the response time
        pending_ = t;
        pending_for_ = 0;
    }
    pending_for_ += dt;
    if (pending_for_ >= o_.response_s) current_ = pending_;
    if (failed_) current_ = 0;
    if (vehicle_ && current_ > 0) {
        const double ah = current_ * dt / 3600;
        ah_ += ah;
        const double wh = current_ * o_.phases * o_.voltage * dt / 3600;
        wh_ += wh;
        total_wh_ += wh;
        vehicle_->need_ah -= ah;
        if (vehicle_->need_ah <= 0) {
            full_ = true;
            current_ = pending_ = 0;
        }
    }
}

uint8_t EvseStation::read_registers(int, uint16_t addr, uint16_t count, uint16_t* out) {
    if (addr + count > kRegisters) return kIllegalDataAddress;
    uint16_t r[kRegisters] = {};
    r[0] = state();
    r[1] = failed_ ? 1 : 0;
    r[2] = tenths(o_.rated_current);
    r[3] = static_cast<uint16_t>(o_.phases);
    r[4] = tenths(setpoint_);
    r[5] = enable_ ? 1 : 0;
    r[6] = tenths(current_);
    r[7] = o_.phases == 3 ? tenths(current_) : 0;
    r[8] = o_.phases == 3 ? tenths(current_) : 0;
    put32(r, 9, ah_ * 100);
    put32(r, 11, wh_);
    put32(r, 13, session_s_);
    put32(r, 15, total_wh_);
    r[17] = vehicle_ ? tenths(vehicle_->max_current) : 0;
    std::copy(r + addr, r + addr + count, out);
    return kOk;
}

uint8_t EvseStation::write_registers(int, uint16_t addr, uint16_t count, const uint16_t* values) {
    for (uint16_t i = 0; i < count; ++i) {
        const uint16_t a = addr + i, v = values[i];
        if (a == 4) {
            const double amps = v / 10.0;
            if (v != 0 && (amps < kMinCurrent || amps > o_.rated_current)) return kIllegalDataValue;
        } else if (a == 5) {
            if (v > 1) return kIllegalDataValue;
        } else {
            return kIllegalDataAddress;  // only the setpoint and enable are writable
        }
    }
    if (failed_) return kServerDeviceFailure;
    for (uint16_t i = 0; i < count; ++i) {
        if (addr + i == 4) setpoint_ = values[i] / 10.0;
        if (addr + i == 5) enable_ = values[i] == 1 && vehicle_.has_value();
    }
    return kOk;
}

void MainMeter::set(const double amps[3]) {
    for (int p = 0; p < 3; ++p) amps_[p] = amps[p];
}

uint8_t MainMeter::read_registers(int, uint16_t addr, uint16_t count, uint16_t* out) {
    if (addr + count > 6) return kIllegalDataAddress;
    uint16_t r[6] = {tenths(amps_[0]), tenths(amps_[1]), tenths(amps_[2]), tenths(voltage_)};
    put32(r, 4, (amps_[0] + amps_[1] + amps_[2]) * voltage_);
    std::copy(r + addr, r + addr + count, out);
    return kOk;
}

}  // namespace gridlet::sim

#include "evse_server.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>

namespace gridlet::sim {

namespace {
// Serialises a unit's register access with the model (the server thread
// reads while the ticker advances).
class LockedUnit : public RegisterSpace {
public:
    LockedUnit(std::mutex& mu, RegisterSpace& inner) : mu_(mu), inner_(inner) {}
    uint8_t read_registers(int fc, uint16_t a, uint16_t n, uint16_t* out) override {
        std::lock_guard lk(mu_);
        return inner_.read_registers(fc, a, n, out);
    }
    uint8_t write_registers(int fc, uint16_t a, uint16_t n, const uint16_t* v) override {
        std::lock_guard lk(mu_);
        return inner_.write_registers(fc, a, n, v);
    }

private:
    std::mutex& mu_;
    RegisterSpace& inner_;
};

double uniform(Noise& n, double lo, double hi) { return lo + (n.next() + 1) / 2 * (hi - lo); }
}  // namespace

EvseServer::EvseServer(EvseServerOptions o) : o_(std::move(o)), rng_(o_.seed * 2654435761u + 1), tcp_(*this) {
    std::sort(o_.schedule.begin(), o_.schedule.end(), [](auto& a, auto& b) { return a.at_s < b.at_s; });
    for (const auto& so : o_.stations) {
        stations_.push_back(std::make_unique<EvseStation>(so));
        views_[so.unit] = std::make_unique<LockedUnit>(mu_, *stations_.back());
        if (o_.random_arrivals) next_arrival_[so.unit] = uniform(rng_, 0.1, 2.0) * o_.mean_arrival_s;
    }
    views_[o_.meter_unit] = std::make_unique<LockedUnit>(mu_, meter_);
    update_meter();
}

EvseServer::~EvseServer() { stop(); }

RegisterSpace* EvseServer::unit(uint8_t id) {
    {
        std::lock_guard lk(mu_);
        if (EvseStation* s = find(id); s && s->silent) return nullptr;
    }
    auto it = views_.find(id);
    return it == views_.end() ? nullptr : it->second.get();
}

EvseStation* EvseServer::find(uint8_t unit) {
    for (auto& s : stations_) {
        if (s->options().unit == unit) return s.get();
    }
    return nullptr;
}

std::string EvseServer::start() {
    std::string err = tcp_.start(o_.port, o_.bind);
    if (!err.empty()) return err;
    o_.port = tcp_.port();
    if (!o_.manual_time && !tick_thread_.joinable()) {
        tick_stop_ = false;
        tick_thread_ = std::thread([this] { ticker(); });
    }
    return {};
}

void EvseServer::stop() {
    {
        std::lock_guard lk(tick_mu_);
        tick_stop_ = true;
    }
    tick_cv_.notify_all();
    if (tick_thread_.joinable()) tick_thread_.join();
    tcp_.stop();
}

void EvseServer::ticker() {
    using namespace std::chrono;
    const auto period = milliseconds(std::max(10, o_.tick_ms));
    auto next = steady_clock::now() + period;
    std::unique_lock lk(tick_mu_);
    while (!tick_stop_) {
        if (tick_cv_.wait_until(lk, next, [&] { return tick_stop_; })) break;
        lk.unlock();
        advance(duration<double>(period).count() * o_.time_scale);
        lk.lock();
        next += period;
        if (next < steady_clock::now()) next = steady_clock::now() + period;
    }
}

void EvseServer::advance(double seconds) {
    std::lock_guard lk(mu_);
    advance_locked(seconds);
}

void EvseServer::advance_locked(double seconds) {
    t_ += seconds;
    while (next_scheduled_ < o_.schedule.size() && o_.schedule[next_scheduled_].at_s <= t_) {
        const auto& sv = o_.schedule[next_scheduled_++];
        if (EvseStation* s = find(sv.unit)) s->arrive(sv.vehicle);
    }
    if (o_.random_arrivals) {
        const double scale = std::max(1.0, o_.time_scale);
        for (auto& [unit, at] : next_arrival_) {
            EvseStation* s = find(unit);
            if (t_ < at) continue;
            if (!s->has_vehicle()) {
                Vehicle v;
                v.max_current = rng_.next() > 0 ? 32 : 16;
                v.need_ah = uniform(rng_, 5, 60) / scale;
                v.stay_s = uniform(rng_, 1800, 8 * 3600) / scale;
                s->arrive(v);
            }
            at = t_ + uniform(rng_, 0.2, 1.8) * o_.mean_arrival_s / scale;
        }
    }
    for (auto& s : stations_) s->advance(seconds);
    update_meter();
}

void EvseServer::update_meter() {
    double amps[3];
    double curve = 0;
    if (o_.daily_swing > 0) {
        std::time_t now = std::time(nullptr) + static_cast<std::time_t>(o_.manual_time ? t_ : 0);
        std::tm tm{};
        localtime_r(&now, &tm);
        const double hour = tm.tm_hour + tm.tm_min / 60.0;
        curve = std::sin((hour - 8) / 24 * 2 * M_PI);  // high in the afternoon, low at night
    }
    for (int p = 0; p < 3; ++p) {
        amps[p] = o_.background[p] * (1 + o_.daily_swing * curve) * (1 + o_.noise * rng_.next());
        if (amps[p] < 0) amps[p] = 0;
    }
    for (auto& s : stations_) {
        const auto& so = s->options();
        if (so.phases == 3) {
            for (double& a : amps) a += s->current();
        } else {
            amps[std::clamp(so.phase, 1, 3) - 1] += s->current();
        }
    }
    meter_.set(amps);
}

bool EvseServer::arrive(uint8_t unit, const Vehicle& v) {
    std::lock_guard lk(mu_);
    EvseStation* s = find(unit);
    if (s) s->arrive(v);
    return s != nullptr;
}

bool EvseServer::depart(uint8_t unit) {
    std::lock_guard lk(mu_);
    EvseStation* s = find(unit);
    if (s) {
        s->depart();
        update_meter();
    }
    return s != nullptr;
}

bool EvseServer::set_failure(uint8_t unit, bool failed) {
    std::lock_guard lk(mu_);
    EvseStation* s = find(unit);
    if (s) s->set_failure(failed);
    return s != nullptr;
}

bool EvseServer::set_silent(uint8_t unit, bool silent) {
    std::lock_guard lk(mu_);
    EvseStation* s = find(unit);
    if (s) s->silent = silent;
    return s != nullptr;
}

void EvseServer::set_background(int phase, double amps) {
    std::lock_guard lk(mu_);
    if (phase >= 0 && phase < 3) o_.background[phase] = amps;
    update_meter();
}

double EvseServer::meter_current(int phase) {
    std::lock_guard lk(mu_);
    return meter_.current(phase);
}

int EvseServer::station_state(uint8_t unit) {
    std::lock_guard lk(mu_);
    EvseStation* s = find(unit);
    return s ? s->state() : -1;
}

double EvseServer::station_current(uint8_t unit) {
    std::lock_guard lk(mu_);
    EvseStation* s = find(unit);
    return s ? s->current() : -1;
}

double EvseServer::station_setpoint(uint8_t unit) {
    std::lock_guard lk(mu_);
    EvseStation* s = find(unit);
    return s ? s->setpoint() : -1;
}

}  // namespace gridlet::sim

// sim::EvseServer: a site of EV charging stations and its main meter on one
// Modbus TCP server (stations on their unit ids, the meter on meter_unit),
// for the Green'Up demo and tests (scripts/lib/gridlet/README.md).
//
//   EvseServerOptions o;  o.port = 0;  o.stations = {{.unit = 1}, {.unit = 2, .rated_current = 16, .phases = 1, .phase = 2}};
//   EvseServer s(o);  s.start();
//   s.arrive(1, {.max_current = 32, .need_ah = 20, .stay_s = 3600});   // unit 1
//   s.set_background(2, 40.0);   ...   s.stop();
//
// The meter reads background[p] (+ a daily swing, + noise) plus the current
// of every station on phase p. Vehicles come from `schedule` (time offsets)
// and, with `random_arrivals`, from a seeded random process (arrival every
// `mean_arrival_s` per free station on average; maximum 16 or 32 A, 5..60 Ah,
// a stay of 0.5..8 h, all divided by time_scale when it is above 1).
//
// Thread-safety: every public method locks; any thread.
#pragma once

#include "evse_model.h"
#include "load_curve.h"
#include "tcp_server.h"

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace gridlet::sim {

struct ScheduledVehicle {
    uint8_t unit = 1;
    double at_s = 0;  // after start (simulated seconds)
    Vehicle vehicle;
};

struct EvseServerOptions {
    std::string bind = "127.0.0.1";
    uint16_t port = 0;
    std::vector<EvseStationOptions> stations;
    uint8_t meter_unit = 100;
    double background[3] = {40, 40, 40};  // A per phase
    double daily_swing = 0;               // 0..1: background × (1 + swing × day curve)
    double noise = 0;                     // 0..1: relative noise on the background
    std::vector<ScheduledVehicle> schedule;
    bool random_arrivals = false;
    double mean_arrival_s = 3600;
    uint32_t seed = 1;
    double time_scale = 1.0;  // simulated seconds per real second
    int tick_ms = 100;
    bool manual_time = false;  // time moves only through advance()
};

class EvseServer : public UnitRouter {
public:
    explicit EvseServer(EvseServerOptions o);
    ~EvseServer() override;
    EvseServer(const EvseServer&) = delete;
    EvseServer& operator=(const EvseServer&) = delete;

    std::string start();  // "" or why not
    void stop();
    uint16_t port() const { return tcp_.port(); }
    const EvseServerOptions& options() const { return o_; }
    Faults& faults() { return tcp_.faults(); }

    // Scenario API (unit ids). false if there is no such station.
    bool arrive(uint8_t unit, const Vehicle& v);
    bool depart(uint8_t unit);
    bool set_failure(uint8_t unit, bool failed);
    bool set_silent(uint8_t unit, bool silent);
    void set_background(int phase, double amps);  // phase 0..2
    void advance(double seconds);

    // Snapshot for tests: the meter's current on phase 0..2, a station's state/current/setpoint.
    double meter_current(int phase);
    int station_state(uint8_t unit);
    double station_current(uint8_t unit);
    double station_setpoint(uint8_t unit);

    RegisterSpace* unit(uint8_t id) override;
    bool answer_unknown_unit() const override { return false; }  // a silent unit stays silent

private:
    void advance_locked(double seconds);
    void update_meter();
    void ticker();
    EvseStation* find(uint8_t unit);

    EvseServerOptions o_;
    std::mutex mu_;
    std::vector<std::unique_ptr<EvseStation>> stations_;
    MainMeter meter_;
    double t_ = 0;
    size_t next_scheduled_ = 0;
    Noise rng_;
    std::map<uint8_t, double> next_arrival_;
    std::map<uint8_t, std::unique_ptr<RegisterSpace>> views_;  // locked views, built once
    TcpServer tcp_;
    std::thread tick_thread_;
    std::mutex tick_mu_;
    std::condition_variable tick_cv_;
    bool tick_stop_ = false;
};

}  // namespace gridlet::sim

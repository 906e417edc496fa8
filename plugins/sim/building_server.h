// sim::BuildingServer: a building for the demand limit demo and tests: a
// site power meter and a relay module on one Modbus TCP unit
// (config/profiles/building.toml).
//
//   coils 0..63 (fc 1 read, fc 5/15 write): relay k switches load k
//            (on = 1; all on at start); a relay with no load reads 0 and
//            refuses writes (exception 02);
//   holding registers (fc 3): 0-1 site power, W (uint32, high word first);
//            2-3 site energy, Wh (uint32 counter); 4 + k (k < 64): load k's
//            power, 0.1 kW (what it draws now; 0 with no load).
//
// Site power = the other loads + the loads whose relay is on. The other
// loads, by default: base_kw + swing_kw x (0.5 - 0.5 cos(2 pi t / period_s))
// (from base to base + swing and back in one period, starting low): with a
// short period the demo shows the building going over its demand limit, and
// the controller shedding and restoring, within minutes. With day_s > 0: an
// office day instead, base_kw + swing_kw x office_day(hour) (lighting, HVAC
// and plug loads of load_curve.h: low at night, a morning ramp, a midday
// peak with a lunch dip, an evening fall), the 24 hours played in day_s
// seconds from midnight and then again (day_s = 86400: real time), so that
// a test runs a whole simulated day in minutes.
//
// Thread-safety: every public method locks; any thread. The TCP server
// calls the register space on its thread.
#pragma once

#include "tcp_server.h"

#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace gridlet::sim {

struct BuildingLoad {
    std::string name;
    double kw = 0;
};

struct BuildingServerOptions {
    std::string bind = "127.0.0.1";
    uint16_t port = 0;
    uint8_t unit = 1;
    double base_kw = 20;
    double swing_kw = 20;
    double period_s = 900;
    double day_s = 0;  // > 0: the office day, played in day_s seconds (then the swing is unused)
    std::vector<BuildingLoad> loads;
    int tick_ms = 200;
};

class BuildingServer : public UnitRouter, public RegisterSpace {
public:
    static constexpr size_t kSlots = 64;  // relays (and their load registers)
    explicit BuildingServer(BuildingServerOptions o);
    ~BuildingServer() override;
    BuildingServer(const BuildingServer&) = delete;
    BuildingServer& operator=(const BuildingServer&) = delete;

    std::string start();  // "" or the error
    void stop();
    uint16_t port() const { return tcp_.port(); }
    const BuildingServerOptions& options() const { return o_; }
    Faults& faults() { return tcp_.faults(); }

    // The model at `t_s` seconds after start (tests drive it directly).
    double power_kw(double t_s) const;
    bool relay(size_t k) const;
    // The other loads alone (kW) at `t_s`: the swing or the office day.
    double other_kw(double t_s) const;
    // 0..1: the office day's shape at local `hour` (0..24).
    static double office_day(double hour);

    // UnitRouter / RegisterSpace
    RegisterSpace* unit(uint8_t unit_id) override { return unit_id == o_.unit ? this : nullptr; }
    uint8_t read_registers(int fc, uint16_t addr, uint16_t count, uint16_t* out) override;
    uint8_t write_registers(int fc, uint16_t addr, uint16_t count, const uint16_t* values) override;
    uint8_t read_bits(int fc, uint16_t addr, uint16_t count, uint8_t* out) override;
    uint8_t write_bits(int fc, uint16_t addr, uint16_t count, const uint8_t* values) override;

private:
    void tick();  // on the server thread: integrates the energy
    double power_locked(double t_s) const;

    BuildingServerOptions o_;
    mutable std::mutex mu_;
    std::vector<bool> on_;
    double t_s_ = 0;         // model time (s since start)
    double energy_wh_ = 0;
    TcpServer tcp_;
};

}  // namespace gridlet::sim

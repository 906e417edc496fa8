// sim::EvseStation and sim::MainMeter: a generic Modbus EV charging station
// (register map: config/profiles/evse.toml) with a vehicle model, and the
// installation's main meter (background load + every station's current).
//
// Station registers (holding, fc 3/4; wire addresses):
//   0 state (0 available, 1 vehicle connected, 2 charging, 3 waiting, 4 error)
//   1 error code (0 none, 1 station failure)      2 rated current (0.1 A)
//   3 phases (1 or 3)                              4 current setpoint (0.1 A, RW: 0 or 6 A..rated)
//   5 enable (RW: 0/1; back to 0 when the vehicle leaves)
//   6..8 current L1..L3 (0.1 A; a single-phase station reports on 6)
//   9..10 session Ah (uint32, 0.01 Ah)   11..12 session Wh (uint32)
//   13..14 session duration (uint32, s)  15..16 total energy (uint32, Wh)
//   17 vehicle maximum current (0.1 A, 0 without a vehicle)
// Meter registers: 0..2 current L1..L3 (0.1 A), 3 voltage (0.1 V), 4..5 power (uint32, W).
//
// Vehicle: arrives (state 1: a charge request), charges once enabled at
// min(setpoint, its maximum), following a new setpoint after the station's
// response time; below 6 A it pauses (state 3); when it has taken the Ah it
// needed it is full (state 3, 0 A); it leaves at its departure time.
//
// Thread-safety: none; EvseServer locks around every call.
#pragma once

#include "modbus_pdu.h"

#include <cstdint>
#include <optional>
#include <string>

namespace gridlet::sim {

struct EvseStationOptions {
    uint8_t unit = 1;
    double rated_current = 32;  // A
    int phases = 3;             // 1 or 3
    int phase = 1;              // installation phase (1..3) of a single-phase station
    double response_s = 2.0;    // time to follow a new setpoint
    double voltage = 230.0;     // V, for Wh
};

struct Vehicle {
    double max_current = 32;  // A the vehicle accepts
    double need_ah = 40;      // until full
    double stay_s = 8 * 3600; // then it leaves
    bool ignores_setpoint = false;  // a faulty vehicle: draws its maximum whatever the setpoint (still obeys enable)
};

class EvseStation : public RegisterSpace {
public:
    enum State : uint16_t { Available = 0, Connected = 1, Charging = 2, Waiting = 3, Error = 4 };

    explicit EvseStation(EvseStationOptions o);

    void arrive(const Vehicle& v);
    void depart();
    void set_failure(bool failed);
    bool silent = false;  // communication loss: the unit does not answer

    // Moves the model by dt seconds of simulated time.
    void advance(double dt);

    const EvseStationOptions& options() const { return o_; }
    State state() const;
    double current() const { return current_; }  // A per phase it uses
    double setpoint() const { return setpoint_; }
    bool enabled() const { return enable_; }
    bool has_vehicle() const { return vehicle_.has_value(); }
    double session_ah() const { return ah_; }

    uint8_t read_registers(int fc, uint16_t addr, uint16_t count, uint16_t* out) override;
    uint8_t write_registers(int fc, uint16_t addr, uint16_t count, const uint16_t* values) override;

    static constexpr uint16_t kRegisters = 18;

private:
    double target() const;

    EvseStationOptions o_;
    std::optional<Vehicle> vehicle_;
    bool failed_ = false;
    bool enable_ = false;
    bool full_ = false;
    double setpoint_;
    double current_ = 0, pending_ = 0, pending_for_ = 0;
    double ah_ = 0, wh_ = 0, session_s_ = 0, total_wh_ = 0, left_s_ = 0;
};

class MainMeter : public RegisterSpace {
public:
    explicit MainMeter(double voltage = 230.0) : voltage_(voltage) {}
    void set(const double amps[3]);
    double current(int phase) const { return amps_[phase]; }
    uint8_t read_registers(int fc, uint16_t addr, uint16_t count, uint16_t* out) override;
    uint8_t write_registers(int, uint16_t, uint16_t, const uint16_t*) override { return kIllegalDataAddress; }

private:
    double voltage_;
    double amps_[3] = {0, 0, 0};
};

}  // namespace gridlet::sim

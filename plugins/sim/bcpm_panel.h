// One simulated BCPM panel (one Modbus unit id) following the BCPMSC point
// map, Rev I (see plugins/sim/README.md for the implemented blocks).
//
// Register numbers in this API are the documented, 1-based numbers; on the
// wire PDU address a is register a + 1.
//
// Thread-safety: every public method locks; the server thread serves reads
// and writes while tests call the scenario API from theirs.
#pragma once

#include "load_curve.h"
#include "modbus_pdu.h"

#include <array>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace gridlet::sim {

enum class BcpmModel : uint16_t { A = 15172, B = 15171, C = 15170 };

struct BcpmPanelOptions {
    uint8_t unit_id = 1;
    BcpmModel model = BcpmModel::A;
    int branch_channels = 42;       // channels above this read 0x8000 / NaN
    uint32_t serial = 0x00C0FFEE;
    uint32_t seed = 1;              // load curves and noise
    double nominal_voltage = 120.0; // V L-N
    double frequency = 60.0;
    bool strict = true;             // false: bad values are acknowledged but ignored
    std::vector<int> overloaded;    // branches loaded steadily at 110 % of their breaker size
};

// The BCPM's 16-bit event counters (alarm counts, power-ups): 1..32767,
// wrapping back to 1.
inline uint16_t bump_counter(uint16_t v) { return v >= 32767 ? 1 : static_cast<uint16_t>(v + 1); }

class BcpmPanel : public RegisterSpace {
public:
    static constexpr int kBranches = 42;
    static constexpr int kChannels = 46;  // 42 branches + aux 43..46

    explicit BcpmPanel(const BcpmPanelOptions& opts);

    // RegisterSpace
    uint8_t read_registers(int fc, uint16_t addr, uint16_t count, uint16_t* out) override;
    uint8_t write_registers(int fc, uint16_t addr, uint16_t count, const uint16_t* values) override;
    std::string report_server_id() override;

    // Advances simulated time by dt seconds at local time of day `hour`
    // (0..24): loads, energy, demand, alarms; then refreshes the registers.
    void advance(double dt_s, double hour);

    // Scenario API. Channel 1..46. A fixed load overrides the daily curve.
    void set_load(int channel, double amps, double pf);
    void clear_load(int channel);
    void set_phase_voltage(int phase /*0..2*/, double volts);
    void set_noise(bool on);

    // The value a read of documented register `reg` returns now.
    uint16_t reg(int reg) const;
    double energy_kwh(int channel) const;
    double current(int channel) const;

    // Non-volatile state as text, and back (setup, latched alarms, maxima,
    // energy, global counters). load_nv also counts one power-up (reg 531).
    std::string save_nv() const;
    void load_nv(const std::string& text);
    void power_up();

private:
    enum class Access : uint8_t { None, R, RW, W };
    struct Channel {
        LoadShape shape;
        std::optional<std::pair<double, double>> fixed;  // amps, pf
        double amps = 0, pf = 0, kw = 0, kva = 0, kwh = 0;
        double sub_amp_s = 0, sub_kw_s = 0;              // integrals this sub-interval
        std::deque<std::pair<double, double>> hist;      // completed sub-interval averages
        double dem_amps = 0, dem_kw = 0, max_dem_amps = 0, max_dem_kw = 0;
        double max_amps = 0, max_kw = 0;
        bool on = false;
        double on_t = 0, off_t = 0, lt[4] = {0, 0, 0, 0};
        uint16_t status = 0;
        uint16_t counters[5] = {0, 0, 0, 0, 0};
    };
    struct Aux3 {  // aux 3-phase totals (channels 43..45)
        double sub_kw_s = 0;
        std::deque<double> hist;
        double dem_kw = 0, max_dem_kw = 0, max_kw = 0;
    };

    static Access access(int reg);
    uint8_t validate_write(int reg, uint16_t v) const;
    void apply_write(int reg, uint16_t v);
    void command(int channel_first, int channel_last, uint16_t code);
    void global_command(uint16_t code);
    void close_sub_interval();
    void reset_demand();
    void step(double dt, double hour);
    void alarms(double dt);
    void voltage_alarms(double dt);
    void refresh();
    int phase_of(int channel) const;
    double breaker(int ch) const { return static_cast<int16_t>(r_[118 + ch]); }
    double ct(int ch) const { return static_cast<int16_t>(r_[72 + ch]); }
    bool channel_valid(int ch) const;
    void put_int(int reg, double value, int scale, bool valid);
    void put_float(int reg, double value, bool valid);
    void put_u32(int reg, uint32_t v);

    BcpmPanelOptions opts_;
    mutable std::mutex mu_;
    std::vector<uint16_t> r_;  // index = documented register number
    std::array<Channel, kChannels + 1> ch_{};  // [1..46]
    Aux3 aux3_;
    double volts_[3];
    std::optional<double> fixed_volts_[3];
    double sub_elapsed_ = 0, t_ = 0, hour_ = 12;
    bool noise_on_ = true;
    Noise noise_;
    double vl_t_[3][2] = {};  // voltage latching timers (over, under)
    uint16_t v_status_[3] = {};
};

}  // namespace gridlet::sim

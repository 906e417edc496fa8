// sim::BcpmServer: a BCPM branch-circuit power meter (one or two panels on
// unit ids base and base+1) served over Modbus TCP, and optionally RTU.
// This is the API `gridlet sim bcpm --port N` and the sim plugin use:
//
//   gridlet::sim::BcpmServerOptions o;   o.port = 5020;
//   gridlet::sim::BcpmServer server(o);
//   if (auto err = server.start(); !err.empty()) { ... }
//   ...  server.stop();   // also done by the destructor
//
// Thread-safety: start/stop from the owning thread; everything else
// (faults(), panel(), advance()) from any thread.
#pragma once

#include "bcpm_panel.h"
#include "faults.h"
#include "rtu_server.h"
#include "tcp_server.h"

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>
#include <thread>

namespace gridlet::sim {

struct BcpmServerOptions {
    std::string bind = "127.0.0.1";
    uint16_t port = 502;            // 0 = any free port (see port())
    int panels = 2;                 // 1 or 2
    uint8_t base_unit = 1;          // panel 2 is base_unit + 1
    BcpmModel model = BcpmModel::A;
    int branch_channels = 42;       // channels above read 0x8000 / NaN
    uint32_t seed = 1;
    uint32_t serial = 0x00C0FFEE;
    double nominal_voltage = 120.0;
    int refresh_ms = 1800;          // measurement update period
    double time_scale = 1.0;        // simulated seconds per real second
    bool manual_time = false;       // time moves only through advance()
    bool answer_unknown_unit = true;// false: silence instead of exception 0x0B
    bool strict = true;             // false: bad writes acked but ignored
    std::string state_file;         // non-volatile registers; "" = none
    int max_connections = 64;
    // Branches (1..42) of the first panel that carry a steady load of 110 %
    // of their breaker size: an overload, to show alarms (the panel's own
    // and gridlet's [[alarms]]).
    std::vector<int> overloaded;
};

class BcpmServer : public UnitRouter {
public:
    explicit BcpmServer(BcpmServerOptions opts = {});
    ~BcpmServer() override;
    BcpmServer(const BcpmServer&) = delete;
    BcpmServer& operator=(const BcpmServer&) = delete;

    // Serves Modbus TCP on options.bind:options.port. "" on success, else why not.
    std::string start();
    std::string start(uint16_t port);
    // Also (or only) serves Modbus RTU on a serial line / pty.
    std::string start_rtu(const SerialSettings& serial);
    // Stops serving and saves the non-volatile state (if a state_file is set).
    void stop();

    uint16_t port() const { return tcp_.port(); }
    const BcpmServerOptions& options() const { return opts_; }
    // Panel 0 (unit base) or 1 (unit base+1).
    BcpmPanel& panel(int index) { return *panels_.at(index); }
    int panel_count() const { return static_cast<int>(panels_.size()); }
    // Fault injection for TCP (and RTU: rtu_faults()).
    Faults& faults() { return tcp_.faults(); }
    Faults& rtu_faults() { return rtu_.faults(); }
    uint64_t requests() const { return tcp_.requests() + rtu_.requests(); }
    int open_connections() const { return tcp_.open_connections(); }
    // Steps simulated time for every panel (for manual_time tests).
    void advance(double seconds);

    RegisterSpace* unit(uint8_t unit_id) override;
    bool answer_unknown_unit() const override { return opts_.answer_unknown_unit; }

private:
    void ticker();
    void save_state();
    double hour_of_day() const;

    BcpmServerOptions opts_;
    std::vector<std::unique_ptr<BcpmPanel>> panels_;
    TcpServer tcp_;
    RtuServer rtu_;
    std::thread tick_thread_;
    std::mutex tick_mu_;
    std::condition_variable tick_cv_;
    bool tick_stop_ = false;
    double sim_t_ = 0;
};

// Parses "A"/"B"/"C" (or the device ids 15172/15171/15170). false if unknown.
bool parse_bcpm_model(const std::string& s, BcpmModel* out);

}  // namespace gridlet::sim

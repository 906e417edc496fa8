// Modbus fault isolation benchmark (JSON on stdout): how much one faulty
// device slows the healthy ones (issue 10: "a device fault never affects
// another device's poll rate by more than 10 %").
//
//   modbus_fault_bench [--seconds S] [--quick]
//
// Three healthy units and one faulty unit, each with two blocks (two requests
// per poll), poll_ms 250, timeout_ms 200, retries 1, offline_after 3, in two
// layouts:
//   - shared: all four behind one Modbus TCP gateway (one connection, one
//     worker: the faulty unit's time is the others' time);
//   - own:    the faulty device on a server of its own (its own worker).
// For every fault class of the plugin README's table, the healthy units' good
// polls per second are compared with a run where the fourth unit is healthy:
// "ratio_pct" = faulty run / fault-free run × 100 (target ≥ 90). The first
// offline_after polls of the faulty unit (the time to detect it) are inside
// the measured window, as in the field.
#include "device_config.h"
#include "fault_site.h"
#include "poller.h"
#include "profile.h"
#include "register_bank.h"
#include "tcp_server.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace gridlet::modbus;
using gridlet::sim::FaultAction;
using gridlet::sim::FaultRequest;
using gridlet::sim::RegisterBank;
using gridlet::sim::TcpServer;
using gridlet::sim::UnitMap;

namespace {

// Counts good polls per device; ignores samples.
class CountingSink : public Sink {
public:
    uint32_t register_series(const SeriesDef&) override { return ++next_id_; }
    void publish(const gl_sample*, size_t) override {}
    void event(const std::string&, const std::string&, gl_severity, const std::string&) override {}
    void log(gl_log_level, const std::string&) override {}
    int64_t now_ms() override {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }
    void poll_done(const std::string& device, int64_t, bool good) override {
        std::lock_guard lk(mu_);
        if (good) good_[device]++;
    }
    int good(const std::string& device) {
        std::lock_guard lk(mu_);
        return good_[device];
    }

private:
    std::mutex mu_;
    std::map<std::string, int> good_;
    uint32_t next_id_ = 0;
};

// The tests' two-block device (fault_site.h) with the field's defaults for
// detection: offline after 3 failed polls, an offline unit polled every 30 s.
DeviceConfig device(const std::string& name, uint16_t port, int unit) {
    DeviceConfig d = test::device(name, "127.0.0.1:" + std::to_string(port), unit, 250, 200);
    d.offline_after = 3;
    d.offline_poll_ms = 30000;
    return d;
}

struct FaultClass {
    const char* name;
    std::function<void(FaultAction&, const FaultRequest&)> apply;  // to each request of the faulty unit
};

// Good polls per second of the three healthy units (their sum / 3), with
// unit 4 under `fault` (nullptr: healthy), in the `shared` or own layout.
double healthy_rate(const FaultClass* fault, bool shared, double seconds) {
    std::vector<std::unique_ptr<RegisterBank>> banks;
    UnitMap gateway_units, own_units;
    for (int u = 1; u <= 4; ++u) {
        banks.push_back(test::fill_unit(u));
        (u == 4 && !shared ? own_units : gateway_units).add(static_cast<uint8_t>(u), banks.back().get());
    }
    TcpServer gateway(gateway_units), own(own_units);
    gateway.start(0);
    if (!shared) own.start(0);
    TcpServer& faulty_server = shared ? gateway : own;
    if (fault)
        faulty_server.faults().set_script([fault](const FaultRequest& r) {
            FaultAction a;
            if (r.unit == 4) fault->apply(a, r);
            return a;
        });
    auto profile = test::two_blocks();
    std::vector<Poller::Device> devs;
    for (int u = 1; u <= 4; ++u)
        devs.push_back({device("u" + std::to_string(u), u == 4 && !shared ? own.port() : gateway.port(), u), profile});
    CountingSink sink;
    Poller poller(std::move(devs), sink, false);
    poller.start();
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    const int good = sink.good("u1") + sink.good("u2") + sink.good("u3");
    poller.stop();
    gateway.stop();
    if (!shared) own.stop();
    return good / 3.0 / seconds;
}

}  // namespace

int main(int argc, char** argv) {
    double seconds = 10;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--quick")) seconds = 3;
        else if (!std::strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = std::atof(argv[++i]);
        else {
            std::fprintf(stderr, "usage: modbus_fault_bench [--seconds S] [--quick]\n");
            return 2;
        }
    }
    const std::vector<FaultClass> faults = {
        {"silent", [](FaultAction& a, const FaultRequest&) { a.no_reply = true; }},
        {"late_300ms", [](FaultAction& a, const FaultRequest&) { a.delay_ms = 300; }},
        {"exception_0B_target_failed", [](FaultAction& a, const FaultRequest&) { a.exception = 0x0B; }},
        {"exception_06_busy_always", [](FaultAction& a, const FaultRequest&) { a.exception = 0x06; }},
        {"exception_02_every_block", [](FaultAction& a, const FaultRequest&) { a.exception = 0x02; }},
        {"wrong_unit", [](FaultAction& a, const FaultRequest&) { a.reply_unit = 1; }},
        {"bad_byte_count", [](FaultAction& a, const FaultRequest&) { a.bad_byte_count = true; }},
        {"garbage", [](FaultAction& a, const FaultRequest&) { a.raw = {0xDE, 0xAD, 0xBE, 0xEF}; }},
        {"closes_after_reply", [](FaultAction& a, const FaultRequest&) { a.close_after = true; }},
        {"second_block_silent",
         [](FaultAction& a, const FaultRequest& r) {
             if (r.address == 1000) a.no_reply = true;
         }},
    };
    nlohmann::json out;
    out["benchmark"] = "modbus_fault_bench";
    out["seconds_per_run"] = seconds;
    out["setup"] = "3 healthy + 1 faulty unit, 2 requests per poll, poll_ms 250, timeout_ms 200, retries 1, offline_after 3";
    for (bool shared : {true, false}) {
        const char* layout = shared ? "shared_gateway" : "own_connection";
        const double base = healthy_rate(nullptr, shared, seconds);
        out[layout]["fault_free_polls_per_s"] = base;
        double worst = 1e9;
        for (const FaultClass& f : faults) {
            const double r = healthy_rate(&f, shared, seconds);
            const double pct = base > 0 ? 100.0 * r / base : 0;
            worst = std::min(worst, pct);
            out[layout]["faults"][f.name] = {{"polls_per_s", r}, {"ratio_pct", pct}};
        }
        out[layout]["worst_ratio_pct"] = worst;
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
}

// Shared by the Modbus fault tests over TCP (link_faults_test) and RTU
// (rtu_faults_test): a two-block profile, a device config with short
// timeouts, and a sink that catches any value taken from another request or
// unit. Units 1..n hold a = 100·unit + 11 at register 0 and b = 100·unit + 22
// at register 1000 (fill_unit()). Test code; any thread.
#pragma once

#include "capture_sink.h"
#include "device_config.h"
#include "profile.h"
#include "register_bank.h"
#include "tcp_server.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace gridlet::modbus::test {

using namespace std::chrono_literals;


// Two points 1,000 registers apart: two requests per poll.
inline const char* const kTwoBlocks = R"(
[profile]
name = "two"
address_base = 0
max_gap = 4
[[point]]
name = "a"
address = 0
type = "uint16"
[[point]]
name = "b"
address = 1000
type = "uint16"
)";

inline std::shared_ptr<const Profile> two_blocks() {
    static auto p = std::make_shared<const Profile>(parse_profile(kTwoBlocks, "two.toml"));
    return p;
}

inline DeviceConfig device(const std::string& name, const std::string& address, int unit, int poll_ms, int timeout_ms,
                    int retries = 1) {
    nlohmann::json j = {{"name", name},       {"profile", "two"},    {"address", address},
                        {"unit_id", unit},     {"poll_ms", poll_ms},  {"timeout_ms", timeout_ms},
                        {"retries", retries},  {"offline_after", 2},  {"reconnect_min_ms", 100},
                        {"reconnect_max_ms", 1600}, {"offline_poll_ms", 3000}};
    return parse_device(j);
}

// Good values seen for a device: every sample of `name` must equal `want`.
struct ValueCheck {
    CaptureSink& sink;
    bool ok(const std::string& name, double want) {
        gl_sample s = sink.last(name);
        return s.quality == GL_QUALITY_GOOD && s.value == want;
    }
};

inline int polls_between(CaptureSink& sink, const std::string& dev, int64_t from_us, int64_t to_us, bool good_only = true) {
    int n = 0;
    for (auto& [t, good] : sink.polls(dev))
        if (t >= from_us && t < to_us && (good || !good_only)) n++;
    return n;
}

inline int64_t now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// A sink that checks every published sample of a/b against the unit's
// true value, so a value taken from another request or unit is caught.
class CheckingSink : public CaptureSink {
public:
    void publish(const gl_sample* s, size_t n) override {
        for (size_t i = 0; i < n; ++i) {
            std::lock_guard lk(mu2_);
            auto it = expect_.find(s[i].series_id);
            if (it != expect_.end() && s[i].quality == GL_QUALITY_GOOD && s[i].value != it->second) wrong_++;
        }
        CaptureSink::publish(s, n);
    }
    uint32_t register_series(const SeriesDef& d) override {
        uint32_t id = CaptureSink::register_series(d);
        auto slash = d.name.find('/');
        std::string dev = d.name.substr(0, slash), pt = d.name.substr(slash + 1);
        if (pt == "a" || pt == "b") {
            int unit = std::stoi(dev.substr(1));  // devices are named u<unit>
            std::lock_guard lk(mu2_);
            expect_[id] = 100 * unit + (pt == "a" ? 11 : 22);
        }
        return id;
    }
    int wrong() {
        std::lock_guard lk(mu2_);
        return wrong_;
    }

private:
    std::mutex mu2_;
    std::map<uint32_t, double> expect_;
    int wrong_ = 0;
};


// A register bank holding unit `u`'s a and b.
inline std::unique_ptr<gridlet::sim::RegisterBank> fill_unit(int u) {
    using Table = gridlet::sim::RegisterBank::Table;
    auto b = std::make_unique<gridlet::sim::RegisterBank>();
    b->map(Table::Holding, 0, 8);
    b->map(Table::Holding, 1000, 8);
    b->set(Table::Holding, 0, static_cast<uint16_t>(100 * u + 11));
    b->set(Table::Holding, 1000, static_cast<uint16_t>(100 * u + 22));
    return b;
}

// Units 1..n behind one Modbus TCP server (a gateway), on a free port.
struct TcpSite {
    static constexpr const char* kTransport = "tcp";
    std::vector<std::unique_ptr<gridlet::sim::RegisterBank>> banks;
    gridlet::sim::UnitMap units;
    gridlet::sim::TcpServer server{units};
    explicit TcpSite(int n = 1) {
        for (int u = 1; u <= n; ++u) {
            banks.push_back(fill_unit(u));
            units.add(static_cast<uint8_t>(u), banks.back().get());
        }
        start_error = server.start(0);
    }
    std::string address() const { return "127.0.0.1:" + std::to_string(server.port()); }
    std::string start_error;
};

}  // namespace gridlet::modbus::test

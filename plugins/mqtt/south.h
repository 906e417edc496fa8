// South: JSON sensors over MQTT. Each [[devices]] entry of the plugin names
// a topic filter and a sensor profile (sensor_profile.h); a message on a
// matching topic is decoded by the profile and published as samples of the
// series "<device>/<point>", tagged with the device's tags (site, building,
// floor, space, ...). Each device also gets "<device>/status": 0 unknown
// (not heard since start), 1 online, 2 offline (silent for the profile's
// offline_after_s, or its gateway device is offline).
//
// Invalid input never stores a number: a refused payload or point is
// counted ("<instance>/south/invalid"), and said in the log with its topic
// (at most one line every 10 s, with the count since the last one).
//
// Threads: build_devices() anywhere; register_series() on the plugin thread
// (create); on_message() and tick() on the forwarder's thread.
#pragma once

#include <gridlet/plugin.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sensor_profile.h"

namespace gridlet::mqtt {

struct SouthDevice {
    std::string name, topic, gateway, tags;
    std::shared_ptr<const SensorProfile> profile;
    int64_t offline_after_s = 0;
    // Set by register_series / on the forwarder's thread:
    std::vector<uint32_t> series;
    uint32_t status_series = 0;
    int state = 0;  // 0 unknown, 1 online, 2 offline
    int64_t last_heard_ms = 0;  // monotonic
};

// Reads the plugin's devices ([[devices]] as JSON) and their profiles from
// `profile_dirs`; `problem(device, what)` for each fault (then the device is
// left out); `warn(what)` for what is allowed but likely a mistake (two
// devices whose topics overlap: a message on both is stored under both).
std::vector<SouthDevice> build_devices(const nlohmann::json& devices, const std::vector<std::string>& profile_dirs,
                                       const std::function<void(const std::string&, const std::string&)>& problem,
                                       const std::function<void(const std::string&)>& warn = {});

class South {
public:
    South(gridlet::Host host, std::vector<SouthDevice> devices, int qos);
    void register_series();
    // The topic filters to subscribe to, with the QoS.
    std::vector<std::string> filters() const;
    int qos() const noexcept { return qos_; }
    void on_message(const char* topic, const void* payload, size_t len);
    // About once a second: offline detection, the counters.
    void tick();

private:
    void set_state(SouthDevice& d, int state, int64_t now_ms);
    void say_invalid(const std::string& topic, const std::string& why);

    gridlet::Host host_;
    std::vector<SouthDevice> devices_;
    int qos_;
    uint32_t messages_series_ = 0, invalid_series_ = 0, unknown_series_ = 0;
    uint64_t messages_ = 0, invalid_ = 0, unknown_ = 0;
    uint64_t unlogged_invalid_ = 0, unlogged_unknown_ = 0;
    int64_t last_invalid_log_ms_ = INT64_MIN / 2, last_unknown_log_ms_ = INT64_MIN / 2;
    std::string last_invalid_, last_unknown_;  // the last held back: said with the window's count
    bool gateway_offline(const SouthDevice& d) const;
    int64_t last_counters_ms_ = 0;
    std::vector<gl_sample> batch_;
};

}  // namespace gridlet::mqtt

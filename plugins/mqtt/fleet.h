// Fleet: an aggregator gridlet (the "master" of the Legrand manual, §4)
// subscribes to the north topics of many gateways and stores what they send
// under each gateway's name, so that a site with several gateways is
// queried in one place.
//
// It reads what the mqtt plugin's north side writes with the json or
// json_batch format: the gateway is the topic level `site_level` (1-based;
// 2 in "gridlet/<site>/..."). The series "<device>/<point>" of gateway G
// is stored as "G/<device>/<point>", with its unit and kind, tagged
// gateway=G. The retained status topic "<...>/<site>/status" becomes
// "G/gateway/online" (1 online, 0 offline); event topics are skipped. A
// payload that does not read is counted in "<instance>/fleet/invalid" and
// said (at most one line every 10 s).
//
// Threads: on_message() and tick() on the forwarder's thread.
#pragma once

#include <gridlet/plugin.hpp>

#include <string>
#include <unordered_map>
#include <vector>

namespace gridlet::mqtt {

struct FleetSettings {
    bool enabled = false;
    std::vector<std::string> topics{"gridlet/#"};  // subscription filters
    int site_level = 2;
    int qos = 1;
};

class Fleet {
public:
    // `own_site`: this gridlet's site; its own north messages are skipped.
    Fleet(gridlet::Host host, FleetSettings settings, std::string own_site);
    const FleetSettings& settings() const noexcept { return settings_; }
    // True when the message was one of the fleet's topics (handled).
    bool on_message(const char* topic, const void* payload, size_t len);
    void tick();
    // The gateway's name and the rest of the topic, split at site_level.
    static bool split(const std::string& topic, int site_level, std::string* site, std::string* rest);

private:
    uint32_t series(const std::string& name, const std::string& unit, const std::string& kind, const std::string& states,
                    const std::string& site);
    void invalid(const std::string& topic, const std::string& why);

    gridlet::Host host_;
    FleetSettings settings_;
    std::string own_site_;
    std::unordered_map<std::string, uint32_t> ids_;
    std::vector<gl_sample> batch_;
    uint32_t invalid_series_ = 0, messages_series_ = 0;
    uint64_t invalid_ = 0, messages_ = 0, unlogged_ = 0;
    int64_t last_log_ms_ = INT64_MIN / 2, last_counters_ms_ = 0;
};

}  // namespace gridlet::mqtt

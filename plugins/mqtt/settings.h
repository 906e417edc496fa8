// The mqtt plugin's configuration ([plugins.config] of a plugin with
// file = "mqtt"), parsed and checked in one place: validate() (`gridlet
// check`) and the plugin's constructor (`gridlet run`) both call parse(), so
// that check refuses exactly what run would.
//
// Shapes and units are in plugins/mqtt/README.md. Errors: every problem is
// collected as one line "key: what is wrong" (parse() throws gridlet::Error
// with them joined, problems() returns them).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "fleet.h"

namespace gridlet::mqtt {

enum class Format { json, json_batch, line };

struct BrokerSettings {
    std::string host = "127.0.0.1";
    int port = 1883;
    bool tls = false;            // mqtts:// or a ca_file
    std::string client_id;       // "" = gridlet-<site>-<instance>
    std::string username;
    std::string password;        // from the environment variable password_env
    int keepalive_s = 30;
    int protocol = 5;            // 5 (MQTT v5) or 4 (3.1.1)
    std::string ca_file, cert_file, key_file;
    std::string tls_min_version = "1.2";  // "1.2" or "1.3"
    int reconnect_min_ms = 500;
    int reconnect_max_ms = 30'000;
    std::string status_topic = "gridlet/{site}/status";  // "" = none
};

struct NorthSettings {
    bool enabled = false;
    std::vector<std::string> series;  // globs over series names
    std::vector<std::string> events;  // globs over "source/type"
    Format format = Format::json_batch;
    std::string topic;                // default by format
    std::string event_topic = "gridlet/{site}/event/{source}/{type}";
    int qos = 1;
    bool retain = false;
    std::string measurement = "gridlet";  // line protocol
    int max_inflight = 256;               // messages not yet acknowledged
    int max_batch = 500;                  // samples per batch message
    int64_t drain_rate = 20'000;          // backlog samples per second
    uint64_t max_backlog_bytes = 1ull << 30;
};

struct SouthSettings {
    int qos = 1;               // of the subscriptions
    std::string profiles_dir;  // searched first for <profile>.toml
};

struct Settings {
    BrokerSettings broker;
    NorthSettings north;
    SouthSettings south;
    CommandSettings commands;
    FleetSettings fleet;
};

// Parses the plugin's config JSON (the host filled in the schema's defaults).
// `problems` gets one line per fault; the result is meaningful only when it
// stays empty.
Settings parse_settings(const nlohmann::json& config, std::vector<std::string>& problems);

}  // namespace gridlet::mqtt

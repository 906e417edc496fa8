// The site file: one TOML file naming the plugins, devices, rules, store,
// logging, kernel and bus settings. load_site_config() checks every key of
// the sections it owns and the keys the store and rule engine declare
// (SectionSchemas) before anything starts. Plugin [plugins.config] tables and
// device tables are checked later against each plugin's own schemas, with
// the same file:line diagnostics (the TOML tree is kept for that).
// Value type; any thread once loaded.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "core/config_schema.h"

namespace gridlet {

struct PluginEntry {
    std::string name;                    // instance name
    std::string file;                    // as written
    bool enabled = true;
    const toml::table* config = nullptr; // [plugins.config] or null
    uint32_t line = 0;
};

struct DeviceEntry {
    std::string name;
    std::string plugin;                  // instance that drives it
    const toml::table* table = nullptr;  // the whole [[devices]] table
    uint32_t line = 0;
};

struct RuleEntry {
    std::string name;
    nlohmann::json config;               // validated against SectionSchemas::rule
    uint32_t line = 0;
};

struct SiteConfig {
    std::string path;                    // as given
    std::string dir;                     // folder of the file: relative paths start here
    std::shared_ptr<toml::table> root;   // keeps the tables above alive

    std::string site_name = "gridlet";
    std::string timezone = "UTC";

    std::string log_level = "info";
    std::string log_pattern;
    std::string log_file;                // "" = stderr

    int stop_timeout_ms = 5000;
    std::string control_endpoint;        // ipc:// endpoint of the control socket
    std::vector<std::string> plugin_path;

    int bus_queue_depth = 10000;
    int bus_send_timeout_ms = 200;

    bool has_store = false;
    nlohmann::json store;                // validated [store]
    nlohmann::json rule_engine;          // validated [rule_engine] (defaults when absent)

    std::vector<PluginEntry> plugins;
    std::vector<DeviceEntry> devices;
    std::vector<RuleEntry> rules;

    // `p` resolved against `dir` unless absolute.
    std::string resolve(const std::string& p) const;
};

struct SectionSchemas {
    std::vector<config::KeySpec> store;        // keys of [store]
    std::vector<config::KeySpec> rule;         // keys of each [[rules]]
    std::vector<config::KeySpec> rule_engine;  // keys of [rule_engine]
};

// The keys of [site], [logging], [kernel], [bus], [[plugins]] and the common
// keys of [[devices]] (for `gridlet check --help` and docs).
const std::vector<config::KeySpec>& site_keys();
const std::vector<config::KeySpec>& logging_keys();
const std::vector<config::KeySpec>& kernel_keys();
const std::vector<config::KeySpec>& bus_keys();
const std::vector<config::KeySpec>& plugin_entry_keys();

// Parses and checks `path`. On any problem, diagnostics are appended and the
// returned config must not be used (check diags.empty()).
SiteConfig load_site_config(const std::string& path, const SectionSchemas& schemas, config::Diagnostics& diags);
// The same from text (tests); `path` names it in diagnostics.
SiteConfig parse_site_config(const std::string& text, const std::string& path, const SectionSchemas& schemas,
                             config::Diagnostics& diags);

}  // namespace gridlet

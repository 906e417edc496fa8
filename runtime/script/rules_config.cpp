#include "script/rules_config.h"

#include <filesystem>

namespace gridlet::script {

namespace {

using config::KeySpec;
using config::ValueType;
using config::key;
using config::required_key;

std::string resolve(const std::string& path, const std::string& base_dir) {
    std::filesystem::path p(path);
    if (p.is_absolute() || base_dir.empty()) return p.lexically_normal().string();
    return (std::filesystem::path(base_dir) / p).lexically_normal().string();
}

void read_budgets(const nlohmann::json& t, Budgets& b) {
    if (t.contains("instructions")) b.instructions = t["instructions"].get<uint64_t>();
    if (t.contains("time_ms")) b.time_ms = t["time_ms"].get<int64_t>();
    if (t.contains("memory_mb")) b.memory_bytes = t["memory_mb"].get<size_t>() * 1024 * 1024;
    if (t.contains("writes_per_s")) b.writes_per_s = t["writes_per_s"].get<int64_t>();
    if (t.contains("events_per_s")) b.events_per_s = t["events_per_s"].get<int64_t>();
    if (t.contains("state_writes_per_s")) b.state_writes_per_s = t["state_writes_per_s"].get<int64_t>();
    if (t.contains("log_lines_per_s")) b.log_lines_per_s = t["log_lines_per_s"].get<int64_t>();
    if (t.contains("log_bytes_per_s")) b.log_bytes_per_s = t["log_bytes_per_s"].get<int64_t>();
    if (t.contains("event_bytes_per_s")) b.event_bytes_per_s = t["event_bytes_per_s"].get<int64_t>();
    if (t.contains("state_bytes_per_s")) b.state_bytes_per_s = t["state_bytes_per_s"].get<int64_t>();
    if (t.contains("cpu_share_pct")) b.cpu_share_pct = t["cpu_share_pct"].get<int>();
}

}  // namespace

std::vector<KeySpec> rules_engine_keys() {
    return {
        key("lib_dirs", ValueType::array, "[\"scripts/lib\"]", "Folders require() searches after the rule's own folder"),
        key("watch", ValueType::boolean, "true", "Reload a rule when its file or a module it requires changes (inotify)"),
        key("instructions", ValueType::integer, "20000000", "Default Lua instructions per callback before a rule is stopped", 1000, 1e12),
        key("time_ms", ValueType::integer, "250", "Default wall time per callback (ms) before a rule is stopped", 1,
         600000),
        key("memory_mb", ValueType::integer, "16", "Default Lua heap per rule (MiB) before it is stopped", 1, 4096),
        key("writes_per_s", ValueType::integer, "500", "Default gridlet.write and gridlet.publish calls per second; more raise an error", 1, 100000),
        key("events_per_s", ValueType::integer, "50", "Default gridlet.emit calls per second; more raise an error", 1, 100000),
        key("state_writes_per_s", ValueType::integer, "500", "Default gridlet.state writes per second; more raise an error",
            1, 100000),
        key("log_lines_per_s", ValueType::integer, "100", "Default log lines per second; more are dropped and counted", 1,
            100000),
        key("log_bytes_per_s", ValueType::integer, "20000",
            "Default bytes of log text per second; more lines are dropped and counted", 100, 100000000),
        key("event_bytes_per_s", ValueType::integer, "100000",
            "Default bytes of event bodies (JSON) per second; more raise an error", 100, 100000000),
        key("state_bytes_per_s", ValueType::integer, "200000",
            "Default bytes of gridlet.state values (JSON) written per second; more raise an error", 100, 100000000),
        key("cpu_share_pct", ValueType::integer, "50",
            "Default share of the rule engine a rule may use over 10 s before it is stopped (100: no limit)", 1, 100),
    };
}

std::vector<KeySpec> rule_keys() {
    return {
        required_key("name", ValueType::string, "Unique rule name: tags its logs, events and state"),
        required_key("file", ValueType::string, "The rule's Lua file (relative to the site file)"),
        key("params", ValueType::table, "{}", "Parameters, seen by the rule as `params`"),
        key("enabled", ValueType::boolean, "true", "false: the rule is not loaded"),
        key("instructions", ValueType::integer, std::nullopt, "Lua instructions per callback (default: [rule_engine])",
            1000, 1e12),
        key("time_ms", ValueType::integer, std::nullopt, "Wall time per callback, ms (default: [rule_engine])", 1, 600000),
        key("memory_mb", ValueType::integer, std::nullopt, "Lua heap of this rule, MiB (default: [rule_engine])", 1, 4096),
        key("writes_per_s", ValueType::integer, std::nullopt, "gridlet.write and gridlet.publish calls per second (default: [rule_engine])", 1,
            100000),
        key("events_per_s", ValueType::integer, std::nullopt, "gridlet.emit calls per second (default: [rule_engine])", 1,
            100000),
        key("state_writes_per_s", ValueType::integer, std::nullopt,
            "gridlet.state writes per second (default: [rule_engine])", 1, 100000),
        key("log_lines_per_s", ValueType::integer, std::nullopt, "Log lines per second (default: [rule_engine])", 1,
            100000),
        key("log_bytes_per_s", ValueType::integer, std::nullopt, "Bytes of log text per second (default: [rule_engine])",
            100, 100000000),
        key("event_bytes_per_s", ValueType::integer, std::nullopt,
            "Bytes of event bodies per second (default: [rule_engine])", 100, 100000000),
        key("state_bytes_per_s", ValueType::integer, std::nullopt,
            "Bytes of gridlet.state values written per second (default: [rule_engine])", 100, 100000000),
        key("cpu_share_pct", ValueType::integer, std::nullopt,
            "Share of the rule engine over 10 s, % (default: [rule_engine])", 1, 100),
    };
}

EngineOptions engine_options_from_json(const nlohmann::json& table, const std::string& base_dir) {
    EngineOptions o;
    if (table.contains("lib_dirs")) {
        for (const auto& d : table["lib_dirs"]) {
            if (d.is_string()) o.lib_dirs.push_back(resolve(d.get<std::string>(), base_dir));
        }
    }
    read_budgets(table, o.default_budgets);
    return o;
}

RuleConfig rule_config_from_json(const nlohmann::json& table, const std::string& base_dir, const Budgets& defaults) {
    RuleConfig c;
    c.name = table.value("name", "");
    c.file = resolve(table.value("file", ""), base_dir);
    c.params = table.contains("params") ? table["params"] : nlohmann::json::object();
    c.budgets = defaults;
    read_budgets(table, c.budgets);
    return c;
}

}  // namespace gridlet::script

// The "sim" plugin: runs device simulators inside gridlet so that a demo is
// one process. Config:
//
//   [[plugins]]
//   name = "sim"
//   path = "sim"
//   [plugins.config]
//   bcpm = [ { name = "bcpm_a", port = 5020 }, { name = "bcpm_b", port = 5021, panels = 1 } ]
//   building = [ { name = "bldg", port = 5040, base_kw = 20, swing_kw = 20, period_s = 900,
//                  loads = [ { name = "boiler", kw = 6 } ] } ]
//
// Faults are controllable at run time with commands to the simulator's
// name: cmd/<name>/fault/latency_ms, .../exception_burst, .../malformed_burst,
// .../silent (0/1), .../drop_connections, .../max_connections; or by
// publishing a value on the same point, e.g.
// `gridlet publish bcpm_sim/fault/silent 1 --config config/demo.toml` (the
// simulated panels stop answering; 0: they answer again).
#include "bcpm_server.h"
#include "building_server.h"
#include "evse_config.h"

#include <gridlet/plugin.hpp>
#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <set>
#include <string>

namespace gridlet::sim {
namespace {

template <class T>
T get_or(const nlohmann::json& j, const char* key, T def, const std::string& where) {
    if (!j.contains(key)) return def;
    try {
        return j.at(key).get<T>();
    } catch (const std::exception&) {
        throw Error(GL_ERR_INVALID, where + ": key '" + key + "' has the wrong type");
    }
}

BcpmServerOptions parse_bcpm(const nlohmann::json& j, const std::string& where, std::string* name) {
    static const char* known[] = {"name", "port", "bind", "panels", "base_unit", "model", "channels", "seed",
                                  "serial", "voltage", "refresh_ms", "time_scale", "state_file", "max_connections",
                                  "strict", "answer_unknown_unit", "overloaded"};
    if (!j.is_object()) throw Error(GL_ERR_INVALID, where + ": expected a table");
    for (auto& [k, v] : j.items()) {
        bool ok = false;
        for (const char* n : known) ok = ok || k == n;
        if (!ok) throw Error(GL_ERR_INVALID, where + ": unknown key '" + k + "'");
    }
    BcpmServerOptions o;
    if (!j.contains("port")) throw Error(GL_ERR_INVALID, where + ": 'port' is required");
    int64_t port = get_or<int64_t>(j, "port", 0, where);
    if (port < 0 || port > 65535) throw Error(GL_ERR_INVALID, where + ": port must be 0..65535");
    o.port = static_cast<uint16_t>(port);
    o.bind = get_or<std::string>(j, "bind", "127.0.0.1", where);
    o.panels = static_cast<int>(get_or<int64_t>(j, "panels", 2, where));
    if (o.panels != 1 && o.panels != 2) throw Error(GL_ERR_INVALID, where + ": panels must be 1 or 2");
    int64_t base = get_or<int64_t>(j, "base_unit", 1, where);
    if (base < 1 || base > 246) throw Error(GL_ERR_INVALID, where + ": base_unit must be 1..246");
    o.base_unit = static_cast<uint8_t>(base);
    std::string model = get_or<std::string>(j, "model", "A", where);
    if (!parse_bcpm_model(model, &o.model)) throw Error(GL_ERR_INVALID, where + ": model must be A, B or C");
    o.branch_channels = static_cast<int>(get_or<int64_t>(j, "channels", 42, where));
    if (o.branch_channels < 0 || o.branch_channels > 42) throw Error(GL_ERR_INVALID, where + ": channels must be 0..42");
    o.seed = static_cast<uint32_t>(get_or<int64_t>(j, "seed", 1, where));
    o.serial = static_cast<uint32_t>(get_or<int64_t>(j, "serial", 0x00C0FFEE, where));
    o.nominal_voltage = get_or<double>(j, "voltage", 120.0, where);
    o.refresh_ms = static_cast<int>(get_or<int64_t>(j, "refresh_ms", 1800, where));
    if (o.refresh_ms < 10) throw Error(GL_ERR_INVALID, where + ": refresh_ms must be >= 10");
    o.time_scale = get_or<double>(j, "time_scale", 1.0, where);
    if (o.time_scale <= 0) throw Error(GL_ERR_INVALID, where + ": time_scale must be > 0");
    o.state_file = get_or<std::string>(j, "state_file", "", where);
    o.max_connections = static_cast<int>(get_or<int64_t>(j, "max_connections", 64, where));
    o.strict = get_or<bool>(j, "strict", true, where);
    o.answer_unknown_unit = get_or<bool>(j, "answer_unknown_unit", true, where);
    if (j.contains("overloaded")) {
        const auto& ov = j["overloaded"];
        if (!ov.is_array()) throw Error(GL_ERR_INVALID, where + ": overloaded must be an array of branch numbers 1..42");
        for (const auto& c : ov) {
            if (!c.is_number_integer() || c.get<int64_t>() < 1 || c.get<int64_t>() > 42)
                throw Error(GL_ERR_INVALID, where + ": overloaded must be an array of branch numbers 1..42");
            o.overloaded.push_back(static_cast<int>(c.get<int64_t>()));
        }
    }
    *name = get_or<std::string>(j, "name", "bcpm" + std::to_string(o.port), where);
    return o;
}

BuildingServerOptions parse_building(const nlohmann::json& j, const std::string& where, std::string* name) {
    static const char* known[] = {"name", "port", "bind", "unit", "base_kw", "swing_kw", "period_s", "day_s", "loads"};
    if (!j.is_object()) throw Error(GL_ERR_INVALID, where + ": expected a table");
    for (auto& [k, v] : j.items()) {
        bool ok = false;
        for (const char* n : known) ok = ok || k == n;
        if (!ok) throw Error(GL_ERR_INVALID, where + ": unknown key '" + k + "' (name, port, bind, unit, base_kw, swing_kw, period_s, day_s, loads)");
    }
    BuildingServerOptions o;
    const int64_t port = get_or<int64_t>(j, "port", -1, where);
    if (port < 0 || port > 65535) throw Error(GL_ERR_INVALID, where + ": port (0..65535) is required");
    o.port = static_cast<uint16_t>(port);
    o.bind = get_or<std::string>(j, "bind", "127.0.0.1", where);
    const int64_t unit = get_or<int64_t>(j, "unit", 1, where);
    if (unit < 1 || unit > 247) throw Error(GL_ERR_INVALID, where + ": unit must be 1..247");
    o.unit = static_cast<uint8_t>(unit);
    o.base_kw = get_or<double>(j, "base_kw", 20.0, where);
    o.swing_kw = get_or<double>(j, "swing_kw", 20.0, where);
    o.period_s = get_or<double>(j, "period_s", 900.0, where);
    if (!(o.base_kw >= 0) || !(o.swing_kw >= 0) || o.base_kw + o.swing_kw > 4000)
        throw Error(GL_ERR_INVALID, where + ": base_kw and swing_kw must be >= 0, at most 4000 kW together");
    if (!(o.period_s >= 10)) throw Error(GL_ERR_INVALID, where + ": period_s must be >= 10");
    o.day_s = get_or<double>(j, "day_s", 0.0, where);
    if (!(o.day_s == 0 || (o.day_s >= 60 && o.day_s <= 86400)))
        throw Error(GL_ERR_INVALID, where + ": day_s (an office day played in day_s seconds) must be 0 (off) or 60..86400");
    if (j.contains("loads")) {
        if (!j["loads"].is_array() || j["loads"].size() > 64)
            throw Error(GL_ERR_INVALID, where + ": loads must be an array of at most 64 tables {name, kw}");
        for (const auto& l : j["loads"]) {
            if (!l.is_object() || !l.contains("name") || !l["name"].is_string() || !l.contains("kw") ||
                !l["kw"].is_number() || l["kw"].get<double>() < 0 || l["kw"].get<double>() > 1000)
                throw Error(GL_ERR_INVALID, where + ": each load is {name = \"...\", kw = 0..1000}");
            o.loads.push_back({l["name"].get<std::string>(), l["kw"].get<double>()});
        }
    }
    *name = get_or<std::string>(j, "name", "building" + std::to_string(o.port), where);
    return o;
}

class SimPlugin : public Plugin {
public:
    static constexpr PluginInfo info{"sim", "0.1.0", GL_KIND_SIMULATOR,
                                     "Device simulators (BCPM branch-circuit power meter over Modbus TCP)"};
    static constexpr gl_config_key config_schema[] = {
        {"bcpm", GL_CFG_ARRAY, "[]",
         "BCPM simulators: array of tables {name, port (required), bind, panels, base_unit, model, channels, seed, "
         "serial, voltage, refresh_ms, time_scale, state_file, max_connections, strict, answer_unknown_unit, "
         "overloaded (first panel's branches loaded at 110 % of their breaker size)}",
         0},
        {"evse", GL_CFG_ARRAY, "[]",
         "EV charging sites: array of tables {name, port (required), bind, meter_unit, background, daily_swing, noise, "
         "response_ms, stations = [{unit, rated_current, phases, phase}], vehicles = [{unit, at_s, max_current, need_ah, "
         "stay_s}], random, mean_arrival_s, seed, time_scale}",
         0},
        {"building", GL_CFG_ARRAY, "[]",
         "Buildings (a site power meter and relays switching loads, config/profiles/building.toml): array of tables "
         "{name, port (required), bind, unit, base_kw, swing_kw, period_s, day_s, loads = [{name, kw}]}",
         0},
    };

    // The config, checked; throws Error. Used by validate() (`gridlet
    // check`) and by the constructor (`gridlet run`) alike.
    struct Settings {
        std::map<std::string, BcpmServerOptions> bcpm;
        std::map<std::string, EvseServerOptions> evse;
        std::map<std::string, BuildingServerOptions> building;
    };
    static Settings parse(const std::string& json) {
        auto cfg = nlohmann::json::parse(json, nullptr, false);
        if (cfg.is_discarded() || !cfg.is_object()) throw Error(GL_ERR_INVALID, "sim: config is not a JSON object");
        Settings out;
        std::set<int> ports;
        const auto take_port = [&](int port, const std::string& where) {
            if (port != 0 && !ports.insert(port).second)
                throw Error(GL_ERR_INVALID, where + ": port " + std::to_string(port) + " is used by another simulator");
        };
        if (cfg.contains("evse")) {
            if (!cfg["evse"].is_array()) throw Error(GL_ERR_INVALID, "sim: 'evse' must be an array of tables");
            for (size_t i = 0; i < cfg["evse"].size(); ++i) {
                std::string name;
                const std::string where = "sim: evse[" + std::to_string(i) + "]";
                auto opts = parse_evse(cfg["evse"][i], where, &name);
                if (out.evse.count(name)) throw Error(GL_ERR_INVALID, "sim: duplicate simulator name '" + name + "'");
                take_port(opts.port, where);
                out.evse[name] = opts;
            }
        }
        if (cfg.contains("building")) {
            if (!cfg["building"].is_array()) throw Error(GL_ERR_INVALID, "sim: 'building' must be an array of tables");
            for (size_t i = 0; i < cfg["building"].size(); ++i) {
                std::string name;
                const std::string where = "sim: building[" + std::to_string(i) + "]";
                auto opts = parse_building(cfg["building"][i], where, &name);
                if (out.building.count(name) || out.evse.count(name))
                    throw Error(GL_ERR_INVALID, "sim: duplicate simulator name '" + name + "'");
                take_port(opts.port, where);
                out.building[name] = opts;
            }
        }
        if (!cfg.contains("bcpm")) return out;
        const auto& arr = cfg["bcpm"];
        if (!arr.is_array()) throw Error(GL_ERR_INVALID, "sim: 'bcpm' must be an array of tables");
        for (size_t i = 0; i < arr.size(); ++i) {
            std::string name;
            const std::string where = "sim: bcpm[" + std::to_string(i) + "]";
            auto opts = parse_bcpm(arr[i], where, &name);
            if (out.bcpm.count(name) || out.evse.count(name) || out.building.count(name))
                throw Error(GL_ERR_INVALID, "sim: duplicate simulator name '" + name + "'");
            take_port(opts.port, where);
            out.bcpm[name] = opts;
        }
        return out;
    }

    static void validate(const Host& h) {
        try {
            parse(h.config_json());
        } catch (const std::exception& e) {
            h.config_problem("", e.what());
        }
    }

    explicit SimPlugin(Host h) : Plugin(h) {
        Settings s = parse(h.config_json());
        for (auto& [name, opts] : s.evse) evse_[name] = std::make_unique<EvseServer>(opts);
        for (auto& [name, opts] : s.bcpm) servers_[name] = std::make_unique<BcpmServer>(opts);
        for (auto& [name, opts] : s.building) buildings_[name] = std::make_unique<BuildingServer>(opts);
    }

    void start() override {
        for (auto& [name, s] : servers_) {
            std::string err = s->start();
            if (!err.empty()) throw Error(GL_ERR, "sim: " + name + ": " + err);
            host().info("sim: BCPM '" + name + "' serving Modbus TCP on " + s->options().bind + ":" +
                        std::to_string(s->port()) + " (" + std::to_string(s->panel_count()) + " panel(s))");
            host().subscribe(("cmd/" + name + "/").c_str());
            host().subscribe(("data/" + name + "/").c_str());
        }
        for (auto& [name, s] : evse_) {
            std::string err = s->start();
            if (!err.empty()) throw Error(GL_ERR, "sim: " + name + ": " + err);
            host().info("sim: EV site '" + name + "' serving Modbus TCP on " + s->options().bind + ":" +
                        std::to_string(s->port()) + " (" + std::to_string(s->options().stations.size()) +
                        " station(s), meter on unit " + std::to_string(s->options().meter_unit) + ")");
            host().subscribe(("cmd/" + name + "/").c_str());
        }
        for (auto& [name, s] : buildings_) {
            std::string err = s->start();
            if (!err.empty()) throw Error(GL_ERR, "sim: " + name + ": " + err);
            host().info("sim: building '" + name + "' serving Modbus TCP on " + s->options().bind + ":" +
                        std::to_string(s->port()) + " (site power meter and " +
                        std::to_string(s->options().loads.size()) + " relay load(s), unit " +
                        std::to_string(s->options().unit) + ")");
            host().subscribe(("cmd/" + name + "/").c_str());
            host().subscribe(("data/" + name + "/").c_str());
        }
    }

    void stop() override {
        for (auto& [name, s] : servers_) s->stop();
        for (auto& [name, s] : evse_) s->stop();
        for (auto& [name, s] : buildings_) s->stop();
    }

    // The faults of simulator `name` (BCPM or building), or nullptr.
    Faults* faults_of(const std::string& name) {
        if (auto it = servers_.find(name); it != servers_.end()) return &it->second->faults();
        if (auto it = buildings_.find(name); it != buildings_.end()) return &it->second->faults();
        return nullptr;
    }

    void on_command(const gl_command& cmd) override {
        std::string target = cmd.target ? cmd.target : "";
        auto slash = target.find('/');
        if (auto ev = evse_.find(target.substr(0, slash)); ev != evse_.end() && slash != std::string::npos) {
            std::string err = evse_command(*ev->second, target.substr(slash + 1), cmd.value, cmd.text ? cmd.text : "");
            host().reply_command(cmd.request_id, err.empty() ? GL_OK : GL_ERR_NOT_FOUND, err.empty() ? "" : "sim: " + err);
            return;
        }
        Faults* faults = slash == std::string::npos ? nullptr : faults_of(target.substr(0, slash));
        if (!faults) {
            host().reply_command(cmd.request_id, GL_ERR_NOT_FOUND, "sim: unknown target '" + target + "'");
            return;
        }
        std::string err = apply_fault(*faults, target.substr(slash + 1), cmd.value);
        host().reply_command(cmd.request_id, err.empty() ? GL_OK : GL_ERR_NOT_FOUND, err);
    }

    // A fault set by a published value (`gridlet publish bcpm_sim/fault/silent 1`):
    // the same points as the commands.
    void on_samples(const char*, const gl_sample* s, size_t n) override {
        for (size_t i = 0; i < n; ++i) {
            char buf[256];
            if (host().api()->series_name(host().ctx(), s[i].series_id, buf, sizeof buf) != GL_OK) continue;
            const std::string name = buf;
            const auto slash = name.find('/');
            Faults* faults = slash == std::string::npos ? nullptr : faults_of(name.substr(0, slash));
            if (!faults || name.find("/fault/") != slash) continue;
            std::string err = apply_fault(*faults, name.substr(slash + 1), s[i].value);
            if (!err.empty()) {
                host().warn(err);
            } else {
                host().info("sim: " + name + " = " + std::to_string(static_cast<int>(s[i].value)));
            }
        }
    }

    // Sets fault point `what` ("fault/silent", ...); "" or what is wrong.
    static std::string apply_fault(Faults& f, const std::string& what, double value) {
        int v = static_cast<int>(value);
        if (what == "fault/latency_ms") f.latency_ms = v;
        else if (what == "fault/exception_burst") f.exception_burst = v;
        else if (what == "fault/exception_code") f.exception_code = v;
        else if (what == "fault/malformed_burst") f.malformed_burst = v;
        else if (what == "fault/silent") f.silent = v != 0;
        else if (what == "fault/drop_connections") f.drop_connections = true;
        else if (what == "fault/drop_after_requests") f.drop_after_requests = v;
        else if (what == "fault/max_connections") f.max_connections = v;
        else
            return "sim: unknown point '" + what +
                   "' (fault/latency_ms, fault/exception_burst, fault/exception_code, "
                   "fault/malformed_burst, fault/silent, fault/drop_connections, "
                   "fault/drop_after_requests, fault/max_connections)";
        return {};
    }

private:
    std::map<std::string, std::unique_ptr<BcpmServer>> servers_;
    std::map<std::string, std::unique_ptr<EvseServer>> evse_;
    std::map<std::string, std::unique_ptr<BuildingServer>> buildings_;
};

}  // namespace
}  // namespace gridlet::sim

GRIDLET_PLUGIN(gridlet::sim::SimPlugin)

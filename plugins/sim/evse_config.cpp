#include "evse_config.h"

#include <gridlet/plugin.hpp>

#include <set>
#include <sstream>

namespace gridlet::sim {

namespace {

void only_keys(const nlohmann::json& j, const std::set<std::string>& known, const std::string& where) {
    if (!j.is_object()) throw Error(GL_ERR_INVALID, where + ": expected a table");
    for (auto& [k, v] : j.items()) {
        if (!known.count(k)) {
            std::string list;
            for (const auto& n : known) list += (list.empty() ? "" : ", ") + n;
            throw Error(GL_ERR_INVALID, where + ": unknown key '" + k + "' (" + list + ")");
        }
    }
}

template <class T>
T get(const nlohmann::json& j, const char* key, T def, const std::string& where) {
    if (!j.contains(key)) return def;
    try {
        return j.at(key).get<T>();
    } catch (const std::exception&) {
        throw Error(GL_ERR_INVALID, where + ": key '" + key + "' has the wrong type");
    }
}

uint8_t unit_of(const nlohmann::json& j, const char* key, const std::string& where, bool required) {
    if (required && !j.contains(key)) throw Error(GL_ERR_INVALID, where + ": '" + key + "' is required");
    int64_t u = get<int64_t>(j, key, 1, where);
    if (u < 1 || u > 247) throw Error(GL_ERR_INVALID, where + ": " + key + " must be 1..247");
    return static_cast<uint8_t>(u);
}

Vehicle vehicle_of(const nlohmann::json& j, const std::string& where) {
    Vehicle v;
    v.max_current = get<double>(j, "max_current", 32, where);
    v.need_ah = get<double>(j, "need_ah", 40, where);
    v.stay_s = get<double>(j, "stay_s", 8 * 3600, where);
    if (v.max_current <= 0 || v.need_ah <= 0 || v.stay_s <= 0)
        throw Error(GL_ERR_INVALID, where + ": max_current, need_ah and stay_s must be > 0");
    return v;
}

}  // namespace

EvseServerOptions parse_evse(const nlohmann::json& j, const std::string& where, std::string* name) {
    only_keys(j,
              {"name", "port", "bind", "meter_unit", "background", "daily_swing", "noise", "response_ms", "stations",
               "vehicles", "random", "mean_arrival_s", "seed", "time_scale"},
              where);
    EvseServerOptions o;
    if (!j.contains("port")) throw Error(GL_ERR_INVALID, where + ": 'port' is required");
    int64_t port = get<int64_t>(j, "port", 0, where);
    if (port < 0 || port > 65535) throw Error(GL_ERR_INVALID, where + ": port must be 0..65535");
    o.port = static_cast<uint16_t>(port);
    o.bind = get<std::string>(j, "bind", "127.0.0.1", where);
    o.meter_unit = unit_of(j, "meter_unit", where, false);
    if (!j.contains("meter_unit")) o.meter_unit = 100;
    if (j.contains("background")) {
        auto b = get<std::vector<double>>(j, "background", {}, where);
        if (b.size() != 3) throw Error(GL_ERR_INVALID, where + ": background must be [L1, L2, L3] in A");
        for (int p = 0; p < 3; ++p) o.background[p] = b[p];
    }
    o.daily_swing = get<double>(j, "daily_swing", 0, where);
    o.noise = get<double>(j, "noise", 0, where);
    if (o.daily_swing < 0 || o.daily_swing > 1 || o.noise < 0 || o.noise > 1)
        throw Error(GL_ERR_INVALID, where + ": daily_swing and noise must be 0..1");
    const double response_s = get<double>(j, "response_ms", 2000, where) / 1000;
    o.random_arrivals = get<bool>(j, "random", false, where);
    o.mean_arrival_s = get<double>(j, "mean_arrival_s", 3600, where);
    o.seed = static_cast<uint32_t>(get<int64_t>(j, "seed", 1, where));
    o.time_scale = get<double>(j, "time_scale", 1.0, where);
    if (o.time_scale <= 0 || o.mean_arrival_s <= 0) throw Error(GL_ERR_INVALID, where + ": time_scale and mean_arrival_s must be > 0");
    if (!j.contains("stations") || !j["stations"].is_array() || j["stations"].empty())
        throw Error(GL_ERR_INVALID, where + ": 'stations' is required (a list of {unit, rated_current, phases, phase})");
    std::set<uint8_t> units{o.meter_unit};
    for (size_t i = 0; i < j["stations"].size(); ++i) {
        const auto& s = j["stations"][i];
        const std::string w = where + ".stations[" + std::to_string(i) + "]";
        only_keys(s, {"unit", "rated_current", "phases", "phase"}, w);
        EvseStationOptions so;
        so.unit = unit_of(s, "unit", w, true);
        if (!units.insert(so.unit).second) throw Error(GL_ERR_INVALID, w + ": unit " + std::to_string(so.unit) + " is used twice");
        so.rated_current = get<double>(s, "rated_current", 32, w);
        if (so.rated_current < 6) throw Error(GL_ERR_INVALID, w + ": rated_current must be >= 6 A");
        so.phases = static_cast<int>(get<int64_t>(s, "phases", 3, w));
        if (so.phases != 1 && so.phases != 3) throw Error(GL_ERR_INVALID, w + ": phases must be 1 or 3");
        std::string ph = get<std::string>(s, "phase", "L1", w);
        if (ph != "L1" && ph != "L2" && ph != "L3") throw Error(GL_ERR_INVALID, w + ": phase must be L1, L2 or L3");
        so.phase = ph[1] - '0';
        so.response_s = response_s;
        o.stations.push_back(so);
    }
    if (j.contains("vehicles")) {
        if (!j["vehicles"].is_array()) throw Error(GL_ERR_INVALID, where + ": 'vehicles' must be a list");
        for (size_t i = 0; i < j["vehicles"].size(); ++i) {
            const auto& v = j["vehicles"][i];
            const std::string w = where + ".vehicles[" + std::to_string(i) + "]";
            only_keys(v, {"unit", "at_s", "max_current", "need_ah", "stay_s"}, w);
            ScheduledVehicle sv;
            sv.unit = unit_of(v, "unit", w, true);
            if (!units.count(sv.unit) || sv.unit == o.meter_unit) throw Error(GL_ERR_INVALID, w + ": no station with unit " + std::to_string(sv.unit));
            sv.at_s = get<double>(v, "at_s", 0, w);
            sv.vehicle = vehicle_of(v, w);
            o.schedule.push_back(sv);
        }
    }
    *name = get<std::string>(j, "name", "evse" + std::to_string(o.port), where);
    return o;
}

std::string evse_command(EvseServer& server, const std::string& what, double value, const std::string& text) {
    if (what.rfind("background/l", 0) == 0 && what.size() == 13 && what[12] >= '1' && what[12] <= '3') {
        server.set_background(what[12] - '1', value);
        return {};
    }
    const auto slash = what.find('/');
    if (what.rfind("station", 0) != 0 || slash == std::string::npos) return "unknown point '" + what + "'";
    int unit = 0;
    try {
        unit = std::stoi(what.substr(7, slash - 7));
    } catch (const std::exception&) {
        return "unknown point '" + what + "'";
    }
    const std::string op = what.substr(slash + 1);
    bool found = false;
    if (op == "arrive") {
        Vehicle v;
        v.max_current = value > 0 ? value : 32;
        std::istringstream in(text);
        std::string kv;
        while (in >> kv) {
            auto eq = kv.find('=');
            if (eq == std::string::npos) return "arrive: expected key=value, got '" + kv + "'";
            double x = std::atof(kv.c_str() + eq + 1);
            if (kv.compare(0, eq, "need_ah") == 0) v.need_ah = x;
            else if (kv.compare(0, eq, "stay_s") == 0) v.stay_s = x;
            else return "arrive: unknown key '" + kv.substr(0, eq) + "' (need_ah, stay_s)";
        }
        found = server.arrive(static_cast<uint8_t>(unit), v);
    } else if (op == "depart") {
        found = server.depart(static_cast<uint8_t>(unit));
    } else if (op == "failure") {
        found = server.set_failure(static_cast<uint8_t>(unit), value != 0);
    } else if (op == "silent") {
        found = server.set_silent(static_cast<uint8_t>(unit), value != 0);
    } else {
        return "unknown point '" + what + "' (stationN/arrive, stationN/depart, stationN/failure, stationN/silent, background/l1..l3)";
    }
    return found ? "" : "no station with unit " + std::to_string(unit);
}

}  // namespace gridlet::sim

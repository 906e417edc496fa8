#include "script/plant.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "evse_model.h"

namespace gridlet::script {

namespace {

using json = nlohmann::json;
constexpr int64_t kStepMs = 100;  // model resolution

// Registers of the simulator's station (evse_model.h).
constexpr uint16_t kSetpointRegister = 4;
constexpr uint16_t kEnableRegister = 5;

const char* modbus_exception_text(uint8_t code) {
    switch (code) {
        case 2: return "illegal data address";
        case 3: return "illegal data value";
        case 4: return "server device failure";
        default: return "exception";
    }
}

}  // namespace

struct Plant::Station {
    sim::EvseStationOptions options;
    std::unique_ptr<sim::EvseStation> model;
    int64_t poll_ms = 1000;
    int64_t next_poll_ms = 0;
};

Expected<PlantChange> parse_plant_change(const json& line,
                                         const std::function<Expected<int64_t>(const json&, const char*)>& duration) {
    PlantChange c;
    const bool station = line.contains("station");
    const char* kind = station ? "station" : line.contains("load") ? "load" : line.contains("power_meter") ? "power_meter" : "meter";
    c.what = station                        ? PlantChange::What::station
             : std::string(kind) == "load"  ? PlantChange::What::load
             : std::string(kind) == "meter" ? PlantChange::What::meter
                                            : PlantChange::What::power_meter;
    const json& name = line[kind];
    if (!name.is_string() || name.get<std::string>().empty())
        return Status::invalid(std::string("'") + kind + "' must be a name");
    c.name = name.get<std::string>();
    auto number = [&](const char* key, double lo, double hi) -> Expected<std::optional<double>> {
        if (!line.contains(key)) return std::optional<double>();
        if (!line[key].is_number() || line[key].get<double>() < lo || line[key].get<double>() > hi) {
            char range[64];
            std::snprintf(range, sizeof range, "%g..%g", lo, hi);
            return Status::invalid(std::string("'") + key + "' must be a number " + range);
        }
        return std::optional<double>(line[key].get<double>());
    };
    auto ms = [&](const char* key) -> Expected<std::optional<int64_t>> {
        if (!line.contains(key)) return std::optional<int64_t>();
        auto d = duration(line[key], key);
        if (!d) return d.status();
        if (*d < 0) return Status::invalid(std::string("'") + key + "' must not be negative");
        return std::optional<int64_t>(*d);
    };
    auto poll = ms("poll");
    if (!poll) return poll.status();
    c.poll_ms = *poll;
    if (c.poll_ms && *c.poll_ms < 100) return Status::invalid("'poll' must be at least 100ms");
    if (c.what == PlantChange::What::load) {
        if (c.name.find('/') == std::string::npos) return Status::invalid("'load' must be the point that switches it, \"device/point\"");
        auto kw = number("kw", 0, 100000);
        auto respond = ms("respond");
        if (!kw) return kw.status();
        if (!respond) return respond.status();
        c.kw = *kw;
        c.respond_ms = *respond;
        if (line.contains("on")) {
            if (!line["on"].is_boolean()) return Status::invalid("'on' must be true or false");
            c.on = line["on"].get<bool>();
        }
        return c;
    }
    if (c.what == PlantChange::What::power_meter) {
        auto others = number("others", 0, 1e7);
        if (!others) return others.status();
        c.others = *others;
        if (line.contains("silent")) {
            if (!line["silent"].is_boolean()) return Status::invalid("'silent' must be true or false");
            c.silent = line["silent"].get<bool>();
        }
        return c;
    }
    if (station) {
        auto rated = number("rated", 6, 1000);
        auto respond = ms("respond");
        auto phases = number("phases", 1, 3);
        auto phase = number("phase", 1, 3);
        for (const Status& st : {rated.status(), respond.status(), phases.status(), phase.status()})
            if (!st) return st;
        c.rated = *rated;
        c.respond_ms = *respond;
        if (*phases) {
            if (**phases != 1 && **phases != 3) return Status::invalid("'phases' must be 1 or 3");
            c.phases = static_cast<int>(**phases);
        }
        if (*phase) c.phase = static_cast<int>(**phase);
        if (line.contains("vehicle")) {
            c.vehicle_given = true;
            const json& v = line["vehicle"];
            if (!v.is_null()) {
                if (!v.is_object()) return Status::invalid("'vehicle' must be {\"max\": A, \"need_ah\": Ah} or null");
                for (const auto& [k, x] : v.items())
                    if (k != "max" && k != "need_ah" && k != "ignores_setpoint")
                        return Status::invalid("unknown key '" + k + "' in \"vehicle\" (max, need_ah, ignores_setpoint)");
                if (v.contains("ignores_setpoint")) {
                    if (!v["ignores_setpoint"].is_boolean()) return Status::invalid("'ignores_setpoint' must be true or false");
                    c.ignores_setpoint = v["ignores_setpoint"].get<bool>();
                }
                const double max = v.value("max", 32.0), need = v.value("need_ah", 40.0);
                if (!(max >= 0 && max <= 1000) || !(need >= 0)) return Status::invalid("'vehicle': max 0..1000 A, need_ah >= 0");
                c.vehicle = std::make_pair(max, need);
            }
        }
    } else {
        auto others = number("others", 0, 100000);
        auto phases = number("phases", 1, 3);
        if (!others) return others.status();
        if (!phases) return phases.status();
        c.others = *others;
        if (*phases) {
            if (**phases != 1 && **phases != 3) return Status::invalid("'phases' must be 1 or 3");
            c.phases = static_cast<int>(**phases);
        }
    }
    return c;
}

Plant::Plant() = default;
Plant::~Plant() = default;

Status Plant::apply(const PlantChange& c, int64_t now_ms) {
    advance_to(now_ms);
    if (c.what == PlantChange::What::load) {
        Load& l = loads_[c.name];
        if (c.kw) l.kw = *c.kw;
        if (c.respond_ms) l.respond_ms = *c.respond_ms;
        if (c.on) {
            l.on = *c.on;
            l.switching.reset();
        }
        record_meter();
        return Status::ok();
    }
    if (c.what == PlantChange::What::power_meter) {
        if (!power_meter_) {
            power_meter_ = PowerMeter{};
            power_meter_->series = c.name;
            power_meter_->next_poll_ms = now_ms;
        } else if (power_meter_->series != c.name) {
            return Status::invalid("one power meter per timeline ('" + power_meter_->series + "' already)");
        }
        if (c.poll_ms) power_meter_->poll_ms = *c.poll_ms;
        if (c.others) power_meter_->others = *c.others;
        if (c.silent) power_meter_->silent = *c.silent;
        record_meter();
        return Status::ok();
    }
    if (c.what == PlantChange::What::meter) {
        if (!meter_) {
            meter_ = Meter{};
            meter_->series = c.name;
            meter_->next_poll_ms = now_ms;
        } else if (meter_->series != c.name) {
            return Status::invalid("one meter per timeline ('" + meter_->series + "' already)");
        }
        if (c.poll_ms) meter_->poll_ms = *c.poll_ms;
        if (c.others) meter_->others = *c.others;
        if (c.phases) meter_->phases = *c.phases;
        record_meter();
        return Status::ok();
    }
    auto& st = stations_[c.name];
    if (!st) {
        st = std::make_unique<Station>();
        st->next_poll_ms = now_ms;
    }
    // A change of what the model is built from makes a new model.
    const bool remake = !st->model || c.rated || c.phases || c.phase || c.respond_ms;
    if (c.rated) st->options.rated_current = *c.rated;
    if (c.phases) st->options.phases = *c.phases;
    if (c.phase) st->options.phase = *c.phase;
    if (c.respond_ms) st->options.response_s = static_cast<double>(*c.respond_ms) / 1000.0;
    if (c.poll_ms) st->poll_ms = *c.poll_ms;
    if (remake) {
        if (st->model && st->model->has_vehicle())
            return Status::invalid("station '" + c.name + "': change rated, phases, phase or respond before a vehicle arrives");
        st->model = std::make_unique<sim::EvseStation>(st->options);
    }
    if (c.vehicle_given) {
        if (c.vehicle) {
            sim::Vehicle v;
            v.max_current = c.vehicle->first;
            v.need_ah = c.vehicle->second;
            v.stay_s = 1e9;
            v.ignores_setpoint = c.ignores_setpoint;
            st->model->arrive(v);
        } else {
            st->model->depart();
        }
    }
    record_meter();
    return Status::ok();
}

double Plant::phase_current(int phase) const {
    double amps = meter_ ? meter_->others : 0;
    for (const auto& [name, st] : stations_) {
        if (!st->model) continue;
        if (st->options.phases == 3 || st->options.phase == phase) amps += st->model->current();
    }
    return amps;
}

// kW: the power meter's others, the loads that are on, the stations at
// 230 V a phase.
double Plant::site_power() const {
    double kw = power_meter_ ? power_meter_->others : 0;
    for (const auto& [name, l] : loads_)
        if (l.on) kw += l.kw;
    for (const auto& [name, st] : stations_)
        if (st->model) kw += st->model->current() * 230.0 * st->options.phases / 1000.0;
    return kw;
}

void Plant::record_meter() {
    const auto keep = [this](std::vector<std::pair<int64_t, double>>& trace, double v) {
        if (!trace.empty() && trace.back().second == v) return;
        if (!trace.empty() && trace.back().first == now_ms_) trace.back().second = v;
        else trace.emplace_back(now_ms_, v);
    };
    double highest = 0;
    for (int p = 1; p <= 3; ++p) highest = std::max(highest, phase_current(p));
    keep(trace_, highest);
    if (power_meter_) keep(power_trace_, site_power());
}

void Plant::advance_to(int64_t now_ms) {
    if (empty()) {
        now_ms_ = std::max(now_ms_, now_ms);
        return;
    }
    while (now_ms_ < now_ms) {
        const int64_t step = std::min(kStepMs, now_ms - now_ms_);
        for (auto& [name, st] : stations_)
            if (st->model) st->model->advance(static_cast<double>(step) / 1000.0);
        now_ms_ += step;
        for (auto& [name, l] : loads_)
            if (l.switching && l.switching->first <= now_ms_) {
                l.on = l.switching->second;
                l.switching.reset();
            }
        record_meter();
    }
}

std::optional<int64_t> Plant::next_poll_ms() const {
    std::optional<int64_t> next;
    if (meter_) next = meter_->next_poll_ms;
    if (power_meter_ && (!next || power_meter_->next_poll_ms < *next)) next = power_meter_->next_poll_ms;
    for (const auto& [name, st] : stations_)
        if (st->model && (!next || st->next_poll_ms < *next)) next = st->next_poll_ms;
    return next;
}

std::vector<std::pair<std::string, double>> Plant::take_polls(int64_t now_ms) {
    advance_to(now_ms);
    std::vector<std::pair<std::string, double>> out;
    for (auto& [name, st] : stations_) {
        if (!st->model || st->next_poll_ms > now_ms) continue;
        while (st->next_poll_ms <= now_ms) st->next_poll_ms += st->poll_ms;
        uint16_t regs[9] = {};
        (void)st->model->read_registers(3, 0, 9, regs);
        out.emplace_back(name + "/state", regs[0]);
        out.emplace_back(name + "/current/l1", regs[6] / 10.0);
        if (st->options.phases == 3) {
            out.emplace_back(name + "/current/l2", regs[7] / 10.0);
            out.emplace_back(name + "/current/l3", regs[8] / 10.0);
        }
    }
    if (meter_ && meter_->next_poll_ms <= now_ms) {
        while (meter_->next_poll_ms <= now_ms) meter_->next_poll_ms += meter_->poll_ms;
        // As the meter registers hold them: tenths of an ampere.
        auto tenths = [](double a) { return std::round(a * 10) / 10; };
        if (meter_->phases == 3) {
            for (int p = 1; p <= 3; ++p) out.emplace_back(meter_->series + "/l" + std::to_string(p), tenths(phase_current(p)));
        } else {
            double highest = 0;
            for (int p = 1; p <= 3; ++p) highest = std::max(highest, phase_current(p));
            out.emplace_back(meter_->series, tenths(highest));
        }
    }
    if (power_meter_ && power_meter_->next_poll_ms <= now_ms) {
        while (power_meter_->next_poll_ms <= now_ms) power_meter_->next_poll_ms += power_meter_->poll_ms;
        if (!power_meter_->silent) out.emplace_back(power_meter_->series, std::round(site_power() * 1000) / 1000);  // W
    }
    return out;
}

std::optional<CommandReply> Plant::command(const CommandRequest& request, int64_t now_ms) {
    if (auto l = loads_.find(request.target); l != loads_.end()) {
        advance_to(now_ms);
        l->second.switching = std::make_pair(now_ms + l->second.respond_ms, request.value >= 0.5);
        return CommandReply{request.request_id, GL_OK, ""};
    }
    const size_t slash = request.target.find('/');
    if (slash == std::string::npos) return std::nullopt;
    auto it = stations_.find(request.target.substr(0, slash));
    if (it == stations_.end() || !it->second->model) return std::nullopt;
    const std::string point = request.target.substr(slash + 1);
    uint16_t reg = 0;
    if (point == "current_setpoint") reg = kSetpointRegister;
    else if (point == "enable") reg = kEnableRegister;
    else return CommandReply{request.request_id, GL_ERR_NOT_FOUND, "station '" + it->first + "' has no point '" + point + "'"};
    advance_to(now_ms);
    const double raw = reg == kSetpointRegister ? request.value * 10 : request.value;
    if (!(raw >= 0 && raw <= 65535)) return CommandReply{request.request_id, GL_ERR, "illegal data value"};
    const auto word = static_cast<uint16_t>(std::lround(raw));
    const uint8_t code = it->second->model->write_registers(6, reg, 1, &word);
    if (code != 0) return CommandReply{request.request_id, GL_ERR, modbus_exception_text(code)};
    return CommandReply{request.request_id, GL_OK, ""};
}

}  // namespace gridlet::script

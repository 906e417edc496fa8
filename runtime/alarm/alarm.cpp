#include "alarm/alarm.h"

#include <cmath>

#include "core/pattern.h"

namespace gridlet::alarm {

const char* criticality_name(Criticality c) noexcept {
    switch (c) {
        case Criticality::information: return "information";
        case Criticality::non_critical: return "non_critical";
        case Criticality::critical: return "critical";
    }
    return "?";
}

Expected<Criticality> parse_criticality(std::string_view name) {
    if (name == "information" || name == "info") return Criticality::information;
    if (name == "non_critical" || name == "non critical") return Criticality::non_critical;
    if (name == "critical") return Criticality::critical;
    return Status::invalid("criticality '" + std::string(name) + "' (known: information, non_critical, critical)");
}

const char* alarm_type_name(AlarmType t) noexcept {
    switch (t) {
        case AlarmType::alarm: return "alarm";
        case AlarmType::system: return "system";
        case AlarmType::power_quality: return "power_quality";
    }
    return "?";
}

Expected<AlarmType> parse_alarm_type(std::string_view name) {
    if (name == "alarm") return AlarmType::alarm;
    if (name == "system") return AlarmType::system;
    if (name == "power_quality") return AlarmType::power_quality;
    return Status::invalid("alarm type '" + std::string(name) + "' (known: alarm, system, power_quality)");
}

const char* alarm_status_name(AlarmStatus s) noexcept {
    switch (s) {
        case AlarmStatus::active_unacknowledged: return "active_unacknowledged";
        case AlarmStatus::active_acknowledged: return "active_acknowledged";
        case AlarmStatus::finished_unacknowledged: return "finished_unacknowledged";
        case AlarmStatus::finished_acknowledged: return "finished_acknowledged";
    }
    return "?";
}

AlarmStatus Alarm::status() const noexcept {
    if (active()) return ack ? AlarmStatus::active_acknowledged : AlarmStatus::active_unacknowledged;
    return ack ? AlarmStatus::finished_acknowledged : AlarmStatus::finished_unacknowledged;
}

namespace {
nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }
nlohmann::json time_or_null(int64_t ms) { return ms != 0 ? nlohmann::json(ms) : nlohmann::json(); }

template <typename T>
Status get_field(const nlohmann::json& j, const char* key, T& out) {
    auto it = j.find(key);
    if (it == j.end()) return Status::corruption(std::string("alarm record: no field '") + key + "'");
    try {
        out = it->get<T>();
    } catch (const nlohmann::json::exception&) {
        return Status::corruption(std::string("alarm record: field '") + key + "' has the wrong type");
    }
    return Status::ok();
}
}  // namespace

nlohmann::json to_json(const Alarm& a) {
    nlohmann::json j = {{"id", a.id},
                        {"key", a.key},
                        {"name", a.name},
                        {"source", a.source},
                        {"series", a.series},
                        {"category", a.category},
                        {"origin", a.origin},
                        {"condition", a.condition},
                        {"message", a.message},
                        {"type", alarm_type_name(a.type)},
                        {"criticality", criticality_name(a.criticality)},
                        {"latching", a.latching},
                        {"status", alarm_status_name(a.status())},
                        {"start_ms", a.start_ms},
                        {"end_ms", time_or_null(a.end_ms)},
                        {"returned_ms", time_or_null(a.returned_ms)},
                        {"value_start", number_or_null(a.value_start)},
                        {"value_extreme", number_or_null(a.value_extreme)},
                        {"detail", a.detail}};
    j["ack"] = a.ack ? nlohmann::json{{"by", a.ack->by}, {"at_ms", a.ack->at_ms}, {"comment", a.ack->comment}}
                     : nlohmann::json();
    return j;
}

Expected<Alarm> alarm_from_json(const nlohmann::json& j) {
    if (!j.is_object()) return Status::corruption("alarm record: not a JSON object");
    Alarm a;
    std::string type, crit;
    for (Status st : {get_field(j, "id", a.id), get_field(j, "key", a.key), get_field(j, "name", a.name),
                      get_field(j, "source", a.source), get_field(j, "series", a.series),
                      get_field(j, "category", a.category), get_field(j, "origin", a.origin),
                      get_field(j, "condition", a.condition), get_field(j, "message", a.message),
                      get_field(j, "type", type), get_field(j, "criticality", crit),
                      get_field(j, "latching", a.latching), get_field(j, "start_ms", a.start_ms)})
        if (!st) return st;
    auto t = parse_alarm_type(type);
    if (!t) return Status::corruption("alarm record: " + t.status().message());
    a.type = *t;
    auto c = parse_criticality(crit);
    if (!c) return Status::corruption("alarm record: " + c.status().message());
    a.criticality = *c;
    const auto opt_time = [&](const char* k) -> int64_t {
        auto it = j.find(k);
        return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
    };
    const auto opt_number = [&](const char* k) -> double {
        auto it = j.find(k);
        return it != j.end() && it->is_number() ? it->get<double>() : std::numeric_limits<double>::quiet_NaN();
    };
    a.end_ms = opt_time("end_ms");
    a.returned_ms = opt_time("returned_ms");
    a.value_start = opt_number("value_start");
    a.value_extreme = opt_number("value_extreme");
    if (auto it = j.find("ack"); it != j.end() && it->is_object()) {
        Acknowledgement ack;
        for (Status st : {get_field(*it, "by", ack.by), get_field(*it, "at_ms", ack.at_ms),
                          get_field(*it, "comment", ack.comment)})
            if (!st) return st;
        a.ack = std::move(ack);
    }
    if (auto it = j.find("detail"); it != j.end() && it->is_object()) a.detail = *it;
    return a;
}

bool AlarmFilter::matches(const Alarm& a) const noexcept {
    if (open && *open != (a.active() || !a.ack)) return false;
    if (active && *active != a.active()) return false;
    if (acknowledged && *acknowledged != a.ack.has_value()) return false;
    if (min_criticality && a.criticality < *min_criticality) return false;
    if (!source_pattern.empty() && !pattern_match(source_pattern, a.source)) return false;
    if (!category.empty() && category != a.category) return false;
    if (type && *type != a.type) return false;
    return a.start_ms >= from_ms && a.start_ms < to_ms;
}

Status apply_status_filter(std::string_view s, AlarmFilter& f) {
    if (s == "all") return Status::ok();
    if (s == "open") f.open = true;  // active, or finished and not acknowledged
    else if (s == "active") f.active = true;
    else if (s == "finished") f.active = false;
    else if (s == "unacknowledged") f.acknowledged = false;
    else if (s == "acknowledged") f.acknowledged = true;
    else if (s == "active_unacknowledged") f.active = true, f.acknowledged = false;
    else if (s == "active_acknowledged") f.active = true, f.acknowledged = true;
    else if (s == "finished_unacknowledged") f.active = false, f.acknowledged = false;
    else if (s == "finished_acknowledged") f.active = false, f.acknowledged = true;
    else
        return Status::invalid("status '" + std::string(s) +
                               "' (known: open, active, finished, unacknowledged, acknowledged, active_unacknowledged, "
                               "active_acknowledged, finished_unacknowledged, finished_acknowledged, all)");
    return Status::ok();
}

}  // namespace gridlet::alarm

#include "sensor_profile.h"

#include <toml++/toml.h>

#include <cmath>
#include <ctime>
#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "toml_syntax.h"

namespace gridlet::mqtt {

namespace {

[[noreturn]] void fail(const std::string& file, const toml::node& n, const std::string& what) {
    throw std::runtime_error(file + ":" + std::to_string(n.source().begin.line) + ": " + what);
}

void check_keys(const std::string& file, const toml::table& t, const std::set<std::string>& known, const char* where) {
    for (const auto& [k, v] : t)
        if (!known.count(std::string(k.str()))) {
            std::string list;
            for (const std::string& x : known) list += (list.empty() ? "" : ", ") + x;
            fail(file, v, "unknown key '" + std::string(k.str()) + "' in " + where + " (known: " + list + ")");
        }
}

std::string text(const std::string& file, const toml::table& t, const char* key, const std::string& def) {
    const toml::node* n = t.get(key);
    if (!n) return def;
    if (!n->is_string()) fail(file, *n, std::string("'") + key + "' must be a string");
    return std::string(*n->value<std::string>());
}

std::optional<double> number(const std::string& file, const toml::table& t, const char* key) {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    if (auto d = n->value<double>()) return *d;
    fail(file, *n, std::string("'") + key + "' must be a number");
}

// Seconds since 1970 of "YYYY-MM-DDTHH:MM:SS[.fff](Z|+hh:mm|-hh:mm)", or nullopt.
std::optional<int64_t> parse_iso_ms(std::string_view s) {
    int y, mo, d, h, mi, sec;
    char tail[40] = {0};
    const std::string str(s.substr(0, 64));
    if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%39s", &y, &mo, &d, &h, &mi, &sec, tail) < 6) return std::nullopt;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
    std::string rest = tail;
    int64_t ms = 0;
    if (!rest.empty() && rest[0] == '.') {
        size_t i = 1;
        int64_t frac = 0, digits = 0;
        while (i < rest.size() && std::isdigit(static_cast<unsigned char>(rest[i]))) {
            if (digits < 3) frac = frac * 10 + (rest[i] - '0'), ++digits;
            ++i;
        }
        while (digits < 3) frac *= 10, ++digits;
        ms = frac;
        rest = rest.substr(i);
    }
    int64_t offset_s = 0;
    if (rest == "Z" || rest == "z") {
        offset_s = 0;
    } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
        const int oh = std::atoi(rest.substr(1, 2).c_str()), om = std::atoi(rest.substr(4, 2).c_str());
        offset_s = (rest[0] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    } else {
        return std::nullopt;  // a time without its offset is ambiguous: refused
    }
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    const int64_t t = static_cast<int64_t>(timegm(&tm));
    const int64_t out = (t - offset_s) * 1000 + ms;
    if (out <= 0) return std::nullopt;  // before 1970: not a sensor's time
    return out;
}

}  // namespace

std::string field_pointer(std::string_view field) {
    if (field.empty() || field[0] == '/') return std::string(field);
    std::string out = "/";
    for (char c : field) {
        if (c == '.') out += '/';
        else if (c == '~') out += "~0";
        else if (c == '/') out += "~1";
        else out += c;
    }
    return out;
}

SensorProfile load_sensor_profile(const std::string& path) {
    toml::table root;
    try {
        root = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
        throw std::runtime_error(path + ":" + std::to_string(e.source().begin.line) + ": " +
                                 toml_syntax_message(e.description()));
    }
    SensorProfile p;
    p.file = path;
    check_keys(path, root, {"sensor_profile", "points"}, "the top level");
    const toml::table* head = root.get_as<toml::table>("sensor_profile");
    if (!head) throw std::runtime_error(path + ":1: missing [sensor_profile] table (name, ...)");
    check_keys(path, *head, {"name", "description", "timestamp", "timestamp_format", "quality", "offline_after_s"},
               "[sensor_profile]");
    p.name = text(path, *head, "name", "");
    if (p.name.empty()) fail(path, *head, "[sensor_profile] needs a non-empty 'name'");
    p.description = text(path, *head, "description", "");
    p.timestamp_field = field_pointer(text(path, *head, "timestamp", ""));
    const std::string tf = text(path, *head, "timestamp_format", "epoch_ms");
    if (tf == "epoch_ms") p.timestamp_format = TimeFormat::epoch_ms;
    else if (tf == "epoch_s") p.timestamp_format = TimeFormat::epoch_s;
    else if (tf == "iso8601") p.timestamp_format = TimeFormat::iso8601;
    else fail(path, *head->get("timestamp_format"), "timestamp_format must be epoch_ms, epoch_s or iso8601");
    p.quality_field = field_pointer(text(path, *head, "quality", ""));
    if (auto o = number(path, *head, "offline_after_s")) {
        if (*o < 1 || *o > 30 * 86400) fail(path, *head->get("offline_after_s"), "offline_after_s must be 1..2592000");
        p.offline_after_s = static_cast<int64_t>(*o);
    }
    const toml::array* points = root.get_as<toml::array>("points");
    if (!points || points->empty()) fail(path, *head, "a sensor profile needs [[points]]");
    std::set<std::string> names;
    for (const toml::node& n : *points) {
        const toml::table* t = n.as_table();
        if (!t) fail(path, n, "each [[points]] must be a table");
        check_keys(path, *t,
                   {"name", "field", "unit", "kind", "states", "description", "scale", "offset", "min", "max", "map",
                    "thresholds"},
                   "[[points]]");
        SensorPoint sp;
        sp.name = text(path, *t, "name", "");
        if (sp.name.empty() || sp.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/") !=
                                   std::string::npos)
            fail(path, *t, "a point needs a 'name' of letters, digits, '_', '.', '-' and '/'");
        if (!names.insert(sp.name).second) fail(path, *t, "point '" + sp.name + "' is named twice");
        if (sp.name == "status")
            fail(path, *t->get("name"), "a point cannot be named 'status': <device>/status is the device's "
                                        "unknown/online/offline state (name it e.g. 'state' or 'run_status')");
        sp.field = field_pointer(text(path, *t, "field", ""));
        if (sp.field.empty()) fail(path, *t, "point '" + sp.name + "' needs a 'field' (JSON pointer or dotted path)");
        sp.unit = text(path, *t, "unit", "");
        const std::string kind = text(path, *t, "kind", "gauge");
        if (kind == "gauge") sp.kind = GL_SERIES_GAUGE;
        else if (kind == "counter") sp.kind = GL_SERIES_COUNTER;
        else if (kind == "state") sp.kind = GL_SERIES_STATE;
        else fail(path, *t->get("kind"), "kind must be gauge, counter or state");
        sp.states = text(path, *t, "states", "");
        sp.description = text(path, *t, "description", "");
        sp.scale = number(path, *t, "scale").value_or(1.0);
        sp.offset = number(path, *t, "offset").value_or(0.0);
        sp.min = number(path, *t, "min");
        sp.max = number(path, *t, "max");
        if (sp.min && sp.max && *sp.min > *sp.max)
            fail(path, *t->get("min"), "point '" + sp.name + "': min is above max");
        if (const toml::node* m = t->get("map")) {
            const toml::table* mt = m->as_table();
            if (!mt) fail(path, *m, "'map' must be a table of text = number");
            for (const auto& [k, v] : *mt) {
                auto d = v.value<double>();
                if (!d) fail(path, v, "'map' values must be numbers");
                sp.map[std::string(k.str())] = *d;
            }
        }
        if (const toml::node* th = t->get("thresholds")) {
            const toml::array* a = th->as_array();
            if (!a || a->empty()) fail(path, *th, "'thresholds' must be a non-empty array of numbers");
            for (const toml::node& x : *a) {
                auto d = x.value<double>();
                if (!d) fail(path, x, "'thresholds' must hold numbers");
                if (!sp.thresholds.empty() && *d <= sp.thresholds.back()) fail(path, x, "'thresholds' must ascend");
                sp.thresholds.push_back(*d);
            }
        }
        p.points.push_back(std::move(sp));
    }
    return p;
}

Decoded decode(const SensorProfile& p, std::string_view payload, int64_t arrival_ms) {
    Decoded out;
    if (payload.size() > kMaxPayloadBytes) {
        out.refused = "payload of " + std::to_string(payload.size()) + " bytes is larger than " +
                      std::to_string(kMaxPayloadBytes);
        return out;
    }
    const nlohmann::json j = nlohmann::json::parse(payload, nullptr, false);
    if (j.is_discarded()) {
        out.refused = "not JSON";
        return out;
    }
    if (!j.is_object()) {
        out.refused = "not a JSON object";
        return out;
    }
    auto at = [&](const std::string& pointer) -> const nlohmann::json* {
        try {
            const nlohmann::json::json_pointer ptr(pointer);
            return j.contains(ptr) ? &j.at(ptr) : nullptr;
        } catch (const std::exception&) {
            return nullptr;
        }
    };
    int64_t ts = arrival_ms;
    if (!p.timestamp_field.empty()) {
        const nlohmann::json* t = at(p.timestamp_field);
        if (!t) {
            out.refused = "no timestamp at " + p.timestamp_field;
            return out;
        }
        std::optional<int64_t> got;
        if (p.timestamp_format == TimeFormat::iso8601) {
            if (t->is_string()) got = parse_iso_ms(t->get<std::string>());
        } else if (t->is_number() && std::isfinite(t->get<double>())) {
            const double v = t->get<double>();
            const double ms = p.timestamp_format == TimeFormat::epoch_s ? v * 1000.0 : v;
            if (ms > 0 && ms < 9.0e15) got = static_cast<int64_t>(std::llround(ms));
        }
        if (!got) {
            out.refused = "the timestamp at " + p.timestamp_field + " is not " +
                          (p.timestamp_format == TimeFormat::iso8601 ? std::string("an ISO-8601 time with its offset")
                           : p.timestamp_format == TimeFormat::epoch_s ? std::string("seconds since 1970 (after it)")
                                                                       : std::string("milliseconds since 1970 (after it)"));
            return out;
        }
        ts = *got;
    }
    uint8_t quality = GL_QUALITY_GOOD;
    if (!p.quality_field.empty()) {
        const nlohmann::json* q = at(p.quality_field);
        const bool good = !q || (q->is_boolean() && q->get<bool>()) ||
                          (q->is_string() && (q->get<std::string>() == "good" || q->get<std::string>() == "ok")) ||
                          (q->is_number() && q->get<double>() == GL_QUALITY_GOOD);
        quality = good ? GL_QUALITY_GOOD : GL_QUALITY_BAD;
    }
    for (size_t i = 0; i < p.points.size(); ++i) {
        const SensorPoint& sp = p.points[i];
        const nlohmann::json* v = at(sp.field);
        if (!v || v->is_null()) continue;  // sensors send what changed: an absent field is no error
        double raw = 0;
        if (v->is_boolean() && (sp.kind == GL_SERIES_STATE || sp.map.count(v->get<bool>() ? "true" : "false"))) {
            auto m = sp.map.find(v->get<bool>() ? "true" : "false");
            raw = m != sp.map.end() ? m->second : (v->get<bool>() ? 1 : 0);
        } else if (v->is_number()) {
            raw = v->get<double>();
        } else if (v->is_string() && !sp.map.empty()) {
            auto m = sp.map.find(v->get<std::string>());
            if (m == sp.map.end()) {
                out.invalid.push_back(sp.name + ": '" + v->get<std::string>().substr(0, 40) + "' is not one of its map");
                continue;
            }
            raw = m->second;
        } else {
            out.invalid.push_back(sp.name + ": " + std::string(v->type_name()) + " where a number is expected");
            continue;
        }
        if (!std::isfinite(raw)) {
            out.invalid.push_back(sp.name + ": not a finite number");
            continue;
        }
        double value = raw * sp.scale + sp.offset;
        if ((sp.min && value < *sp.min) || (sp.max && value > *sp.max)) {
            out.invalid.push_back(sp.name + ": " + std::to_string(value) + " is outside its range");
            continue;
        }
        if (!sp.thresholds.empty()) {
            double cls = 0;
            for (double t : sp.thresholds) cls += value >= t ? 1 : 0;
            value = cls;
        }
        out.values.push_back({i, ts, value, quality});
    }
    return out;
}

}  // namespace gridlet::mqtt

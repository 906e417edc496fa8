#include "script/timeline.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "script/lua_support.h"

namespace gridlet::script {

namespace {

using json = nlohmann::json;

struct Parser {
    std::string name;
    const TimeZone* zone = nullptr;
    int64_t start = 0;
    bool have_start = false;
    size_t line = 0;

    Status fail(const std::string& what) const { return Status::invalid(name + ":" + std::to_string(line) + ": " + what); }

    Expected<int64_t> time(const json& v, const char* key) const {
        if (v.is_number()) return static_cast<int64_t>(v.get<double>());
        if (!v.is_string()) return fail(std::string("'") + key + "' must be an ISO time, UTC ms or \"+duration\"");
        const std::string s = v.get<std::string>();
        if (!s.empty() && s[0] == '+') {
            if (!have_start) return fail("relative time '" + s + "' needs a \"start\" in the header");
            auto d = parse_duration_ms(s.substr(1), true);
            if (!d) return fail(d.status().message());
            return start + *d;
        }
        auto t = zone->parse_iso(s);
        if (!t) return fail(t.status().message());
        return *t;
    }

    Expected<int64_t> duration(const json& v, const char* key) const {
        if (v.is_number()) return static_cast<int64_t>(v.get<double>() * 1000);
        if (!v.is_string()) return fail(std::string("'") + key + "' must be a duration (\"10s\") or seconds");
        std::string s = v.get<std::string>();
        bool negative = !s.empty() && s[0] == '-';
        auto d = parse_duration_ms(negative ? s.substr(1) : s);
        if (!d) return fail(d.status().message());
        return negative ? -*d : *d;
    }

    Status sample(const std::string& series, const json& value, int64_t t, int quality, TimelineItem& item) const {
        if (!value.is_number() && !value.is_boolean()) return fail("value of '" + series + "' must be a number");
        double v = value.is_boolean() ? (value.get<bool>() ? 1.0 : 0.0) : value.get<double>();
        item.samples.emplace_back(series, gl_sample{t, v, 0, static_cast<uint8_t>(quality), {0, 0, 0}});
        return Status::ok();
    }
};

// A key the line's kind does not know is a typo that would otherwise be
// ignored ("vaule", "qualty"): refused, naming the keys of that kind.
Status check_line_keys(const Parser& p, const json& obj) {
    struct Kind {
        const char* key;   // the key that makes a line this kind
        const char* name;  // for the message
        std::vector<std::string> keys;
    };
    static const Kind kinds[] = {
        {"every", "run", {"t", "series", "every", "values", "until", "quality"}},
        {"series", "sample", {"t", "series", "value", "quality"}},
        {"samples", "samples", {"t", "samples", "quality"}},
        {"reply", "reply", {"t", "reply"}},
        {"declare", "declare", {"t", "declare", "kind", "unit"}},
        {"clock_step", "clock_step", {"t", "clock_step"}},
        {"ack", "ack", {"t", "ack", "by", "comment"}},
        {"restart", "restart", {"t", "restart"}},
        {"outage", "outage", {"t", "outage", "until"}},
        {"station", "station", {"t", "station", "rated", "phases", "phase", "respond", "poll", "vehicle"}},
        {"meter", "meter", {"t", "meter", "poll", "others", "phases"}},
        {"load", "load", {"t", "load", "kw", "respond", "on"}},
        {"power_meter", "power_meter", {"t", "power_meter", "poll", "others", "silent"}},
    };
    const auto list = [](const std::vector<std::string>& keys) {
        std::string out;
        for (const auto& k : keys) out += (out.empty() ? "" : ", ") + k;
        return out;
    };
    for (const Kind& kind : kinds) {
        if (!obj.contains(kind.key)) continue;
        for (const auto& [k, v] : obj.items())
            if (std::find(kind.keys.begin(), kind.keys.end(), k) == kind.keys.end())
                return p.fail("unknown key '" + k + "' in " + (std::strchr("aeiou", kind.name[0]) ? "an " : "a ") +
                              kind.name + " line (its keys: " + list(kind.keys) + ")");
        if (std::string(kind.key) == "reply" && obj["reply"].is_object()) {
            static const std::vector<std::string> reply_keys{"target", "status", "error", "delay", "count"};
            for (const auto& [k, v] : obj["reply"].items())
                if (std::find(reply_keys.begin(), reply_keys.end(), k) == reply_keys.end())
                    return p.fail("unknown key '" + k + "' in \"reply\" (its keys: " + list(reply_keys) + ")");
        }
        return Status::ok();
    }
    return Status::ok();  // no kind: refused below as an unknown line
}

gl_status parse_status(const std::string& s, bool& ok) {
    ok = true;
    if (s == "ok") return GL_OK;
    if (s == "error") return GL_ERR;
    if (s == "timeout") return GL_ERR_TIMEOUT;
    if (s == "not_found") return GL_ERR_NOT_FOUND;
    ok = false;
    return GL_ERR;
}

}  // namespace

Expected<Timeline> load_timeline(const std::string& path, const std::string& tz_override) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::io_error(path + ": cannot read timeline");
    std::ostringstream text;
    text << in.rdbuf();
    const std::string base = std::filesystem::path(path).parent_path().string();
    return parse_timeline(text.str(), path, base, tz_override);
}

namespace {
Expected<Timeline> parse_lines(const std::string& text, const std::string& base_dir, const std::string& tz_override,
                               Parser& p);
}

Expected<Timeline> parse_timeline(const std::string& text, const std::string& name, const std::string& base_dir,
                                  const std::string& tz_override) {
    Parser p;
    p.name = name;
    try {
        return parse_lines(text, base_dir, tz_override, p);
    } catch (const nlohmann::json::exception& e) {
        return p.fail(std::string("bad value: ") + e.what());
    }
}

namespace {

Expected<Timeline> parse_lines(const std::string& text, const std::string& base_dir, const std::string& tz_override,
                               Parser& p) {
    Timeline tl;
    p.zone = &tl.zone;
    std::istringstream lines(text);
    std::string raw;
    bool first = true;
    std::optional<json> header_start, header_until;
    size_t header_line = 0;
    std::vector<std::pair<size_t, json>> objects;
    while (std::getline(lines, raw)) {
        ++p.line;
        size_t b = raw.find_first_not_of(" \t\r");
        if (b == std::string::npos || raw[b] == '#') continue;
        json obj = json::parse(raw, nullptr, false);
        if (obj.is_discarded() || !obj.is_object()) return p.fail("not a JSON object");
        if (first && !obj.contains("t")) {
            first = false;
            header_line = p.line;
            for (const auto& [k, v] : obj.items()) {
                if (k == "start") header_start = v;
                else if (k == "until") header_until = v;
                else if (k == "tz") {
                    if (!v.is_string()) return p.fail("'tz' must be an IANA zone name");
                    if (tz_override.empty()) {
                        auto z = TimeZone::load(v.get<std::string>());
                        if (!z) return p.fail(z.status().message());
                        tl.zone = *z;
                    }
                } else if (k == "params") tl.params = v;
                else if (k == "state") {
                    if (!v.is_object()) return p.fail("'state' must be an object");
                    tl.state = v;
                } else if (k == "expect") tl.expect = v;
                else if (k == "alarms") {
                    if (!v.is_array()) return p.fail("'alarms' must be an array of alarm rules ([[alarms]] entries as objects)");
                    tl.alarms = v;
                    tl.alarms_line = p.line;
                } else if (k == "notifications") {
                    if (!v.is_array())
                        return p.fail("'notifications' must be an array of notifications ([[notifications]] entries as objects)");
                    tl.notifications = v;
                    tl.notifications_line = p.line;
                }
                else if (k == "rule") {
                    if (!v.is_string()) return p.fail("'rule' must be a path");
                    std::filesystem::path r(v.get<std::string>());
                    tl.rule = (r.is_absolute() || base_dir.empty() ? r : std::filesystem::path(base_dir) / r).lexically_normal().string();
                } else return p.fail("unknown header key '" + k + "' (start, until, tz, params, state, rule, alarms, notifications, expect)");
            }
            continue;
        }
        first = false;
        objects.emplace_back(p.line, std::move(obj));
    }
    if (!tz_override.empty()) {
        auto z = TimeZone::load(tz_override);
        if (!z) return Status::invalid("--tz: " + z.status().message());
        tl.zone = *z;
    }
    if (header_start) {
        p.line = header_line;
        auto s = p.time(*header_start, "start");
        if (!s) return s.status();
        p.start = *s;
        p.have_start = true;
    }
    for (auto& [line, obj] : objects) {
        p.line = line;
        if (!obj.contains("t")) return p.fail("missing \"t\" (time)");
        auto t = p.time(obj["t"], "t");
        if (!t) return t.status();
        if (!p.have_start) {
            p.start = *t;
            p.have_start = true;
        }
        if (Status st = check_line_keys(p, obj); !st) return st;
        TimelineItem item;
        item.t_ms = *t;
        item.line = line;
        const int quality = obj.value("quality", GL_QUALITY_GOOD);
        if (quality < 0 || quality > 255) return p.fail("quality must be 0..255");
        if (obj.contains("series") && obj.contains("every")) {
            const std::string series = obj["series"].get<std::string>();
            auto every = p.duration(obj["every"], "every");
            if (!every) return every.status();
            if (*every <= 0) return p.fail("'every' must be > 0");
            if (!obj.contains("values") || !obj["values"].is_array() || obj["values"].empty()) {
                return p.fail("a run needs a non-empty \"values\" array");
            }
            const json& values = obj["values"];
            int64_t end = *t + (*every) * static_cast<int64_t>(values.size() - 1);
            if (obj.contains("until")) {
                auto u = p.time(obj["until"], "until");
                if (!u) return u.status();
                end = *u;
            }
            if ((end - *t) / *every > 50'000'000) return p.fail("run longer than 50 million samples");
            size_t i = 0;
            for (int64_t ts = *t; ts <= end; ts += *every, ++i) {
                TimelineItem one;
                one.t_ms = ts;
                one.line = line;
                Status st = p.sample(series, values[i % values.size()], ts, quality, one);
                if (!st) return st;
                tl.items.push_back(std::move(one));
            }
            continue;
        }
        if (obj.contains("series")) {
            if (!obj["series"].is_string()) return p.fail("'series' must be a name");
            if (!obj.contains("value")) return p.fail("missing \"value\"");
            Status st = p.sample(obj["series"].get<std::string>(), obj["value"], *t, quality, item);
            if (!st) return st;
        } else if (obj.contains("samples")) {
            if (!obj["samples"].is_object()) return p.fail("'samples' must be an object {series: value}");
            for (const auto& [series, v] : obj["samples"].items()) {
                Status st = p.sample(series, v, *t, quality, item);
                if (!st) return st;
            }
        } else if (obj.contains("reply")) {
            const json& r = obj["reply"];
            if (!r.is_object() || !r.contains("target")) return p.fail("'reply' needs {\"target\": ..., \"status\": ...}");
            item.kind = TimelineItem::Kind::reply_rule;
            item.reply.target = r["target"].get<std::string>();
            bool ok = false;
            item.reply.status = parse_status(r.value("status", "ok"), ok);
            if (!ok) return p.fail("reply status must be ok, error, timeout or not_found");
            item.reply.error = r.value("error", item.reply.status == GL_OK ? "" : r.value("status", "error"));
            if (r.contains("delay")) {
                auto d = p.duration(r["delay"], "delay");
                if (!d) return d.status();
                item.reply.delay_ms = *d;
            }
            item.reply.count = r.value("count", -1);
        } else if (obj.contains("declare")) {
            item.kind = TimelineItem::Kind::declare;
            item.name = obj["declare"].get<std::string>();
            auto k = parse_series_kind(obj.value("kind", "gauge"));
            if (!k) return p.fail("kind must be gauge, counter or state");
            item.series_kind = *k;
            item.unit = obj.value("unit", "");
        } else if (obj.contains("clock_step")) {
            item.kind = TimelineItem::Kind::clock_step;
            auto d = p.duration(obj["clock_step"], "clock_step");
            if (!d) return d.status();
            item.step_ms = *d;
        } else if (obj.contains("ack")) {
            if (!obj["ack"].is_number_unsigned() || obj["ack"].get<uint64_t>() == 0)
                return p.fail("'ack' must be an alarm id (1, 2, ... in raise order)");
            item.kind = TimelineItem::Kind::alarm_ack;
            item.alarm_id = obj["ack"].get<uint64_t>();
            item.name = obj.value("by", "test");
            item.unit = obj.value("comment", "");
        } else if (obj.contains("restart")) {
            if (obj["restart"] != "alarms")
                return p.fail("'restart' must be \"alarms\" (the alarm table and evaluator start again from what was stored)");
            item.kind = TimelineItem::Kind::alarm_restart;
        } else if (obj.contains("outage")) {
            if (!obj["outage"].is_string()) return p.fail("'outage' must be the name of a notification");
            if (!obj.contains("until")) return p.fail("an outage needs \"until\" (when the server is back)");
            auto u = p.time(obj["until"], "until");
            if (!u) return u.status();
            if (*u <= *t) return p.fail("an outage's \"until\" must be after its \"t\"");
            item.kind = TimelineItem::Kind::notify_outage;
            item.name = obj["outage"].get<std::string>();
            item.until_ms = *u;
        } else if (obj.contains("station") || obj.contains("meter") || obj.contains("load") || obj.contains("power_meter")) {
            item.kind = TimelineItem::Kind::plant;
            auto c = parse_plant_change(obj, [&](const json& v, const char* key) { return p.duration(v, key); });
            if (!c) {
                const std::string msg = c.status().message();
                return msg.rfind(p.name + ":", 0) == 0 ? c.status() : p.fail(msg);
            }
            item.plant = std::move(*c);
        } else {
            return p.fail("unknown line: want series, samples, reply, declare, clock_step, ack, restart, outage, station, meter, load or power_meter");
        }
        tl.items.push_back(std::move(item));
    }
    std::stable_sort(tl.items.begin(), tl.items.end(),
                     [](const TimelineItem& a, const TimelineItem& b) { return a.t_ms < b.t_ms; });
    tl.start_ms = p.have_start ? p.start : 0;
    if (header_until) {
        p.line = header_line;
        auto u = p.time(*header_until, "until");
        if (!u) return u.status();
        tl.until_ms = *u;
    }
    return tl;
}

}  // namespace

}  // namespace gridlet::script

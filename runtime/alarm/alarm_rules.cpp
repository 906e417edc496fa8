#include "alarm/alarm_rules.h"

#include <cmath>
#include <cstdio>
#include <set>

#include "core/pattern.h"

namespace gridlet::alarm {

using config::KeySpec;
using config::ValueType;

const char* condition_name(Condition c) noexcept {
    switch (c) {
        case Condition::high: return "high";
        case Condition::high_high: return "high_high";
        case Condition::low: return "low";
        case Condition::low_low: return "low_low";
        case Condition::equals: return "equals";
        case Condition::rate: return "rate";
        case Condition::stale: return "stale";
    }
    return "?";
}

int AlarmRule::worse() const noexcept {
    switch (condition) {
        case Condition::high:
        case Condition::high_high: return 1;
        case Condition::low:
        case Condition::low_low: return -1;
        case Condition::rate: return threshold >= 0 ? 1 : -1;
        default: return 0;
    }
}

const std::vector<KeySpec>& alarm_rule_keys() {
    static const std::vector<KeySpec> keys = [] {
        std::vector<KeySpec> k;
        k.push_back(config::required_key("name", ValueType::string, "Unique alarm rule name (letters, digits, _ - .)"));
        k.push_back(config::required_key("series", ValueType::string,
                                         "Series name or pattern: one alarm instance per matching series"));
        KeySpec cond = config::required_key("condition", ValueType::string, "What raises the alarm");
        cond.one_of = {"high", "high_high", "low", "low_low", "equals", "rate", "stale"};
        k.push_back(cond);
        k.push_back(config::key("threshold", ValueType::number, std::nullopt,
                                "Level that raises (units of the series, per second for rate; a fraction with "
                                "threshold_of; the state value for equals)"));
        k.push_back(config::key("return_level", ValueType::number, std::nullopt,
                                "Level at which the alarm ends (hysteresis; default: the threshold)"));
        k.push_back(config::key("threshold_of", ValueType::string, std::nullopt,
                                "Reference: a numeric tag of the series, else the sibling point of that name"));
        k.push_back(config::key("state", ValueType::string, std::nullopt,
                                "equals: a state label of the series instead of a threshold"));
        k.push_back(config::key("on_delay_s", ValueType::number, "0", "Seconds the condition must hold to raise", 0,
                                86400));
        k.push_back(config::key("off_delay_s", ValueType::number, "0", "Seconds the condition must be gone to end", 0,
                                86400));
        k.push_back(config::key("stale_s", ValueType::number, std::nullopt,
                                "stale: seconds without a good sample", 0.001, 31 * 86400.0));
        k.push_back(config::key("latching", ValueType::boolean, "false", "Stays active until acknowledged"));
        KeySpec crit = config::key("criticality", ValueType::string, "\"non_critical\"", "Criticality");
        crit.one_of = {"information", "non_critical", "critical"};
        k.push_back(crit);
        k.push_back(config::key("category", ValueType::string, "\"measurement\"", "Category (free text)"));
        k.push_back(config::key("message", ValueType::string, std::nullopt,
                                "Message template: {name} {series} {device} {point} {value} {threshold} "
                                "{return_level} {unit}"));
        k.push_back(config::key("enabled", ValueType::boolean, "true", "false: the rule is checked but not run"));
        return k;
    }();
    return keys;
}

const std::vector<KeySpec>& alarm_settings_keys() {
    static const std::vector<KeySpec> keys = {
        config::key("flood_per_minute", ValueType::integer, "60",
                    "Alarms a source may raise within a minute; more are held back and counted (flood control)", 1,
                    100000),
        config::key("history_days", ValueType::integer, "400",
                    "Finished and acknowledged alarms older than this are deleted at start", 1, 36500),
    };
    return keys;
}

namespace {

std::string format_g(double v);

Condition to_condition(const std::string& s) {
    if (s == "high_high") return Condition::high_high;
    if (s == "low") return Condition::low;
    if (s == "low_low") return Condition::low_low;
    if (s == "equals") return Condition::equals;
    if (s == "rate") return Condition::rate;
    if (s == "stale") return Condition::stale;
    return Condition::high;
}

std::string default_message(Condition c) {
    switch (c) {
        case Condition::high:
        case Condition::high_high: return "{series} at {value} {unit}, above {threshold} {unit}";
        case Condition::low:
        case Condition::low_low: return "{series} at {value} {unit}, below {threshold} {unit}";
        case Condition::equals: return "{series} is {value}";
        case Condition::rate: return "{series} changes by {value} {unit}/s (limit {threshold} {unit}/s)";
        case Condition::stale: return "{series}: no good sample for {threshold} s";
    }
    return "{series}";
}

AlarmRule one_rule(const toml::table& t, const nlohmann::json& j, const std::string& file, const std::string& where,
                   config::Diagnostics& diags) {
    AlarmRule r;
    r.line = config::line_of(t);
    r.name = j.value("name", "");
    r.series = j.value("series", "");
    r.condition = to_condition(j.value("condition", "high"));
    const std::string cond = condition_name(r.condition);
    const auto bad = [&](const char* key, const std::string& what) {
        diags.push_back({file, config::key_line(t, key), where + ": " + what});
    };
    if (const std::string why = config_name_problem(r.name); !why.empty()) bad("name", why);
    if (r.series.empty()) {
        if (j.contains("series")) bad("series", "series: empty (a series name or a pattern such as \"panel?/branch*/current\")");
    } else {
        std::string probe = r.series;
        for (char& c : probe)
            if (c == '*' || c == '?') c = 'x';
        if (!valid_series_name(probe, 2))
            bad("series", "series '" + r.series +
                              "' is not a series name or pattern (segments of letters, digits, '_', '-', '.', "
                              "'*', '?' joined by '/', at least device/point)");
    }
    const bool has_t = j.contains("threshold");
    r.threshold = has_t ? j["threshold"].get<double>() : 0;
    if (has_t && !std::isfinite(r.threshold)) bad("threshold", "threshold: a finite number (not nan or inf)");
    if (j.contains("return_level") && !std::isfinite(j["return_level"].get<double>()))
        bad("return_level", "return_level: a finite number (not nan or inf)");
    if (j.contains("threshold_of") && j["threshold_of"].get<std::string>().empty())
        bad("threshold_of", "threshold_of: empty (the name of a tag or of a sibling point, e.g. \"breaker_size\")");
    r.return_level = j.contains("return_level") ? j["return_level"].get<double>() : r.threshold;
    r.state_label = j.value("state", "");
    r.threshold_of = j.value("threshold_of", "");
    r.on_delay_ms = std::llround(j.value("on_delay_s", 0.0) * 1000);
    r.off_delay_ms = std::llround(j.value("off_delay_s", 0.0) * 1000);
    r.stale_ms = j.contains("stale_s") ? std::llround(j["stale_s"].get<double>() * 1000) : 0;
    r.latching = j.value("latching", false);
    if (auto c = parse_criticality(j.value("criticality", "non_critical"))) r.criticality = *c;
    r.category = j.value("category", "measurement");
    if (r.category.empty() || r.category.find_first_of("\r\n") != std::string::npos)
        bad("category", "category: a word or two on one line (\"electrical\", \"comfort\"), not empty");
    r.message = j.contains("message") ? j["message"].get<std::string>() : default_message(r.condition);
    if (r.message.empty()) bad("message", "message: empty (leave the key out for the default)");

    switch (r.condition) {
        case Condition::high:
        case Condition::high_high:
        case Condition::low:
        case Condition::low_low:
        case Condition::rate: {
            if (!has_t) {
                bad("condition", "condition \"" + cond + "\" needs a threshold");
                break;
            }
            const bool up = r.condition == Condition::high || r.condition == Condition::high_high ||
                            (r.condition == Condition::rate && r.threshold >= 0);
            if (r.condition == Condition::rate && r.threshold == 0)
                bad("threshold", "threshold = 0: a rate alarm needs a non-zero rate (units per second; negative for a fall)");
            if (up && r.return_level > r.threshold)
                bad("return_level", "return_level " + format_g(r.return_level) + " is above the threshold " +
                                        format_g(r.threshold) + ": a \"" + cond +
                                        "\" alarm ends at or below its threshold");
            if (!up && r.return_level < r.threshold)
                bad("return_level", "return_level " + format_g(r.return_level) + " is below the threshold " +
                                        format_g(r.threshold) + ": a \"" + cond +
                                        "\" alarm ends at or above its threshold");
            if (!r.threshold_of.empty() && r.condition != Condition::rate && r.threshold <= 0)
                bad("threshold", "threshold " + format_g(r.threshold) + " with threshold_of: a fraction above 0 (0.8 = 80 % of '" +
                                     r.threshold_of + "')");
            if (r.condition == Condition::rate && !r.threshold_of.empty())
                bad("threshold_of", "threshold_of does not apply to a rate");
            break;
        }
        case Condition::equals:
            if (has_t == !r.state_label.empty())
                bad("condition", "condition \"equals\" needs either a threshold (the state value) or a state label, not " +
                                     std::string(has_t ? "both" : "neither"));
            if (!r.threshold_of.empty()) bad("threshold_of", "threshold_of does not apply to \"equals\"");
            if (j.contains("return_level")) bad("return_level", "return_level does not apply to \"equals\"");
            break;
        case Condition::stale:
            if (r.stale_ms <= 0) bad("condition", "condition \"stale\" needs stale_s (seconds without a good sample)");
            for (const char* k : {"threshold", "threshold_of", "return_level"})
                if (j.contains(k)) bad(k, std::string(k) + " does not apply to \"stale\"");
            r.threshold = r.return_level = static_cast<double>(r.stale_ms) / 1000;
            break;
    }
    if (r.condition != Condition::equals && !r.state_label.empty()) bad("state", "state applies only to \"equals\"");
    if (r.condition != Condition::stale && j.contains("stale_s")) bad("stale_s", "stale_s applies only to \"stale\"");
    // Placeholders: only the known ones.
    static const std::set<std::string> known = {"name",      "series",       "device", "point", "value",
                                                "threshold", "return_level", "unit"};
    // The same scan as expand_message: "{{" and "}}" are braces.
    const std::string& m = r.message;
    for (size_t p = 0; p < m.size(); ++p) {
        if ((m[p] == '{' || m[p] == '}') && p + 1 < m.size() && m[p + 1] == m[p]) {
            ++p;
            continue;
        }
        if (m[p] == '}') {
            bad("message", "message: a lone '}' (write '}}' for a brace)");
            break;
        }
        if (m[p] != '{') continue;
        const size_t e = m.find('}', p);
        if (e == std::string::npos) {
            bad("message", "message: '{' without '}' (write '{{' for a brace)");
            break;
        }
        const std::string ph = m.substr(p + 1, e - p - 1);
        if (!known.count(ph)) {
            bad("message", "message: unknown placeholder {" + ph +
                               "} (known: {name} {series} {device} {point} {value} {threshold} {return_level} {unit})");
            break;
        }
        p = e;
    }
    return r;
}

std::vector<AlarmRule> parse_tables(const std::vector<const toml::table*>& tables, const std::string& file,
                                    config::Diagnostics& diags) {
    std::vector<AlarmRule> out;
    std::set<std::string> names;
    size_t index = 0;
    for (const toml::table* t : tables) {
        ++index;
        const size_t before = diags.size();
        // Named as every other problem of the entry is, once it has a name.
        const toml::node* named = t->get("name");
        const std::string where = named && named->is_string() && !named->as_string()->get().empty()
                                      ? "[[alarms]] '" + named->as_string()->get() + "'"
                                      : "[[alarms]] #" + std::to_string(index);
        nlohmann::json j = config::validate_table(*t, alarm_rule_keys(), file, where, diags, config::line_of(*t));
        if (diags.size() != before) continue;
        const std::string w = "[[alarms]] '" + j.value("name", "") + "'";
        AlarmRule r = one_rule(*t, j, file, w, diags);
        if (!r.name.empty() && !names.insert(r.name).second)
            diags.push_back({file, config::key_line(*t, "name"), w + ": an alarm rule named '" + r.name + "' is already defined"});
        if (j.value("enabled", true)) out.push_back(std::move(r));
    }
    return out;
}

std::string format_g(double v) {
    if (!std::isfinite(v)) return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", v);
    return buf;
}

}  // namespace

std::vector<AlarmRule> parse_alarm_rules(const toml::table& root, const std::string& file, config::Diagnostics& diags) {
    std::vector<const toml::table*> tables;
    const toml::node* n = root.get("alarms");
    if (!n) return {};
    if (!n->is_array()) {
        diags.push_back({file, config::line_of(*n), "'alarms' must be an array of tables: [[alarms]]"});
        return {};
    }
    for (const toml::node& e : *n->as_array()) {
        if (!e.is_table()) {
            diags.push_back({file, config::line_of(e), "each [[alarms]] entry must be a table"});
            continue;
        }
        tables.push_back(e.as_table());
    }
    return parse_tables(tables, file, diags);
}

AlarmSettings parse_alarm_settings(const toml::table& root, const std::string& file, config::Diagnostics& diags) {
    AlarmSettings s;
    const toml::node* n = root.get("alarm_settings");
    static const toml::table empty;
    if (n && !n->is_table()) {
        diags.push_back({file, config::line_of(*n), "'alarm_settings' must be a table: [alarm_settings]"});
        return s;
    }
    const toml::table& t = n ? *n->as_table() : empty;
    nlohmann::json j = config::validate_table(t, alarm_settings_keys(), file, "[alarm_settings]", diags,
                                              n ? config::line_of(*n) : 0);
    s.flood_per_minute = j.value("flood_per_minute", 60u);
    s.history_days = j.value("history_days", int64_t{400});
    return s;
}

std::vector<AlarmRule> alarm_rules_from_json(const nlohmann::json& array, const std::string& file,
                                             config::Diagnostics& diags) {
    const size_t before = diags.size();
    const toml::table root = config::array_of_tables_from_json(array, "alarms", file, diags);
    if (diags.size() != before) return {};
    return parse_alarm_rules(root, file, diags);
}

std::string expand_message(const AlarmRule& rule, const std::string& series, double value, double threshold,
                           double return_level, const std::string& unit) {
    const size_t slash = series.find('/');
    const std::string device = slash == std::string::npos ? series : series.substr(0, slash);
    const std::string point = slash == std::string::npos ? "" : series.substr(slash + 1);
    std::string out;
    const std::string& m = rule.message;
    for (size_t i = 0; i < m.size(); ++i) {
        if ((m[i] == '{' || m[i] == '}') && i + 1 < m.size() && m[i + 1] == m[i]) {  // "{{" and "}}": a brace
            out += m[i++];
            continue;
        }
        if (m[i] == '{') {
            const size_t e = m.find('}', i);
            if (e != std::string::npos) {
                const std::string ph = m.substr(i + 1, e - i - 1);
                std::string v;
                bool ok = true;
                if (ph == "name") v = rule.name;
                else if (ph == "series") v = series;
                else if (ph == "device") v = device;
                else if (ph == "point") v = point;
                else if (ph == "value") v = format_g(value);
                else if (ph == "threshold") v = format_g(threshold);
                else if (ph == "return_level") v = format_g(return_level);
                else if (ph == "unit") v = unit;
                else ok = false;
                if (ok) {
                    out += v;
                    i = e;
                    continue;
                }
            }
        }
        out += m[i];
    }
    // "42 , above" when the unit is empty: tidy the double spaces.
    std::string tidy;
    for (char c : out) {
        if (c == ' ' && !tidy.empty() && tidy.back() == ' ') continue;
        tidy += c;
    }
    while (tidy.find(" ,") != std::string::npos) tidy.erase(tidy.find(" ,"), 1);
    while (!tidy.empty() && tidy.back() == ' ') tidy.pop_back();
    return tidy;
}

}  // namespace gridlet::alarm

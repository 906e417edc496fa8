// check_expectations (harness.h): a report's JSON against a timeline's
// "expect". Pure; any thread.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "script/harness.h"

namespace gridlet::script {

namespace {

using json = nlohmann::json;

void subset_diff(const json& expected, const json& actual, const std::string& where, std::vector<std::string>& out) {
    if (expected.is_object() && actual.is_object()) {
        for (const auto& [k, v] : expected.items()) {
            if (!actual.contains(k)) {
                out.push_back(where + "." + k + ": missing (expected " + v.dump() + ")");
            } else {
                subset_diff(v, actual[k], where + "." + k, out);
            }
        }
        return;
    }
    if (expected.is_array() && actual.is_array() && expected.size() == actual.size()) {
        // Element by element, objects as subsets (e.g. a message's changes).
        for (size_t i = 0; i < expected.size(); ++i)
            subset_diff(expected[i], actual[i], where + "[" + std::to_string(i) + "]", out);
        return;
    }
    if (expected.is_number() && actual.is_number()) {
        const double a = expected.get<double>(), b = actual.get<double>();
        if (std::abs(a - b) > 1e-9 * std::max(1.0, std::abs(a))) out.push_back(where + ": expected " + expected.dump() + ", got " + actual.dump());
        return;
    }
    if (expected != actual) out.push_back(where + ": expected " + expected.dump() + ", got " + actual.dump());
}

void list_diff(const json& expected, const json& actual, const std::string& what, std::vector<std::string>& out) {
    if (!expected.is_array()) {
        out.push_back(what + ": expectation must be an array");
        return;
    }
    if (expected.size() != actual.size()) {
        out.push_back(what + ": expected " + std::to_string(expected.size()) + ", got " + std::to_string(actual.size()) +
                      ": " + actual.dump());
    }
    for (size_t i = 0; i < std::min(expected.size(), actual.size()); ++i) {
        subset_diff(expected[i], actual[i], what + "[" + std::to_string(i) + "]", out);
    }
}

}  // namespace

std::vector<std::string> check_expectations(const json& report, const json& expected) {
    std::vector<std::string> out;
    if (!expected.is_object()) return {"expectations must be a JSON object"};
    for (const auto& [key, want] : expected.items()) {
        if (key == "commands" || key == "events" || key == "alarms" || key == "messages" || key == "published") {
            if (key == "alarms" && !report.contains("alarms")) {
                out.push_back("alarms: the timeline has no \"alarms\" in its header");
                continue;
            }
            if (key == "messages" && !report.contains("messages")) {
                out.push_back("messages: the timeline has no \"notifications\" in its header");
                continue;
            }
            list_diff(want, report.value(key, json::array()), key, out);
        } else if (key == "state") {
            subset_diff(want, report.value("state", json::object()), "state", out);
        } else if (key == "status") {
            if (report.value("status", "") != want) out.push_back("status: expected " + want.dump() + ", got " + report["status"].dump());
        } else if (key == "error_contains") {
            const std::string err = report.value("error", "");
            if (!want.is_string() || err.find(want.get<std::string>()) == std::string::npos) {
                out.push_back("error: expected it to contain " + want.dump() + ", got \"" + err + "\"");
            }
        } else if (key == "logs_contain") {
            for (const auto& text : want) {
                bool found = false;
                for (const auto& l : report.value("logs", json::array())) {
                    if (l.value("message", "").find(text.get<std::string>()) != std::string::npos) found = true;
                }
                if (!found) out.push_back("logs: no line contains " + text.dump());
            }
        } else if (key == "meter_above") {
            // {"amps": A, "at_most_s": S} (or a list): the true meter current
            // is above A for at most S seconds in all.
            const json list = want.is_array() ? want : json::array({want});
            const json& plant = report.value("plant", json::object());
            if (!plant.contains("meter_trace")) {
                out.push_back("meter_above: the timeline has no plant (station and meter lines)");
                continue;
            }
            const json& trace = plant["meter_trace"];
            for (const json& w : list) {
                if (!w.is_object() || !w.contains("amps") || !w["amps"].is_number()) {
                    out.push_back("meter_above: want {\"amps\": A, \"at_most_s\": S}");
                    continue;
                }
                const double amps = w["amps"].get<double>(), at_most = w.value("at_most_s", 0.0);
                double above_ms = 0;
                int64_t first = -1;
                for (size_t i = 0; i < trace.size(); ++i) {
                    const int64_t t0 = trace[i][0].get<int64_t>();
                    const int64_t t1 = i + 1 < trace.size() ? trace[i + 1][0].get<int64_t>() : plant["end_ms"].get<int64_t>();
                    if (trace[i][1].get<double>() > amps + 1e-9) {
                        above_ms += static_cast<double>(t1 - t0);
                        if (first < 0) first = t0;
                    }
                }
                if (above_ms / 1000 > at_most + 1e-9) {
                    char text[200];
                    std::snprintf(text, sizeof text, "meter above %g A for %.1f s in all (at most %g s), first at +%.1f s, peak %g A",
                                  amps, above_ms / 1000, at_most, static_cast<double>(first) / 1000,
                                  plant.value("meter_peak_a", 0.0));
                    out.push_back(text);
                }
            }
        } else if (key == "demand_at_most") {
            // {"kw": K, "interval_s": 900}: the true site power's average
            // over each whole interval from the run's start is at most K.
            const json& plant = report.value("plant", json::object());
            if (!plant.contains("power_trace")) {
                out.push_back("demand_at_most: the timeline has no power_meter line");
                continue;
            }
            if (!want.is_object() || !want.contains("kw") || !want["kw"].is_number() ||
                !(want.value("interval_s", 900.0) >= 1)) {
                out.push_back("demand_at_most: want {\"kw\": K, \"interval_s\": 900}");
                continue;
            }
            const double limit = want["kw"].get<double>();
            const auto interval = static_cast<int64_t>(want.value("interval_s", 900.0) * 1000);
            const json& trace = plant["power_trace"];
            const int64_t end = plant["end_ms"].get<int64_t>();
            for (int64_t a = 0; a + interval <= end; a += interval) {
                double energy = 0;  // kW x ms
                for (size_t i = 0; i < trace.size(); ++i) {
                    const int64_t t0 = std::max(a, trace[i][0].get<int64_t>());
                    const int64_t t1 = std::min(a + interval, i + 1 < trace.size() ? trace[i + 1][0].get<int64_t>() : end);
                    if (t1 > t0) energy += trace[i][1].get<double>() * static_cast<double>(t1 - t0);
                }
                const double demand = energy / static_cast<double>(interval);
                if (demand > limit + 1e-6) {
                    char text[160];
                    std::snprintf(text, sizeof text, "demand %.3f kW over %g kW in the interval +%llds..+%llds", demand, limit,
                                  static_cast<long long>(a / 1000), static_cast<long long>((a + interval) / 1000));
                    out.push_back(text);
                }
            }
        } else if (key == "notifications_pending" || key == "messages_total") {
            if (report.value(key, json()) != want)
                out.push_back(key + ": expected " + want.dump() + ", got " + report.value(key, json()).dump());
        } else if (key == "no_errors") {
            if (want == true && report.value("errors", 0) != 0) {
                out.push_back("errors: expected none, got " + report["errors"].dump());
            }
        } else {
            out.push_back("unknown expectation '" + key +
                          "' (status, error_contains, commands, events, published, alarms, messages, messages_total, notifications_pending, state, logs_contain, no_errors, meter_above, demand_at_most)");
        }
    }
    return out;
}

}  // namespace gridlet::script

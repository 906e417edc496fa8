#include "http/prometheus.h"

#include <charconv>
#include <cmath>
#include <map>
#include <set>
#include <vector>

#include "http/api_server.h"

namespace gridlet::http {

namespace {

// Keys that only grow (bus endpoints, stores, deliveries): counters.
const std::set<std::string>& counter_keys() {
    static const std::set<std::string> keys = {
        // bus endpoints (bus/metrics.h)
        "messages_out", "bytes_out", "samples_out", "drops_out", "samples_dropped", "messages_in", "bytes_in",
        "samples_in", "malformed_in", "commands_sent", "commands_handled", "command_timeouts", "late_replies",
        "events_out", "callback_errors",
        // alarms
        "raised", "finished", "acknowledged", "held_back_by_flood", "persist_failures", "samples", "raise_failures",
        // store
        "samples_written", "write_failures", "write_resumes", "batches_not_written", "samples_not_written",
        "samples_refused_too_far_ahead", "samples_refused_too_old",
        // the store's disk budget
        "raw_steps", "outbox_steps", "rollup_steps", "event_steps", "outbox_entries_dropped",
        // deliveries
        "queued", "messages", "delivered", "failures", "files", "sent", "dropped_samples", "dropped_events",
        "tap_failures"};
    return keys;
}

std::string metric_name(std::string s) {
    for (char& c : s)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') c = '_';
    return s;
}

std::string label_value(const std::string& v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

std::string number(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

// Samples grouped by family (the format wants one # TYPE line, then its samples).
class Families {
public:
    void add(const std::string& name, bool counter, const std::string& labels, double value, const std::string& help) {
        Family& f = families_[name];
        f.counter = counter;
        if (f.help.empty()) f.help = help;
        f.lines.push_back(name + (labels.empty() ? "" : "{" + labels + "}") + " " + number(value));
    }
    std::string text() const {
        std::string out;
        for (const auto& [name, f] : families_) {
            out += "# HELP " + name + " " + f.help + "\n";
            out += "# TYPE " + name + (f.counter ? " counter\n" : " gauge\n");
            for (const std::string& l : f.lines) out += l + "\n";
        }
        return out;
    }

private:
    struct Family {
        bool counter = false;
        std::string help;
        std::vector<std::string> lines;
    };
    std::map<std::string, Family> families_;
};

// The numeric members of `obj` as gridlet_<prefix>_<key>[_total]{labels}.
void numbers(Families& fam, const std::string& prefix, const nlohmann::json& obj, const std::string& labels,
             const std::string& about) {
    if (!obj.is_object()) return;
    for (const auto& [k, v] : obj.items()) {
        if (!v.is_number() && !v.is_boolean()) continue;
        const bool counter = counter_keys().count(k) > 0;
        const std::string name = "gridlet_" + metric_name(prefix) + "_" + metric_name(k) + (counter ? "_total" : "");
        fam.add(name, counter, labels, v.is_boolean() ? (v.get<bool>() ? 1 : 0) : v.get<double>(), about + " " + k);
    }
}

}  // namespace

std::string prometheus_text(const nlohmann::json& m, const ApiCounters* http, size_t sessions, const nlohmann::json& site) {
    Families fam;
    fam.add("gridlet_up", false, "site=\"" + label_value(m.value("site", "")) + "\"", 1, "the site runs");
    if (m.contains("uptime_ms")) fam.add("gridlet_uptime_seconds", false, "", m["uptime_ms"].get<double>() / 1000, "since start");
    if (m.contains("series")) fam.add("gridlet_series", false, "", m["series"].get<double>(), "series known");
    if (m.contains("problems") && m["problems"].is_array())
        fam.add("gridlet_problems", false, "", static_cast<double>(m["problems"].size()),
                "components failed or devices left out (gridlet metrics lists them)");
    if (m.contains("plugins") && m["plugins"].is_object())
        for (const auto& [name, p] : m["plugins"].items()) {
            const std::string labels = "instance=\"" + label_value(name) + "\",plugin=\"" +
                                       label_value(p.value("plugin", "")) + "\",kind=\"" + label_value(p.value("kind", "")) +
                                       "\"";
            numbers(fam, "plugin", p, labels, "bus endpoint of the plugin instance:");
            fam.add("gridlet_plugin_running", false, labels, p.value("state", "") == "running" ? 1 : 0,
                    "1 when the instance runs");
        }
    numbers(fam, "control", m.value("control", nlohmann::json::object()), "", "control socket:");
    numbers(fam, "alarms", m.value("alarms", nlohmann::json::object()), "", "alarms:");
    for (const char* section : {"notifications", "exports", "export_targets", "legrand_history"})
        numbers(fam, section, m.value(section, nlohmann::json::object()), "", std::string(section) + ":");
    if (m.contains("store") && m["store"].is_object()) {
        numbers(fam, "store", m["store"], "", "store:");
        fam.add("gridlet_store_failing", false, "", m["store"].value("state", "") == "failing" ? 1 : 0,
                "1 while the store cannot write");
        // The disk budget ([store] max_size_mb, min_free_mb), when set.
        numbers(fam, "store_budget", m["store"].value("budget", nlohmann::json()), "", "store disk budget:");
    }
    if (m.contains("north_feeds") && m["north_feeds"].is_object()) {
        const auto& nf = m["north_feeds"];
        if (nf.contains("feeds") && nf["feeds"].is_object())
            for (const auto& [name, f] : nf["feeds"].items())
                numbers(fam, "north_feed", f, "feed=\"" + label_value(name) + "\"", "north feed:");
        if (nf.contains("tap_failures")) fam.add("gridlet_north_feed_tap_failures_total", true, "", nf["tap_failures"].get<double>(),
                                                 "samples the store writer could not put in a feed");
    }
    if (http) {
        fam.add("gridlet_http_requests_total", true, "", static_cast<double>(http->requests.load()), "HTTP requests answered");
        fam.add("gridlet_http_client_errors_total", true, "", static_cast<double>(http->client_errors.load()), "answers 4xx");
        fam.add("gridlet_http_server_errors_total", true, "", static_cast<double>(http->server_errors.load()), "answers 5xx");
        fam.add("gridlet_http_logins_total", true, "", static_cast<double>(http->logins.load()), "successful logins");
        fam.add("gridlet_http_login_failures_total", true, "", static_cast<double>(http->login_failures.load()),
                "failed logins");
        fam.add("gridlet_http_lockouts_total", true, "", static_cast<double>(http->lockouts.load()),
                "logins refused because the account is locked");
        fam.add("gridlet_http_denied_total", true, "", static_cast<double>(http->denied.load()),
                "requests refused: no or bad credentials, CSRF, rights");
        fam.add("gridlet_http_sessions", false, "", static_cast<double>(sessions), "open sessions");
    }
    for (const auto& d : site.value("devices", nlohmann::json::array())) {
        const std::string labels = "device=\"" + label_value(d.value("name", "")) + "\",plugin=\"" +
                                   label_value(d.value("plugin", "")) + "\"";
        fam.add("gridlet_device_up", false, labels, d.value("state", "") == "online" ? 1 : 0,
                "1 while the device answers (its driver's online/status series)");
        if (d.contains("last_poll_ms") && d["last_poll_ms"].is_number())
            fam.add("gridlet_device_last_poll_timestamp_seconds", false, labels, d["last_poll_ms"].get<double>() / 1000,
                    "when the driver last polled it (UTC)");
        for (const auto& [k, v] : d.value("comm", nlohmann::json::object()).items())
            if (v.is_number())
                fam.add("gridlet_device_comm_" + metric_name(k) + "_total", true, labels, v.get<double>(),
                        "the driver's comm/" + k + " counter");
    }
    for (const auto& r : site.value("rules", nlohmann::json::array())) {
        const std::string labels = "rule=\"" + label_value(r.value("name", "")) + "\"";
        fam.add("gridlet_rule_running", false, labels, r.value("status", "") == "running" ? 1 : 0, "1 while the rule runs");
        fam.add("gridlet_rule_callbacks_total", true, labels, r.value("callbacks", 0.0), "callbacks run");
        fam.add("gridlet_rule_errors_total", true, labels, r.value("errors", 0.0), "Lua errors in callbacks");
        fam.add("gridlet_rule_memory_bytes", false, labels, r.value("memory_bytes", 0.0), "memory of the rule's Lua state");
    }
    for (const auto& o : site.value("outboxes", nlohmann::json::array())) {
        const std::string labels = "target=\"" + label_value(o.value("target", "")) + "\"";
        fam.add("gridlet_outbox_files", false, labels, static_cast<double>(o.value("files", nlohmann::json::array()).size()),
                "files waiting to be sent");
        fam.add("gridlet_outbox_bytes", false, labels, o.value("bytes", 0.0), "bytes waiting to be sent");
        fam.add("gridlet_outbox_failures_in_a_row", false, labels, o.value("failures_in_a_row", 0.0),
                "failed tries since the last success");
    }
    return fam.text();
}

}  // namespace gridlet::http

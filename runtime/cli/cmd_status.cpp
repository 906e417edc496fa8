// `gridlet status`: one screen for an operator, from a running gridlet's
// control socket (Kernel::status_json): the site and its uptime, plugins,
// devices with their state and last error, rules, the store with its size
// and the disk's free space, outboxes, active alarms and problems. Times in
// the site's zone. CLI main thread.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/control_client.h"
#include "core/timezone.h"

namespace gridlet::cli {

namespace {

std::string str(const nlohmann::json& j, const char* key, const char* none = "-") {
    if (!j.is_object() || !j.contains(key) || j[key].is_null()) return none;
    return j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
}

// "2 d 3 h", "3 h 12 min", "12 min 5 s", "5 s".
std::string duration_text(int64_t ms) {
    const int64_t s = ms / 1000, m = s / 60, h = m / 60, d = h / 24;
    if (d > 0) return std::to_string(d) + " d " + std::to_string(h % 24) + " h";
    if (h > 0) return std::to_string(h) + " h " + std::to_string(m % 60) + " min";
    if (m > 0) return std::to_string(m) + " min " + std::to_string(s % 60) + " s";
    return std::to_string(s) + " s";
}

// 1 decimal, in B, kB, MB, GB, TB (powers of 1000, as df -H).
std::string bytes_text(double b) {
    const char* units[] = {"B", "kB", "MB", "GB", "TB"};
    int u = 0;
    while (b >= 1000 && u < 4) b /= 1000, ++u;
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
    return buf;
}

// "14:03:12 (4 s ago)" in the site's zone; older than a day: the date too.
std::string when_text(const nlohmann::json& ms, int64_t now, const TimeZone& tz) {
    if (!ms.is_number()) return "-";
    const int64_t t = ms.get<int64_t>();
    std::string iso = tz.format_iso(t);  // 2026-12-03T14:03:12+01:00
    std::string shown = now - t < 86'400'000 && iso.size() >= 19 ? iso.substr(11, 8) : iso.substr(0, 19);
    if (now >= t) shown += " (" + duration_text(now - t) + " ago)";
    return shown;
}

void print_table(const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& rows) {
    std::vector<size_t> w(head.size());
    for (size_t c = 0; c < head.size(); ++c) w[c] = head[c].size();
    for (const auto& r : rows)
        for (size_t c = 0; c < r.size() && c < w.size(); ++c) w[c] = std::max(w[c], r[c].size());
    auto line = [&](const std::vector<std::string>& r) {
        std::string out = " ";
        for (size_t c = 0; c < r.size(); ++c) {
            out += " " + r[c];
            if (c + 1 < r.size()) out += std::string(w[c] - r[c].size() + 1, ' ');
        }
        while (!out.empty() && out.back() == ' ') out.pop_back();
        std::printf("%s\n", out.c_str());
    };
    line(head);
    for (const auto& r : rows) line(r);
}

void print_status(const nlohmann::json& s) {
    auto tz = TimeZone::load(str(s, "time_zone", "UTC"));
    const TimeZone zone = tz ? *tz : TimeZone();
    const int64_t now = s.value("now_ms", int64_t{0});
    std::printf("site '%s' (%s), gridlet %s, pid %s, up %s, %s\n", str(s, "site").c_str(), str(s, "path").c_str(),
                str(s, "version").c_str(), str(s, "pid").c_str(), duration_text(s.value("uptime_ms", int64_t{0})).c_str(),
                zone.name().c_str());
    if (s.contains("status_line") && s["status_line"].is_string())
        std::printf("status: %s\n", s["status_line"].get<std::string>().c_str());
    const auto& problems = s.value("problems", nlohmann::json::array());
    if (problems.empty()) std::printf("problems: none\n");
    for (const auto& p : problems) std::printf("problem: %s\n", p.is_string() ? p.get<std::string>().c_str() : p.dump().c_str());

    std::printf("\nplugins:\n");
    std::vector<std::vector<std::string>> rows;
    for (const auto& p : s.value("plugins", nlohmann::json::array()))
        rows.push_back({str(p, "name"), str(p, "plugin"), str(p, "kind"), str(p, "state"), str(p, "failure", "")});
    print_table({"NAME", "PLUGIN", "KIND", "STATE", "FAILURE"}, rows);

    const auto& devices = s.value("devices", nlohmann::json::array());
    std::printf("\ndevices:%s\n", devices.empty() ? " none" : "");
    if (!devices.empty()) {
        rows.clear();
        for (const auto& d : devices) {
            std::string err = str(d, "last_error", "");
            if (d.contains("last_error_ms") && d["last_error_ms"].is_number())
                err += " (" + when_text(d["last_error_ms"], now, zone) + ")";
            rows.push_back({str(d, "name"), str(d, "plugin"), str(d, "state"),
                            when_text(d.value("last_poll_ms", nlohmann::json()), now, zone), str(d, "errors"), err});
        }
        print_table({"NAME", "PLUGIN", "STATE", "LAST POLL", "ERRORS", "LAST ERROR"}, rows);
    }

    const auto& rules = s.value("rules", nlohmann::json::array());
    std::printf("\nrules:%s\n", rules.empty() ? (s.contains("rules_error") ? "" : " none") : "");
    if (s.contains("rules_error")) std::printf("  (not read: %s)\n", str(s, "rules_error").c_str());
    if (!rules.empty()) {
        rows.clear();
        for (const auto& r : rules) {
            std::string err = r.contains("error") && r["error"].is_string() ? r["error"].get<std::string>()
                                                                             : str(r, "last_error", "");
            rows.push_back({str(r, "name"), str(r, "status"), str(r, "errors"), err});
        }
        print_table({"NAME", "STATUS", "ERRORS", "LAST ERROR"}, rows);
    }

    std::printf("\nstore: ");
    const auto& st = s.value("store", nlohmann::json());
    if (!st.is_object()) {
        std::printf("none (no [store]: nothing is kept)\n");
    } else {
        std::printf("%s, %s, %s, %s series\n", str(st, "path").c_str(), str(st, "state").c_str(),
                    bytes_text(st.value("size_bytes", 0.0)).c_str(), str(st, "series").c_str());
        if (st.contains("write_error") && st["write_error"].is_string())
            std::printf("  write error: %s\n", st["write_error"].get<std::string>().c_str());
        if (st.contains("disk_free_bytes") && st["disk_free_bytes"].is_number() && st.value("disk_total_bytes", 0.0) > 0) {
            const double free = st["disk_free_bytes"].get<double>(), total = st["disk_total_bytes"].get<double>();
            std::printf("  disk: %s free of %s (%.0f %%)\n", bytes_text(free).c_str(), bytes_text(total).c_str(),
                        100.0 * free / total);
        }
        const auto& b = st.value("budget", nlohmann::json());
        if (!b.is_object()) {
            std::printf("  budget: none ([store] max_size_mb, min_free_mb)\n");
        } else {
            std::string limits;
            if (b.contains("max_size_bytes") && b["max_size_bytes"].is_number())
                limits += "at most " + bytes_text(b["max_size_bytes"].get<double>());
            if (b.contains("min_free_bytes") && b["min_free_bytes"].is_number())
                limits += std::string(limits.empty() ? "" : ", ") + "at least " +
                          bytes_text(b["min_free_bytes"].get<double>()) + " free";
            std::printf("  budget: %s; %s\n", limits.c_str(),
                        b.value("exhausted", false) ? "OVER IT, nothing left to shed"
                        : b.value("over", false)    ? "over it, shedding"
                                                    : "within it");
            if (b.contains("last_action") && b["last_action"].is_string())
                std::printf("  last shed: %s (%s)\n", b["last_action"].get<std::string>().c_str(),
                            when_text(b.value("last_action_ms", nlohmann::json()), now, zone).c_str());
        }
    }

    const auto& outboxes = s.value("outboxes", nlohmann::json::array());
    std::printf("\noutboxes:%s\n", outboxes.empty() ? " none" : "");
    if (!outboxes.empty()) {
        rows.clear();
        for (const auto& o : outboxes)
            rows.push_back({str(o, "queue"), str(o, "entries"), o.contains("bytes") && o["bytes"].is_number()
                                                                    ? bytes_text(o["bytes"].get<double>())
                                                                    : "-",
                            str(o, "dropped")});
        print_table({"QUEUE", "ENTRIES", "SIZE", "DROPPED"}, rows);
    }

    const auto& a = s.value("alarms", nlohmann::json::object());
    const auto& by = a.value("active_by_criticality", nlohmann::json::object());
    std::printf("\nalarms: %s active (%s critical, %s non critical, %s information), %s unacknowledged\n",
                str(a, "active", "0").c_str(), str(by, "critical", "0").c_str(), str(by, "non_critical", "0").c_str(),
                str(by, "information", "0").c_str(), str(a, "unacknowledged", "0").c_str());
}

}  // namespace

void register_status_command(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "status", "One screen for an operator: a running site's plugins, devices, rules, store, outboxes and alarms");
    auto target = std::make_shared<ControlTarget>();
    target->add_options(cmd);
    auto json = std::make_shared<bool>(false);
    cmd->add_flag("--json", *json, "The status document as JSON");
    cmd->footer(
        "Example: sudo gridlet status --config /etc/gridlet/site.toml\n"
        "Exit status: 0 running without problems; 1 no answer, or a problem (a failed plugin, a device left\n"
        "out, a store error: each printed); 2 bad arguments or site file.");
    cmd->callback([target, json] {
        auto reply = control_request(target->endpoint(), "{\"status\": {}}", target->timeout_ms);
        if (!reply) throw CLI::RuntimeError(1);
        auto j = nlohmann::json::parse(*reply, nullptr, false);
        if (j.is_discarded() || !j.is_object()) {
            std::fprintf(stderr, "gridlet status: not a status document: %s\n", reply->c_str());
            throw CLI::RuntimeError(1);
        }
        if (j.contains("error")) {
            std::fprintf(stderr, "gridlet status: %s (is the running gridlet older than this one?)\n",
                         str(j, "error").c_str());
            throw CLI::RuntimeError(1);
        }
        if (*json) std::printf("%s\n", j.dump(2).c_str());
        else print_status(j);
        if (!j.value("problems", nlohmann::json::array()).empty()) throw CLI::RuntimeError(1);
    });
}

}  // namespace gridlet::cli

// Kernel::status_json(): the one screen an operator reads (`gridlet status`,
// the control socket's {"status": {}}). Main thread.
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <filesystem>
#include <map>
#include <system_error>

#include "alarm/alarm_table.h"
#include "answers/device_answer.h"
#include "kernel/kernel.h"
#include "store/store.h"

#ifndef GRIDLET_VERSION
#define GRIDLET_VERSION "dev"
#endif

namespace gridlet::kernel {

nlohmann::json budget_json(const store::BudgetStatus& b) {
    if (!b.configured) return nullptr;
    return {{"max_size_bytes", b.max_size_bytes ? nlohmann::json(b.max_size_bytes) : nlohmann::json()},
            {"min_free_bytes", b.min_free_bytes ? nlohmann::json(b.min_free_bytes) : nlohmann::json()},
            // Measured at the last check (none yet: null).
            {"size_bytes", b.checked_ms ? nlohmann::json(b.size_bytes) : nlohmann::json()},
            {"free_bytes", !b.checked_ms || b.free_bytes == UINT64_MAX ? nlohmann::json() : nlohmann::json(b.free_bytes)},
            {"over", b.over},
            {"exhausted", b.exhausted},
            {"checked_ms", b.checked_ms ? nlohmann::json(b.checked_ms) : nlohmann::json()},
            {"raw_steps", b.raw_steps},
            {"outbox_steps", b.outbox_steps},
            {"outbox_entries_dropped", b.outbox_entries_dropped},
            {"rollup_steps", b.rollup_steps},
            {"event_steps", b.event_steps},
            {"last_action", b.last_action.empty() ? nlohmann::json() : nlohmann::json(b.last_action)},
            {"last_action_ms", b.last_action_ms ? nlohmann::json(b.last_action_ms) : nlohmann::json()}};
}

nlohmann::json Kernel::status_json() {
    const nlohmann::json metrics = metrics_json();
    nlohmann::json out = {{"site", plan_.site.site_name},
                          {"path", plan_.site.path},
                          {"version", GRIDLET_VERSION},
                          {"pid", ::getpid()},
                          {"uptime_ms", clock_.monotonic_ms() - started_at_ms_},
                          {"now_ms", clock_.now_ms()},
                          {"time_zone", time_zone_.name()}};
    nlohmann::json plugins = nlohmann::json::array();
    for (auto& i : instances_) {
        nlohmann::json p = {{"name", i->name()},
                            {"plugin", i->library().descriptor().name},
                            {"kind", plugin::PluginLibrary::kind_name(i->library().descriptor().kind)},
                            {"state", plugin::instance_state_name(i->state())}};
        p["failure"] = i->state() == plugin::InstanceState::failed ? nlohmann::json(i->failure_text()) : nlohmann::json();
        plugins.push_back(std::move(p));
    }
    out["plugins"] = std::move(plugins);

    std::map<std::string, std::string> refused;
    for (const RefusedDevice& r : plan_.refused_devices) refused[r.device] = r.problem.to_string();
    out["devices"] = answers::devices_status(store_.get(), plan_.site.devices, refused,
                                             metrics.value("plugins", nlohmann::json::object()), clock_.now_ms());

    nlohmann::json rules = nlohmann::json::array();
    if (components_) {
        if (auto r = components_->rules_status("", 2000); r && *r) {
            for (const auto& rule : **r)
                rules.push_back({{"name", rule.value("name", "")},
                                 {"status", rule.value("status", "")},
                                 {"errors", rule.value("errors", 0)},
                                 {"error", rule.contains("error") ? rule["error"] : nlohmann::json()},
                                 {"last_error", rule.contains("last_error") ? rule["last_error"] : nlohmann::json()},
                                 {"last_error_ms", rule.contains("last_error_ms") ? rule["last_error_ms"] : nlohmann::json()}});
        } else if (r && !*r) {
            out["rules_error"] = r->status().message();
        }
    }
    out["rules"] = std::move(rules);

    out["store"] = nullptr;
    out["outboxes"] = nlohmann::json::array();
    if (store_) {
        const std::filesystem::path path = store_->options().path;
        const store::WriteHealth h = store_->health();
        nlohmann::json s = {{"path", path.string()},
                            {"state", h.failing ? "failing" : "writing"},
                            {"write_error", h.failing ? nlohmann::json(h.error) : nlohmann::json()},
                            {"size_bytes", store::folder_bytes(path)},
                            {"series", registry_.size()}};
        std::error_code ec;
        const auto space = std::filesystem::space(path, ec);
        s["disk_free_bytes"] = ec ? nlohmann::json() : nlohmann::json(space.available);
        s["disk_total_bytes"] = ec ? nlohmann::json() : nlohmann::json(space.capacity);
        s["budget"] = budget_json(store_->budget_status());
        out["store"] = std::move(s);
        if (auto queues = store_->outbox().queues(""); queues) {
            for (const std::string& q : *queues) {
                auto n = store_->outbox().size(q);
                auto bytes = store_->outbox().approximate_bytes(q);
                out["outboxes"].push_back({{"queue", q},
                                           {"entries", n ? nlohmann::json(*n) : nlohmann::json()},
                                           {"bytes", bytes ? nlohmann::json(*bytes) : nlohmann::json()},
                                           {"dropped", store_->outbox().dropped(q)}});
            }
        }
    }

    nlohmann::json alarms = {{"active", 0}, {"open", 0}, {"unacknowledged", 0}};
    nlohmann::json by = {{"critical", 0}, {"non_critical", 0}, {"information", 0}};
    if (alarms_) {
        alarm::AlarmFilter f;
        f.open = true;
        if (auto list = alarms_->list(f); list) {
            for (const alarm::Alarm& a : *list) {
                alarms["open"] = alarms["open"].get<int>() + 1;
                const bool active = a.status() == alarm::AlarmStatus::active_unacknowledged ||
                                    a.status() == alarm::AlarmStatus::active_acknowledged;
                if (active) {
                    alarms["active"] = alarms["active"].get<int>() + 1;
                    by[alarm::criticality_name(a.criticality)] = by[alarm::criticality_name(a.criticality)].get<int>() + 1;
                }
                if (a.status() == alarm::AlarmStatus::active_unacknowledged ||
                    a.status() == alarm::AlarmStatus::finished_unacknowledged)
                    alarms["unacknowledged"] = alarms["unacknowledged"].get<int>() + 1;
            }
        }
    }
    alarms["active_by_criticality"] = std::move(by);
    out["alarms"] = std::move(alarms);
    out["problems"] = metrics.value("problems", nlohmann::json::array());
    // What systemd's STATUS= says, from what is above.
    out["status_line"] = compose_status_line(out["devices"], out["alarms"]["active_by_criticality"]["critical"].get<size_t>(),
                                             out["problems"]);
    return out;
}

}  // namespace gridlet::kernel

// Kernel: owns the series registry, the bus and the plugin instances of one
// site, starts them in config order and stops them in reverse order within a
// bounded time. run_until_signal() serves the control socket and handles
// SIGINT/SIGTERM (stop) and SIGHUP (reload: kernel/live_reload.cpp applies
// the changed plugins, devices, rules, alarms and exports while the rest
// runs on).
//
// Threads: every method is for the thread that made the Kernel (the main
// thread), except metrics_json() and problems_json(), which any thread may
// call (they read the instances and the plan under live_mu_, which the main
// thread holds while a reload changes them). Call
// block_signals() before the first thread of the process is started, so
// that signals reach run_until_signal() and no plugin thread.
#pragma once

#include <signal.h>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bus/bus.h"
#include "core/clock.h"
#include "core/series_registry.h"
#include "core/timezone.h"
#include "kernel/components.h"
#include "kernel/site_plan.h"
#include "plugin/command_router.h"
#include "plugin/plugin_instance.h"

namespace gridlet::store {
class Store;
struct BudgetStatus;
}

namespace gridlet::kernel {

class NorthFeeds;

// SIGINT, SIGTERM and SIGHUP: what run_until_signal() handles.
sigset_t kernel_signals();
void block_signals();

class Kernel {
public:
    explicit Kernel(SitePlan plan, const Clock& clock = SystemClock::instance());
    ~Kernel();
    Kernel(const Kernel&) = delete;
    Kernel& operator=(const Kernel&) = delete;

    // Opens the store (when the site has one), makes the instances and starts
    // them one by one: the store writer first, then the site's plugins in
    // file order, then the rule engine. A plugin whose create or start fails
    // is reported and left stopped; the others start. Fails only when the
    // kernel itself cannot run (bus, store).
    Status start();
    // Stops the running instances in reverse start order, each within the
    // site's stop_timeout_ms. False if one did not stop in time.
    bool stop();
    // Serves the control socket until SIGINT/SIGTERM, then stop(). Returns
    // the process exit code.
    int run_until_signal();

    SeriesRegistry& registry() noexcept { return registry_; }
    store::Store* store() noexcept { return store_.get(); }
    alarm::AlarmTable* alarms() noexcept { return alarms_.get(); }
    bus::Bus& bus() noexcept { return *bus_; }
    const SitePlan& plan() const noexcept { return plan_; }
    plugin::PluginInstance* instance(const std::string& name);
    nlohmann::json metrics_json();
    // What is wrong with this run, one line each ("plugin 'x' failed: ...",
    // "device 'd' (file:line) left out: ..."); empty when healthy. Any thread.
    nlohmann::json problems_json();
    // One line for an operator (systemd's STATUS=): "site 'demo': 6 plugins
    // running, 0 problems" or the first problem. Main thread.
    std::string status_line();
    // The operator's status document (`gridlet status`, control {"status":{}}):
    //   {site, path, version, pid, uptime_ms, now_ms, time_zone,
    //    plugins: [{name, plugin, kind, state, failure}],
    //    devices: answers::devices_status(...), rules: [{name, status, errors, last_error}],
    //    store: {path, state, size_bytes, disk_free_bytes, disk_total_bytes, write_error} | null,
    //    outboxes: [{queue, entries, bytes, dropped}],
    //    alarms: {active, open, unacknowledged, by_criticality: {critical, ...}}, problems: [..]}
    // Main thread (the rules are read on their own thread, waited for up to 2 s).
    nlohmann::json status_json();

    // Starts every failed plugin again (PluginInstance::revive), with the
    // configuration it started with, but those named in `leave` (a reload
    // just started them); part of the SIGHUP reload. Returns the names
    // started again; each outcome is logged. Main thread.
    // `failures` (may be null) gets "name: why" for each that did not start.
    std::vector<std::string> revive_failed_plugins(const std::set<std::string>& leave = {},
                                                   std::vector<std::string>* failures = nullptr);

    // Called on SIGHUP after the kernel's own reload (rules hook in here).
    void on_reload(std::function<void()> fn) { reload_hooks_.push_back(std::move(fn)); }

private:
    // Reloads what can be reloaded (SIGHUP, {"reload":{}}), after the checks
    // of `gridlet check` (a file with errors is refused, the running
    // configuration kept); the answer:
    //   {ok, applied: ["log level and pattern", "plugins and devices", ...],
    //    path: the site file read,
    //    changes: ["device 'x' (site.toml:12) added", "[[alarms]] 'hot' added", ...],
    //    plugins: {added, restarted, removed, failed: ["name: why"]},
    //    revived_plugins, not_applied_until_restart: [...]}
    // or {error, code, errors: ["file:line: ..."]}.
    nlohmann::json reload();
    // What apply_plugins() did, by plugin name ("name: why" for failures).
    struct PluginChanges {
        std::vector<std::string> added, restarted, removed, failed;
        std::vector<std::string> edited;  // "plugin 'x': file '/p/my.toml' edited" (a profile)
    };
    // The site plugins of `fresh` become the running ones: a plugin whose
    // file, configuration or devices changed is restarted with them, a new
    // one made and started, a removed (or disabled) one stopped; the others
    // are not touched. plan_.plugins follows what took effect.
    PluginChanges apply_plugins(const SitePlan& fresh);
    // Starts an instance made after start(): every running subscriber first
    // connects to its publishers, so that nothing it sends first is lost.
    Status add_instance(std::unique_ptr<plugin::PluginInstance> inst);
    // Stops an instance, frees its devices' command claims and drops it.
    // False (logged) when it did not stop within the stop timeout.
    bool remove_instance(const std::string& name);
    // Restarts component `name` (alarms, exporter), calling `while_stopped`
    // between its stop and its start (its context may change then).
    Status restart_component(const std::string& name, std::function<void()> while_stopped);
    nlohmann::json problems_locked();  // problems_json() with live_mu_ held
    // status_line() from its parts: `devices` as answers::devices_status
    // gives them, the critical alarms active, problems_json().
    std::string compose_status_line(const nlohmann::json& devices, size_t critical_active,
                                    const nlohmann::json& problems) const;
    std::string handle_control(std::string_view request);
    nlohmann::json control_publish(const nlohmann::json& request);
    nlohmann::json control_alarm_ack(const nlohmann::json& request);
    nlohmann::json control_telegram_subscriber(const nlohmann::json& request);
    nlohmann::json control_backup_checkpoint(const nlohmann::json& body);
    nlohmann::json control_audit(const nlohmann::json& body);
    void publish_alarm_changes();  // main thread

    SitePlan plan_;
    const Clock& clock_;
    SeriesRegistry registry_;
    TimeZone time_zone_;
    std::unique_ptr<store::Store> store_;  // after registry_: closed before it
    std::unique_ptr<alarm::AlarmPersistence> alarm_persistence_;  // over store_ (or memory): closed before it
    std::unique_ptr<alarm::AlarmTable> alarms_;
    std::unique_ptr<notify::Notifier> notifier_;  // [[notifications]], over store_
    std::unique_ptr<NorthFeeds> feeds_;           // north plugins' feeds, over store_ and alarms_
    std::unique_ptr<ComponentContext> components_;
    std::unique_ptr<bus::Bus> bus_;
    plugin::CommandRouter router_;
    std::vector<std::unique_ptr<plugin::PluginInstance>> instances_;  // start order
    bus::EndpointMetrics control_metrics_;                 // the control socket's own publishing
    std::unique_ptr<bus::Publisher> control_publisher_;    // main thread (run_until_signal)
    std::vector<std::function<void()>> reload_hooks_;
    std::optional<plugin::HostServices> services_;  // what start() gave the instances; reloads give it to new ones
    uint32_t next_index_ = 0;                      // the next instance's index
    // The file a reload last applied: plan_.site's devices, plugins and
    // rules point into it (plan_.site.root is the tree in effect, which the
    // next reload compares with).
    std::shared_ptr<toml::table> applied_root_;
    // Guards instances_ (the vector), plan_.refused_devices,
    // plan_.alarm_rules and components_->exports against readers on other
    // threads (metrics_json, problems_json) while a reload changes them.
    mutable std::mutex live_mu_;
    int64_t started_at_ms_ = 0;
    bool running_ = false;
};

// The disk budget's state as JSON (null when the store has none): status
// and metrics documents. Any thread.
nlohmann::json budget_json(const store::BudgetStatus& b);

// Applies the site's [logging] settings to spdlog's default logger. With
// no [logging] file and stderr read by the journal ($JOURNAL_STREAM, as
// under systemd), lines carry the journal's priority prefix ("<3>" for an
// error) and no timestamp of their own.
Status setup_logging(const SiteConfig& site);
// True when stderr is the stream systemd's journal reads ($JOURNAL_STREAM).
bool stderr_is_journal();

}  // namespace gridlet::kernel

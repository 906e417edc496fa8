// gridlet's own components that run as plugin instances on the bus (so they
// get a thread, subscriptions, commands and metrics like any plugin), but are
// linked into gridlet and reach the kernel's objects directly:
//   "store"  writes every sample and event of the bus into the store;
//   "alarms" runs the [[alarms]] rules and raises the system alarms (device
//            communication lost, plugin failed, rule stopped, store writes
//            failing) into the kernel's alarm table;
//   "notifier" sends the alarm changes [[notifications]] want (e-mail,
//            webhook) through the store's outbox;
//   "rules"  runs the site's Lua rules (script::Engine) against bus and store;
//   "exporter" writes the [[exports]] with a dir or targets on their
//            schedule (into the dir and the targets' outboxes);
//   "export_sender" pushes the outboxes of [[export_targets]] to their
//            servers (FTP, FTPS, SFTP, HTTP(S)).
//   "http"   serves the HTTP(S) API ([http], runtime/http/api_server.h).
// The kernel makes them with make_*_instance() and hands each its context.
// Threads: see each component's class comment.
#pragma once

#include "script/engine_core.h"
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "alarm/alarm_rules.h"
#include "export/export_config.h"
#include "export/legrand_history.h"
#include "http/api_server.h"
#include "http/http_config.h"
#include "alarm/alarm_table.h"
#include "notify/notifier.h"

#include "core/site_config.h"
#include "core/snapshot.h"
#include "core/timezone.h"
#include "plugin/plugin_instance.h"

namespace gridlet::store {
class Store;
}

namespace gridlet::kernel {

// A function of a component that other threads may call while it runs: set
// and cleared on the owner's thread; a call copies it under the lock (never
// half set) and runs it outside. nullopt when none is set.
template <class Sig>
class SharedCall;
template <class R, class... A>
class SharedCall<R(A...)> {
public:
    void set(std::function<R(A...)> fn) {
        std::lock_guard lock(mu_);
        fn_ = std::move(fn);
    }
    void clear() { set(nullptr); }
    std::optional<R> operator()(A... args) const {
        std::function<R(A...)> fn;
        {
            std::lock_guard lock(mu_);
            fn = fn_;
        }
        if (!fn) return std::nullopt;
        return fn(std::forward<A>(args)...);
    }

private:
    mutable std::mutex mu_;
    std::function<R(A...)> fn_;
};

// What the components may use; owned by the Kernel, outlives the instances.
class NorthFeeds;

struct ComponentContext {
    ComponentContext(SeriesRegistry& r, store::Store* s, const TimeZone& tz, SiteConfig sc)
        : registry(r), store(s), time_zone(tz), site(std::move(sc)) {}
    SeriesRegistry& registry;
    store::Store* store;  // null when the site has no [store]
    const TimeZone& time_zone;
    // The site as last applied: set by the kernel at start and at each
    // reload (its devices, plugins and rules change live); any thread reads it.
    Snapshot<SiteConfig> site;
    // Set by the rules component on its thread; called there (reload_rules).
    std::function<void(const SiteConfig&)> rules_reload;
    // The site's alarms (thread-safe) and what the alarms component runs
    // (replaced by a reload only while that component is stopped).
    alarm::AlarmTable* alarms = nullptr;
    std::vector<alarm::AlarmRule> alarm_rules;
    // Set by the alarms component on its thread; called there by a reload
    // (kernel/live_reload.cpp posts it): the new [[alarms]] rules (used when
    // rules_changed) and the devices removed from the site.
    std::function<void(std::vector<alarm::AlarmRule> rules, bool rules_changed,
                       const std::vector<std::string>& removed_devices)>
        alarms_reload;
    // The evaluator's figures, copied by the alarms component about once a
    // second (for metrics, any thread).
    std::atomic<uint64_t> alarm_instances{0}, alarm_waiting_for_reference{0}, alarm_samples{0},
        alarm_raise_failures{0};
    // [[notifications]] (null without them): every alarm change taken from
    // the table goes to it (on_change) before it is published.
    notify::Notifier* notifier = nullptr;
    // The notifier's figures (copied about once a second).
    std::atomic<uint64_t> notify_queued{0}, notify_messages{0}, notify_delivered{0}, notify_failures{0},
        notify_pending{0};
    // The scheduled [[exports]] (the exporter component runs them; replaced
    // by a reload only while it is stopped), and its figures.
    std::vector<exporter::ExportConfig> exports;
    std::atomic<uint64_t> export_files{0}, export_failures{0}, export_behind{0};
    // [legrand_history] (the exporter component keeps its tree), the site
    // model it writes, and the files it wrote.
    std::optional<exporter::LegrandConfig> legrand;
    model::SiteModel model;
    std::atomic<uint64_t> legrand_files{0};
    // The [[export_targets]] (the export_sender component pushes their
    // outboxes), and its figures.
    std::vector<exporter::TargetConfig> export_targets;
    std::atomic<uint64_t> export_sent{0}, export_send_failures{0}, export_waiting{0};
    // North plugins' store-and-forward feeds (null without a store): the
    // store writer taps every batch into them before storing it.
    NorthFeeds* feeds = nullptr;
    std::atomic<uint64_t> feed_failures{0};
    // [http] (the http component serves the API), and its server's figures
    // (set while it runs; any thread reads them).
    std::optional<http::HttpConfig> http;
    std::atomic<const http::ApiCounters*> http_counters{nullptr};
    // The devices left out of this run (a problem of their own): name -> why.
    // Set by the kernel at start and at each reload; any thread reads it.
    Snapshot<std::map<std::string, std::string>> refused_devices;
    // The kernel's metrics (Kernel::metrics_json, any thread).
    std::function<nlohmann::json()> metrics;
    // A control request (kernel/control.cpp: {"publish":..}, {"reload":{}})
    // served by the kernel's main thread, from any thread; set by the Kernel
    // before the components start. Errors: unavailable (no answer within
    // timeout_ms, or no control socket).
    std::function<Expected<nlohmann::json>(const nlohmann::json& request, int timeout_ms)> kernel_call;
    // The rules and their status documents (gridlet.status), taken on the
    // rules thread within timeout_ms: [{name, file, status, error, callbacks,
    // errors, memory_bytes, last_error, last_error_ms, document}] ("" for
    // every rule, else that one). Set while the rules component runs.
    SharedCall<Expected<nlohmann::json>(const std::string& rule, int timeout_ms)> rules_status;
};

Expected<std::unique_ptr<plugin::PluginInstance>> make_store_writer_instance(ComponentContext& ctx,
                                                                            plugin::HostServices services,
                                                                            uint32_t index);

Expected<std::unique_ptr<plugin::PluginInstance>> make_alarms_instance(ComponentContext& ctx,
                                                                      plugin::HostServices services, uint32_t index);

Expected<std::unique_ptr<plugin::PluginInstance>> make_notifier_instance(ComponentContext& ctx,
                                                                        plugin::HostServices services, uint32_t index);

Expected<std::unique_ptr<plugin::PluginInstance>> make_exporter_instance(ComponentContext& ctx,
                                                                        plugin::HostServices services, uint32_t index);

Expected<std::unique_ptr<plugin::PluginInstance>> make_export_sender_instance(ComponentContext& ctx,
                                                                             plugin::HostServices services,
                                                                             uint32_t index);

Expected<std::unique_ptr<plugin::PluginInstance>> make_rules_instance(ComponentContext& ctx,
                                                                     plugin::HostServices services, uint32_t index);

Expected<std::unique_ptr<plugin::PluginInstance>> make_http_instance(ComponentContext& ctx,
                                                                    plugin::HostServices services, uint32_t index);

// The rules component's instance: posts a reload of the rules (SIGHUP) with
// the site's new [[rules]] and [rule_engine]. Any thread.
// The rule engine's options for `site`: its [rule_engine] plus the library
// folders shipped with gridlet. Shared by the rules component and the
// site check (site_plan.cpp).
script::EngineOptions rule_engine_options(const SiteConfig& site);

void reload_rules(plugin::PluginInstance& rules_instance, const SiteConfig& fresh);

}  // namespace gridlet::kernel

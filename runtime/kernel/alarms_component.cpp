// The "alarms" component: on its own plugin thread it runs the site's
// [[alarms]] rules (alarm::AlarmEvaluator) on every sample of the bus, and
// turns the faults the kernel sees into system alarms:
//   event <device>/offline        -> "communication_lost" (critical) until <device>/online,
//                                    which ends it with the outage's duration;
//   event kernel/plugin_failed    -> "plugin_failed" (critical, latching);
//   event rule/<r>/rule_stopped, rule_load_failed, rule_error
//                                 -> "rule_stopped" / "rule_load_failed" / "rule_error"
//                                    (non critical, latching);
//   event kernel/device_refused   -> "configuration_error" (latching);
//   the store's writes failing    -> "store_write_failing" (critical) until they resume;
//   the store over its disk budget -> "store_over_budget" (non critical while it sheds
//                                    data, critical once nothing is left to shed) until
//                                    it is within it again.
// Latching system alarms stay active until someone acknowledges them: a
// fault that is over is still something a person must have seen.
// Every change of the table is queued for the [[notifications]] (in the
// store's outbox) and published as an event (source: the alarm's
// source, type alarm_raised / alarm_acknowledged / alarm_returned /
// alarm_reactivated / alarm_finished, body: the alarm record), which the store writer keeps
// and notifiers follow.
#include <gridlet/plugin.hpp>

#include <algorithm>
#include <limits>
#include <memory>

#include "alarm/evaluator.h"
#include "core/text.h"
#include "kernel/alarm_store.h"
#include "kernel/component_instance.h"
#include "kernel/components.h"
#include "store/store.h"

namespace gridlet::kernel {

namespace {

constexpr uint64_t kTickMs = 200;

class AlarmsComponent : public gridlet::Plugin {
public:
    static constexpr gridlet::PluginInfo info{"alarms", "1.0.0", GL_KIND_LOGIC,
                                              "evaluates alarm rules and raises system alarms"};

    explicit AlarmsComponent(gridlet::Host h)
        : Plugin(h), ctx_(*static_cast<ComponentContext*>(h.ctx()->instance->component())) {}

    void start() override {
        evaluator_ = std::make_unique<alarm::AlarmEvaluator>(ctx_.alarm_rules, *ctx_.alarms, ctx_.registry);
        const int64_t now = host().now_ms();
        evaluator_->start(now);
        // System alarms carried over from the last run (or a reload) whose
        // subject is gone.
        const std::shared_ptr<const SiteConfig> site = ctx_.site.get();
        for (const std::string& key : ctx_.alarms->active_keys()) {
            const std::string prefix = "system/comm_lost|";
            if (key.rfind(prefix, 0) != 0) continue;
            const std::string device = key.substr(prefix.size());
            bool configured = false;
            // Polled: in the site file, on an enabled plugin.
            for (const DeviceEntry& d : site->devices)
                configured = configured || (d.name == device && std::any_of(site->plugins.begin(), site->plugins.end(),
                                                                            [&](const PluginEntry& p) {
                                                                                return p.name == d.plugin && p.enabled;
                                                                            }));
            if (!configured)
                (void)ctx_.alarms->clear(key, now, std::numeric_limits<double>::quiet_NaN(),
                                         "device '" + device +
                                             "' is no longer polled (removed from the site file, or its plugin "
                                             "removed or disabled)");
        }
        ctx_.alarms_reload = [this](std::vector<alarm::AlarmRule> rules, bool rules_changed,
                                    const std::vector<std::string>& removed_devices) {
            reconfigure(std::move(rules), rules_changed, removed_devices);
        };
        store_failing_ = ctx_.alarms->active("system/store_write|store").has_value();
        over_budget_ = ctx_.alarms->active("system/store_budget|store").has_value() ? 1 : 0;
        host().subscribe("data/");  // [[alarms]] and device alarm points (tag alarm=)
        host().subscribe("event/");
        host().ctx()->instance->hooks().after_drain = [this] { publish(); };
        host().add_timer(kTickMs, true);
        const auto c = evaluator_->counters();
        host().info("alarms: " + std::to_string(ctx_.alarm_rules.size()) + " rules, " + std::to_string(c.instances) +
                    " instances, " + std::to_string(ctx_.alarms->active_count()) + " alarms active");
        publish();
    }

    void on_samples(const char*, const gl_sample* s, size_t n) override { evaluator_->on_samples(s, n); }

    void on_event(const char*, const gl_event& e) override {
        const std::string type = e.type ? e.type : "";
        const std::string source = e.source ? e.source : "";
        if (type.rfind("alarm_", 0) == 0) return;  // ours
        auto body = nlohmann::json::parse(std::string_view(e.body_json, e.body_len), nullptr, false);
        if (!body.is_object()) body = nlohmann::json::object();
        if (type == "offline") {
            alarm::RaiseRequest r = system_request("communication_lost", source, "communication", e.ts_ms);
            r.key = "system/comm_lost|" + source;
            r.criticality = alarm::Criticality::critical;
            r.value = body.value("failed_polls", 0.0);
            r.message = "device '" + source + "' does not answer" +
                        (body.value("error", "").empty() ? "" : ": " + body.value("error", ""));
            r.detail = body;
            raise(r);
        } else if (type == "online") {
            const std::string key = "system/comm_lost|" + source;
            if (auto a = ctx_.alarms->active(key)) {
                const double outage_s = static_cast<double>(e.ts_ms - a->start_ms) / 1000.0;
                auto done = ctx_.alarms->clear(key, e.ts_ms, std::numeric_limits<double>::quiet_NaN(),
                                               "device answers again after " + format_seconds(outage_s));
                if (!done) host().error("alarms: " + done.status().message());
            }
        } else if (source == "kernel" && type == "plugin_failed") {
            const std::string plugin = body.value("plugin", "?");
            alarm::RaiseRequest r = system_request("plugin_failed", "kernel", "system", e.ts_ms);
            r.key = "system/plugin_failed|" + plugin;
            r.criticality = alarm::Criticality::critical;
            r.message = "plugin '" + plugin + "' stopped: " + body.value("error", "");
            r.detail = body;
            latched(r);
        } else if (source == "kernel" && type == "device_refused") {
            const std::string device = body.value("device", "?");
            alarm::RaiseRequest r = system_request("configuration_error", device, "configuration", e.ts_ms);
            r.key = "system/device_refused|" + device;
            r.message = "device '" + device + "' left out: " + body.value("error", "");
            r.detail = body;
            latched(r);
        } else if (source.rfind("rule/", 0) == 0 &&
                   (type == "rule_stopped" || type == "rule_load_failed" || type == "rule_error")) {
            alarm::RaiseRequest r = system_request(type, source, "rule", e.ts_ms);
            r.key = "system/" + type + "|" + source;
            r.message = source + ": " + body.value("message", body.value("error", type));
            r.detail = body;
            latched(r);
        }
        publish();
    }

    void on_timer(uint64_t) override {
        const int64_t now = host().now_ms();
        evaluator_->tick(now);
        ctx_.alarms->tick(now);
        check_store(now);
        check_budget(now);
        publish();
        const auto c = evaluator_->counters();
        ctx_.alarm_instances = c.instances;
        ctx_.alarm_waiting_for_reference = c.waiting_for_reference;
        ctx_.alarm_samples = c.samples;
        ctx_.alarm_raise_failures = c.raise_failures;
    }

    void stop() override {
        ctx_.alarms_reload = nullptr;
        publish();
    }

    // A reload (kernel/live_reload.cpp), on this thread, so that no sample
    // or event of the bus is missed meanwhile: every alarm of a device no
    // longer in the site ends (its [[alarms]] instances, its communication
    // alarm), then the new [[alarms]] rules replace the old (an instance's
    // pending on-delay starts again; an alarm whose rule is gone ends).
    void reconfigure(std::vector<alarm::AlarmRule> rules, bool rules_changed,
                     const std::vector<std::string>& removed_devices) {
        const int64_t now = host().now_ms();
        for (const std::string& key : ctx_.alarms->active_keys()) {
            const size_t bar = key.find('|');
            if (bar == std::string::npos) continue;
            const std::string series = key.substr(bar + 1);
            const std::string device = series.substr(0, series.find('/'));
            if (std::find(removed_devices.begin(), removed_devices.end(), device) != removed_devices.end())
                (void)ctx_.alarms->clear(key, now, std::numeric_limits<double>::quiet_NaN(),
                                         "device '" + device +
                                             "' is no longer polled (removed from the site file, or its plugin "
                                             "removed or disabled)");
        }
        if (rules_changed) {
            ctx_.alarm_rules = std::move(rules);
            evaluator_ = std::make_unique<alarm::AlarmEvaluator>(ctx_.alarm_rules, *ctx_.alarms, ctx_.registry);
            evaluator_->start(now);
            const auto c = evaluator_->counters();
            host().info("alarms: " + std::to_string(ctx_.alarm_rules.size()) + " rules, " +
                        std::to_string(c.instances) + " instances, " + std::to_string(ctx_.alarms->active_count()) +
                        " alarms active (reload)");
        }
        publish();
    }

private:
    static std::string format_seconds(double s) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.0f s", s);
        return buf;
    }

    alarm::RaiseRequest system_request(const std::string& name, const std::string& source, const std::string& category,
                                       int64_t ts) {
        return alarm::system_raise(name, source, category, alarm::Criticality::non_critical, ts);
    }

    void raise(const alarm::RaiseRequest& r) {
        auto a = ctx_.alarms->raise(r);
        if (!a && a.status().code() != StatusCode::unavailable) host().error("alarms: " + a.status().message());
    }

    // A fault that happened (no "end" event): active until acknowledged.
    void latched(alarm::RaiseRequest r) {
        r.latching = true;
        auto a = ctx_.alarms->raise(r);
        if (!a) {
            if (a.status().code() != StatusCode::unavailable) host().error("alarms: " + a.status().message());
            return;
        }
        (void)ctx_.alarms->clear(r.key, r.ts_ms, std::numeric_limits<double>::quiet_NaN());
    }

    void check_store(int64_t now) {
        if (!ctx_.store) return;
        const store::WriteHealth h = ctx_.store->health();
        const std::string key = "system/store_write|store";
        if (h.failing && !store_failing_) {
            alarm::RaiseRequest r = system_request("store_write_failing", "store", "system", now);
            r.key = key;
            r.criticality = alarm::Criticality::critical;
            r.message = "the store cannot write (samples are not kept): " + h.error;
            r.detail = {{"error", h.error}, {"path", ctx_.store->options().path.string()}};
            raise(r);
        } else if (!h.failing && store_failing_) {
            (void)ctx_.alarms->clear(key, now, std::numeric_limits<double>::quiet_NaN(), "writes resumed");
        }
        store_failing_ = h.failing;
    }

    // 0 within the budget, 1 over it and shedding, 2 over it with nothing left.
    void check_budget(int64_t now) {
        if (!ctx_.store) return;
        const store::BudgetStatus b = ctx_.store->budget_status();
        // Shedding since the last look counts as over it: a person is told
        // that data went, even when one step was enough.
        const uint64_t steps = b.raw_steps + b.outbox_steps + b.rollup_steps + b.event_steps;
        const bool shed = steps != budget_steps_;
        budget_steps_ = steps;
        int level = !b.configured ? 0 : b.exhausted ? 2 : (b.over || shed) ? 1 : 0;
        // Ended only by a later check that found it within, without shedding.
        if (level == 0 && over_budget_ != 0 && b.checked_ms == budget_checked_ms_) level = over_budget_;
        if (shed || level == 0) budget_checked_ms_ = b.checked_ms;
        const std::string key = "system/store_budget|store";
        if (level == over_budget_) return;
        if (level == 0) {
            (void)ctx_.alarms->clear(key, now, std::numeric_limits<double>::quiet_NaN(), "within the disk budget again");
        } else {
            if (over_budget_ != 0)  // a change of criticality: the alarm again, at its new level
                (void)ctx_.alarms->clear(key, now, std::numeric_limits<double>::quiet_NaN(),
                                         level == 2 ? "nothing left to shed" : "shedding again");
            alarm::RaiseRequest r = system_request("store_over_budget", "store", "system", now);
            r.key = key;
            r.criticality = level == 2 ? alarm::Criticality::critical : alarm::Criticality::non_critical;
            r.message = level == 2 ? "the store is over its disk budget and nothing is left to shed: raise "
                                     "[store] max_size_mb, lower min_free_mb, or free the disk"
                                   : "the store is over its disk budget: the oldest data is shed (" + b.last_action + ")";
            r.detail = {{"size_bytes", b.size_bytes},
                        {"free_bytes", b.free_bytes},
                        {"max_size_bytes", b.max_size_bytes},
                        {"min_free_bytes", b.min_free_bytes},
                        {"last_action", b.last_action}};
            raise(r);
        }
        over_budget_ = level;
    }

    // Every change of the table, as an event on the bus.
    void publish() {
        for (const alarm::AlarmChange& c : ctx_.alarms->take_transitions()) {
            // Queued for the notifications first (in the store), then told.
            if (ctx_.notifier)
                (void)ctx_.notifier->on_change(alarm::transition_name(c.transition), c.alarm, host().now_ms());
            const std::string body = dump_json(alarm::to_json(c.alarm));
            const gl_status st = host().emit_event(alarm::transition_event_type(c.transition),
                                                   static_cast<gl_severity>(alarm_event_severity(c)), body,
                                                   c.alarm.source.c_str());
            if (st != GL_OK) host().error("alarms: alarm " + std::to_string(c.alarm.id) + " " +
                                          alarm::transition_name(c.transition) + " not published (status " +
                                          std::to_string(st) + "); it is in the alarm table");
        }
    }

    ComponentContext& ctx_;
    std::unique_ptr<alarm::AlarmEvaluator> evaluator_;
    bool store_failing_ = false;
    int over_budget_ = 0;
    uint64_t budget_steps_ = 0;
    int64_t budget_checked_ms_ = 0;
};

}  // namespace

Expected<std::unique_ptr<plugin::PluginInstance>> make_alarms_instance(ComponentContext& ctx, plugin::HostServices services,
                                                   uint32_t index) {
    return make_component_instance<AlarmsComponent>("alarms", ctx, services, index);
}

}  // namespace gridlet::kernel

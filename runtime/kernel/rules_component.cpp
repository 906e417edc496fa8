// The "rules" component: runs the site's Lua rules (script::Engine) on its
// own plugin thread, which is the engine thread. It implements RuleHost on
// the kernel's objects: samples come from the bus ("data/"), commands go out
// as bus commands (one reply each, delivered back to the engine), events are
// published on event/rule/<name>/<type>, queries and persistent state go to
// the store. Without a [store], queries fail with a clear error and state
// lives in memory only (said at start).
#include <gridlet/plugin.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <future>

#include "core/text.h"
#include "export/outbox_sender.h"
#include "model/consumption_json.h"
#include "kernel/component_instance.h"
#include "kernel/components.h"
#include "kernel/rule_store_reads.h"
#include "script/engine.h"
#include "script/rules_config.h"
#include "store/store.h"


namespace gridlet::kernel {

namespace {

class RulesComponent : public gridlet::Plugin, public script::RuleHost {
public:
    static constexpr gridlet::PluginInfo info{"rules", "1.0.0", GL_KIND_LOGIC, "runs the site's Lua rules"};

    explicit RulesComponent(gridlet::Host h)
        : Plugin(h),
          ctx_(*static_cast<ComponentContext*>(h.ctx()->instance->component())),
          engine_(*this, rule_engine_options(*ctx_.site.get())) {}

    void start() override {
        host().subscribe("data/");
        auto& hooks = host().ctx()->instance->hooks();
        hooks.next_due_ms = [this] { return engine_.next_timer_in_ms(); };
        hooks.on_due = [this] { safely("timers", [&] { engine_.run_due_timers(); }); };
        ctx_.rules_reload = [this](const SiteConfig& fresh) { reload(fresh); };
        // Other threads (the HTTP API) ask on this thread; a task posted
        // after stop() never runs, and the caller's wait ends at its timeout.
        plugin::PluginInstance* self = host().ctx()->instance;
        auto alive = alive_;
        ctx_.rules_status.set([this, self, alive](const std::string& rule, int timeout_ms) -> Expected<nlohmann::json> {
            auto answer = std::make_shared<std::promise<Expected<nlohmann::json>>>();
            auto done = answer->get_future();
            self->post([this, alive, rule, answer] {
                if (!*alive) return answer->set_value(Status::unavailable("the rules have stopped"));
                answer->set_value(rules_json(rule));
            });
            if (done.wait_for(std::chrono::milliseconds(timeout_ms)) != std::future_status::ready)
                return Status::unavailable("the rules did not answer within " + std::to_string(timeout_ms) +
                                           " ms (busy, or stopping)");
            return done.get();
        });
        if (!ctx_.store) host().warn("no [store] in the site: rule state is kept in memory only, and query() fails");
        const std::shared_ptr<const SiteConfig> site = ctx_.site.get();
        read_model(*site);
        configure(*site);
        bool watch = !site->rule_engine.contains("watch") || site->rule_engine.at("watch").get<bool>();
        if (watch) {
            Status st = engine_.watch_files();
            if (st) {
                hooks.fd = engine_.watch_fd();
                hooks.on_fd = [this] { safely("file reload", [&] { engine_.poll_file_changes(); }); };
            } else {
                host().warn("rule files are not watched: " + st.message() + " (SIGHUP still reloads)");
            }
        }
    }

    // The rules of `site` become the running set; then changed files reload.
    void configure(const SiteConfig& site, bool revive_stopped = false) {
        script::Budgets defaults = rule_engine_options(site).default_budgets;
        std::vector<script::RuleConfig> rules;
        for (const RuleEntry& r : site.rules) {
            if (r.config.contains("enabled") && !r.config["enabled"].get<bool>()) continue;
            rules.push_back(script::rule_config_from_json(r.config, site.dir, defaults));
        }
        engine_.configure(rules, revive_stopped);  // the engine logs each failure once
        size_t running = 0;
        for (const auto& info : engine_.rules()) running += info.status == script::RuleStatus::running;
        host().info(std::to_string(running) + " of " + std::to_string(rules.size()) + " rule(s) running");
    }

    // SIGHUP: one pass that applies the site's rules, reloads changed files
    // and revives stopped rules (each failure logged once).
    void reload(const SiteConfig& fresh) {
        read_model(fresh);
        configure(fresh, /*revive_stopped=*/true);
    }
    // The site model, as `gridlet check` validated it (a problem here was
    // refused before the site started; a reload with one keeps the old).
    void read_model(const SiteConfig& site) {
        if (!site.root) return;
        config::Diagnostics diags;
        model::SiteModel m = model::parse_site_model(*site.root, site.path, site.timezone, diags);
        if (diags.empty()) model_ = std::move(m);
    }

    void stop() override {
        *alive_ = false;
        ctx_.rules_status.clear();
    }

    // The rules' state and status documents (ComponentContext::rules_status).
    Expected<nlohmann::json> rules_json(const std::string& only) {
        nlohmann::json out = nlohmann::json::array();
        for (const script::RuleInfo& info : engine_.rules()) {
            if (!only.empty() && info.name != only) continue;
            nlohmann::json r = {{"name", info.name},
                                {"file", info.file},
                                {"status", script::rule_status_name(info.status)},
                                {"error", info.error.empty() ? nlohmann::json() : nlohmann::json(info.error)},
                                {"callbacks", info.callbacks},
                                {"errors", info.errors},
                                {"memory_bytes", info.memory_bytes},
                                {"last_error", info.last_error.empty() ? nlohmann::json() : nlohmann::json(info.last_error)},
                                {"last_error_ms", info.last_error_ms ? nlohmann::json(info.last_error_ms) : nlohmann::json()}};
            if (info.status == script::RuleStatus::running) {
                auto doc = engine_.status_document(info.name);
                r["document"] = doc ? *doc : nlohmann::json();
                if (!doc) r["document_error"] = doc.status().message();
            } else {
                r["document"] = nullptr;
            }
            out.push_back(std::move(r));
        }
        if (!only.empty() && out.empty()) return Status::not_found("no rule '" + only + "'");
        return out;
    }

    void on_samples(const char*, const gl_sample* s, size_t n) override {
        safely("sample delivery", [&] { engine_.on_samples({s, n}); });
    }

    // ---- RuleHost (engine thread = this plugin's thread) ----
    const Clock& clock() const override { return SystemClock::instance(); }
    const TimeZone& time_zone() const override { return ctx_.time_zone; }

    std::vector<script::SeriesRef> resolve(std::string_view pattern) override {
        std::vector<script::SeriesRef> out;
        auto found = ctx_.registry.select(pattern);
        if (!found) return out;
        for (const SeriesMeta& m : *found) out.push_back({m.id, m.name, m.kind});
        return out;
    }
    std::optional<script::SeriesRef> find_series(std::string_view name) override {
        auto id = ctx_.registry.find(name);
        if (!id) return std::nullopt;
        return series_info(*id);
    }
    std::optional<script::SeriesRef> series_info(uint32_t id) override {
        auto m = ctx_.registry.get(id);
        if (!m) return std::nullopt;
        return script::SeriesRef{m->id, m->name, m->kind};
    }
    std::optional<gl_sample> last_sample(uint32_t id) override {
        if (!ctx_.store) return std::nullopt;
        auto last = ctx_.store->query().last(id);
        if (!last || !*last) return std::nullopt;
        gl_sample s{};
        s.series_id = id;
        s.ts_ms = (*last)->ts;
        s.value = (*last)->value;
        s.quality = (*last)->quality;
        return s;
    }
    Expected<std::vector<script::QueryRow>> query(const script::QuerySpec& spec) override {
        if (!ctx_.store) return Status::unavailable("query: this site has no [store]");
        return read_for_rules(*ctx_.store, ctx_.time_zone, spec);
    }
    Status send_command(const script::CommandRequest& req) override {
        try {
            uint64_t id = req.request_id;
            host().send_command(
                req.target, req.value, req.timeout_ms,
                [this, id](const gridlet::CommandReply& r) { engine_.on_command_reply({id, r.status, r.error}); },
                req.text.empty() ? nullptr : req.text.c_str());
            return Status::ok();
        } catch (const std::exception& e) {
            return Status::invalid(e.what());
        }
    }
    void emit_event(const script::RuleEvent& e) override {
        gl_status st = host().emit_event(e.type, static_cast<gl_severity>(e.severity), e.body_json, e.source.c_str());
        if (st != GL_OK) host().warn("event '" + e.type + "' from " + e.source + " not published (status " + std::to_string(st) + ")");
    }
    Expected<nlohmann::json> consumption(const nlohmann::json& request) override {
        if (!ctx_.store) return Status::unsupported("consumption: this site has no [store]");
        if (model_.points.empty()) return Status::unsupported("consumption: this site has no [model] points");
        auto r = model::consumption_request_from_json(request);
        if (!r) return r.status();
        model::ConsumptionEngine engine(model_, ctx_.store->query(), ctx_.registry, ctx_.time_zone);
        // A rule's call runs on the rules thread: bounded, so that one call
        // cannot hold every rule for long (a report's days or months fit).
        auto edges = engine.edges(r->period, r->from, r->to);
        if (!edges) return edges.status();
        if (edges->size() - 1 > kMaxRulePeriods)
            return Status::invalid("consumption: " + std::to_string(edges->size() - 1) + " periods; at most " +
                                   std::to_string(kMaxRulePeriods) + " from a rule (use a longer period or a shorter range)");
        auto t = engine.table(*r);
        if (!t) return t.status();
        return model::consumption_json(*t, ctx_.time_zone, model::JsonShape::keyed);
    }
    std::optional<std::vector<std::string>> site_devices() const override {
        std::vector<std::string> names;
        for (const DeviceEntry& d : ctx_.site.get()->devices) names.push_back(d.name);
        return names;
    }
    std::string export_refusal(std::string_view target) override {
        if (!ctx_.store) return "this site has no [store]: exports wait in its outbox";
        std::string known;
        for (const exporter::TargetConfig& t : ctx_.export_targets) {
            if (t.name == target) return {};
            known += (known.empty() ? "" : ", ") + t.name;
        }
        return "'" + std::string(target) + "' is not an [[export_targets]] name" +
               (known.empty() ? " (the site defines none)" : " (" + known + ")");
    }
    Status export_file(std::string_view rule, const std::string& target, const std::string& name,
                       const std::string& content) override {
        for (const exporter::TargetConfig& t : ctx_.export_targets)
            if (t.name == target) {
                const int64_t now = host().now_ms();
                return exporter::enqueue_file(ctx_.store->outbox(), t,
                                              exporter::QueuedFile{"rule:" + std::string(rule), name, content, now, now, 0});
            }
        return Status::invalid("'" + target + "' is not an [[export_targets]] name");
    }
    std::string publish_refusal(std::string_view series) override {
        const std::string_view device = series.substr(0, series.find('/'));
        const std::shared_ptr<const SiteConfig> site = ctx_.site.get();
        for (const DeviceEntry& d : site->devices)
            if (d.name == device)
                return "'" + std::string(series) + "' is a point of device '" + d.name +
                       "': a rule commands a device with gridlet.write, it never publishes its data";
        return {};
    }
    Status publish_sample(const script::PublishedSample& p) override {
        uint32_t id = 0;
        if (auto existing = ctx_.registry.find(p.series)) {
            if (auto meta = ctx_.registry.get(*existing))
                if (Status st = script::publish_conflict(*meta, p); !st) return st;
            id = *existing;
        } else {
            const SeriesKind kind = p.kind.value_or(SeriesKind::gauge);
            gridlet::SeriesSpec spec(p.series, p.unit.value_or(""),
                                     kind == SeriesKind::counter ? GL_SERIES_COUNTER
                                     : kind == SeriesKind::state ? GL_SERIES_STATE
                                                                 : GL_SERIES_GAUGE);
            spec.tags = "source=rule/" + p.rule;
            try {
                id = host().register_series(spec);
            } catch (const std::exception& e) {
                return Status::invalid(e.what());
            }
        }
        gl_sample s{};
        s.series_id = id;
        s.ts_ms = p.ts_ms;
        s.value = p.value;
        s.quality = GL_QUALITY_GOOD;
        const gl_status st = host().publish(&s, 1);
        if (st != GL_OK) return Status::unavailable("the bus refused it (status " + std::to_string(st) + ", full?)");
        return Status::ok();
    }
    Expected<std::map<std::string, std::string>> load_state(std::string_view rule) override {
        if (!ctx_.store) return memory_state_[std::string(rule)];
        auto list = ctx_.store->state().list(rule);
        if (!list) return list.status();
        std::map<std::string, std::string> out(list->begin(), list->end());
        return out;
    }
    Status put_state(std::string_view rule, std::string_view key, const std::optional<std::string>& json) override {
        if (!ctx_.store) {
            auto& m = memory_state_[std::string(rule)];
            if (json) m[std::string(key)] = *json;
            else m.erase(std::string(key));
            return Status::ok();
        }
        return json ? ctx_.store->state().put(rule, key, *json) : ctx_.store->state().erase(rule, key);
    }
    alarm::AlarmTable* alarms() override { return ctx_.alarms; }
    void log(script::LogLevel level, std::string_view rule, std::string_view message) override {
        gl_log_level l = level == script::LogLevel::debug  ? GL_LOG_DEBUG
                         : level == script::LogLevel::info ? GL_LOG_INFO
                         : level == script::LogLevel::warn ? GL_LOG_WARN
                                                           : GL_LOG_ERROR;
        host().log(l, "rule '" + std::string(rule) + "': " + valid_text(message));
    }

private:
    static constexpr size_t kMaxRulePeriods = 5000;
    model::SiteModel model_;
    // The last line of defence on the kernel's thread: a fault on an engine
    // path is logged (rules stop for their own faults inside the engine);
    // it never reaches the kernel loop.
    template <class F>
    void safely(const char* what, F&& f) noexcept {
        try {
            f();
        } catch (const std::exception& e) {
            try {
                host().error(std::string("rule engine fault in ") + what + ": " + valid_text(e.what()));
            } catch (...) {
            }
        } catch (...) {
            try {
                host().error(std::string("rule engine fault in ") + what + ": unknown exception");
            } catch (...) {
            }
        }
    }

    ComponentContext& ctx_;
    script::Engine engine_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // this thread only
    std::map<std::string, std::map<std::string, std::string>> memory_state_;
};

}  // namespace

script::EngineOptions rule_engine_options(const SiteConfig& site) {
    script::EngineOptions o = script::engine_options_from_json(site.rule_engine, site.dir);
    for (const std::string& d : script::builtin_lib_dirs())
        if (std::find(o.lib_dirs.begin(), o.lib_dirs.end(), d) == o.lib_dirs.end()) o.lib_dirs.push_back(d);
    return o;
}

Expected<std::unique_ptr<plugin::PluginInstance>> make_rules_instance(ComponentContext& ctx, plugin::HostServices services,
                                                   uint32_t index) {
    return make_component_instance<RulesComponent>("rules", ctx, services, index);
}

void reload_rules(plugin::PluginInstance& rules_instance, const SiteConfig& fresh) {
    // The posted task runs on the rules thread, where the component lives.
    rules_instance.post([&rules_instance, fresh] {
        auto* ctx = static_cast<ComponentContext*>(rules_instance.component());
        if (ctx && ctx->rules_reload) ctx->rules_reload(fresh);
    });
}

}  // namespace gridlet::kernel

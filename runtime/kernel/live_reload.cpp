// The kernel's reload (SIGHUP, {"reload":{}}, POST /api/v1/reload): the
// site file is checked as `gridlet check` does, then what changed is applied
// while everything that did not change runs on:
//   - plugins and devices: a plugin whose file, [plugins.config], devices
//     or the contents of a file they name (a profile) changed is restarted
//     with them (its thread, state and command claims are renewed; its bus
//     endpoints, inbox and metrics stay); a new plugin is made and started;
//     a removed or disabled one is stopped. A plugin that did not change is
//     not touched, nor are its devices;
//   - [[rules]]: the rule engine's own reload (unchanged rules keep state);
//   - [[alarms]] and removed devices: a task on the alarms component's
//     thread takes the new rules and ends the alarms of removed devices
//     (it keeps its subscriptions: no event is missed meanwhile);
//   - [[exports]]: the exporter restarts with them (its schedule's state is
//     in the store), unless [[export_targets]], [legrand_history] or [model]
//     changed too: those are read at start, so the exports wait with them;
//   - the log level and pattern.
// Everything else is named as waiting for a restart (reload_diff.h).
// Main thread only.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "kernel/kernel.h"
#include "kernel/reload_diff.h"
#include "store/store.h"

namespace gridlet::kernel {

namespace {

constexpr int64_t kQuietMs = 1000;  // a site file must be this still before a reload reads it

// The size and modification time of a file (a reload reads it again when
// they change while it is read).
std::pair<std::uintmax_t, std::filesystem::file_time_type> file_stamp(const std::string& path) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    const auto time = std::filesystem::last_write_time(path, ec);
    return {ec ? 0 : size, time};
}

bool same_plugin(const PlannedPlugin& a, const PlannedPlugin& b) {
    return a.library->path() == b.library->path() && a.config == b.config && a.devices == b.devices &&
           a.file_digests == b.file_digests;
}

// The files named by a plugin's config or devices whose contents changed.
std::vector<std::string> edited_files(const PlannedPlugin& a, const PlannedPlugin& b) {
    std::vector<std::string> out;
    for (const auto& [path, digest] : b.file_digests)
        if (auto it = a.file_digests.find(path); it != a.file_digests.end() && it->second != digest) out.push_back(path);
    return out;
}

// The tree in effect after a reload: the running one with the top-level
// keys in `live` taken from `fresh` (the next reload compares with it).
std::shared_ptr<toml::table> tree_in_effect(const toml::table* running, const toml::table& fresh,
                                            const std::set<std::string>& live) {
    auto out = running ? std::make_shared<toml::table>(*running) : std::make_shared<toml::table>();
    for (const std::string& key : live) {
        out->erase(key);
        if (const toml::node* n = fresh.get(key)) n->visit([&](const auto& v) { out->insert_or_assign(key, v); });
    }
    return out;
}

}  // namespace

std::vector<std::string> Kernel::revive_failed_plugins(const std::set<std::string>& leave,
                                                       std::vector<std::string>* failures) {
    std::vector<std::string> revived;
    if (!running_) return revived;
    for (auto& inst : instances_) {
        if (inst->state() != plugin::InstanceState::failed || leave.count(inst->name())) continue;
        Status st = inst->revive(plan_.site.stop_timeout_ms);
        if (st) {
            spdlog::info("reload: plugin '{}' had failed and is started again", inst->name());
            revived.push_back(inst->name());
        } else {
            spdlog::error("reload: plugin '{}' could not be started again: {}", inst->name(), st.message());
            if (failures) failures->push_back(inst->name() + ": " + st.message());
        }
    }
    return revived;
}

Status Kernel::add_instance(std::unique_ptr<plugin::PluginInstance> inst) {
    // The new instance's publishers exist (made with it): every running
    // subscriber connects to them before it sends its first sample.
    for (auto& i : instances_)
        if (!i->sync_publishers(2000))
            spdlog::warn("reload: plugin '{}' did not connect to '{}' within 2 s; it will within a second",
                         i->name(), inst->name());
    plugin::PluginInstance* added = inst.get();
    {
        std::lock_guard lock(live_mu_);
        // Start order: north plugins first, the rule engine last.
        auto pos = added->library().descriptor().kind == GL_KIND_NORTH
                       ? std::find_if(instances_.begin(), instances_.end(),
                                      [](const auto& i) { return i->library().descriptor().kind != GL_KIND_NORTH; })
                       : std::find_if(instances_.begin(), instances_.end(),
                                      [](const auto& i) { return i->name() == "rules"; });
        instances_.insert(pos, std::move(inst));
    }
    Status st = added->start();
    if (!st) {
        // Logged and published (plugin_failed) by the instance; it stays, failed, for the next reload.
        added->wait_stopped(plan_.site.stop_timeout_ms);
        return st;
    }
    spdlog::info("plugin '{}' started ({} {} from {})", added->name(), added->library().descriptor().name,
                 added->library().descriptor().version, added->library().path());
    return Status::ok();
}

bool Kernel::remove_instance(const std::string& name) {
    auto it = std::find_if(instances_.begin(), instances_.end(), [&](const auto& i) { return i->name() == name; });
    if (it == instances_.end()) return true;
    plugin::PluginInstance& inst = **it;
    inst.request_stop();
    if (!inst.wait_stopped(plan_.site.stop_timeout_ms)) {
        spdlog::error("reload: plugin '{}' did not stop within {} ms; it keeps running until gridlet restarts", name,
                      plan_.site.stop_timeout_ms);
        return false;
    }
    inst.destroy();
    router_.release_all(name);
    std::unique_ptr<plugin::PluginInstance> gone;
    {
        std::lock_guard lock(live_mu_);
        gone = std::move(*it);
        instances_.erase(it);
    }
    gone.reset();  // its sockets close
    spdlog::info("reload: plugin '{}' stopped and removed", name);
    return true;
}

Status Kernel::restart_component(const std::string& name, std::function<void()> while_stopped) {
    plugin::PluginInstance* inst = instance(name);
    if (!inst) return Status::not_found("no component '" + name + "'");
    plugin::PluginInstance::NewSettings with;
    with.while_stopped = std::move(while_stopped);
    return inst->restart(plan_.site.stop_timeout_ms, std::move(with));
}

Kernel::PluginChanges Kernel::apply_plugins(const SitePlan& fresh) {
    PluginChanges out;
    std::map<std::string, const PlannedPlugin*> wanted;
    for (const PlannedPlugin& p : fresh.plugins) wanted[p.name] = &p;
    // What is in effect afterwards, by name: the fresh entry, or the old one
    // for a plugin that would not stop.
    std::map<std::string, PlannedPlugin> in_effect;

    // Every plugin to remove or restart stops first (together), and lets go
    // of its devices' commands: a device moved from one plugin to another
    // is then free whatever their order in the file.
    std::set<std::string> stopping, stuck;
    for (const PlannedPlugin& old : plan_.plugins) {
        auto w = wanted.find(old.name);
        if (w != wanted.end() && same_plugin(old, *w->second)) continue;
        if (plugin::PluginInstance* inst = instance(old.name)) {
            inst->request_stop();
            stopping.insert(old.name);
        }
    }
    for (const std::string& name : stopping) {
        if (instance(name)->wait_stopped(plan_.site.stop_timeout_ms)) {
            router_.release_all(name);
            continue;
        }
        spdlog::error("reload: plugin '{}' did not stop within {} ms (a callback that does not return): it stops "
                      "once it returns, and the next reload applies its change", name, plan_.site.stop_timeout_ms);
        stuck.insert(name);
    }

    for (const PlannedPlugin& old : plan_.plugins) {
        auto w = wanted.find(old.name);
        if (stuck.count(old.name)) {
            out.failed.push_back(old.name + ": did not stop within " + std::to_string(plan_.site.stop_timeout_ms) +
                                 " ms (a callback that does not return); the next reload applies its change");
            in_effect[old.name] = old;
            continue;
        }
        if (w == wanted.end()) {  // removed or disabled
            if (remove_instance(old.name)) {
                out.removed.push_back(old.name);
            } else {
                out.failed.push_back(old.name + ": did not stop within " + std::to_string(plan_.site.stop_timeout_ms) +
                                     " ms, so it was not removed");
                in_effect[old.name] = old;
            }
            continue;
        }
        const PlannedPlugin& p = *w->second;
        if (same_plugin(old, p)) {
            in_effect[p.name] = p;
            continue;
        }
        for (const std::string& path : edited_files(old, p)) {
            out.edited.push_back("plugin '" + p.name + "': file '" + path + "' edited");
            spdlog::info("reload: {}", out.edited.back());
        }
        plugin::PluginInstance* inst = instance(p.name);
        if (!inst) {  // cannot happen: start() makes every planned plugin
            in_effect[p.name] = old;
            continue;
        }
        plugin::PluginInstance::NewSettings with;
        const bool new_file = old.library->path() != p.library->path();
        if (new_file) with.library = p.library;
        with.config = p.config;
        with.devices = p.devices;
        Status st;
        if (new_file) {
            // metrics_json() reads the instance's library on other threads.
            std::lock_guard lock(live_mu_);
            st = inst->restart(plan_.site.stop_timeout_ms, std::move(with));
        } else {
            st = inst->restart(plan_.site.stop_timeout_ms, std::move(with));
        }
        in_effect[p.name] = p;
        if (!st) {
            // Logged and published by the instance (plugin_failed); the next reload tries it again.
            spdlog::error("reload: plugin '{}' did not start with its new configuration: {}", p.name, st.message());
            out.failed.push_back(p.name + ": " + st.message());
            continue;
        }
        spdlog::info("reload: plugin '{}' restarted with its new configuration ({} device{})", p.name,
                     p.devices.size(), p.devices.size() == 1 ? "" : "s");
        out.restarted.push_back(p.name);
    }

    for (const PlannedPlugin& p : fresh.plugins) {
        if (in_effect.count(p.name) ||
            std::any_of(plan_.plugins.begin(), plan_.plugins.end(), [&](const auto& o) { return o.name == p.name; }))
            continue;
        auto inst = plugin::PluginInstance::make(p.name, p.library, p.config, p.devices, *services_, next_index_++);
        if (!inst) {
            spdlog::error("reload: plugin '{}' could not be made: {}", p.name, inst.status().message());
            out.failed.push_back(p.name + ": " + inst.status().message());
            continue;
        }
        in_effect[p.name] = p;
        if (Status st = add_instance(std::move(*inst)); !st) {
            out.failed.push_back(p.name + ": " + st.message());
            continue;
        }
        out.added.push_back(p.name);
    }

    // plan_.plugins in the file's order, then any left running unasked.
    std::vector<PlannedPlugin> plugins;
    for (const PlannedPlugin& p : fresh.plugins)
        if (auto it = in_effect.find(p.name); it != in_effect.end()) {
            plugins.push_back(it->second);
            in_effect.erase(it);
        }
    for (auto& [name, p] : in_effect) plugins.push_back(p);
    plan_.plugins = std::move(plugins);
    return out;
}

nlohmann::json Kernel::reload() {
    // The same checks as `gridlet check` (plugins' devices, rules loaded
    // offline, store), so that an error in what would apply only at the next
    // start is said now. A file still being written (its size or time
    // changes while it is read) is read again once it holds still.
    config::Diagnostics diags;
    SitePlan fresh_plan;
    // A file written less than a second ago is read once it has been still
    // for a second: an editor or a tool may still be writing it, and a
    // prefix of a site file is often a valid site file (at most 10 s).
    for (int waited_ms = 0; waited_ms < 10'000;) {
        std::error_code ec;
        const auto written = std::filesystem::last_write_time(plan_.site.path, ec);
        if (ec) break;
        const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::filesystem::file_time_type::clock::now() - written)
                             .count();
        if (age >= kQuietMs || age < -kQuietMs) break;  // still, or a clock that stepped
        const int wait = static_cast<int>(std::clamp<int64_t>(kQuietMs - age, 10, kQuietMs));
        if (waited_ms == 0) spdlog::info("reload: {} was written {} ms ago: reading it once it is still", plan_.site.path, age);
        std::this_thread::sleep_for(std::chrono::milliseconds(wait));
        waited_ms += wait;
    }
    for (int attempt = 0;; ++attempt) {
        const auto before = file_stamp(plan_.site.path);
        diags.clear();
        fresh_plan = load_site(plan_.site.path, diags, DeviceProblems::refuse_site, /*compile_rules=*/true);
        if (file_stamp(plan_.site.path) == before) break;
        if (attempt == 10) {
            diags.push_back({plan_.site.path, 0, "the file kept changing while it was read (being written?): try again"});
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    SiteConfig& fresh = fresh_plan.site;
    // A file with no plugins, for a site that runs some: an empty or
    // half-written file far more often than a wish to stop everything.
    if (diags.empty() && fresh_plan.plugins.empty() && !plan_.plugins.empty())
        diags.push_back({plan_.site.path, 0,
                         "it names no enabled [[plugins]]: a reload does not stop every plugin (an empty or half-written "
                         "file?); to run the site without plugins, restart gridlet"});
    if (!diags.empty()) {
        nlohmann::json errors = nlohmann::json::array();
        for (const auto& d : diags) {
            spdlog::error("reload: {}", d.to_string());
            errors.push_back(d.to_string());
        }
        spdlog::error("reload: {} has errors; keeping the running configuration", plan_.site.path);
        return {{"error", plan_.site.path + " has errors; the running configuration is kept"},
                {"code", "invalid_argument"},
                {"path", plan_.site.path},
                {"errors", errors}};
    }
    for (const config::Diagnostic& w : fresh_plan.warnings) spdlog::warn("reload: {}", w.to_string());

    // What this reload applies.
    std::set<std::string> live = {"plugins", "devices", "rules"};
    const bool alarms_changed = section_changed(plan_.site, fresh, "alarms");
    if (alarms_changed) live.insert("alarms");
    const bool exports_changed = section_changed(plan_.site, fresh, "exports");
    const bool exports_live = exports_changed && store_ && !section_changed(plan_.site, fresh, "export_targets") &&
                              !section_changed(plan_.site, fresh, "legrand_history") &&
                              !section_changed(plan_.site, fresh, "model");
    if (exports_live) live.insert("exports");
    const std::vector<std::string> kept = settings_not_applied(plan_.site, fresh, live);
    const std::vector<std::string> changes = device_and_plugin_changes(plan_.site, fresh);
    for (const std::string& c : changes) spdlog::info("reload: {}", c);

    nlohmann::json applied = nlohmann::json::array();
    std::vector<std::string> lines = changes;  // what the answer names as changed
    if (plan_.site.log_level != fresh.log_level || plan_.site.log_pattern != fresh.log_pattern) {
        applied.push_back("log level and pattern");
        if (plan_.site.log_level != fresh.log_level)
            lines.push_back("[logging] level: " + plan_.site.log_level + " -> " + fresh.log_level);
        if (plan_.site.log_pattern != fresh.log_pattern) lines.push_back("[logging] pattern changed");
    }
    plan_.site.log_level = fresh.log_level;
    plan_.site.log_pattern = fresh.log_pattern;
    if (Status st = setup_logging(plan_.site); !st) spdlog::error("reload: {}", st.message());
    for (const char* section : {"alarms", "exports", "rules"})
        for (const std::string& c : named_entry_changes(plan_.site, fresh, section)) {
            spdlog::info("reload: {}", c);
            lines.push_back(c);
        }
    bool rule_files_edited = false;
    for (const auto& [rule, files] : fresh_plan.rule_file_digests) {
        auto before = plan_.rule_file_digests.find(rule);
        if (before == plan_.rule_file_digests.end()) continue;
        for (const auto& [path, digest] : files)
            if (auto it = before->second.find(path); it != before->second.end() && it->second != digest) {
                lines.push_back("[[rules]] '" + rule + "': file '" + path + "' edited");
                spdlog::info("reload: {}", lines.back());
                rule_files_edited = true;
            }
    }
    const bool rules_changed = rule_files_edited || section_changed(plan_.site, fresh, "rules");
    plan_.rule_file_digests = fresh_plan.rule_file_digests;

    // Plugins and devices first: the components below read the new devices.
    const std::vector<PlannedPlugin> running_plugins = plan_.plugins;
    const PluginChanges plugins = apply_plugins(fresh_plan);
    lines.insert(lines.end(), plugins.edited.begin(), plugins.edited.end());
    if (!changes.empty() || !plugins.edited.empty()) applied.push_back("plugins and devices");
    plan_.site.root = tree_in_effect(plan_.site.root.get(), *fresh.root, live);
    applied_root_ = fresh.root;  // the entries below point into it
    const std::vector<DeviceEntry> running_devices = plan_.site.devices;  // names only below
    plan_.site.plugins = fresh.plugins;
    plan_.site.devices = fresh.devices;
    plan_.site.rules = fresh.rules;
    {
        // The reload refuses a device with a problem: none is left out now.
        std::lock_guard lock(live_mu_);
        plan_.refused_devices.clear();
    }
    {
        // The components' copy keeps alive the file its entries point into.
        SiteConfig shown = plan_.site;
        shown.root = applied_root_;
        components_->site.set(std::move(shown));
    }
    components_->refused_devices.set({});

    // [[alarms]], and the alarms of removed devices: a task on the alarms
    // component's thread (it keeps its subscriptions: nothing is missed).
    // Devices no longer polled: removed, or their plugin removed or disabled.
    const auto driven = [](const std::vector<DeviceEntry>& devices, const std::vector<PlannedPlugin>& plugins) {
        std::set<std::string> out;
        for (const DeviceEntry& d : devices)
            if (std::any_of(plugins.begin(), plugins.end(), [&](const PlannedPlugin& p) { return p.name == d.plugin; }))
                out.insert(d.name);
        return out;
    };
    const std::set<std::string> polled_now = driven(fresh.devices, plan_.plugins);
    std::vector<std::string> removed_devices;
    for (const std::string& d : driven(running_devices, running_plugins))
        if (!polled_now.count(d)) removed_devices.push_back(d);
    if (alarms_changed || !removed_devices.empty()) {
        if (alarms_changed) {
            std::lock_guard lock(live_mu_);
            plan_.alarm_rules = fresh_plan.alarm_rules;
        }
        if (plugin::PluginInstance* a = instance("alarms")) {
            a->post([a, rules = fresh_plan.alarm_rules, alarms_changed, removed_devices]() mutable {
                auto* ctx = static_cast<ComponentContext*>(a->component());
                if (ctx && ctx->alarms_reload) ctx->alarms_reload(std::move(rules), alarms_changed, removed_devices);
            });
        }
        if (alarms_changed) {
            applied.push_back("alarms");
            spdlog::info("reload: [[alarms]] applied: {} rule{}", fresh_plan.alarm_rules.size(),
                         fresh_plan.alarm_rules.size() == 1 ? "" : "s");
        }
    }

    // [[exports]]: the exporter starts again with them (or for the first time).
    if (exports_live) {
        std::vector<exporter::ExportConfig> scheduled;
        for (const exporter::ExportConfig& e : fresh_plan.exports)
            if (e.scheduled()) scheduled.push_back(e);
        const auto set_exports = [&] {
            std::lock_guard lock(live_mu_);
            plan_.exports = fresh_plan.exports;
            components_->exports = scheduled;
        };
        Status st;
        if (instance("exporter")) {
            st = restart_component("exporter", set_exports);
        } else if (!scheduled.empty()) {
            set_exports();
            auto x = make_exporter_instance(*components_, *services_, next_index_++);
            st = x ? add_instance(std::move(*x)) : x.status();
        } else {
            set_exports();
        }
        if (!st) spdlog::error("reload: exports: {}", st.message());
        applied.push_back("exports");
        spdlog::info("reload: [[exports]] applied: {} scheduled", scheduled.size());
    } else if (exports_changed && store_) {
        spdlog::warn("reload: [[exports]] changed with [[export_targets]], [legrand_history] or [model], which are read at "
                     "start: the exports wait for the restart too");
    }

    // Failed plugins that this reload did not touch start again; then the rules.
    std::set<std::string> touched(plugins.added.begin(), plugins.added.end());
    touched.insert(plugins.restarted.begin(), plugins.restarted.end());
    for (const std::string& f : plugins.failed) touched.insert(f.substr(0, f.find(':')));
    std::vector<std::string> failed = plugins.failed;
    const std::vector<std::string> revived = revive_failed_plugins(touched, &failed);
    if (plugin::PluginInstance* r = instance("rules")) {
        // Also unchanged: the engine starts rules stopped by a budget again.
        if (r->state() == plugin::InstanceState::running) reload_rules(*r, fresh);
        if (rules_changed) applied.push_back("rules");
    } else if (!fresh.rules.empty()) {
        auto r = make_rules_instance(*components_, *services_, next_index_++);
        Status st = r ? add_instance(std::move(*r)) : r.status();
        if (!st) spdlog::error("reload: rules: {}", st.message());
        applied.push_back("rules");
    }
    for (auto& hook : reload_hooks_) hook();
    std::string what;
    for (const auto& a : applied) what += (what.empty() ? "" : ", ") + a.get<std::string>();
    spdlog::info("reloaded {}: {}", plan_.site.path, what);
    for (const std::string& k : kept) spdlog::warn("reload: not applied until gridlet restarts: {}", k);
    return {{"ok", true},
            {"applied", applied},
            {"path", plan_.site.path},
            {"changes", lines},
            {"plugins",
             {{"added", plugins.added},
              {"restarted", plugins.restarted},
              {"removed", plugins.removed},
              {"failed", failed}}},
            {"revived_plugins", revived},
            {"not_applied_until_restart", kept}};
}

}  // namespace gridlet::kernel

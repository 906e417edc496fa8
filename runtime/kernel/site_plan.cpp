#include "kernel/site_plan.h"

#include <filesystem>
#include <fstream>
#include <map>

#include "kernel/components.h"
#include "core/timezone.h"
#include "plugin/plugin_instance.h"
#include "core/clock.h"
#include "script/rule_check.h"
#include "script/rules_config.h"
#include "store/db.h"
#include "store/options.h"

namespace gridlet::kernel {

SectionSchemas section_schemas() {
    SectionSchemas s;
    s.store = store::store_config_keys();
    s.rule = script::rule_keys();
    s.rule_engine = script::rules_engine_keys();
    return s;
}

namespace {

// Every string of `j` that names a regular file (as given, or from the
// site's folder): path -> a digest of its contents (FNV-1a and the size).
void digest_named_files(const nlohmann::json& j, const SiteConfig& site, std::map<std::string, std::string>& out) {
    if (j.is_structured()) {
        for (const auto& v : j) digest_named_files(v, site, out);
        return;
    }
    if (!j.is_string()) return;
    const std::string& s = j.get_ref<const std::string&>();
    if (s.empty() || s.size() > 4096 || (s.find('/') == std::string::npos && s.find('.') == std::string::npos)) return;
    for (const std::string& path : {s, site.resolve(s)}) {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(path, ec) || std::filesystem::file_size(path, ec) > (16u << 20) || ec)
            continue;
        std::ifstream in(path, std::ios::binary);
        uint64_t h = 1469598103934665603ull, n = 0;
        char buf[8192];
        while (in.read(buf, sizeof buf) || in.gcount() > 0) {
            for (std::streamsize i = 0; i < in.gcount(); ++i) h = (h ^ static_cast<unsigned char>(buf[i])) * 1099511628211ull;
            n += static_cast<uint64_t>(in.gcount());
        }
        out[path] = std::to_string(h) + ":" + std::to_string(n);
        return;
    }
}
// The line of a device problem: the key's own line when the message starts
// with one of the device's keys ("poll_ms = 5 is out of range ..."), else
// the [[devices]] header's.
uint32_t problem_line(const DeviceEntry& dev, const std::string& message) {
    const size_t end = message.find_first_of(" :=");
    if (dev.table == nullptr || end == std::string::npos || end == 0) return dev.line;
    const toml::node* node = dev.table->get(message.substr(0, end));
    return node != nullptr ? config::line_of(*node) : dev.line;
}
// A plugin's problem about its [plugins.config] points at the key it starts
// with, a dotted path for nested tables ("north.qos: must be 0..2").
uint32_t plugin_problem_line(const toml::table* config, const std::string& message, uint32_t fallback) {
    const size_t end = message.find_first_of(" :=");
    if (config == nullptr || end == std::string::npos || end == 0) return fallback;
    // A key that is missing ("commands.allow: is needed") is said at the
    // nearest table written ("commands").
    for (std::string path = message.substr(0, end); !path.empty();) {
        if (const toml::node* node = config->at_path(path).node()) return config::line_of(*node);
        const size_t dot = path.rfind('.');
        path = dot == std::string::npos ? "" : path.substr(0, dot);
    }
    return fallback;
}
}  // namespace

SitePlan prepare_site(SiteConfig site, config::Diagnostics& diags, DeviceProblems device_problems, bool compile_rules,
                      notify::Secrets secrets) {
    SitePlan plan;
    if (auto tz = TimeZone::load(site.timezone); !tz) {
        const toml::node* n = site.root ? site.root->at_path("site.timezone").node() : nullptr;
        diags.push_back({site.path, n ? config::line_of(*n) : 0, "[site]: timezone: " + tz.status().message()});
    }
    if (site.has_store) {
        const toml::node* n = site.root ? site.root->get("store") : nullptr;
        if (auto o = store::store_options_from_json(site.store, site.dir); !o) {
            diags.push_back({site.path, n ? config::line_of(*n) : 0, "[store]: " + o.status().message()});
        } else if (Status st = store::check_store_openable(*o); !st) {
            diags.push_back({site.path, n ? config::line_of(*n) : 0, "[store]: " + st.message()});
        }
    }
    // lib_dirs the site names (the default, scripts/lib, may be absent).
    if (const toml::node* n = site.root ? site.root->at_path("rule_engine.lib_dirs").node() : nullptr) {
        for (const std::string& d : script::engine_options_from_json(site.rule_engine, site.dir).lib_dirs) {
            std::error_code ec;
            if (!std::filesystem::is_directory(d, ec))
                diags.push_back({site.path, config::line_of(*n), "[rule_engine] lib_dirs: '" + d + "' is not a folder"});
        }
    }
    if (site.root) {
        plan.alarm_rules = alarm::parse_alarm_rules(*site.root, site.path, diags);
        plan.alarm_settings = alarm::parse_alarm_settings(*site.root, site.path, diags);
        plan.notifications = notify::parse_notifications(*site.root, site.path, diags, secrets);
        plan.model = model::parse_site_model(*site.root, site.path, site.timezone, diags);
        plan.export_targets = exporter::parse_export_targets(*site.root, site.path, diags, exporter::TargetSecrets::read,
                                                             plan.notifications);
        plan.exports =
            exporter::parse_exports(*site.root, site.path, site.site_name, plan.model, diags, plan.export_targets);
        for (const exporter::ExportConfig& e : plan.exports)
            if (e.scheduled() && !site.has_store) {
                diags.push_back({site.path, e.line,
                                 std::string(e.format == exporter::Format::legrand_report ? "[[reports]] '" : "[[exports]] '") +
                                     e.name + "': " + (e.dir.empty() ? "targets" : "dir") +
                                     " needs a [store]: the files are read from it" +
                                     (e.targets.empty() ? "" : " and wait in its outbox")});
                break;
            }
        plan.legrand = exporter::parse_legrand_history(*site.root, site.path, diags);
        plan.http = http::parse_http_config(*site.root, site, diags);
        if (auto o = store::store_options_from_json(site.store, site.dir); plan.legrand && o && site.has_store) {
            const std::string store_dir = std::filesystem::path(o->path).lexically_normal().string();
            const std::string tree = plan.legrand->dir;
            if (tree == store_dir || tree.rfind(store_dir + "/", 0) == 0 || store_dir.rfind(tree + "/", 0) == 0)
                diags.push_back({site.path, plan.legrand->line,
                                 "[legrand_history]: dir " + tree + " and the [store] path " + store_dir +
                                     " must not be inside one another: give the tree a folder of its own"});
        }
        if (plan.legrand && (!site.has_store || plan.model.points.empty()))
            diags.push_back({site.path, plan.legrand->line,
                             "[legrand_history] needs a [store] and [model] points: its files are the model's "
                             "consumption, read from the store"});
        // The store's outbox drops its oldest entries beyond
        // outbox_max_entries: a target's queue must stay below it.
        if (auto o = store::store_options_from_json(site.store, site.dir); o && site.has_store)
            for (const exporter::TargetConfig& t : plan.export_targets)
                if (t.max_files > o->outbox_max_entries)
                    diags.push_back({site.path, t.line,
                                     "[[export_targets]] '" + t.name + "': max_files (" + std::to_string(t.max_files) +
                                         ") is above [store] outbox_max_entries (" +
                                         std::to_string(o->outbox_max_entries) +
                                         "), where the store would drop files; lower max_files"});
        if (!plan.notifications.empty() && !site.has_store)
            diags.push_back({site.path, plan.notifications.front().line,
                             "[[notifications]] need a [store]: what cannot be delivered at once waits in its outbox"});
    }
    std::vector<std::string> dirs = site.plugin_path;
    for (const std::string& d : plugin::default_plugin_dirs()) dirs.push_back(d);

    for (const PluginEntry& e : site.plugins) {
        if (!e.enabled) continue;
        std::string file = e.file.find('/') != std::string::npos ? site.resolve(e.file) : e.file;
        auto path = plugin::find_plugin_file(file, dirs);
        if (!path) {
            diags.push_back({site.path, e.line, "plugin '" + e.name + "': " + path.status().message()});
            continue;
        }
        auto lib = plugin::PluginLibrary::open(*path, plugin::host_api_table());
        if (!lib) {
            diags.push_back({site.path, e.line, lib.status().message()});
            continue;
        }
        PlannedPlugin p;
        p.name = e.name;
        p.library = *lib;
        static const toml::table empty;
        const std::string where = "plugin '" + e.name + "' ([plugins.config])";
        p.config = config::validate_table(e.config ? *e.config : empty, (*lib)->config_keys(), site.path, where, diags,
                                          e.config ? config::line_of(*e.config) : e.line);
        p.devices = nlohmann::json::array();
        plan.plugins.push_back(std::move(p));
    }

    for (const DeviceEntry& d : site.devices) {
        PlannedPlugin* owner = nullptr;
        for (PlannedPlugin& p : plan.plugins)
            if (p.name == d.plugin) owner = &p;
        // A disabled plugin's devices are skipped with it; a plugin that
        // failed to load is already reported.
        if (!owner) continue;
        std::vector<config::KeySpec> keys = owner->library->device_keys();
        keys.push_back({"name", config::ValueType::string, std::nullopt, "device name", true, {}, {}, {}});
        keys.push_back({"plugin", config::ValueType::string, std::nullopt, "plugin instance driving it", true, {}, {}, {}});
        auto j = config::validate_table(*d.table, keys, site.path, "device '" + d.name + "'", diags, d.line);
        owner->devices.push_back(std::move(j));
    }

    // The plugins' own checks (ABI 1.1 validate): profiles, ranges, addresses.
    if (diags.empty()) {
        for (PlannedPlugin& p : plan.plugins) {
            const PluginEntry* entry = nullptr;
            for (const PluginEntry& e : site.plugins)
                if (e.name == p.name) entry = &e;
            std::vector<plugin::ConfigProblem> warnings;
            const uint32_t plugin_line =
                entry ? (entry->config ? config::line_of(*entry->config) : entry->line) : 0;
            for (const plugin::ConfigProblem& problem : p.library->validate(p.name, p.config, p.devices, &warnings, site.has_store)) {
                const DeviceEntry* dev = nullptr;
                for (const DeviceEntry& d : site.devices)
                    if (!problem.device.empty() && d.name == problem.device && d.plugin == p.name) dev = &d;
                if (!dev) {
                    const uint32_t line = plugin_problem_line(entry ? entry->config : nullptr, problem.message, plugin_line);
                    std::string about = problem.device.empty() ? "[plugins.config]" : "device '" + problem.device + "'";
                    diags.push_back({site.path, line, "plugin '" + p.name + "' (" + about + "): " + problem.message});
                    continue;
                }
                config::Diagnostic diag{site.path, problem_line(*dev, problem.message),
                                        "device '" + dev->name + "': " + problem.message};
                if (device_problems == DeviceProblems::refuse_site) {
                    diags.push_back(std::move(diag));
                    continue;
                }
                auto& list = p.devices;
                for (auto it = list.begin(); it != list.end(); ++it)
                    if (it->value("name", "") == dev->name) {
                        list.erase(it);
                        break;
                    }
                plan.refused_devices.push_back({p.name, dev->name, std::move(diag)});
            }
            for (const plugin::ConfigProblem& w : warnings)
                plan.warnings.push_back({site.path, plugin_problem_line(entry ? entry->config : nullptr, w.message, plugin_line),
                                         "plugin '" + p.name + "': " + w.message});
        }
    }
    for (PlannedPlugin& p : plan.plugins) {
        digest_named_files(p.config, site, p.file_digests);
        digest_named_files(p.devices, site, p.file_digests);
    }
    for (const RuleEntry& r : site.rules) digest_named_files(r.config, site, plan.rule_file_digests[r.name]);
    // Rules: loaded offline as the engine will load them (syntax, missing
    // file, errors of the top level with the rule's params).
    if (compile_rules && diags.empty() && !site.rules.empty()) {
        script::EngineOptions eo = rule_engine_options(site);
        std::vector<script::RuleConfig> configs;
        std::vector<const RuleEntry*> entries;
        for (const RuleEntry& r : site.rules) {
            if (r.config.contains("enabled") && !r.config["enabled"].get<bool>()) continue;
            configs.push_back(script::rule_config_from_json(r.config, site.dir, eo.default_budgets));
            entries.push_back(&r);
        }
        TimeZone zone;
        if (auto tz = TimeZone::load(site.timezone)) zone = *tz;
        std::vector<std::string> devices;
        for (const DeviceEntry& d : site.devices) devices.push_back(d.name);
        for (const script::RuleLoadError& e :
             script::check_rules(configs, eo, zone, SystemClock::instance().now_ms(), std::move(devices))) {
            uint32_t line = 0;
            for (const RuleEntry* r : entries)
                if (r->name == e.rule) line = r->line;
            diags.push_back({site.path, line, "rule '" + e.rule + "': " + e.status.message()});
        }
    }
    plan.site = std::move(site);
    return plan;
}

SitePlan load_site(const std::string& path, config::Diagnostics& diags, DeviceProblems device_problems,
                   bool compile_rules, notify::Secrets secrets) {
    SiteConfig site = load_site_config(path, section_schemas(), diags);
    if (!diags.empty()) {
        SitePlan plan;
        plan.site = std::move(site);
        return plan;
    }
    return prepare_site(std::move(site), diags, device_problems, compile_rules, secrets);
}

}  // namespace gridlet::kernel

#include "core/site_config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/pattern.h"
#include "toml_syntax.h"

namespace gridlet {

using config::Diagnostics;
using config::KeySpec;
using config::ValueType;

const std::vector<KeySpec>& site_keys() {
    static const std::vector<KeySpec> k = {
        {"name", ValueType::string, "\"gridlet\"", "site name, used in the control socket path and exports", false, {}, {}, {}},
        {"timezone", ValueType::string, "\"UTC\"", "IANA time zone for calendar features (e.g. Europe/Paris)", false, {}, {}, {}},
    };
    return k;
}

const std::vector<KeySpec>& logging_keys() {
    static const std::vector<KeySpec> k = {
        {"level", ValueType::string, "\"info\"", "log level", false,
         {"trace", "debug", "info", "warn", "error", "critical", "off"}, {}, {}},
        {"pattern", ValueType::string, "\"%Y-%m-%dT%H:%M:%S.%e%z %^%-5l%$ [%n] %v\"", "spdlog pattern", false, {}, {}, {}},
        {"file", ValueType::string, "\"\"", "log file (empty: standard error)", false, {}, {}, {}},
    };
    return k;
}

const std::vector<KeySpec>& kernel_keys() {
    static const std::vector<KeySpec> k = {
        {"stop_timeout_ms", ValueType::integer, "5000", "how long each plugin may take to stop", false, {}, 100.0, 600000.0},
        {"control", ValueType::string, "\"\"",
         "control socket (ipc://path) for `gridlet metrics`; empty: ipc:///tmp/gridlet-<site name>.sock", false, {}, {}, {}},
        {"plugin_path", ValueType::array, "[]", "folders searched for plugins named without a path", false, {}, {}, {}},
    };
    return k;
}

const std::vector<KeySpec>& bus_keys() {
    static const std::vector<KeySpec> k = {
        {"queue_depth", ValueType::integer, "10000", "messages each bus queue holds", false, {}, 16.0, 10000000.0},
        {"send_timeout_ms", ValueType::integer, "200",
         "how long a publisher waits on a full queue before dropping (counted)", false, {}, 0.0, 60000.0},
    };
    return k;
}

const std::vector<KeySpec>& plugin_entry_keys() {
    static const std::vector<KeySpec> k = {
        {"name", ValueType::string, std::nullopt, "instance name (unique)", true, {}, {}, {}},
        {"file", ValueType::string, std::nullopt,
         "plugin file: a path (relative to this file) or a name searched in plugin_path and the install folder", true, {}, {}, {}},
        {"enabled", ValueType::boolean, "true", "false: keep the entry but do not load it", false, {}, {}, {}},
        {"config", ValueType::table, std::nullopt, "the plugin's own settings (see `gridlet plugins <file>`)", false, {}, {}, {}},
    };
    return k;
}

std::string SiteConfig::resolve(const std::string& p) const {
    if (p.empty() || p[0] == '/') return p;
    return (std::filesystem::path(dir) / p).lexically_normal().string();
}

namespace {

// Probes made in a folder: unique per process and call, so that two
// gridlets checking at once never take each other's.
std::filesystem::path probe_in(const std::filesystem::path& folder) {
    static std::atomic<unsigned> n{0};
    return folder / (".gridlet-probe-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
}

// Why no file can be made in `folder` ("" when one can): a file of our own
// made and removed (a permission check alone says yes to root on /proc or
// a read-only mount).
std::string folder_unwritable(const std::filesystem::path& folder) {
    const std::filesystem::path probe = probe_in(folder);
    const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) return std::strerror(errno);
    ::close(fd);
    ::unlink(probe.c_str());
    return "";
}

// Why the log file cannot be opened for appending ("" when it can), found by
// opening it as `run` will. The log's own path is never made or removed: a
// file that does not exist yet is probed by a file of our own in its
// folder. (It used to be made and removed again: a `gridlet status` or
// `check` while gridlet started removed the log that gridlet had just
// opened, whose lines then went to a deleted file until a SIGHUP.)
std::string log_file_unwritable(const std::filesystem::path& file) {
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) return folder_unwritable(file.has_parent_path() ? file.parent_path() : ".");
    const int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) return std::strerror(errno);
    ::close(fd);
    return "";
}

const toml::table* section(const toml::table& root, const char* name, const std::string& file, Diagnostics& diags) {
    const toml::node* n = root.get(name);
    if (!n) return nullptr;
    if (!n->is_table()) {
        diags.push_back({file, config::line_of(*n), std::string("'") + name + "' must be a table: [" + name + "]"});
        return nullptr;
    }
    return n->as_table();
}

// Array of tables [[name]]; each element checked to be a table.
std::vector<const toml::table*> table_array(const toml::table& root, const char* name, const std::string& file,
                                            Diagnostics& diags) {
    std::vector<const toml::table*> out;
    const toml::node* n = root.get(name);
    if (!n) return out;
    if (!n->is_array()) {
        diags.push_back({file, config::line_of(*n), std::string("'") + name + "' must be an array of tables: [[" + name + "]]"});
        return out;
    }
    for (const toml::node& e : *n->as_array()) {
        if (!e.is_table()) {
            diags.push_back({file, config::line_of(e), std::string("each [[") + name + "]] entry must be a table"});
            continue;
        }
        out.push_back(e.as_table());
    }
    return out;
}

nlohmann::json check(const toml::table* t, const std::vector<KeySpec>& keys, const std::string& file,
                     const std::string& where, Diagnostics& diags) {
    static const toml::table empty;
    return config::validate_table(t ? *t : empty, keys, file, where, diags, t ? config::line_of(*t) : 0);
}

std::string str(const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

SiteConfig parse_site_config(const std::string& text, const std::string& path, const SectionSchemas& schemas,
                             Diagnostics& diags) {
    SiteConfig cfg;
    cfg.path = path;
    cfg.dir = std::filesystem::absolute(std::filesystem::path(path)).parent_path().string();
    try {
        cfg.root = std::make_shared<toml::table>(toml::parse(std::string_view(text), std::string_view(path)));
    } catch (const toml::parse_error& e) {
        diags.push_back({path, e.source().begin.line, "TOML syntax: " + toml_syntax_message(e.description())});
        return cfg;
    }
    const toml::table& root = *cfg.root;
    // [[alarms]] and [alarm_settings] are checked by the alarm component's
    // parser (alarm/alarm_rules.h), [model] by model/site_model.h,
    // [[exports]] and [[reports]] by export/export_config.h, [[export_targets]] by
    // export/export_target.h, all called by prepare_site().
    static const std::set<std::string> known = {"site",  "logging", "kernel",      "bus",    "store",         "plugins",
                                                 "devices", "rules", "rule_engine", "alarms", "alarm_settings",
                                                 "notifications", "model", "exports", "export_targets",
                                                 "legrand_history", "reports", "http"};
    for (const auto& [k, v] : root)
        if (!known.count(std::string(k.str())))
            diags.push_back({path, config::line_of(v),
                             "unknown top-level key '" + std::string(k.str()) +
                                 "' (known: site, logging, kernel, bus, store, plugins, devices, rules, rule_engine, alarms, "
                                 "alarm_settings, notifications, model, exports, export_targets, legrand_history, reports, http)"});

    auto site = check(section(root, "site", path, diags), site_keys(), path, "[site]", diags);
    cfg.site_name = str(site, "name");
    cfg.timezone = str(site, "timezone");
    if (site.contains("name"))
        if (const std::string why = config_name_problem(cfg.site_name); !why.empty())
            diags.push_back(
                {path, root["site"]["name"].node() ? config::line_of(*root["site"]["name"].node()) : 0, "[site]: " + why});

    auto log = check(section(root, "logging", path, diags), logging_keys(), path, "[logging]", diags);
    cfg.log_level = str(log, "level");
    cfg.log_pattern = str(log, "pattern");
    if (log.contains("pattern") && cfg.log_pattern.empty())
        diags.push_back({path, 0, "[logging] pattern: empty (leave the key out for the default)"});
    cfg.log_file = str(log, "file");
    // Line of a key of a section, for messages (0 when absent).
    const auto key_line = [&](const char* sec, const char* key) -> uint32_t {
        const toml::node* n = root[sec][key].node();
        return n ? config::line_of(*n) : 0;
    };
    if (!cfg.log_file.empty()) {
        cfg.log_file = cfg.resolve(cfg.log_file);
        std::error_code ec;
        const std::filesystem::path lf(cfg.log_file);
        if (std::filesystem::is_directory(lf, ec))
            diags.push_back({path, key_line("logging", "file"), "[logging] file: '" + cfg.log_file + "' is a folder"});
        else if (std::filesystem::exists(lf, ec) && !std::filesystem::is_regular_file(lf, ec))
            diags.push_back({path, key_line("logging", "file"),
                             "[logging] file: '" + cfg.log_file +
                                 "' is not a regular file (a device or a kernel setting would take the log lines)"});
        else if (cfg.log_file.rfind("/proc/", 0) == 0 || cfg.log_file.rfind("/sys/", 0) == 0)
            diags.push_back({path, key_line("logging", "file"),
                             "[logging] file: '" + cfg.log_file + "' is in /proc or /sys, not on a disk"});
        else if (!std::filesystem::is_directory(lf.parent_path(), ec))
            diags.push_back({path, key_line("logging", "file"),
                             "[logging] file: the folder '" + lf.parent_path().string() +
                                 "' does not exist (gridlet does not create it: a missing disk would go unnoticed)"});
        else if (std::string why = log_file_unwritable(lf); !why.empty())
            diags.push_back({path, key_line("logging", "file"),
                             "[logging] file: '" + cfg.log_file + "' cannot be opened for writing: " + why});
    }

    auto kern = check(section(root, "kernel", path, diags), kernel_keys(), path, "[kernel]", diags);
    if (kern.contains("stop_timeout_ms")) cfg.stop_timeout_ms = kern["stop_timeout_ms"].get<int>();
    cfg.control_endpoint = str(kern, "control");
    if (!cfg.control_endpoint.empty() &&
        (cfg.control_endpoint.rfind("ipc://", 0) != 0 || cfg.control_endpoint.size() <= 6))
        diags.push_back({path, key_line("kernel", "control"),
                         "[kernel] control: '" + cfg.control_endpoint +
                             "' is not an ipc:// endpoint (e.g. ipc:///run/gridlet/control.sock): the control "
                             "socket is local only"});
    else if (!cfg.control_endpoint.empty()) {
        std::error_code ec;
        const std::filesystem::path sock(cfg.control_endpoint.substr(6));
        if (!sock.is_absolute())
            diags.push_back({path, key_line("kernel", "control"),
                             "[kernel] control: '" + cfg.control_endpoint +
                                 "' is relative (it would depend on the folder gridlet starts in): give a full path"});
        else if (sock.string().size() > 107)
            diags.push_back({path, key_line("kernel", "control"),
                             "[kernel] control: the socket path is " + std::to_string(sock.string().size()) +
                                 " characters, over the 107 a unix socket takes"});
        else if (sock.has_parent_path() && !std::filesystem::is_directory(sock.parent_path(), ec)) {
            // A missing folder is made at start (mode 0750), as systemd's
            // RuntimeDirectory= makes /run/gridlet: when its parent exists and
            // this user may write there.
            const std::filesystem::path folder = sock.parent_path(), parent = folder.parent_path();
            if (!std::filesystem::is_directory(parent, ec))
                diags.push_back({path, key_line("kernel", "control"),
                                 "[kernel] control: the folder '" + folder.string() + "' does not exist"});
            else if (const std::filesystem::path probe = probe_in(parent); ::mkdir(probe.c_str(), 0750) != 0)
                // The probe is a folder of our own beside it (made and removed
                // again), never the folder itself, which a gridlet starting
                // at the same time may be making.
                diags.push_back({path, key_line("kernel", "control"),
                                 "[kernel] control: the folder '" + folder.string() +
                                     "' does not exist, and cannot be made: " + std::strerror(errno)});
            else
                ::rmdir(probe.c_str());
        } else if (std::string why = folder_unwritable(sock.parent_path());
                 sock.has_parent_path() && !why.empty())
            diags.push_back({path, key_line("kernel", "control"),
                             "[kernel] control: no socket can be made in '" + sock.parent_path().string() + "': " + why});
    }
    if (cfg.control_endpoint.empty()) {
        cfg.control_endpoint = "ipc:///tmp/gridlet-" + cfg.site_name + ".sock";
        if (cfg.control_endpoint.size() - 6 > 107)
            diags.push_back({path, 0,
                             "[site] name: the control socket " + cfg.control_endpoint.substr(6) +
                                 " would be over the 107 characters a unix socket takes: shorten the name or set "
                                 "[kernel] control"});
    }
    if (kern.contains("plugin_path"))
        for (const auto& p : kern["plugin_path"]) {
            if (!p.is_string()) {
                diags.push_back({path, 0, "[kernel]: plugin_path must be an array of strings"});
                break;
            }
            cfg.plugin_path.push_back(cfg.resolve(p.get<std::string>()));
            std::error_code ec;
            if (!std::filesystem::is_directory(cfg.plugin_path.back(), ec))
                diags.push_back({path, key_line("kernel", "plugin_path"),
                                 "[kernel] plugin_path: '" + cfg.plugin_path.back() + "' is not a folder"});
        }

    auto bus = check(section(root, "bus", path, diags), bus_keys(), path, "[bus]", diags);
    if (bus.contains("queue_depth")) cfg.bus_queue_depth = bus["queue_depth"].get<int>();
    if (bus.contains("send_timeout_ms")) cfg.bus_send_timeout_ms = bus["send_timeout_ms"].get<int>();

    if (const toml::table* st = section(root, "store", path, diags)) {
        cfg.has_store = true;
        cfg.store = check(st, schemas.store, path, "[store]", diags);
    }

    std::set<std::string> plugin_names;
    for (const toml::table* t : table_array(root, "plugins", path, diags)) {
        uint32_t line = config::line_of(*t);
        auto j = check(t, plugin_entry_keys(), path, "[[plugins]]", diags);
        PluginEntry e;
        e.name = str(j, "name");
        e.file = str(j, "file");
        e.enabled = !j.contains("enabled") || j["enabled"].get<bool>();
        e.line = line;
        if (const toml::node* c = t->get("config"); c && c->is_table()) e.config = c->as_table();
        if (e.name.empty()) continue;
        if (const std::string why = config_name_problem(e.name); !why.empty()) {
            diags.push_back({path, line, "[[plugins]]: " + why});
            continue;
        }
        if (e.name == "store" || e.name == "rules" || e.name == "kernel" || e.name == "http") {
            diags.push_back({path, line, "[[plugins]]: the name '" + e.name + "' is reserved for gridlet's own component"});
            continue;
        }
        if (!plugin_names.insert(e.name).second) {
            diags.push_back({path, line, "[[plugins]]: a plugin named '" + e.name + "' is already defined"});
            continue;
        }
        cfg.plugins.push_back(e);
    }

    std::set<std::string> device_names;
    for (const toml::table* t : table_array(root, "devices", path, diags)) {
        uint32_t line = config::line_of(*t);
        DeviceEntry d;
        d.table = t;
        d.line = line;
        const toml::node* n = t->get("name");
        const toml::node* p = t->get("plugin");
        if (!n || !n->is_string()) {
            diags.push_back({path, line, "[[devices]]: missing string key 'name'"});
            continue;
        }
        if (!p || !p->is_string()) {
            diags.push_back({path, line, "[[devices]]: device '" + n->as_string()->get() + "' needs a string key 'plugin'"});
            continue;
        }
        d.name = n->as_string()->get();
        d.plugin = p->as_string()->get();
        // One segment: "a/b" would make series a/b/x that read as device a, point b/x.
        if (const std::string why = d.name == "kernel" ? "the name 'kernel' is the gateway's own" : config_name_problem(d.name);
            !why.empty()) {
            diags.push_back({path, config::line_of(*n), "[[devices]]: " + why});
            continue;
        }
        if (!device_names.insert(d.name).second) {
            diags.push_back({path, line, "[[devices]]: a device named '" + d.name + "' is already defined"});
            continue;
        }
        if (!plugin_names.count(d.plugin)) {
            diags.push_back({path, config::line_of(*p),
                             "[[devices]]: device '" + d.name + "' names plugin '" + d.plugin + "', which no [[plugins]] entry defines"});
            continue;
        }
        cfg.devices.push_back(d);
    }

    cfg.rule_engine = check(section(root, "rule_engine", path, diags), schemas.rule_engine, path, "[rule_engine]", diags);

    std::set<std::string> rule_names;
    for (const toml::table* t : table_array(root, "rules", path, diags)) {
        RuleEntry r;
        r.line = config::line_of(*t);
        r.config = check(t, schemas.rule, path, "[[rules]]", diags);
        r.name = str(r.config, "name");
        // A rule's name tags its events ("rule/<name>") and its state.
        if (const std::string why = config_name_problem(r.name); t->get("name") && !why.empty()) {
            diags.push_back({path, config::line_of(*t->get("name")), "[[rules]]: " + why});
            continue;
        }
        if (!r.name.empty() && !rule_names.insert(r.name).second) {
            diags.push_back({path, r.line, "[[rules]]: a rule named '" + r.name + "' is already defined"});
            continue;
        }
        cfg.rules.push_back(std::move(r));
    }
    return cfg;
}

SiteConfig load_site_config(const std::string& path, const SectionSchemas& schemas, Diagnostics& diags) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        diags.push_back({path, 0, "cannot open the file: " + std::string(std::strerror(errno))});
        SiteConfig c;
        c.path = path;
        return c;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return parse_site_config(ss.str(), path, schemas, diags);
}

}  // namespace gridlet

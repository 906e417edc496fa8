#include "kernel/reload_diff.h"

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>

namespace gridlet::kernel {

namespace {

// A node as TOML text on one line ("(not set: the default)" when absent);
// numbers in their shortest round-trip form (0.03, not 0.029999999999999999).
std::string text_of(const toml::node* n) {
    if (!n) return "(not set: the default)";
    if (const auto* f = n->as_floating_point()) {
        // The shortest text that reads back the same (1000, 0.03, 1e+30).
        char buf[64];
        const auto r = std::to_chars(buf, buf + sizeof buf, f->get());
        return std::string(buf, r.ptr);
    }
    std::ostringstream out;
    n->visit([&](const auto& v) { out << toml::toml_formatter(v, toml::format_flags::none); });
    std::string s = out.str();
    for (char& c : s)
        if (c == '\n') c = ' ';
    return s;
}

// Every key of `a` or `b` whose value differs, as "key: old -> new" lines,
// each prefixed with `what`. Tables, and arrays of tables of the same
// length, are compared key by key ("evse[0].response_ms: ..."). Keys in
// `skip` are ignored (applied live).
void diff_tables(const toml::table* a, const toml::table* b, const std::string& what,
                 const std::set<std::string>& skip, std::vector<std::string>& out) {
    std::set<std::string> keys;
    if (a)
        for (const auto& [k, v] : *a) keys.insert(std::string(k.str()));
    if (b)
        for (const auto& [k, v] : *b) keys.insert(std::string(k.str()));
    for (const std::string& k : keys) {
        if (skip.count(k)) continue;
        const toml::node* na = a ? a->get(k) : nullptr;
        const toml::node* nb = b ? b->get(k) : nullptr;
        if (na && nb && na->is_table() && nb->is_table()) {
            diff_tables(na->as_table(), nb->as_table(), what + k + ".", {}, out);
            continue;
        }
        if (na && nb && na->is_array_of_tables() && nb->is_array_of_tables() &&
            na->as_array()->size() == nb->as_array()->size()) {
            for (size_t i = 0; i < na->as_array()->size(); ++i)
                diff_tables(na->as_array()->get(i)->as_table(), nb->as_array()->get(i)->as_table(),
                            what + k + "[" + std::to_string(i) + "].", {}, out);
            continue;
        }
        const std::string before = text_of(na);
        const std::string after = text_of(nb);
        if (before != after) out.push_back(what + k + ": " + before + " -> " + after);
    }
}

const toml::table* section(const SiteConfig& site, const char* name) {
    return site.root ? site.root->get_as<toml::table>(name) : nullptr;
}

}  // namespace

std::vector<std::string> device_and_plugin_changes(const SiteConfig& running, const SiteConfig& fresh) {
    std::vector<std::string> out;
    std::map<std::string, const PluginEntry*> plugins_now;
    for (const PluginEntry& p : fresh.plugins) plugins_now[p.name] = &p;
    std::set<std::string> seen;
    for (const PluginEntry& p : running.plugins) {
        seen.insert(p.name);
        auto it = plugins_now.find(p.name);
        const std::string what = "plugin '" + p.name + "'";
        if (it == plugins_now.end()) {
            out.push_back(what + " removed");
            continue;
        }
        const PluginEntry& q = *it->second;
        if (p.file != q.file) out.push_back(what + ": file: \"" + p.file + "\" -> \"" + q.file + "\"");
        if (p.enabled != q.enabled)
            out.push_back(what + ": enabled: " + (p.enabled ? "true" : "false") + " -> " + (q.enabled ? "true" : "false"));
        diff_tables(p.config, q.config, what + " config: ", {}, out);
    }
    for (const PluginEntry& q : fresh.plugins)
        if (!seen.count(q.name)) out.push_back("plugin '" + q.name + "' added" + (q.enabled ? "" : " (disabled: not started)"));

    std::map<std::string, const DeviceEntry*> devices_now;
    for (const DeviceEntry& d : fresh.devices) devices_now[d.name] = &d;
    seen.clear();
    for (const DeviceEntry& d : running.devices) {
        seen.insert(d.name);
        auto it = devices_now.find(d.name);
        const std::string what = "device '" + d.name + "' (" + fresh.path + ":" +
                                 std::to_string(it == devices_now.end() ? d.line : it->second->line) + ")";
        if (it == devices_now.end()) {
            out.push_back(what + " removed");
            continue;
        }
        diff_tables(d.table, it->second->table, what + ": ", {}, out);
    }
    for (const DeviceEntry& q : fresh.devices)
        if (!seen.count(q.name))
            out.push_back("device '" + q.name + "' (" + fresh.path + ":" + std::to_string(q.line) + ") added");
    return out;
}

namespace {

// The entries of an array of tables by their `name` ("#3" for one without).
std::vector<std::pair<std::string, const toml::table*>> entries_by_name(const toml::node* n) {
    std::vector<std::pair<std::string, const toml::table*>> out;
    if (!n || !n->is_array()) return out;
    size_t i = 0;
    for (const toml::node& e : *n->as_array()) {
        ++i;
        const toml::table* t = e.as_table();
        if (!t) continue;
        const auto name = t->get_as<std::string>("name");
        out.emplace_back(name ? "'" + name->get() + "'" : "#" + std::to_string(i), t);
    }
    return out;
}

// Each entry of the array of tables `key` added, removed or changed (key by
// key), as "[[key]] 'name' ...".
void diff_named_entries(const toml::node* a, const toml::node* b, const std::string& key, std::vector<std::string>& out) {
    const auto before = entries_by_name(a), after = entries_by_name(b);
    const std::string what = "[[" + key + "]] ";
    const auto find = [](const auto& list, const std::string& name) -> const toml::table* {
        for (const auto& [n, t] : list)
            if (n == name) return t;
        return nullptr;
    };
    for (const auto& [name, t] : before) {
        const toml::table* now = find(after, name);
        if (!now) out.push_back(what + name + " removed");
        else diff_tables(t, now, what + name + ": ", {}, out);
    }
    for (const auto& [name, t] : after)
        if (!find(before, name)) out.push_back(what + name + " added");
}

bool array_of_tables_or_absent(const toml::node* n) { return !n || n->is_array_of_tables(); }

}  // namespace

std::vector<std::string> named_entry_changes(const SiteConfig& running, const SiteConfig& fresh,
                                             const std::string& section) {
    std::vector<std::string> out;
    const toml::node* a = running.root ? running.root->get(section) : nullptr;
    const toml::node* b = fresh.root ? fresh.root->get(section) : nullptr;
    if (text_of(a) == text_of(b)) return out;
    if (array_of_tables_or_absent(a) && array_of_tables_or_absent(b)) diff_named_entries(a, b, section, out);
    if (out.empty()) out.push_back(section + " changed");
    return out;
}

bool section_changed(const SiteConfig& running, const SiteConfig& fresh, const std::string& name) {
    const toml::node* a = running.root ? running.root->get(name) : nullptr;
    const toml::node* b = fresh.root ? fresh.root->get(name) : nullptr;
    return text_of(a) != text_of(b);
}

std::vector<std::string> settings_not_applied(const SiteConfig& running, const SiteConfig& fresh,
                                              const std::set<std::string>& applied_live) {
    std::vector<std::string> out;
    for (const char* name : {"site", "kernel", "bus", "store"})
        diff_tables(section(running, name), section(fresh, name), std::string("[") + name + "] ", {}, out);
    // [logging]: level and pattern are applied; the file is opened at start.
    diff_tables(section(running, "logging"), section(fresh, "logging"), "[logging] ", {"level", "pattern"}, out);
    // [rule_engine]: the budget defaults apply to the rules; the rest is the engine's own.
    diff_tables(section(running, "rule_engine"), section(fresh, "rule_engine"), "[rule_engine] ",
                {"instructions", "time_ms", "memory_mb", "writes_per_s", "events_per_s", "state_writes_per_s",
                 "log_lines_per_s", "log_bytes_per_s", "event_bytes_per_s", "state_bytes_per_s", "cpu_share_pct"},
                out);

    // Every other part ([http], notifications, the site model, ...) is read
    // at start, unless this reload applies it (applied_live): a table says
    // its keys, an array of tables that it changed.
    static const std::set<std::string> handled = {"site", "kernel", "bus", "store", "logging", "rule_engine",
                                                  "plugins", "devices", "rules"};
    std::set<std::string> names;
    for (const SiteConfig* c : {&running, &fresh})
        if (c->root)
            for (const auto& [k, v] : *c->root) names.insert(std::string(k.str()));
    for (const std::string& name : names) {
        if (handled.count(name) || applied_live.count(name)) continue;
        const toml::node* a = running.root ? running.root->get(name) : nullptr;
        const toml::node* b = fresh.root ? fresh.root->get(name) : nullptr;
        if (text_of(a) == text_of(b)) continue;
        if ((!a || a->is_table()) && (!b || b->is_table()))
            diff_tables(a ? a->as_table() : nullptr, b ? b->as_table() : nullptr, "[" + name + "] ", {}, out);
        else
            for (std::string& line : named_entry_changes(running, fresh, name)) out.push_back(std::move(line));
    }
    return out;
}

}  // namespace gridlet::kernel

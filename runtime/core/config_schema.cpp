#include "core/config_schema.h"

#include <cstdio>

#include <algorithm>
#include <cmath>
#include <sstream>

namespace gridlet::config {

const char* value_type_name(ValueType t) noexcept {
    switch (t) {
        case ValueType::string: return "string";
        case ValueType::integer: return "integer";
        case ValueType::number: return "number";
        case ValueType::boolean: return "boolean";
        case ValueType::table: return "table";
        case ValueType::array: return "array";
    }
    return "?";
}

std::string Diagnostic::to_string() const {
    // A control character from the file (a NUL in a name) is shown, never
    // sent to the terminal (a NUL would cut the line short).
    std::string shown;
    for (char c : message) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 && c != '\n' && c != '\t') {
            char b[8];
            std::snprintf(b, sizeof b, "\\x%02x", u);
            shown += b;
        } else {
            shown += c;
        }
    }
    if (line == 0) return file + ": " + shown;
    return file + ":" + std::to_string(line) + ": " + shown;
}

uint32_t line_of(const toml::node& node) { return node.source().begin.line; }

uint32_t key_line(const toml::table& t, std::string_view key) {
    const toml::node* n = t.get(key);
    return n ? line_of(*n) : line_of(t);
}

nlohmann::json toml_to_json(const toml::node& node) {
    switch (node.type()) {
        case toml::node_type::table: {
            nlohmann::json o = nlohmann::json::object();
            for (const auto& [k, v] : *node.as_table()) o[std::string(k.str())] = toml_to_json(v);
            return o;
        }
        case toml::node_type::array: {
            nlohmann::json a = nlohmann::json::array();
            for (const auto& v : *node.as_array()) a.push_back(toml_to_json(v));
            return a;
        }
        case toml::node_type::string: return node.as_string()->get();
        case toml::node_type::integer: return node.as_integer()->get();
        case toml::node_type::floating_point: return node.as_floating_point()->get();
        case toml::node_type::boolean: return node.as_boolean()->get();
        default: {
            // Dates and times travel as their TOML text.
            std::ostringstream os;
            if (auto d = node.as_date()) os << *d;
            else if (auto t = node.as_time()) os << *t;
            else if (auto dt = node.as_date_time()) os << *dt;
            return os.str();
        }
    }
}

std::optional<nlohmann::json> parse_toml_literal(const std::string& literal) {
    try {
        toml::table t = toml::parse("v = " + literal);
        const toml::node* n = t.get("v");
        if (!n) return std::nullopt;
        return toml_to_json(*n);
    } catch (const toml::parse_error&) {
        return std::nullopt;
    }
}

const char* toml_type_name(const toml::node& n) {
    switch (n.type()) {
        case toml::node_type::string: return "string";
        case toml::node_type::integer: return "integer";
        case toml::node_type::floating_point: return "float";
        case toml::node_type::boolean: return "boolean";
        case toml::node_type::table: return "table";
        case toml::node_type::array: return "array";
        default: return "date/time";
    }
}

namespace {
bool type_ok(ValueType want, const toml::node& n) {
    switch (want) {
        case ValueType::string: return n.is_string();
        case ValueType::integer: return n.is_integer();
        case ValueType::number: return n.is_integer() || n.is_floating_point();
        case ValueType::boolean: return n.is_boolean();
        case ValueType::table: return n.is_table();
        case ValueType::array: return n.is_array();
    }
    return false;
}

// 100000000, not 1e+08: limits read as they are written in a TOML file.
std::string fmt_num(double v) {
    if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
    std::ostringstream os;
    os << v;
    return os.str();
}
}  // namespace

nlohmann::json validate_table(const toml::table& table, const std::vector<KeySpec>& keys, const std::string& file,
                              const std::string& where, Diagnostics& diags, uint32_t table_line) {
    nlohmann::json out = nlohmann::json::object();
    const size_t first_diag = diags.size();
    auto add = [&](uint32_t line, std::string msg) { diags.push_back({file, line, std::move(msg)}); };

    for (const auto& [k, v] : table) {
        std::string key(k.str());
        const KeySpec* spec = nullptr;
        for (const KeySpec& s : keys)
            if (s.key == key) spec = &s;
        uint32_t line = line_of(v) ? line_of(v) : table_line;
        if (!spec) {
            std::string known;
            for (const KeySpec& s : keys) known += (known.empty() ? "" : ", ") + s.key;
            add(line, "unknown key '" + key + "' in " + where +
                          (known.empty() ? " (it takes no keys)" : " (known keys: " + known + ")"));
            continue;
        }
        if (!type_ok(spec->type, v)) {
            add(line, where + ": '" + key + "' must be " + std::string(value_type_name(spec->type)) + ", not " +
                          toml_type_name(v));
            continue;
        }
        if (!spec->one_of.empty() && v.is_string()) {
            const std::string& s = v.as_string()->get();
            bool found = false;
            std::string allowed;
            for (const std::string& a : spec->one_of) {
                found |= a == s;
                allowed += (allowed.empty() ? "" : ", ") + a;
            }
            if (!found) {
                add(line, where + ": '" + key + "' is \"" + s + "\"; expected one of: " + allowed);
                continue;
            }
        }
        if ((spec->min || spec->max) && (v.is_integer() || v.is_floating_point())) {
            double d = v.is_integer() ? static_cast<double>(v.as_integer()->get()) : v.as_floating_point()->get();
            if (std::isnan(d) || (spec->min && d < *spec->min) || (spec->max && d > *spec->max)) {
                std::string range = spec->min && spec->max ? "between " + fmt_num(*spec->min) + " and " + fmt_num(*spec->max)
                                    : spec->min            ? "at least " + fmt_num(*spec->min)
                                                           : "at most " + fmt_num(*spec->max);
                add(line, where + ": '" + key + "' is " + fmt_num(d) + "; it must be " + range);
                continue;
            }
        }
        nlohmann::json j = toml_to_json(v);
        if (spec->type == ValueType::number && j.is_number_integer()) j = static_cast<double>(j.get<int64_t>());
        out[key] = std::move(j);
    }
    for (const KeySpec& s : keys) {
        if (out.contains(s.key) || table.contains(s.key)) continue;
        if (s.required) {
            add(table_line, where + ": missing required key '" + s.key + "' (" + s.help + ")");
        } else if (s.default_toml) {
            auto d = parse_toml_literal(*s.default_toml);
            if (!d) {
                add(table_line, where + ": the schema's default for '" + s.key + "' is not a TOML value: " + *s.default_toml);
                continue;
            }
            if (s.type == ValueType::number && d->is_number_integer()) *d = static_cast<double>(d->get<int64_t>());
            out[s.key] = std::move(*d);
        }
    }
    // toml++ iterates keys in name order; report in file order.
    std::stable_sort(diags.begin() + static_cast<std::ptrdiff_t>(first_diag), diags.end(),
                     [](const Diagnostic& a, const Diagnostic& b) { return a.line < b.line; });
    return out;
}

void fill_defaults(nlohmann::json& object, const std::vector<KeySpec>& keys) {
    for (const KeySpec& k : keys) {
        if (object.contains(k.key) || !k.default_toml) continue;
        if (auto d = parse_toml_literal(*k.default_toml)) object[k.key] = std::move(*d);
    }
}

std::string describe(const std::vector<KeySpec>& keys, const std::string& indent) {
    std::ostringstream os;
    for (const KeySpec& k : keys) {
        os << indent << k.key << " (" << value_type_name(k.type);
        if (k.required) os << ", required";
        if (k.default_toml) os << ", default " << *k.default_toml;
        if (!k.one_of.empty()) {
            os << ", one of";
            for (const auto& a : k.one_of) os << ' ' << a;
        }
        os << "): " << k.help << '\n';
    }
    return os.str();
}

KeySpec key(std::string name, ValueType type, std::optional<std::string> default_toml, std::string help,
            std::optional<double> min, std::optional<double> max) {
    KeySpec k;
    k.key = std::move(name);
    k.type = type;
    k.default_toml = std::move(default_toml);
    k.help = std::move(help);
    k.min = min;
    k.max = max;
    return k;
}

KeySpec required_key(std::string name, ValueType type, std::string help) {
    KeySpec k = key(std::move(name), type, std::nullopt, std::move(help));
    k.required = true;
    return k;
}

namespace {
void put_json(toml::table& t, const std::string& k, const nlohmann::json& v);
toml::array json_array(const nlohmann::json& a) {
    toml::array out;
    for (const auto& v : a) {
        if (v.is_string()) out.push_back(v.get<std::string>());
        else if (v.is_boolean()) out.push_back(v.get<bool>());
        else if (v.is_number_integer()) out.push_back(v.get<int64_t>());
        else if (v.is_number()) out.push_back(v.get<double>());
        else if (v.is_array()) out.push_back(json_array(v));
        else if (v.is_object()) out.push_back(toml_from_json(v));
    }
    return out;
}
void put_json(toml::table& t, const std::string& k, const nlohmann::json& v) {
    if (v.is_string()) t.insert_or_assign(k, v.get<std::string>());
    else if (v.is_boolean()) t.insert_or_assign(k, v.get<bool>());
    else if (v.is_number_integer()) t.insert_or_assign(k, v.get<int64_t>());
    else if (v.is_number()) t.insert_or_assign(k, v.get<double>());
    else if (v.is_array()) t.insert_or_assign(k, json_array(v));
    else if (v.is_object()) t.insert_or_assign(k, toml_from_json(v));
}
}  // namespace

toml::table toml_from_json(const nlohmann::json& object) {
    toml::table t;
    if (object.is_object())
        for (const auto& [k, v] : object.items()) put_json(t, k, v);
    return t;
}

toml::table array_of_tables_from_json(const nlohmann::json& array, const std::string& key, const std::string& file,
                                      Diagnostics& diags) {
    toml::table root;
    if (!array.is_array()) {
        diags.push_back({file, 0, key + ": an array of [[" + key + "]] entries as JSON objects"});
        return root;
    }
    toml::array entries;
    for (const auto& e : array) {
        if (!e.is_object()) {
            diags.push_back({file, 0, key + ": each entry must be an object"});
            return root;
        }
        entries.push_back(toml_from_json(e));
    }
    root.insert(key, std::move(entries));
    return root;
}

}  // namespace gridlet::config

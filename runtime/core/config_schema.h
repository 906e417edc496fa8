// Config schemas: every TOML table of a site file is checked against a list
// of KeySpec before anything starts. Unknown keys, wrong types and bad values
// become Diagnostics ("file:line: message"); defaults are filled in and the
// result is handed on as JSON. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

namespace gridlet::config {

enum class ValueType { string, integer, number, boolean, table, array };

const char* value_type_name(ValueType t) noexcept;
// The type of a TOML value as messages name it: string, integer, float,
// boolean, table, array, date/time.
const char* toml_type_name(const toml::node& n);

struct KeySpec {
    std::string key;
    ValueType type = ValueType::string;
    std::optional<std::string> default_toml;  // a TOML literal: "1000", "\"none\"", "true"
    std::string help;
    bool required = false;
    std::vector<std::string> one_of;          // strings: the allowed values
    std::optional<double> min;                // integer/number: inclusive bounds
    std::optional<double> max;
};

// Builders for schemas written in code: an optional key (with its default,
// or none) and its bounds; a required key.
KeySpec key(std::string name, ValueType type, std::optional<std::string> default_toml, std::string help,
            std::optional<double> min = std::nullopt, std::optional<double> max = std::nullopt);
KeySpec required_key(std::string name, ValueType type, std::string help);

struct Diagnostic {
    std::string file;
    uint32_t line = 0;  // 0: the file as a whole
    std::string message;
    // "file:line: message" (or "file: message").
    std::string to_string() const;
};
using Diagnostics = std::vector<Diagnostic>;

// The line of a node (0 when toml++ has none).
uint32_t line_of(const toml::node& node);
// The line of `key` in `t`, or of `t` itself when the key is not written
// (a default is wrong: the table is where to add it).
uint32_t key_line(const toml::table& t, std::string_view key);

nlohmann::json toml_to_json(const toml::node& node);
// The other way: a JSON object as a TOML table (strings, booleans,
// integers, floats, arrays, objects; nulls are left out). The offline
// harness's timeline header gives [[alarms]] and [[notifications]] as JSON,
// checked by the same TOML path as the site file.
toml::table toml_from_json(const nlohmann::json& object);
// A JSON array of objects as a root table holding the array of tables `key`
// ({"alarms": [...]} -> [[alarms]] ...), to parse as a site file's. Errors
// (not an array, an entry not an object) go to `diags` under `file`.
toml::table array_of_tables_from_json(const nlohmann::json& array, const std::string& key, const std::string& file,
                                      Diagnostics& diags);

// Checks `table` (whose own line is `table_line`) against `keys`. `where`
// names it in messages ("[store]", "plugin 'sim' config"). Appends to
// `diags`; returns the table as JSON with defaults filled in.
nlohmann::json validate_table(const toml::table& table, const std::vector<KeySpec>& keys, const std::string& file,
                              const std::string& where, Diagnostics& diags, uint32_t table_line = 0);

// Adds the default of every key of `keys` missing from `object` (for
// components configured in code rather than from a file).
void fill_defaults(nlohmann::json& object, const std::vector<KeySpec>& keys);

// Parses a TOML literal (as in KeySpec::default_toml) into JSON; nullopt if bad.
std::optional<nlohmann::json> parse_toml_literal(const std::string& literal);

// "key (type, default x): help" lines, for --help and `gridlet plugins`.
std::string describe(const std::vector<KeySpec>& keys, const std::string& indent = "  ");

}  // namespace gridlet::config

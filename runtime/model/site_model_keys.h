// Internal to the site model's parser (site_model.cpp): the key schemas of
// [model]'s tables and the small parsers of names, days, hours, currencies,
// units and local times. Not an API of its own. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "core/config_schema.h"
#include "core/status.h"
#include "core/timezone.h"

namespace gridlet::model::detail {

// Names: what a column, a CSV header and an API path can carry unquoted.
bool good_name(const std::string& s);
bool good_series(const std::string& s);
const std::vector<config::KeySpec>& model_keys();
const std::vector<config::KeySpec>& tariff_keys();
// "mon-fri", "sat,sun", "*": a bit per weekday (bit 0 Sunday); nullopt if bad.
std::optional<uint8_t> parse_days(const std::string& text);
// "07:30" -> minutes of the day (0..1440); nullopt if bad.
std::optional<int> parse_hhmm(const std::string& t);
const std::vector<config::KeySpec>& fluid_keys();
const std::vector<config::KeySpec>& category_keys(bool usage);
const std::vector<config::KeySpec>& area_keys();
const std::vector<config::KeySpec>& point_keys(bool is_virtual);
const std::vector<config::KeySpec>& hierarchy_keys();
const std::vector<config::KeySpec>& node_keys();
// The array of tables `key` of `t` (each with its line); a problem named.
std::vector<const toml::table*> tables_of(const toml::table& t, const std::string& key, const std::string& where,
                                          const std::string& file, config::Diagnostics& diags);
std::vector<std::string> strings(const nlohmann::json& j, const std::string& key, const std::string& where, uint32_t line,
                                 const std::string& file, config::Diagnostics& diags);
std::string str(const nlohmann::json& j, const char* key);
// The active ISO 4217 currency codes (2024 list, funds and metals left out).
bool iso4217(const std::string& code);
// A unit consumption converts (an energy or a volume).
bool known_unit(const std::string& u);
// A local time of the site's zone that exists once (see site_model_keys.cpp).
Expected<int64_t> local_instant(const TimeZone& zone, const std::string& text);

}  // namespace gridlet::model::detail

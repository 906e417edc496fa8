// Alarm rules without code: the `[[alarms]]` entries of the site file and
// its `[alarm_settings]`, checked key by key with file:line diagnostics (the
// one validation path of `gridlet check` and `gridlet run`).
//
//   [[alarms]]
//   name = "branch_overload"            # unique; letters, digits, _ - .
//   series = "panel?/branch*/current"   # a pattern: one alarm instance per matching series,
//                                       # also series that appear later
//   condition = "high"                  # high, high_high, low, low_low, equals, rate, stale
//   threshold = 0.8                     # with threshold_of: a fraction of the reference
//   threshold_of = "breaker_size"       # a numeric tag of the series, else the sibling
//                                       # point <series parent>/breaker_size (its last value)
//   return_level = 0.75                 # hysteresis (default: the threshold)
//   on_delay_s = 5                      # the condition must hold this long to raise
//   off_delay_s = 10                    # ... and be gone this long to end
//   latching = false                    # true: active until acknowledged
//   criticality = "critical"            # information, non_critical, critical
//   category = "electrical"
//   message = "{series} at {value} A, above {threshold} A"
//
// Conditions (value v of a good sample; t threshold, r return level):
//   high, high_high  active when v > t; ends when v <= r (r <= t)
//   low, low_low     active when v < t; ends when v >= r (r >= t)
//   equals           active when v == t (or the series' state label `state`)
//   rate             the change per second between two samples: t > 0 active
//                    when the rate > t (ends <= r); t < 0 when the rate < t
//   stale            no good sample for stale_s seconds; ends at the next one
// A value exactly at the threshold does not raise; exactly at the return
// level ends. Bad-quality and non-finite samples are not values: they
// change nothing (a stale rule catches a series that sends only those).
//
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "alarm/alarm.h"
#include "core/config_schema.h"

namespace gridlet::alarm {

enum class Condition : uint8_t { high, high_high, low, low_low, equals, rate, stale };
const char* condition_name(Condition c) noexcept;

struct AlarmRule {
    std::string name;
    std::string series;          // pattern (core/pattern.h)
    Condition condition = Condition::high;
    double threshold = 0;        // absolute, or a fraction of the reference
    double return_level = 0;     // same units as threshold
    std::string state_label;     // equals: a label of the series' states instead of threshold
    std::string threshold_of;    // "" or the reference (tag or sibling point)
    int64_t on_delay_ms = 0;
    int64_t off_delay_ms = 0;
    int64_t stale_ms = 0;        // stale
    bool latching = false;
    Criticality criticality = Criticality::non_critical;
    std::string category;
    std::string message;         // template: {name} {series} {device} {point} {value} {threshold} {return_level} {unit}
    uint32_t line = 0;           // of its [[alarms]] header
    // "site" ([[alarms]]) or "device" (a series tagged alarm=<criticality> by
    // its driver: the device's own alarm bit, evaluator.h).
    std::string origin = "site";

    // +1 when a higher value is worse, -1 lower, 0 neither (equals, stale).
    int worse() const noexcept;
};

struct AlarmSettings {
    uint32_t flood_per_minute = 60;
    int64_t history_days = 400;
};

// The keys of [[alarms]] and [alarm_settings] (for docs and `check --help`).
const std::vector<config::KeySpec>& alarm_rule_keys();
const std::vector<config::KeySpec>& alarm_settings_keys();

// Reads `[[alarms]]` and `[alarm_settings]` of a site file's root table.
// Problems are appended to `diags` (file:line); the result is used only
// when diags stayed empty.
std::vector<AlarmRule> parse_alarm_rules(const toml::table& root, const std::string& file, config::Diagnostics& diags);
AlarmSettings parse_alarm_settings(const toml::table& root, const std::string& file, config::Diagnostics& diags);

// The same from JSON objects shaped like the TOML entries (the offline
// harness's timeline header: "alarms": [{...}]); `file` names it.
std::vector<AlarmRule> alarm_rules_from_json(const nlohmann::json& array, const std::string& file,
                                             config::Diagnostics& diags);

// The message of an alarm of `rule`: its template with the placeholders
// filled in ({value} and the levels as %g, the unit as given).
std::string expand_message(const AlarmRule& rule, const std::string& series, double value, double threshold,
                           double return_level, const std::string& unit);

}  // namespace gridlet::alarm

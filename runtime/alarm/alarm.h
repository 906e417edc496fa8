// The alarm model shared by every source of alarms: `[[alarms]]` rules of
// the site file, Lua rules (gridlet.alarm), the kernel's own faults (system
// alarms) and device alarm registers. One record per occurrence: an alarm
// starts, may be acknowledged, ends; a new occurrence of the same condition
// is a new alarm with a new id.
//
// Field names and the four statuses follow the Socomec WEBVIEW alarm
// dashboard (../shared/spec/socomec-webview.md §3: status filter "active,
// finished, finished not acknowledged"; criticality Information / Non
// critical / Critical; type alarm / EN 50160 event / system).
//
// Value types; pure functions; any thread.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace gridlet::alarm {

enum class Criticality : uint8_t { information = 0, non_critical = 1, critical = 2 };
const char* criticality_name(Criticality c) noexcept;  // "information", "non_critical", "critical"
Expected<Criticality> parse_criticality(std::string_view name);

// alarm: a threshold or state of a measurement; system: a fault of the
// gateway itself (device communication, rule, store, delivery, plugin);
// power_quality: an EN 50160 event reported by a meter.
enum class AlarmType : uint8_t { alarm = 0, system = 1, power_quality = 2 };
const char* alarm_type_name(AlarmType t) noexcept;
Expected<AlarmType> parse_alarm_type(std::string_view name);

// The Socomec status filter: the pair (active or finished, acknowledged or
// not). finished_acknowledged: nothing left to do.
enum class AlarmStatus : uint8_t { active_unacknowledged, active_acknowledged, finished_unacknowledged, finished_acknowledged };
const char* alarm_status_name(AlarmStatus s) noexcept;

struct Acknowledgement {
    std::string by;       // user name, "cli", "rule/<name>"
    int64_t at_ms = 0;    // UTC
    std::string comment;
    bool operator==(const Acknowledgement&) const = default;
};

struct Alarm {
    uint64_t id = 0;             // 1, 2, ... in raise order; never reused
    std::string key;             // the condition's identity: "<rule>|<series>", "system/comm_lost|<device>"
    std::string name;            // the rule's name ("branch_overload")
    std::string source;          // device or rule that raised it ("panel1", "rule/peak", "kernel")
    std::string series;          // the measurement, "" when none
    std::string category;        // free text ("electrical", "communication", ...)
    std::string origin;          // what evaluated it: "site" ([[alarms]]), "rule", "kernel", "device"
    std::string condition;       // "high", "low", "stale", "comm_lost", ...
    std::string message;         // for people, from the rule's template
    AlarmType type = AlarmType::alarm;
    Criticality criticality = Criticality::non_critical;
    bool latching = false;       // stays active until acknowledged, also after the condition returned
    int64_t start_ms = 0;        // UTC: when it became active
    int64_t end_ms = 0;          // UTC: when it finished; 0 while active
    int64_t returned_ms = 0;     // latching: when the condition returned (0: not yet)
    double value_start = std::numeric_limits<double>::quiet_NaN();    // the value that raised it
    double value_extreme = std::numeric_limits<double>::quiet_NaN();  // the worst value while active
    std::optional<Acknowledgement> ack;
    nlohmann::json detail = nlohmann::json::object();  // threshold, return level, end reason, ...

    bool active() const noexcept { return end_ms == 0; }
    AlarmStatus status() const noexcept;
};

// {"id", "key", "name", "source", "series", "category", "origin", "condition",
//  "message", "type", "criticality", "latching", "status", "start_ms",
//  "end_ms" (null while active), "returned_ms" (null), "value_start" (null
//  when NaN), "value_extreme", "ack": {"by", "at_ms", "comment"} or null,
//  "detail": {...}}
nlohmann::json to_json(const Alarm& a);
// The inverse (as stored). Errors: a field missing or of the wrong type.
Expected<Alarm> alarm_from_json(const nlohmann::json& j);

// What `gridlet alarms`, the Lua API and (later) the HTTP API filter by.
// Every set field must match.
struct AlarmFilter {
    std::optional<bool> open;                   // active, or finished and not acknowledged
    std::optional<bool> active;                 // active or finished
    std::optional<bool> acknowledged;
    std::optional<Criticality> min_criticality;
    std::string source_pattern;                 // core/pattern.h; "" = any
    std::string category;                       // exact; "" = any
    std::optional<AlarmType> type;
    int64_t from_ms = std::numeric_limits<int64_t>::min();  // start in [from, to)
    int64_t to_ms = std::numeric_limits<int64_t>::max();
    size_t limit = 0;                           // newest first; 0: all
    bool matches(const Alarm& a) const noexcept;
};

// Parses a --status value into the filter: one of the four statuses, or
// open (active, or finished and not acknowledged), active, finished,
// unacknowledged, acknowledged, all. Errors name the allowed values.
Status apply_status_filter(std::string_view status, AlarmFilter& filter);

}  // namespace gridlet::alarm

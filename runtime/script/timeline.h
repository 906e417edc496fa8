// Timeline: the scripted input of an offline rule run (`gridlet test-rule`).
//
// JSON lines; blank lines and lines starting with '#' are skipped. The first
// object may be a header (it has no "t"):
//
//   {"start": "2024-03-30T22:00:00Z", "tz": "Europe/Paris", "until": "2024-03-31T06:00",
//    "params": {...}, "state": {"key": value}, "rule": "../rules/x.lua", "expect": {...},
//    "alarms": [{"name": ..., "series": ..., "condition": ...}, ...],
//    "notifications": [{"name": "mail", "kind": "webhook", "url": ..., "max_wait_s": 60}, ...]}
//
// "alarms": [[alarms]] rules (alarm/alarm_rules.h, the same keys and
// checks as in the site file) run on the timeline's samples beside the rule;
// a timeline with alarms needs no rule.
// "notifications": [[notifications]] (notify/notification_config.h, the
// same keys and checks; no secret is read) fed with every alarm change, as
// the site's notifier is: the messages they would send, and when, are
// reported (nothing is sent).
//
// Every other line has a time "t": an ISO-8601 text (without an offset it is
// local time in the site zone), UTC milliseconds, or "+<duration>" after the
// start. Kinds of lines:
//
//   {"t": ..., "series": "meter/current", "value": 12.5, "quality": 192}
//   {"t": ..., "samples": {"meter/l1": 10, "meter/l2": 11}}       same instant
//   {"t": ..., "series": "meter/current", "every": "1s", "values": [1, 2, 3],
//    "until": ...}                  a run: values[i] every 1 s, cycling until `until`
//                                   (one pass when there is no `until`)
//   {"t": ..., "reply": {"target": "ev1/*", "status": "error", "error": "busy",
//    "delay": "200ms", "count": 1}} from t on, how commands to matching targets
//                                   are answered: status ok | error | timeout |
//                                   not_found; count -1 (default) = every time.
//                                   Without a matching rule, commands get "ok"
//                                   at once.
//   {"t": ..., "declare": "meter/energy", "kind": "counter", "unit": "kWh"}
//   {"t": ..., "clock_step": "-1h"} the wall clock jumps (monotonic time does not)
//   {"t": ..., "ack": 3, "by": "ann", "comment": "checked"}
//                                   acknowledges alarm 3 (header "alarms")
//   {"t": ..., "restart": "alarms"} the alarm table and evaluator start again
//                                   from what the store kept (a restart); the
//                                   notifications too, from their outbox
//   {"t": ..., "outage": "mail", "until": "+5m"}
//                                   notification "mail" cannot deliver from t
//                                   until `until` (its server is away)
//   {"t": ..., "station": "ev1", ...}, {"t": ..., "meter": "main/current", ...},
//   {"t": ..., "load": "relays/coil1", ...}, {"t": ..., "power_meter": "main/kw", ...}
//                                   the closed-loop plant: charging stations,
//                                   switched loads and the meters, modelled and
//                                   polled (plant.h)
//
// Lines are applied in time order (stable for equal times), on the wall
// clock: after a clock_step back the run goes on until the wall clock
// reaches the next line's time again. A line whose time is earlier than the
// clock when it comes up (before the start) is refused with its line number.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "core/timezone.h"
#include "script/plant.h"
#include "script/rule_host.h"

namespace gridlet::script {

struct ReplyRule {
    std::string target;       // pattern (core/pattern.h); exact when no wildcard
    gl_status status = GL_OK;
    std::string error;
    int64_t delay_ms = 0;
    int64_t count = -1;       // replies left; -1 = unlimited
};

struct TimelineItem {
    enum class Kind { samples, reply_rule, declare, clock_step, plant, alarm_ack, alarm_restart, notify_outage };
    Kind kind = Kind::samples;
    int64_t t_ms = 0;
    size_t line = 0;
    std::vector<std::pair<std::string, gl_sample>> samples;  // name, sample (series_id unset)
    ReplyRule reply;
    SeriesKind series_kind = SeriesKind::gauge;
    std::string name;
    std::string unit;
    int64_t step_ms = 0;
    uint64_t alarm_id = 0;  // alarm_ack (name: by, unit: comment)
    int64_t until_ms = 0;   // notify_outage (name: the notification)
    PlantChange plant;
};

struct Timeline {
    TimeZone zone;                   // "tz", else UTC (or the caller's override)
    int64_t start_ms = 0;            // "start", else the first item's time
    std::optional<int64_t> until_ms; // "until", else the last item's time
    nlohmann::json params;           // null when absent
    nlohmann::json state = nlohmann::json::object();
    nlohmann::json expect;           // null when absent
    nlohmann::json alarms;           // header "alarms" (an array), null when absent
    size_t alarms_line = 0;
    nlohmann::json notifications;    // header "notifications" (an array), null when absent
    size_t notifications_line = 0;
    std::string rule;                // header "rule", resolved against the file's folder
    std::vector<TimelineItem> items; // sorted by time
};

// Parses a timeline file. `tz_override` (if not empty) replaces the header's
// zone. Errors are "file:line: what".
Expected<Timeline> load_timeline(const std::string& path, const std::string& tz_override = {});
Expected<Timeline> parse_timeline(const std::string& text, const std::string& name, const std::string& base_dir,
                                  const std::string& tz_override = {});

}  // namespace gridlet::script

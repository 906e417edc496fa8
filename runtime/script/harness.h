// The offline rule harness behind `gridlet test-rule`: runs one rule on a
// simulated clock against a timeline (timeline.h) and reports the commands,
// events, logs and persistent state it produced. Deterministic: the same
// inputs give the same report.
//
//   HarnessOptions o;
//   o.rule_file = "rules/alarm.lua";
//   o.timeline_file = "tests/rules/alarm_basic.jsonl";
//   auto report = run_rule_test(o);           // Expected<HarnessReport>
//   std::cout << report_to_json(*report).dump(2);
//   auto problems = check_expectations(report_to_json(*report), expected);
//
// Threads: runs on the calling thread.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "alarm/alarm_table.h"
#include "notify/digest.h"
#include "script/budgets.h"
#include "script/engine.h"
#include "script/sim_host.h"
#include "script/timeline.h"

namespace gridlet::script {

struct HarnessOptions {
    std::string rule_file;      // empty: the timeline header's "rule"
    std::string timeline_file;
    std::string rule_name;      // empty: the file's stem
    std::optional<nlohmann::json> params;  // replaces the header's params
    std::string tz;             // replaces the header's tz
    std::vector<std::string> lib_dirs;
    Budgets budgets;
    bool echo_logs = false;     // log lines to stderr as they happen
    // Polled during the run: true stops it (an error "interrupted"), so that
    // what the run made (the notifications' temporary store) is removed.
    std::function<bool()> interrupted;
};

struct HarnessReport {
    std::string rule;
    std::string rule_file;
    TimeZone zone;
    RuleInfo info;
    std::optional<Status> load_error;  // the rule did not load
    std::vector<SentCommand> commands;
    std::vector<RuleEvent> events;
    std::vector<std::pair<std::string, gl_sample>> published;  // gridlet.publish: series, sample
    std::vector<LogLine> logs;
    std::map<std::string, std::string> state;  // key -> JSON
    nlohmann::json expect;                      // the timeline's "expect" (or null)
    size_t samples = 0;
    int64_t start_ms = 0, end_ms = 0;
    double wall_seconds = 0;
    // With a plant (station/meter lines): the true meter current (highest
    // phase, A) from each time on.
    bool has_plant = false;
    std::vector<std::pair<int64_t, double>> meter_trace;  // ms from the start, A
    int64_t plant_end_ms = 0;                             // ms from the start
    // With a power_meter line: the true site power (kW) from each time on.
    bool has_power_meter = false;
    std::vector<std::pair<int64_t, double>> power_trace;
    // With "alarms" in the header: every change of the alarm table, in order.
    bool has_alarms = false;
    bool has_rule = true;
    std::vector<alarm::AlarmChange> alarms;
    // With "notifications" in the header: every message they sent, in
    // order, and the changes still waiting in their outboxes at the end.
    struct Message {
        int64_t t_ms = 0;
        std::string notification;
        notify::Batch batch;
        std::string subject, body;  // the digest (e-mail text; Telegram sends the same)
        nlohmann::json payload;     // a webhook's JSON body (null for other kinds)
    };
    bool has_notifications = false;
    std::vector<Message> messages;  // at most the first 10,000
    uint64_t messages_total = 0;    // all the messages sent
    uint64_t notifications_pending = 0;
};

// Errors: unreadable/invalid timeline or options ("file:line: ..."). A rule
// that fails to load is not an error here: see report.load_error.
Expected<HarnessReport> run_rule_test(const HarnessOptions& options);

// {"rule", "status", "error", "commands": [{"t", "target", "value", "text"?,
//  "reply", "error"?}], "events": [{"t", "type", "severity", "body"}],
//  "logs": [{"t", "level", "message"}], "published": [{"t", "series", "value"}]
//  when a rule published, "state": {...}, "samples", "wall_ms",
//  "plant": {"meter_peak_a", "meter_trace": [[ms from the start, A], ...],
//  "end_ms"} with a plant, "alarms": [{"t", "transition", "id", "name",
//  "series", "source", "status", "criticality", "value_start",
//  "value_extreme", "message"}] with alarm rules, "messages": [{"t",
//  "notification", "id", "subject", "body", "payload" (webhook), "changes":
//  [{"transition", "id", "name", "series"}]}] (the first 10,000),
//  "messages_total" and "notifications_pending" with notifications}
// Times are ISO-8601 in the site zone.
nlohmann::json report_to_json(const HarnessReport& report);
std::string report_to_text(const HarnessReport& report);

// Compares a report (as JSON) with expectations:
//   {"status": "running", "commands": [...], "events": [...], "published": [...], "state": {...},
//    "alarms": [...], "messages": [...], "logs_contain": ["text", ...], "no_errors": true}
//    "notifications_pending": 0}
// "commands"/"events"/"published"/"alarms"/"messages": same count, and each expected
// object's fields equal the report's; fields not given are not compared,
// nested objects ("body") compare as subsets, nested arrays ("changes")
// element by element with the same count. "state": the given keys have
// those values. Returns the differences (empty: as expected).
std::vector<std::string> check_expectations(const nlohmann::json& report, const nlohmann::json& expected);

}  // namespace gridlet::script

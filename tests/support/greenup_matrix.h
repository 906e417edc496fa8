#pragma once
// Green'Up under real timing (issue 13): one cell of the poll x response
// matrix, run closed loop in the offline harness (script/plant.h). Shared by
// tests/unit/script/greenup_matrix_test.cpp (asserts) and
// tests/bench/greenup_matrix_bench.cpp (prints the figures).
//
// The site: the manual's 250 A maximum, 230 A for the charging; four 32 A
// three-phase stations charging at 32 A (restored sessions that have their
// minimum Ah) beside 100 A of other loads (228 A). At +60.2 s the other loads
// jump by `jump_a`. Stations are polled every `poll_s` at +(poll_s - 0.1) s,
// the meter every `poll_s` at +0.1 s (a station sees a change before the
// meter: the hard case), the jump comes 0.1 s after a meter poll (seen one
// poll later, the worst case), vehicles follow a setpoint after `response_s`; the
// rule's response_time is set to `response_s`.
//
// Measured: seconds the true meter current is above 250 A, the stops (enable
// 0) and re-enables (enable 1) after the jump, the site current at the end.
//
// Not thread-safe (one temp file per call, named by pid and cell).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "script/harness.h"

namespace gridlet::testing {

struct GreenupCell {
    double poll_s = 1, response_s = 1, jump_a = 90;
    double above_s = 0;     // true meter current above 250 A, in all
    int stops = 0;          // enable = 0 after the jump
    int reenables = 0;      // enable = 1 after the jump
    double final_a = 0;     // true meter current at the end
    std::string error;      // the run failed
};

// The general form: meter and stations polled at their own periods and
// phases (first poll at +offset s), the jump at +60 s + jump_offset_s, the
// rule's response_time apart from the vehicles' (0: the same).
struct CellTiming {
    double meter_poll_s = 1, station_poll_s = 1, meter_offset_s = 0.1, station_offset_s = 0.9;
    double jump_offset_s = 0.2, response_time_s = 0;
};

inline GreenupCell run_greenup_cell(const std::string& rule_file, double response_s, double jump_a, const CellTiming& t);

inline GreenupCell run_greenup_cell(const std::string& rule_file, double poll_s, double response_s, double jump_a) {
    CellTiming t;
    t.meter_poll_s = t.station_poll_s = poll_s;
    t.station_offset_s = poll_s - 0.1;
    GreenupCell cell = run_greenup_cell(rule_file, response_s, jump_a, t);
    cell.poll_s = poll_s;
    return cell;
}

inline GreenupCell run_greenup_cell(const std::string& rule_file, double response_s, double jump_a, const CellTiming& t) {
    const double poll_s = t.meter_poll_s;
    GreenupCell cell;
    cell.poll_s = poll_s;
    cell.response_s = response_s;
    cell.jump_a = jump_a;
    using nlohmann::json;
    json stations = json::array(), state = json::object();
    for (int i = 1; i <= 4; ++i) {
        const std::string name = "ev" + std::to_string(i);
        stations.push_back({{"name", name}, {"rated_current", 32}});
        state["session/" + name] = {{"start", 1717401000000LL + i * 10000}, {"status", "charging"}, {"level", 0},
                                    {"ah", 40}, {"wh", 0}, {"reductions", 0}, {"stops", 0}, {"prio", false},
                                    {"full", false}};
    }
    json header = {{"start", "2024-06-03T08:00:00Z"},
                   {"until", "+180s"},
                   {"params",
                    {{"total_power_consumption_meter", "main/current"},
                     {"maximum_current_available", 250},
                     {"maximum_current_available_for_the_charging", 230},
                     {"response_time",
                      std::to_string(static_cast<int>((t.response_time_s > 0 ? t.response_time_s : response_s) * 1000)) + "ms"},
                     {"status_every", 0},
                     // Every skipped search for starts and raises is run
                     // anyway: a memo that would have missed one fails the cell.
                     {"check_memos", true},
                     {"stations", stations}}},
                   {"state", state}};
    auto ms = [](double s) { return std::to_string(static_cast<long long>(s * 1000 + 0.5)) + "ms"; };
    std::string text = header.dump() + "\n";
    text += "{\"t\": \"+" + ms(t.meter_offset_s) + "\", \"meter\": \"main/current\", \"poll\": \"" + ms(poll_s) +
            "\", \"others\": 100}\n";
    for (int i = 1; i <= 4; ++i)
        text += "{\"t\": \"+" + ms(t.station_offset_s) + "\", \"station\": \"ev" + std::to_string(i) +
                "\", \"rated\": 32, \"respond\": \"" + ms(response_s) + "\", \"poll\": \"" + ms(t.station_poll_s) +
                "\", \"vehicle\": {\"max\": 32, \"need_ah\": 200}}\n";
    text += "{\"t\": \"+" + ms(60 + t.jump_offset_s) + "\", \"meter\": \"main/current\", \"others\": " +
            std::to_string(100 + jump_a) + "}\n";
    const auto path = std::filesystem::temp_directory_path() /
                      ("gridlet_greenup_cell_" + std::to_string(getpid()) + "_" + ms(poll_s) + "_" + ms(t.station_poll_s) + "_" +
                       ms(response_s) + ".jsonl");
    std::ofstream(path) << text;
    script::HarnessOptions o;
    o.timeline_file = path.string();
    o.rule_file = rule_file;
    o.rule_name = "greenup";
    o.lib_dirs = script::builtin_lib_dirs();
    auto report = script::run_rule_test(o);
    std::filesystem::remove(path);
    if (!report) {
        cell.error = report.status().message();
        return cell;
    }
    const auto& trace = report->meter_trace;
    for (size_t i = 0; i < trace.size(); ++i) {
        const int64_t end = i + 1 < trace.size() ? trace[i + 1].first : report->plant_end_ms;
        if (trace[i].second > 250) cell.above_s += static_cast<double>(end - trace[i].first) / 1000.0;
    }
    cell.final_a = trace.empty() ? 0 : trace.back().second;
    const int64_t jump_at = report->start_ms + 60'000;
    for (const auto& c : report->commands) {
        if (c.ts_ms < jump_at || c.request.target.find("/enable") == std::string::npos) continue;
        (c.request.value >= 0.5 ? cell.reenables : cell.stops) += 1;
    }
    if (report->info.status != script::RuleStatus::running) cell.error = "rule " + report->info.error;
    return cell;
}

}  // namespace gridlet::testing

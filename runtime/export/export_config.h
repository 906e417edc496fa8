// `[[exports]]`: data files the gateway writes for other software, in the
// Socomec WEBVIEW formats (socomec_files.h; ../shared/spec/socomec-webview.md
// §7). Checked key by key with file:line, in the one validation path of
// `gridlet check` and `gridlet run` (kernel::prepare_site).
//
//   [[exports]]
//   name = "panel1_avg"            # unique; names the files' job and its outbox queue
//   format = "socomec_ems"         # socomec_ems or socomec_csv
//   data_type = "avg"              # avg (measurements), load_curve (demand), index (energy index)
//   step = "1m"                    # one row per step (avg, load_curve: the step's average;
//                                  # index: the first reading of the step)
//   every = "10m"                  # the export period: one file per period ("Transfer Cycle")
//   device = "I-35@4"              # the device name written in the file and its name
//   device_id = 14                 # EMS "Device Id" (the gateway's number for it)
//   modbus_address = "4"           # CSV header
//   ip = "0.0.0.0"                 # CSV header
//   site_name = "socomec"          # default: [site] name
//   server_name = "E5C801"         # default: the machine's host name
//   dir = "exports"                # written on schedule into this folder (relative
//                                  # to the site file); without it: on demand only
//   delay = "30s"                  # a period is written this long after its end
//   at = "00:30"                   # or "mon 06:00": written at that local time of day (of
//                                  # week) after its end and delay (a batch of periods at once)
//   catch_up = "7d"                # after downtime, missed periods this far back
//   targets = ["office"]           # [[export_targets]] the files are pushed to (export_target.h)
//   delimiter = ";"                # ";", ",", "tab", "|"
//   decimal = "."                  # "." or ","
//   line_end = "crlf"              # crlf or lf
//   [[exports.variables]]
//   series = "panel1/thd_i1"       # a store series
//   name = "THD I1 of PC 1-2-3 of I-35@4"   # EMS "Name"; default "<quantity> of <point> of <device>"
//   point = "pc123"                # a [model] point: the load name, usage and fluid written
//   quantity = "THD I1"            # CSV "Measured value" (EA+, EA-, ...)
//   unit = "%"
//   coef = 100                     # EMS: written = round(value × coef)
//   scale = 1.0                    # CSV: written × scale = value
//   data_id = 100006               # EMS "Data Id" (default: 1, 2, ... in order)
//   index = 1                      # EMS "Index": the load's number in the device
//   use = "Use2"                   # EMS "Use" (default: the point usage's external key)
//
// `[[reports]]`: the Legrand summary and detailed reports (legrand_report.h),
// monthly or yearly, as PDF or CSV, written once each period has closed,
// to a dir and/or [[export_targets]] (an e-mail target sends them through
// a [[notifications]] e-mail entry's SMTP server). They are exports of
// format legrand_report: the same schedule, catch-up, outbox and alarms.
//
//   [[reports]]
//   name = "monthly_summary"       # unique among exports and reports
//   type = "summary"               # summary (each fluid's total) or detailed (items)
//   period = "monthly"             # monthly or yearly (local calendar months, years)
//   format = "pdf"                 # pdf or csv
//   by = "point"                   # detailed: point, group or load
//   items = ["pc123", "hvac"]      # detailed: the points (groups, loads); default all
//   targets = ["office_mail"]      # and/or dir = "reports"
//   delay = "1h"                   # sent this long after the period's end
//   at = "06:00"                   # or at this local time after it
//   catch_up = "400d"              # after downtime, closed periods this far back
//   delimiter = ";"                # csv: ";", ",", "tab", "|"
//   decimal = ","                  # csv: "," (the Legrand default) or "."
//
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "core/config_schema.h"
#include "export/csv_writer.h"
#include "export/export_target.h"
#include "export/legrand_report.h"
#include "export/socomec_files.h"
#include "model/site_model.h"

namespace gridlet::exporter {

enum class Format { socomec_ems, socomec_csv, legrand_report };
const char* format_name(Format f);

struct ExportVariable {
    std::string series, name, point, quantity, unit, use, type = "ANA";
    double coef = 1, scale = 1;
    int64_t data_id = 0, index = 1;
    // From the point, when one is named: what the descriptor cells say.
    std::string load_name, usage_name, csv_nature = "Elec", ems_fluid = "ELEC";
    uint32_t line = 0;
};

struct ExportConfig {
    std::string name;
    Format format = Format::socomec_ems;
    socomec::DataType data_type = socomec::DataType::avg;
    int64_t step_ms = 60'000;
    int64_t every_ms = 600'000;
    // Periods of local calendar months or years instead of `every` (reports).
    std::optional<CalendarUnit> calendar;
    ReportSpec report;  // format legrand_report
    std::string device, modbus_address, ip = "0.0.0.0";
    int64_t device_id = 0;
    std::string site_name, server_name;
    std::string dir;  // absolute; "" = not written to a folder
    std::vector<std::string> targets;  // [[export_targets]] names
    int64_t delay_ms = 30'000, catch_up_ms = 7 * 86'400'000LL;
    // `at`: the local time of day (minutes after midnight) the files are
    // written at, and the weekday (0 Sunday .. 6 Saturday) or -1 for every
    // day; at_minute -1: no `at` (each period as soon as it is due).
    int at_minute = -1, at_weekday = -1;
    CsvDialect dialect;
    std::vector<ExportVariable> variables;
    uint32_t line = 0;

    // Written on schedule (a dir or a target), not only on demand.
    bool scheduled() const { return !dir.empty() || !targets.empty(); }
};

// The [[exports]] and [[reports]] of a site file (names unique across both). `site_name` is [site] name; `model` the
// checked [model] (points named by variables must be in it); `targets` the
// checked [[export_targets]] (those `targets` may name).
std::vector<ExportConfig> parse_exports(const toml::table& root, const std::string& file, const std::string& site_name,
                                        const model::SiteModel& model, config::Diagnostics& diags,
                                        const std::vector<TargetConfig>& targets = {});

// Whether `a` and `b` are reports whose files have the same names (the
// manual's names carry only the type, period and format): one folder
// cannot hold both.
bool same_report_names(const ExportConfig& a, const ExportConfig& b);

// "HH:MM" or "<mon|tue|...|sun> HH:MM" as (weekday 0 Sunday .. 6 or -1,
// minute of the day); invalid_argument otherwise.
Expected<std::pair<int, int>> parse_at(const std::string& text);

// Why an export cannot be written as configured, or "": Socomec EMS files
// need a site name other than the factory "SITE" (manual §9.9), which
// WEBVIEW reports as a system alarm; gridlet refuses it at check.
std::string site_name_problem(const ExportConfig& e);

}  // namespace gridlet::exporter

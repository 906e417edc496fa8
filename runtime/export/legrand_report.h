// The Legrand reports (../shared/spec/legrand-energy-web-server.md §7.2 and
// §7.5; manual §8.5.2, §8.6.3): a summary report (the site's overall
// consumption per fluid: electricity, gas, water; no item chosen) or a
// detailed report (the chosen points, groups or load types, or all), for a
// local month or year of the site's zone, as a PDF (tables and a
// consumption chart per fluid; pdf/document.h) or a CSV file.
//
// Named as the manual names them: "<summary|detailed>-<monthly|yearly>-
// report_<YYYY-MM|YYYY>.<pdf|csv>" (detailed-monthly-report_2014-12.pdf).
//
// What they hold (the manual shows no layout; gridlet's choice):
//   - per fluid, each day of the month (a monthly report) or each month of
//     the year (yearly): the consumption in the fluid's unit ([[model.fluids]]:
//     kWh, m³), its cost in [model] currency when the fluid has a price or
//     tariffs (an approximation for statistics only, manual §5.7), gas also
//     in equivalent kWh when its kwh_per_unit is set;
//   - the period's totals, and for the summary the previous period's total
//     and the change;
//   - "missing or faulty data are left out" (manual §8.5.2): a day without
//     data is an empty cell and has no bar, never a guess; a total is the
//     sum of the days with data.
// The CSV is one table: a header row ("Date" and a column per figure, its
// unit in brackets, in ASCII: m3), a row per day (month), a row "Total",
// for the detailed report a row "Days with data" ("Months with data"),
// and for the summary the rows "Previous month" ("Previous year") and
// "Change (%)", in the report's dialect (default ";" and decimal "," as the
// Legrand history). A change is given only between two ended periods with
// data on every day (month).
//
// Reads through the consumption engine (model/consumption.h); pure
// otherwise; any thread that may read the store.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/series_registry.h"
#include "core/timezone.h"
#include "export/csv_writer.h"
#include "model/consumption.h"
#include "model/site_model.h"
#include "store/query.h"

namespace gridlet::exporter {

enum class ReportType { summary, detailed };
enum class ReportPeriod { monthly, yearly };
enum class ReportFormat { pdf, csv };

const char* report_type_name(ReportType t);
const char* report_period_name(ReportPeriod p);
const char* report_format_name(ReportFormat f);

struct ReportSpec {
    ReportType type = ReportType::summary;
    ReportPeriod period = ReportPeriod::monthly;
    ReportFormat format = ReportFormat::pdf;
    // Detailed: the items are points (meters, real and virtual), groups or
    // load types; none named: all of them.
    model::Breakdown by = model::Breakdown::point;
    std::vector<std::string> items;
};

// "summary-monthly-report_2026-11.pdf" for the period starting at
// `period_start` (a local month or year start).
std::string report_file_name(const ReportSpec& r, int64_t period_start, const TimeZone& tz);

struct ReportFile {
    std::string name, bytes;
    size_t rows_with_data = 0;  // days (months) with a figure of any fluid
};

// The report of the period [from, to) (a local month or year). `site` is
// the [site] name written in it. With `now_ms` before `to` the period is in
// progress (on demand): said in the report, no change from the previous
// period shown, and the PDF dated now. Errors: the store failing (with
// context).
Expected<ReportFile> build_report(const ReportSpec& r, const std::string& site, const CsvDialect& dialect,
                                  const model::SiteModel& model, const store::QueryEngine& query,
                                  const SeriesRegistry& registry, int64_t from, int64_t to, const TimeZone& tz,
                                  int64_t now_ms = INT64_MAX);

}  // namespace gridlet::exporter

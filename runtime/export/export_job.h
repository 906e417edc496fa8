// The files of an export (export_config.h) for its periods, read from the
// store. One period = [start, start + every), periods starting at local
// midnight of the site's zone and every `every` after it (the last of a
// 23- or 25-hour day ends at the next midnight). A file holds one period:
//   avg, load_curve: per variable, the average of each whole step of the
//     period (steps without a good sample are left out: gaps stay gaps);
//   index: per variable, the first good reading of each step (the index at
//     the step's start, as the Annex I rows are).
// The file name is the EMS pattern for both formats (Annex I gives none for
// CSV) with the period's end as its time: exporting a period again gives
// the same name and the same bytes, so a target that already has it can
// tell (the outbox delivers each period once).
//
// Reads through the store's QueryEngine (any thread that owns the engine's
// reads); pure otherwise.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/series_registry.h"
#include "core/timezone.h"
#include "export/export_config.h"
#include "store/query.h"

namespace gridlet::exporter {

struct ExportFile {
    std::string name;        // the file name (socomec::ems_file_name)
    std::string bytes;       // the file in the export's dialect
    int64_t from_ms = 0, to_ms = 0;  // the period
    size_t data_rows = 0;    // rows of values (EMS: one per variable and step; CSV: one per step)
};

// A report's periods (`calendar`) are the local months or years.
// The periods of `e` that start in [from, to) and end at or before `to`,
// oldest first (their starts and ends).
std::vector<std::pair<int64_t, int64_t>> export_periods(const ExportConfig& e, int64_t from, int64_t to,
                                                        const TimeZone& tz);

// When the period ending at `period_end` is written: `delay` after its end,
// or with `at`, the first local time `at` (on its weekday, if it names one)
// at or after that. An `at` in the spring DST gap is the end of the gap; in
// the autumn fold, the first of the two.
int64_t due_at(const ExportConfig& e, int64_t period_end, const TimeZone& tz);

// The start of the period of `e` holding t.
int64_t period_start_at(const ExportConfig& e, int64_t t, const TimeZone& tz);

// The file of `e` for the period [from, to). A variable whose series the
// store does not have is exported without values (its descriptor stays).
// A report (format legrand_report) needs the site `model`; its data_rows
// are the days (months) with data; `now_ms` before `to`: a report of the
// period in progress (legrand_report.h).
Expected<ExportFile> build_export_file(const ExportConfig& e, const store::QueryEngine& q,
                                       const SeriesRegistry& registry, int64_t from, int64_t to, const TimeZone& tz,
                                       const model::SiteModel* model = nullptr, int64_t now_ms = INT64_MAX);

// The files of `periods` (oldest first), built on up to `threads` threads
// at once (the store's reads are thread-safe) and handed to `sink` in period
// order on the caller's thread; at most `threads` files are held at a time.
// The first error (of a build or of `sink`) stops it and is returned.
Status build_export_files(const ExportConfig& e, const store::QueryEngine& q, const SeriesRegistry& registry,
                          const std::vector<std::pair<int64_t, int64_t>>& periods, const TimeZone& tz,
                          const model::SiteModel* model, int64_t now_ms, unsigned threads,
                          const std::function<Status(ExportFile&)>& sink);

}  // namespace gridlet::exporter

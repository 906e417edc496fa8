// The Legrand CSV history tree (../shared/spec/legrand-energy-web-server.md
// §6): the site model's consumption written as monthly CSV files under one
// folder, kept up to date while the site runs, for software that reads the
// Legrand Energy Web Server's tree.
//
//   [legrand_history]
//   dir = "history"          # the tree's root (relative to the site file)
//   sample_rate = "15m"      # the rows of the consumption files: 15m, hour or day
//   decimal = ","            # "," (the manual's default) or "."
//   delimiter = ";"          # ";" (the manual's default) or ","; never both ","
//   delay = "1m"             # a period is written this long after its end
//
// The tree, per local month M (YYYY-MM) of the site's zone:
//   energy/devices_M[_v].csv   electricity per measuring point, Wh
//   energy/groups_M[_v].csv    per measure group, Wh
//   energy/loads_M[_v].csv     per load type, Wh
//   gas/devices_M[_v].csv, gas/groups_M[_v].csv      dm³
//   water/devices_M[_v].csv, water/groups_M[_v].csv  dm³
//   overallTotal/overallTotalValues_M.csv  one row a day: each fluid's total
//                                (Wh, dm³: the manual's general rule; its
//                                kWh/m³ for this one file contradicts it)
//   overallTotal/overallTotalCosts_M.csv   the same in [model] currency (with prices)
//   devices/<point>/<point>_<energy|gas|water>_M.csv  one point's consumption
//   settings/General.csv, settings/EnergySettings.csv the site and its points
// (a groups file only when a group has points of that fluid).
//
// A consumption file: a header row "Date" and the columns' names, then one
// row per sample period with its local start ("2026-11-30 00:15"), values
// in the dialect's decimal (empty where there is no data: never a guess).
// Versions (§6.3: "a new version when the configuration changes"): the
// first column layout of a month has no suffix; when the set of columns
// changes, a new file `_2`, `_3`, ... starts with the first period not yet
// written and the older one stays as it was. A month written to its end is
// never written again (its files agree with each other). The layouts and
// how far each month was written are kept in the store's state
// ("#legrand").
//
// Threads: one thread calls update() (the kernel's exporter component).
// write_month() without a state store is the `gridlet export --legrand`
// path (no versions: the files of today's layout, into another folder).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "core/config_schema.h"
#include "core/series_registry.h"
#include "core/timezone.h"
#include "export/csv_writer.h"
#include "model/consumption.h"
#include "model/site_model.h"
#include "store/query.h"
#include "store/state_store.h"

namespace gridlet::exporter {

inline constexpr const char* kLegrandStateNamespace = "#legrand";

struct LegrandConfig {
    std::string dir;  // absolute
    model::Period sample_rate = model::Period::quarter_hour;
    CsvDialect dialect{';', ',', "\r\n"};
    int64_t delay_ms = 60'000;
    uint32_t line = 0;
};

// [legrand_history] of a site file (nullopt without one).
std::optional<LegrandConfig> parse_legrand_history(const toml::table& root, const std::string& file,
                                                   config::Diagnostics& diags);

// One file of a month: its path under the tree and its cells.
struct HistoryFile {
    std::string folder;    // "energy", "overallTotal", "devices/pc123", "settings"
    std::string type;      // "devices", "overallTotalValues", "pc123_energy", "General"
    bool versioned = false;
    CellMatrix cells;      // header row first
    std::vector<int64_t> row_starts;  // each row's period start (versioned files: rows from the version on)
    std::string path(const std::string& month, int version) const;  // relative, e.g. energy/devices_2026-11_2.csv
};

// The Legrand data download (§7.1): the consumption of the chosen meters
// (points), groups or load types over [from, to), at 15 min, an hour or a
// day, per fluid: "<fluid>_consumption.csv" and, with costs,
// "<fluid>_costs.csv" (in [model] currency; a fluid without a price has
// none, said in `notes`). Wh and dm³; missing data left out (empty cells).
struct DownloadRequest {
    model::Breakdown by = model::Breakdown::point;  // point, group or load
    std::vector<std::string> items;                 // empty: all
    std::string fluid;                              // "": every fluid with points
    int64_t from = 0, to = 0;
    model::Period rate = model::Period::quarter_hour;
    bool costs = false;
};
struct DownloadFile {
    std::string name, bytes;
};
Expected<std::vector<DownloadFile>> data_download(const DownloadRequest& request, const model::SiteModel& model,
                                                  const store::QueryEngine& query, const SeriesRegistry& registry,
                                                  const TimeZone& tz, const CsvDialect& dialect,
                                                  std::vector<std::string>* notes);

// `files` as a ZIP archive (libzip, deflated) written whole at `path`
// (".part", fsync, rename). Errors name the path.
Status write_zip(const std::string& path, const std::vector<DownloadFile>& files);

class LegrandHistory {
public:
    // All borrowed; they outlive the history. `state` keeps the layouts'
    // versions (null: month_files() only).
    LegrandHistory(LegrandConfig config, const model::SiteModel& model, const store::QueryEngine& query,
                   const SeriesRegistry& registry, const TimeZone& tz, store::StateStore* state);

    // The files of the month starting at `month_start` (a local month
    // start), with the periods in [month_start, until). Pure but for reads.
    Expected<std::vector<HistoryFile>> month_files(int64_t month_start, int64_t until);

    // Writes the month's files into the tree (whole: .part, rename), each
    // under its layout's version; returns the relative paths written. A
    // month that has ended is not written again under a new layout (its
    // files stay as they were).
    Expected<std::vector<std::string>> write_month(int64_t month_start, int64_t until, int64_t now_ms);

    // On the exporter's thread, about once a second: when a sample period
    // closed (`delay` after its end), the month's files are written again up
    // to it; after a month ends, its files once more to its end. At the
    // first call the current and the previous month are written (the
    // previous one only if it holds data).
    Status update(int64_t now_ms);

    uint64_t files_written() const { return files_written_; }

private:
    struct Version {
        int number = 1;
        int64_t from_ms = 0;  // its rows start here
    };
    // The version of f's layout in `month` (a new one, from `until`, when
    // the header changed); nullopt for a month that ended under another
    // layout, or a file new to a month already written once (`marked`).
    Expected<std::optional<Version>> version_of(const HistoryFile& f, const std::string& month, int64_t month_start,
                                                int64_t month_end, int64_t until, int64_t now_ms, bool marked);

    LegrandConfig config_;
    const model::SiteModel& model_;
    const store::QueryEngine& query_;
    const SeriesRegistry& registry_;
    TimeZone tz_;
    store::StateStore* state_;
    int64_t written_until_ = 0;  // periods ending at or before it are in the files
    uint64_t files_written_ = 0;
};

}  // namespace gridlet::exporter

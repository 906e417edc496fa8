#include "export/legrand_history.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include <zip.h>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "export/export_scheduler.h"
#include "store/time_spec.h"

namespace gridlet::exporter {

using config::KeySpec;
using config::ValueType;

namespace {

const std::vector<KeySpec>& legrand_keys() {
    static const std::vector<KeySpec> keys = [] {
        std::vector<KeySpec> k;
        k.push_back(config::required_key("dir", ValueType::string, "The tree's root folder (relative to the site file)"));
        KeySpec rate = config::key("sample_rate", ValueType::string, "\"15m\"", "The consumption rows: 15m, hour, day");
        rate.one_of = {"15m", "hour", "day"};
        k.push_back(rate);
        k.push_back(config::key("decimal", ValueType::string, "\",\"", "\",\" (default) or \".\""));
        k.push_back(config::key("delimiter", ValueType::string, "\";\"", "\";\" (default) or \",\""));
        k.push_back(config::key("delay", ValueType::string, "\"1m\"", "A period is written this long after its end"));
        return k;
    }();
    return keys;
}

std::string month_text(const TimeZone& tz, int64_t month_start) {
    const CivilTime c = tz.to_local(month_start);
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02d", c.year, c.month);
    return buf;
}

std::string local_minute(const TimeZone& tz, int64_t t) {
    const CivilTime c = tz.to_local(t);
    char buf[24];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d", c.year, c.month, c.day, c.hour, c.minute);
    return buf;
}

// The factor from a fluid's unit to the tree's: Wh for energy, dm³ for
// volumes (§6.1); 1 for a fluid of another unit.
double tree_factor(const model::Fluid& f) {
    if (auto x = model::unit_factor(f.unit, "Wh")) return *x;
    if (auto x = model::unit_factor(f.unit, "dm3")) return *x;
    return 1;
}

// A value in the tree's unit, to the thousandth (Wh and dm³ come from
// meters with a resolution of 1 or 0.1: the last bits of a sum of
// differences are noise, 960.000000000008).
std::string tree_number(double v, const CsvDialect& d) { return format_number(std::round(v * 1000) / 1000, d); }
// Money to the millionth (0.0825 stays 0.0825).
std::string money_number(double v, const CsvDialect& d) { return format_number(std::round(v * 1e6) / 1e6, d); }
// A cell's text: empty without a value, and for a sum with a member missing
// (a partial sum would read as a whole one).
std::string cell_text(const model::Cell& c, double factor, bool money, const CsvDialect& d) {
    if (!c.value || c.missing > 0) return "";
    return money ? money_number(*c.value * factor, d) : tree_number(*c.value * factor, d);
}

const char* folder_of(const std::string& fluid) {
    return fluid == "electricity" ? "energy" : fluid == "gas" ? "gas" : fluid == "water" ? "water" : nullptr;
}

// A consumption table as a file: "Date" and the columns from `first` (those
// in `keep`, when given), one row per period; values × factor.
HistoryFile table_file(const model::ConsumptionTable& t, size_t first, double factor, std::string folder,
                       std::string type, bool versioned, const TimeZone& tz, const CsvDialect& d,
                       const std::vector<std::string>* keep = nullptr, bool money = false) {
    HistoryFile f{std::move(folder), std::move(type), versioned, {}, {}};
    std::vector<size_t> cols;
    for (size_t c = first; c < t.columns.size(); ++c)
        if (!keep || std::find(keep->begin(), keep->end(), t.columns[c].name) != keep->end()) cols.push_back(c);
    CsvRow head{"Date"};
    for (size_t c : cols) head.push_back(t.columns[c].name);
    f.cells.push_back(std::move(head));
    for (size_t r = 0; r < t.rows.size(); ++r) {
        CsvRow row{local_minute(tz, t.starts[r])};
        for (size_t c : cols) row.push_back(cell_text(t.rows[r][c], factor, money, d));
        f.cells.push_back(std::move(row));
        f.row_starts.push_back(t.starts[r]);
    }
    return f;
}

}  // namespace

std::optional<LegrandConfig> parse_legrand_history(const toml::table& root, const std::string& file,
                                                   config::Diagnostics& diags) {
    const toml::node* n = root.get("legrand_history");
    if (!n) return std::nullopt;
    if (!n->is_table()) {
        diags.push_back({file, config::line_of(*n), "'legrand_history' must be a table: [legrand_history]"});
        return std::nullopt;
    }
    const toml::table& t = *n->as_table();
    const size_t before = diags.size();
    nlohmann::json j = config::validate_table(t, legrand_keys(), file, "[legrand_history]", diags, config::line_of(t));
    if (diags.size() != before) return std::nullopt;
    LegrandConfig c;
    c.line = config::line_of(t);
    const auto bad = [&](const char* key, const std::string& what) {
        diags.push_back({file, config::key_line(t, key), "[legrand_history]: " + what});
    };
    const std::string dir = j.value("dir", "");
    if (dir.empty()) {
        bad("dir", "dir is empty: the folder of the tree (relative to the site file)");
        return std::nullopt;
    }
    std::error_code ec;
    c.dir = std::filesystem::absolute(std::filesystem::path(file).parent_path() / dir, ec).lexically_normal().string();
    if (ec) bad("dir", "dir '" + dir + "': " + ec.message());
    else if (std::filesystem::exists(c.dir, ec) && !std::filesystem::is_directory(c.dir, ec))
        bad("dir", "dir " + c.dir + " is a file, not a folder");
    const std::string rate = j.value("sample_rate", "15m");
    c.sample_rate = rate == "hour" ? model::Period::hour : rate == "day" ? model::Period::day : model::Period::quarter_hour;
    const std::string delim = j.value("delimiter", ";"), dec = j.value("decimal", ",");
    if (delim != ";" && delim != ",") bad("delimiter", "delimiter: ';' or ',' (the Legrand field separators)");
    else if (auto d = make_dialect(delim, dec, "crlf"); d) c.dialect = *d;
    else bad(t.contains("decimal") ? "decimal" : "delimiter", d.status().message());
    const std::string delay = j.value("delay", "1m");
    if (auto ms = store::parse_duration_ms(delay); ms && *ms >= 0 && *ms <= 86'400'000) c.delay_ms = *ms;
    else bad("delay", "delay: '" + delay + "': a duration from 0 to 1d, such as \"1m\"");
    return c;
}

std::string HistoryFile::path(const std::string& month, int version) const {
    return folder + "/" + type + "_" + month + (versioned && version > 1 ? "_" + std::to_string(version) : "") + ".csv";
}

LegrandHistory::LegrandHistory(LegrandConfig config, const model::SiteModel& model, const store::QueryEngine& query,
                               const SeriesRegistry& registry, const TimeZone& tz, store::StateStore* state)
    : config_(std::move(config)), model_(model), query_(query), registry_(registry), tz_(tz), state_(state) {}

Expected<std::vector<HistoryFile>> LegrandHistory::month_files(int64_t month_start, int64_t until) {
    std::vector<HistoryFile> out;
    const int64_t month_end = tz_.next_start(CalendarUnit::month, month_start);
    const int64_t to = std::min(until, month_end);
    model::ConsumptionEngine engine(model_, query_, registry_, tz_);
    const CsvDialect& d = config_.dialect;
    const auto file_of = [&](const model::ConsumptionTable& t, size_t first, double factor, std::string folder,
                             std::string type, bool versioned) {
        return table_file(t, first, factor, std::move(folder), std::move(type), versioned, tz_, d);
    };
    if (to <= month_start) return out;
    for (const model::Fluid& fl : model_.fluids) {
        const char* folder = folder_of(fl.name);
        if (!folder) continue;
        const bool has_points = std::any_of(model_.points.begin(), model_.points.end(),
                                            [&](const model::Point& p) { return p.fluid == fl.name; });
        if (!has_points) continue;
        const double factor = tree_factor(fl);
        std::vector<std::pair<model::Breakdown, const char*>> kinds = {{model::Breakdown::point, "devices"},
                                                                       {model::Breakdown::group, "groups"}};
        if (fl.name == "electricity") kinds.push_back({model::Breakdown::load, "loads"});
        for (const auto& [by, type] : kinds) {
            model::ConsumptionRequest req;
            req.by = by;
            req.period = config_.sample_rate;
            req.from = month_start;
            req.to = to;
            req.fluid = fl.name;
            auto t = engine.table(req);
            if (!t) return t.status().with_context(std::string("legrand history ") + folder + "/" + type);
            if (t->columns.size() <= 1) continue;  // no group (load) of this fluid
            out.push_back(file_of(*t, 1, factor, folder, type, true));
            if (by == model::Breakdown::point)
                for (size_t c = 1; c < t->columns.size(); ++c) {
                    const std::vector<std::string> only{t->columns[c].name};
                    const std::string kind = fl.name == "electricity" ? "energy" : fl.name;
                    out.push_back(table_file(*t, 1, factor, "devices/" + only[0], only[0] + "_" + kind, false, tz_, d,
                                             &only));
                }
        }
    }
    // Overall totals: a row a day, each fluid in the tree's unit; costs.
    for (const bool cost : {false, true}) {
        if (cost && model_.currency.empty()) continue;
        model::ConsumptionRequest req;
        req.by = model::Breakdown::fluid;
        req.period = model::Period::day;
        req.from = month_start;
        req.to = to;
        req.cost = cost;
        auto t = engine.table(req);
        if (!t) return t.status().with_context("legrand history overallTotal");
        HistoryFile f{"overallTotal", cost ? "overallTotalCosts" : "overallTotalValues", false, {}, {}};
        CsvRow head{"Date"};
        std::vector<std::pair<size_t, double>> cols;
        for (size_t c = 1; c < t->columns.size(); ++c) {
            const model::Fluid* fl = model_.fluid(t->columns[c].fluid);
            if (!fl || t->columns[c].name != fl->name) continue;  // not the equivalent-kWh columns
            cols.emplace_back(c, cost ? 1.0 : tree_factor(*fl));
            head.push_back(fl->name);
        }
        if (cols.empty()) continue;
        if (cost) head.push_back("total");
        f.cells.push_back(std::move(head));
        for (size_t r = 0; r < t->rows.size(); ++r) {
            CsvRow row{local_minute(tz_, t->starts[r]).substr(0, 10)};
            for (const auto& [c, factor] : cols) row.push_back(cell_text(t->rows[r][c], factor, cost, config_.dialect));
            if (cost) row.push_back(cell_text(t->rows[r][0], 1.0, true, config_.dialect));
            f.cells.push_back(std::move(row));
            f.row_starts.push_back(t->starts[r]);
        }
        out.push_back(std::move(f));
    }
    // Settings: the site and its points, as configured now.
    HistoryFile general{"settings", "General", false, {}, {}};
    general.cells = {{"Key", "Value"},
                     {"Time zone", tz_.name()},
                     {"Currency", model_.currency},
                     {"Sample rate", model::period_name(config_.sample_rate)},
                     {"Decimal separator", std::string(1, config_.dialect.decimal)},
                     {"Field separator", std::string(1, config_.dialect.delimiter)},
                     {"Units", "Wh (electricity), dm3 (gas, water)"}};
    out.push_back(std::move(general));
    HistoryFile points{"settings", "EnergySettings", false, {}, {}};
    points.cells.push_back({"Name", "Fluid", "Load", "Usage", "Groups", "Panel board", "Area", "Energy series",
                            "Power series", "Excluded from totals", "Virtual"});
    for (const model::Point& p : model_.points) {
        std::string groups, series;
        for (const auto& g : p.groups) groups += (groups.empty() ? "" : " ") + g;
        for (const auto& e : p.energy) series += (series.empty() ? "" : " ") + e.series;
        points.cells.push_back({p.name, p.fluid, p.load.empty() ? "others" : p.load, p.usage, groups, p.panel_board,
                                p.area, series, p.power, p.exclude_from_totals ? "yes" : "no",
                                p.is_virtual ? "yes" : "no"});
    }
    out.push_back(std::move(points));
    // The month's settings files are the current ones: written under the
    // month-less names below (write_month()).
    return out;
}

Expected<std::optional<LegrandHistory::Version>> LegrandHistory::version_of(const HistoryFile& f,
                                                                            const std::string& month,
                                                                            int64_t month_start, int64_t month_end,
                                                                            int64_t until, int64_t now_ms, bool marked) {
    Version v{1, month_start};
    if (!f.versioned || !state_) return std::optional<Version>{v};
    const std::string key = f.folder + "/" + f.type + "_" + month;
    auto stored = state_->get(kLegrandStateNamespace, key);
    if (!stored) return stored.status();
    const nlohmann::json header = f.cells.front();
    if (*stored) {
        try {
            const auto j = nlohmann::json::parse(**stored);
            v.number = j.at("version").get<int>();
            v.from_ms = j.at("from_ms").get<int64_t>();
            if (j.at("header") == header) return std::optional<Version>{v};
        } catch (const std::exception&) {
            v = Version{1, month_start};  // unreadable: start over
        }
        if (month_end <= now_ms) return std::optional<Version>{};  // an ended month keeps its files
        // The columns changed: a new version from the first period not
        // written yet (the rows before are in the older file).
        ++v.number;
        v.from_ms = std::max(month_start, until);
        spdlog::info("legrand history: {} has new columns: version {} from {}", key, v.number, tz_.format_iso(v.from_ms));
    } else if (marked && month_end <= now_ms) {
        return std::optional<Version>{};  // a file new to a month already written, that has ended
    }
    const nlohmann::json j = {{"version", v.number}, {"from_ms", v.from_ms}, {"header", header}};
    if (Status st = state_->put(kLegrandStateNamespace, key, j.dump()); !st) return st;
    return std::optional<Version>{v};
}

Expected<std::vector<std::string>> LegrandHistory::write_month(int64_t month_start, int64_t until, int64_t now_ms) {
    const std::string month = month_text(tz_, month_start);
    const int64_t month_end = tz_.next_start(CalendarUnit::month, month_start);
    std::vector<std::string> written;
    // How far this month was written: a month written to its end is done.
    int64_t marked_until = 0;
    if (state_) {
        auto m = state_->get(kLegrandStateNamespace, "month/" + month);
        if (!m) return m.status();
        if (*m) {
            try {
                marked_until = std::stoll(**m);
            } catch (...) {
                marked_until = 0;
            }
        }
        if (marked_until >= month_end) return written;
    }
    // Where the files stopped (new versions start there).
    const int64_t previous_until = marked_until > 0 ? marked_until : until;
    auto files = month_files(month_start, until);
    if (!files) return files.status();
    // An ended month without a single figure (the site is newer) makes no files.
    if (month_end <= now_ms && marked_until == 0 &&
        std::none_of(files->begin(), files->end(), [](const HistoryFile& f) {
            return f.folder != "settings" && std::any_of(f.cells.begin() + 1, f.cells.end(), [](const CsvRow& r) {
                       return std::any_of(r.begin() + 1, r.end(), [](const std::string& c) { return !c.empty(); });
                   });
        }))
        return written;
    for (HistoryFile& f : *files) {
        std::string rel;
        if (f.folder == "settings") {
            rel = f.folder + "/" + f.type + ".csv";
        } else {
            auto v = version_of(f, month, month_start, month_end, previous_until, now_ms, marked_until > 0);
            if (!v) return v.status();
            if (!*v) continue;
            rel = f.path(month, (*v)->number);
            if ((*v)->from_ms > month_start) {  // a later version: its rows only
                CellMatrix kept{f.cells.front()};
                for (size_t r = 0; r < f.row_starts.size(); ++r)
                    if (f.row_starts[r] >= (*v)->from_ms) kept.push_back(std::move(f.cells[r + 1]));
                f.cells = std::move(kept);
            }
        }
        const std::filesystem::path p = std::filesystem::path(config_.dir) / rel;
        if (Status st = write_file_whole(p.parent_path().string(), p.filename().string(), write_csv(f.cells, config_.dialect));
            !st)
            return st;
        written.push_back(rel);
        ++files_written_;
    }
    if (state_ && until > marked_until)
        if (Status st = state_->put(kLegrandStateNamespace, "month/" + month, std::to_string(std::min(until, month_end))); !st)
            return st;
    return written;
}

Expected<std::vector<DownloadFile>> data_download(const DownloadRequest& req, const model::SiteModel& model,
                                                  const store::QueryEngine& query, const SeriesRegistry& registry,
                                                  const TimeZone& tz, const CsvDialect& dialect,
                                                  std::vector<std::string>* notes) {
    if (req.by != model::Breakdown::point && req.by != model::Breakdown::group && req.by != model::Breakdown::load)
        return Status::invalid("a data download is by point (meters), group or load");
    std::vector<DownloadFile> out;
    std::set<std::string> found;
    model::ConsumptionEngine engine(model, query, registry, tz);
    for (const model::Fluid& fl : model.fluids) {
        if (!req.fluid.empty() && fl.name != req.fluid) continue;
        if (std::none_of(model.points.begin(), model.points.end(), [&](const model::Point& p) { return p.fluid == fl.name; }))
            continue;
        if (req.by == model::Breakdown::load && fl.name != "electricity") continue;
        for (const bool cost : {false, true}) {
            if (cost && !req.costs) continue;
            model::ConsumptionRequest r;
            r.by = req.by;
            r.period = req.rate;
            r.from = req.from;
            r.to = req.to;
            r.fluid = fl.name;
            r.cost = cost;
            auto t = engine.table(r);
            if (!t) {
                if (cost) {  // no price for this fluid: no costs file
                    if (notes) notes->push_back(fl.name + ": no costs file (" + t.status().message() + ")");
                    continue;
                }
                return t.status();
            }
            for (size_t c = 1; c < t->columns.size(); ++c) found.insert(t->columns[c].name);
            const std::vector<std::string>* keep = req.items.empty() ? nullptr : &req.items;
            HistoryFile f = table_file(*t, 1, cost ? 1.0 : tree_factor(fl), "", "", false, tz, dialect, keep, cost);
            if (f.cells.front().size() == 1) continue;  // none of the items is of this fluid
            out.push_back({fl.name + (cost ? "_costs.csv" : "_consumption.csv"), write_csv(f.cells, dialect)});
        }
    }
    for (const std::string& item : req.items)
        if (!found.count(item)) {
            const model::Point* p = req.by == model::Breakdown::point ? model.point(item) : nullptr;
            if (p && !req.fluid.empty() && p->fluid != req.fluid)
                return Status::invalid("'" + item + "' is a point of fluid " + p->fluid + ": add --fluid " + p->fluid +
                                       " (or write a .zip, which holds every fluid)");
            return Status::invalid("'" + item + "' is not a " + model::breakdown_name(req.by) +
                                   " of the site model with data columns (gridlet consumption lists them)");
        }
    if (out.empty()) return Status::invalid("nothing to download: no " + std::string(model::breakdown_name(req.by)) +
                                            (req.fluid.empty() ? "" : " of fluid " + req.fluid) + " in the site model");
    return out;
}

Status write_zip(const std::string& path, const std::vector<DownloadFile>& files) {
    const std::string part = path + ".part";
    std::error_code ec;
    std::filesystem::remove(part, ec);
    int err = 0;
    zip_t* z = zip_open(part.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
    if (!z) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, err);
        Status st = Status::io_error("cannot write " + path + ": " + zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return st;
    }
    for (const DownloadFile& f : files) {
        zip_source_t* src = zip_source_buffer(z, f.bytes.data(), f.bytes.size(), 0);
        if (!src || zip_file_add(z, f.name.c_str(), src, ZIP_FL_ENC_UTF_8) < 0) {
            if (src) zip_source_free(src);
            Status st = Status::io_error("cannot write " + path + ": " + zip_strerror(z));
            zip_discard(z);
            return st;
        }
    }
    if (zip_close(z) != 0) {
        Status st = Status::io_error("cannot write " + path + ": " + zip_strerror(z));
        zip_discard(z);
        std::filesystem::remove(part, ec);
        return st;
    }
    // Whole or not at all: the archive is on disk before it gets its name.
    const int fd = ::open(part.c_str(), O_RDONLY | O_CLOEXEC);
    const bool synced = fd >= 0 && ::fsync(fd) == 0;
    if (fd >= 0) ::close(fd);
    if (!synced || ::rename(part.c_str(), path.c_str()) != 0) {
        Status st = Status::io_error("cannot write " + path + ": " + std::strerror(errno));
        std::filesystem::remove(part, ec);
        return st;
    }
    return Status::ok();
}

Status LegrandHistory::update(int64_t now_ms) {
    const int64_t ready = now_ms - config_.delay_ms;
    // The end of the last whole sample period by `ready`.
    int64_t closed = tz_.start_of(CalendarUnit::day, ready);
    if (closed < ready) {
        auto e = model::ConsumptionEngine(model_, query_, registry_, tz_).edges(config_.sample_rate, closed, ready);
        if (!e) return e.status();
        for (int64_t edge : *e)
            if (edge <= ready) closed = edge;
    }
    if (closed <= written_until_) return Status::ok();
    const int64_t month = tz_.start_of(CalendarUnit::month, closed - 1);
    // At the first call, or when a month ended since the last write: the month before too.
    if (written_until_ == 0 || written_until_ < month) {
        const int64_t previous = tz_.start_of(CalendarUnit::month, month - 1);
        auto w = write_month(previous, month, now_ms);
        if (!w) return w.status();
    }
    auto w = write_month(month, closed, now_ms);
    if (!w) return w.status();
    written_until_ = closed;
    return Status::ok();
}

}  // namespace gridlet::exporter

// `gridlet import FILE...`: loads historic samples from CSV into a store
// that no gridlet has open: the tidy CSV `gridlet query` writes
// (time,series,value[,quality]) or the wide one `query --wide` writes
// (time,<series>[,<series>:quality]...). Every row of every file is checked
// first; a file with any bad row writes nothing. CLI thread.
#include <CLI/CLI.hpp>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <unordered_map>

#include "cli/commands.h"
#include "cli/csv_reader.h"
#include "cli/store_access.h"
#include "core/clock.h"
#include "core/pattern.h"
#include "store/site_file.h"

namespace gridlet::cli {

namespace {

constexpr const char* kCommand = "import";
constexpr size_t kMaxErrorsShown = 10;
constexpr size_t kBatch = 8192;

struct ImportArgs {
    std::vector<std::string> files;
    std::string db, config, tz, kind, unit, series_file;
    bool dry_run = false;
};

// What a column of the header holds.
struct Column {
    enum What { time, series_name, value, quality, series_values, series_quality } what = value;
    int series = -1;  // series_values / series_quality: index into Importer::names_
};

struct Sample {
    int series;
    int64_t ts;
    double value;
    uint8_t quality;
};

bool parse_value(const std::string& s, double& out) {
    if (s == "nan" || s == "NaN") return out = std::nan(""), true;
    if (s == "inf" || s == "Infinity") return out = HUGE_VAL, true;
    if (s == "-inf" || s == "-Infinity") return out = -HUGE_VAL, true;
    const char* end = s.data() + s.size();
    auto [p, ec] = std::from_chars(s.data(), end, out);
    return ec == std::errc() && p == end && !s.empty();
}

bool parse_quality(const std::string& s, uint8_t& out) {
    int q = -1;
    const char* end = s.data() + s.size();
    auto [p, ec] = std::from_chars(s.data(), end, q);
    if (ec != std::errc() || p != end || q < 0 || q > 255) return false;
    out = static_cast<uint8_t>(q);
    return true;
}

class Importer {
public:
    // `raw_ms`: the site's raw retention (0: forever or not known).
    Importer(const TimeZone& tz, store::Store& store, int64_t raw_ms) : tz_(tz), store_(store) {
        if (raw_ms > 0) {
            raw_cutoff_ = SystemClock::instance().now_ms() - raw_ms;
            raw_days_ = raw_ms / 86'400'000;
        }
    }

    // Reads `file`, calling `sink` for each sample; problems go to errors_
    // as "file:line: what". Returns false when the file cannot be read on.
    template <class Sink>
    bool read(const std::string& file, Sink&& sink) {
        std::error_code ec;
        if (std::filesystem::is_directory(file, ec)) return error(file, 0, "is a folder, not a CSV file"), false;
        std::ifstream in(file, std::ios::binary);
        if (!in) return error(file, 0, "cannot be opened"), false;
        CsvReader csv(in);
        std::vector<std::string> f;
        if (!csv.next(f)) return error(file, 1, csv.error().empty() ? "is empty (no header)" : csv.error()), false;
        std::vector<Column> cols;
        if (!header(file, f, cols)) return false;
        while (csv.next(f)) {
            if (f.size() == 1 && f[0].empty()) continue;  // a blank line
            if (f.size() != cols.size()) {
                error(file, csv.line(), std::to_string(f.size()) + " fields, the header has " + std::to_string(cols.size()));
                continue;
            }
            row(file, csv.line(), f, cols, sink);
        }
        if (!csv.error().empty()) return error(file, csv.line(), csv.error()), false;
        if (in.bad()) return error(file, csv.line(), "read error"), false;
        return true;
    }

    const std::vector<std::string>& names() const { return names_; }
    const std::vector<std::string>& errors() const { return errors_; }
    size_t error_count() const { return error_count_; }

private:
    void error(const std::string& file, int line, const std::string& what) {
        ++error_count_;
        if (errors_.size() < kMaxErrorsShown)
            errors_.push_back(file + (line > 0 ? ":" + std::to_string(line) : "") + ": " + what);
    }

    int series_index(const std::string& name) {
        auto [it, added] = index_.try_emplace(name, static_cast<int>(names_.size()));
        if (added) names_.push_back(name);
        return it->second;
    }

    bool header(const std::string& file, const std::vector<std::string>& f, std::vector<Column>& cols) {
        if (f.empty() || f[0] != "time") {
            error(file, 1, "the header must start with 'time' (tidy: time,series,value[,quality]; wide: "
                           "time,<series>[,<series>:quality]...), not '" + (f.empty() ? "" : f[0]) + "'");
            return false;
        }
        cols.push_back({Column::time, -1});
        const bool tidy = f.size() >= 3 && f[1] == "series" && f[2] == "value";
        if (tidy) {
            cols.push_back({Column::series_name, -1});
            cols.push_back({Column::value, -1});
            if (f.size() == 4 && f[3] == "quality") cols.push_back({Column::quality, -1});
            if (cols.size() != f.size()) {
                error(file, 1, "a tidy header is time,series,value[,quality]");
                return false;
            }
            return true;
        }
        if (f.size() < 2) {
            error(file, 1, "no series columns after 'time'");
            return false;
        }
        std::unordered_map<std::string, size_t> seen;  // column header -> column number
        for (size_t i = 1; i < f.size(); ++i) {
            if (auto [it, added] = seen.emplace(f[i], i + 1); !added) {
                error(file, 1, "column " + std::to_string(i + 1) + " '" + f[i] + "' is column " +
                                   std::to_string(it->second) + " too");
                return false;
            }
            std::string name = f[i];
            const bool is_quality = name.size() > 8 && name.compare(name.size() - 8, 8, ":quality") == 0;
            if (is_quality) name.resize(name.size() - 8);
            if (!valid_series_name(name)) {
                error(file, 1, "column " + std::to_string(i + 1) + " '" + f[i] +
                                   "' is not a series name (device/point, segments of letters, digits, '_', '-', '.')");
                return false;
            }
            cols.push_back({is_quality ? Column::series_quality : Column::series_values, series_index(name)});
        }
        for (size_t i = 1; i < f.size(); ++i)
            if (cols[i].what == Column::series_quality && !seen.count(names_[static_cast<size_t>(cols[i].series)])) {
                error(file, 1, "column " + std::to_string(i + 1) + " '" + f[i] + "' has no column '" +
                                   names_[static_cast<size_t>(cols[i].series)] + "' for its values");
                return false;
            }
        return true;
    }

    // A local time (no offset) that does not exist (clocks set forward) or
    // exists twice (set back) in the zone: "" when it is one instant.
    std::string local_time_problem(const std::string& text, int64_t ts) const {
        const size_t sep = text.find_first_of("T ", 8);
        const std::string clock = sep == std::string::npos ? "" : text.substr(sep + 1);
        if (clock.find_first_of("Zz+-") != std::string::npos) return "";  // has an offset
        auto wall = TimeZone::utc().parse_iso(text);                      // the wall clock, as if UTC
        if (!wall) return "";
        if (ts + tz_.utc_offset_ms(ts) != *wall)
            return "local time " + text + " does not exist in " + tz_.name() +
                   " (clocks were set forward then): give it with an offset";
        for (int64_t probe : {ts - 6 * 3'600'000LL, ts + 6 * 3'600'000LL}) {
            const int64_t other = *wall - tz_.utc_offset_ms(probe);
            if (other != ts && other + tz_.utc_offset_ms(other) == *wall)
                return "local time " + text + " occurs twice in " + tz_.name() + " (" + tz_.format_iso(std::min(ts, other)) +
                       " and " + tz_.format_iso(std::max(ts, other)) + "): give it with an offset";
        }
        return "";
    }

    bool time_of(const std::string& file, int line, const std::string& text, int64_t& ts) {
        if (!text.empty() && text[0] == '@') {
            const char* end = text.data() + text.size();
            auto [p, ec] = std::from_chars(text.data() + 1, end, ts);
            if (ec != std::errc() || p != end) return error(file, line, "bad time '" + text + "' (@ then epoch ms)"), false;
        } else {
            auto t = tz_.parse_iso(text);
            if (!t) return error(file, line, t.status().message()), false;
            ts = *t;
            if (std::string why = local_time_problem(text, ts); !why.empty()) return error(file, line, why), false;
        }
        if (raw_cutoff_ > INT64_MIN && ts < raw_cutoff_)
            return error(file, line, "time " + text + " is older than [store] retention_raw_days (" +
                                         std::to_string(raw_days_) +
                                         " days): raw samples there are gone, so the rollups cannot take it; raise "
                                         "retention_raw_days (and give --config) to import it"),
                   false;
        if (!store_.accept_window_holds(ts)) {
            const auto [lo, hi] = store_.accept_window();
            return error(file, line, "time " + text + " is outside what the store accepts (" +
                                         TimeZone::utc().format_iso(lo) + " to " + TimeZone::utc().format_iso(hi) +
                                         ": [store] accept_from_year, accept_ahead_hours)"),
                   false;
        }
        return true;
    }

    template <class Sink>
    void row(const std::string& file, int line, const std::vector<std::string>& f, const std::vector<Column>& cols,
             Sink& sink) {
        int64_t ts = 0;
        if (!time_of(file, line, f[0], ts)) return;
        if (cols[1].what == Column::series_name) {  // tidy
            if (!valid_series_name(f[1])) return error(file, line, "'" + f[1] + "' is not a series name");
            Sample s{series_index(f[1]), ts, 0, GL_QUALITY_GOOD};
            if (!parse_value(f[2], s.value)) return error(file, line, "value '" + f[2] + "' is not a number");
            if (cols.size() == 4 && !parse_quality(f[3], s.quality))
                return error(file, line, "quality '" + f[3] + "' is not 0..255");
            sink(s);
            return;
        }
        // Wide: one sample per non-empty value column, its quality from the
        // matching :quality column (good when there is none).
        std::unordered_map<int, uint8_t> quality;
        for (size_t i = 1; i < cols.size(); ++i) {
            if (cols[i].what != Column::series_quality || f[i].empty()) continue;
            uint8_t q = 0;
            if (!parse_quality(f[i], q)) return error(file, line, "quality '" + f[i] + "' is not 0..255");
            quality[cols[i].series] = q;
        }
        for (size_t i = 1; i < cols.size(); ++i) {
            if (cols[i].what != Column::series_values || f[i].empty()) continue;
            Sample s{cols[i].series, ts, 0, GL_QUALITY_GOOD};
            if (!parse_value(f[i], s.value))
                return error(file, line, "value '" + f[i] + "' (" + names_[s.series] + ") is not a number");
            if (auto q = quality.find(s.series); q != quality.end()) s.quality = q->second;
            sink(s);
        }
    }

    const TimeZone& tz_;
    store::Store& store_;
    std::vector<std::string> names_;
    std::unordered_map<std::string, int> index_;
    std::vector<std::string> errors_;
    size_t error_count_ = 0;
    int64_t raw_cutoff_ = INT64_MIN;  // samples before it: refused (retention)
    int64_t raw_days_ = 0;
};

// --series FILE: what `gridlet series --format csv` writes (columns name,
// kind, unit, tags "k=v;k=v", description, states "0=off,1=on"; others ignored), the metadata of
// the series the import creates. Problems go to `problems`.
std::map<std::string, SeriesMeta> read_series_file(const std::string& file, std::vector<std::string>& problems) {
    std::map<std::string, SeriesMeta> out;
    std::ifstream in(file, std::ios::binary);
    if (!in) return problems.push_back(file + ": cannot be opened"), out;
    CsvReader csv(in);
    std::vector<std::string> f;
    if (!csv.next(f)) return problems.push_back(file + ":1: no header"), out;
    std::map<std::string, size_t> col;
    for (size_t i = 0; i < f.size(); ++i) col[f[i]] = i;
    if (!col.count("name")) return problems.push_back(file + ":1: no 'name' column (gridlet series --format csv)"), out;
    const auto field = [&](const std::vector<std::string>& r, const char* name) -> std::string {
        auto it = col.find(name);
        return it != col.end() && it->second < r.size() ? r[it->second] : "";
    };
    while (csv.next(f)) {
        if (f.size() == 1 && f[0].empty()) continue;
        const std::string where = file + ":" + std::to_string(csv.line()) + ": ";
        if (f.size() != col.size()) {
            problems.push_back(where + std::to_string(f.size()) + " fields, the header has " + std::to_string(col.size()));
            continue;
        }
        SeriesMeta m;
        m.name = field(f, "name");
        if (!valid_series_name(m.name)) {
            problems.push_back(where + "'" + m.name + "' is not a series name");
            continue;
        }
        if (std::string k = field(f, "kind"); !k.empty()) {
            auto kind = parse_series_kind(k);
            if (!kind) {
                problems.push_back(where + "kind '" + k + "' is not gauge, counter or state");
                continue;
            }
            m.kind = *kind;
        }
        m.unit = field(f, "unit");
        m.description = field(f, "description");
        if (std::string states = field(f, "states"); !states.empty()) {
            auto parsed = parse_states(states);
            if (!parsed) {
                problems.push_back(where + "states: " + parsed.status().message());
                continue;
            }
            m.states = std::move(*parsed);
        }
        const std::string tags = field(f, "tags");
        for (size_t pos = 0; pos < tags.size();) {
            size_t end = tags.find(';', pos);
            if (end == std::string::npos) end = tags.size();
            const std::string item = tags.substr(pos, end - pos);
            const size_t eq = item.find('=');
            if (eq == std::string::npos || eq == 0) {
                problems.push_back(where + "tag '" + item + "' is not key=value");
                break;
            }
            m.tags[item.substr(0, eq)] = item.substr(eq + 1);
            pos = end + 1;
        }
        out[m.name] = std::move(m);
    }
    if (!csv.error().empty()) problems.push_back(file + ":" + std::to_string(csv.line()) + ": " + csv.error());
    return out;
}

void run_import(const ImportArgs& a) {
    if (a.db.empty() == a.config.empty()) fail(kCommand, 2, "give exactly one of --db <path> or --config <site.toml>");
    store::StoreOptions o;
    std::string zone = "UTC";
    if (!a.config.empty()) {
        auto site = store::read_site_store(a.config);
        if (!site) fail(kCommand, 2, site.status().message());
        o = site->options;
        zone = site->timezone;
        o.day_zone = zone;
    } else {
        o.path = a.db;
    }
    o.create_if_missing = false;  // an import never makes a store: `gridlet store init`
    if (!a.tz.empty()) zone = a.tz;
    auto tz = TimeZone::load(zone);
    if (!tz) fail(kCommand, 2, "--tz: " + tz.status().message());
    std::optional<SeriesKind> kind;
    if (!a.kind.empty()) kind = parse_series_kind(a.kind);

    std::error_code ec;
    if (!std::filesystem::exists(o.path / "CURRENT", ec) && !std::filesystem::exists(store::creation_record(o.path), ec))
        fail(kCommand, 2, "store " + o.path.string() + " does not exist; an import never creates one: `gridlet store init " +
                              (a.config.empty() ? "--db " + o.path.string() : "--config " + a.config) +
                              "` creates an empty store");
    auto opened = store::Store::open(o);
    if (!opened) fail(kCommand, opened.status().code() == StatusCode::not_found ? 2 : 1, opened.status().message());
    store::Store& store = **opened;

    // Pass 1: check every row of every file; nothing is written yet.
    // The raw retention is the site's ([store] retention_raw_days): known
    // with --config only (a store folder does not record it).
    const int64_t raw_ms = a.config.empty() ? 0 : o.retention.raw_ms;
    if (a.config.empty())
        std::fprintf(stderr, "note: with --db the site's retention_raw_days is not known: samples older than it would "
                             "not be rolled up correctly; --config checks them\n");
    Importer check(*tz, store, raw_ms);
    size_t rows = 0;
    int64_t first = INT64_MAX, last = INT64_MIN;
    for (const std::string& file : a.files)
        check.read(file, [&](const Sample& s) {
            ++rows;
            first = std::min(first, s.ts);
            last = std::max(last, s.ts);
        });
    std::vector<std::string> problems = check.errors();
    std::map<std::string, SeriesMeta> described;
    if (!a.series_file.empty()) described = read_series_file(a.series_file, problems);
    // What a new series is made with: its line in --series, else --kind and --unit.
    const auto new_meta = [&](const std::string& name) {
        if (auto it = described.find(name); it != described.end()) return it->second;
        SeriesMeta m;
        m.name = name;
        m.unit = a.unit;
        if (kind) m.kind = *kind;
        return m;
    };
    // Series: an existing one keeps its kind and unit.
    for (const std::string& name : check.names()) {
        auto id = store.registry().find(name);
        if (!id) continue;
        const SeriesMeta m = *store.registry().get(*id);
        const bool from_file = described.count(name) > 0;
        const SeriesMeta want = new_meta(name);
        const std::string by = from_file ? a.series_file : std::string("--kind/--unit");
        if ((from_file || kind) && want.kind != m.kind)
            problems.push_back("series " + name + " exists as a " + series_kind_name(m.kind) + "; " + by + " says " +
                               series_kind_name(want.kind) + " (kind and unit are for new series)");
        if ((from_file || !a.unit.empty()) && want.unit != m.unit)
            problems.push_back("series " + name + " exists with unit '" + m.unit + "'; " + by + " says '" + want.unit +
                               "' (kind and unit are for new series)");
    }
    if (!problems.empty()) {
        for (const std::string& p : problems) std::fprintf(stderr, "%s\n", p.c_str());
        const size_t more = check.error_count() > check.errors().size() ? check.error_count() - check.errors().size() : 0;
        if (more) std::fprintf(stderr, "... and %zu more\n", more);
        fail(kCommand, 2, "nothing was written");
    }
    if (rows == 0) fail(kCommand, 2, "no samples in the files");
    std::printf("%zu samples of %zu series, %s to %s\n", rows, check.names().size(),
                tz->format_iso(first, true).c_str(), tz->format_iso(last, true).c_str());
    if (a.dry_run) {
        std::printf("--dry-run: nothing written\n");
        return;
    }

    // Pass 2: register the new series, write the samples.
    std::vector<uint32_t> ids;
    size_t created = 0;
    for (const std::string& name : check.names()) {
        if (auto id = store.registry().find(name)) {
            ids.push_back(*id);
            continue;
        }
        SeriesMeta m = new_meta(name);
        if (!m.tags.count("device")) m.tags["device"] = std::string(m.device());
        auto id = store.registry().intern(m);
        if (!id) fail(kCommand, 1, id.status().message());
        ids.push_back(*id);
        ++created;
    }
    Importer write(*tz, store, raw_ms);
    std::vector<gl_sample> batch;
    size_t written = 0;
    auto next_progress = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    auto flush = [&] {
        if (batch.empty()) return;
        if (Status st = store.append(batch); !st)
            fail(kCommand, 1, st.message() + " (" + std::to_string(written) + " of " + std::to_string(rows) +
                                  " samples written before this)");
        written += batch.size();
        batch.clear();
        if (std::chrono::steady_clock::now() >= next_progress) {
            std::fprintf(stderr, "imported %zu of %zu samples\n", written, rows);
            next_progress = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        }
    };
    // The second reader sees the same names in the same order (same files).
    for (const std::string& file : a.files) {
        bool ok = write.read(file, [&](const Sample& s) {
            batch.push_back(gl_sample{s.ts, s.value, ids[static_cast<size_t>(s.series)], s.quality, {0, 0, 0}});
            if (batch.size() >= kBatch) flush();
        });
        if (!ok || write.error_count()) fail(kCommand, 1, file + " changed while it was imported");
    }
    flush();
    if (Status st = store.sync(); !st) fail(kCommand, 1, st.message());
    std::printf("imported %zu rows into %zu series (%zu new; a row at a time already stored, or given twice, replaces "
                "the earlier sample)\n",
                written, ids.size(), created);
    auto rolled = store.roll_up_now();
    if (!rolled) fail(kCommand, 1, "samples imported, but the rollups were not updated: " + rolled.status().message() +
                                       " (gridlet run updates them)");
}

}  // namespace

void register_import_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("import", "Load historic samples from CSV into a store no gridlet has open");
    auto a = std::make_shared<ImportArgs>();
    cmd->add_option("files", a->files, "CSV files: time,series,value[,quality] or time,<series>...[,<series>:quality]")
        ->required();
    add_store_options(cmd, a->db, a->config);
    cmd->add_option("--tz", a->tz, "IANA time zone of times without an offset (default: the site's, else UTC)");
    cmd->add_option("--kind", a->kind, "Kind of new series (default gauge)")
        ->check(CLI::IsMember({"gauge", "counter", "state"}));
    cmd->add_option("--unit", a->unit, "Unit of new series");
    cmd->add_option("--series", a->series_file,
                    "Kind, unit, tags and description of new series: what `gridlet series --format csv` writes");
    cmd->add_flag("--dry-run", a->dry_run, "Check the files and say what would be imported; write nothing");
    cmd->footer(
        "Reads what `gridlet query` writes (with or without --wide). Times: ISO-8601 (local in --tz without an\n"
        "offset) or @epoch_ms. Values: numbers, nan, inf, -inf (stored as bad data). Quality: 0..255 (default\n"
        "192, good). Every row is checked first: any bad row, and nothing is written. A sample at a time that is\n"
        "already stored replaces it. The store must not be open by a running gridlet (stop it first).\n"
        "Exit status: 0 imported; 1 the store failed; 2 bad arguments or a bad row (nothing written).");
    on_run(cmd, "import", [a] { run_import(*a); });
}

}  // namespace gridlet::cli

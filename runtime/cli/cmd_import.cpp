// `gridlet import FILE...`: loads historic samples into a store: the tidy
// or wide CSV `gridlet query` writes, InfluxDB line protocol, Socomec EMS
// and CSV export files (importer.h reads them). Every row of every file is
// checked first (pass 1, also the whole of --dry-run, which only reads the
// store); a file with any bad row writes nothing unless --keep-going; then
// pass 2 registers the new series and writes the samples. CLI thread.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "cli/commands.h"
#include "cli/csv_reader.h"
#include "cli/importer.h"
#include "cli/store_access.h"
#include "store/site_file.h"

namespace gridlet::cli {

namespace {

constexpr const char* kCommand = "import";
constexpr size_t kBatch = 8192;

struct ImportArgs {
    std::vector<std::string> files;
    std::string db, config, tz, kind, unit, series_file, format = "auto", precision = "ns", rejects;
    bool dry_run = false, keep_going = false;
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
        o.apply_retention = false;  // the site's retention is not known: nothing expires meanwhile
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
    KeepOwner keep(o.path);  // root importing into the service's store: its files stay the service's
    // A dry run writes nothing: it reads the store as `gridlet query` does,
    // also while gridlet runs on it.
    std::unique_ptr<store::Store> opened;
    if (a.dry_run) {
        opened = open_store_read_only(kCommand, o.path);
    } else {
        auto writable = store::Store::open(o);
        if (!writable)
            fail(kCommand, writable.status().code() == StatusCode::not_found ? 2 : 1, writable.status().message());
        opened = std::move(*writable);
    }
    store::Store& store = *opened;

    // Pass 1: check every row of every file; nothing is written yet.
    // The raw retention is the site's ([store] retention_raw_days): known
    // with --config only (a store folder does not record it).
    const int64_t raw_ms = a.config.empty() ? 0 : o.retention.raw_ms;
    if (a.config.empty())
        std::fprintf(stderr, "note: with --db the site's retention is not known: nothing expires during the import, but "
                             "samples older than its retention_raw_days would not be rolled up correctly; --config "
                             "checks them\n");
    int64_t divisor = 1'000'000;
    if (a.precision == "us") divisor = 1'000;
    else if (a.precision == "ms") divisor = 1;
    else if (a.precision == "s") divisor = -1;  // seconds: multiplied, below
    Importer check(*tz, store, raw_ms, a.format, divisor, !a.rejects.empty());
    check.show_progress("checking");
    size_t rows = 0;
    std::vector<size_t> per_series;
    int64_t first = INT64_MAX, last = INT64_MIN;
    for (const std::string& file : a.files)
        check.read(file, [&](const Sample& s) {
            ++rows;
            if (per_series.size() <= static_cast<size_t>(s.series)) per_series.resize(static_cast<size_t>(s.series) + 1);
            ++per_series[static_cast<size_t>(s.series)];
            first = std::min(first, s.ts);
            last = std::max(last, s.ts);
        });
    per_series.resize(check.names().size());
    // --rejects: every line not imported, as CSV (file,line,reason,text).
    if (!a.rejects.empty()) {
        std::ofstream out(a.rejects, std::ios::binary | std::ios::trunc);
        if (!out) fail(kCommand, 2, "--rejects: " + a.rejects + " cannot be written");
        auto cell = [](const std::string& v) {
            if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
            std::string q = "\"";
            for (char c : v) q += c == '"' ? std::string("\"\"") : std::string(1, c);
            return q + "\"";
        };
        out << "file,line,reason,text\n";
        for (const Reject& r : check.rejects())
            out << cell(r.file) << ',' << r.line << ',' << cell(r.why) << ',' << cell(r.text) << '\n';
        if (!out.flush()) fail(kCommand, 1, "--rejects: writing " + a.rejects + " failed");
    }
    for (const auto& [file, format] : check.formats()) std::printf("%s: %s\n", file.c_str(), format_name(format));
    if (check.strings_skipped())
        std::printf("%zu string field%s left out (a sample is a number)\n", check.strings_skipped(),
                    check.strings_skipped() == 1 ? "" : "s");
    std::fflush(stdout);
    const bool going_on = a.keep_going && check.file_error_count() == 0 && check.error_count() > 0;
    std::vector<std::string> problems = going_on ? std::vector<std::string>{} : check.errors();
    if (going_on) {
        for (const std::string& p : check.errors()) std::fprintf(stderr, "rejected: %s\n", p.c_str());
        const size_t more = check.error_count() - check.errors().size();
        if (more) std::fprintf(stderr, "rejected: ... and %zu more\n", more);
        std::fprintf(stderr, "%zu line%s rejected%s; --keep-going: the others are imported\n", check.error_count(),
                     check.error_count() == 1 ? "" : "s", a.rejects.empty() ? "" : (" (every one in " + a.rejects + ")").c_str());
    }
    std::map<std::string, SeriesMeta> described;
    if (!a.series_file.empty()) described = read_series_file(a.series_file, problems);
    // What a new series is made with: its line in --series, else --kind and --unit.
    const auto new_meta = [&](const std::string& name) {
        if (auto it = described.find(name); it != described.end()) return it->second;
        SeriesMeta m;
        m.name = name;
        m.unit = a.unit;
        if (auto u = check.units().find(name); a.unit.empty() && u != check.units().end()) m.unit = u->second;
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
        const std::string by = from_file ? a.series_file : !a.unit.empty() || kind ? std::string("--kind/--unit") : std::string("the file");
        if ((from_file || kind) && want.kind != m.kind)
            problems.push_back("series " + name + " exists as a " + series_kind_name(m.kind) + "; " + by + " says " +
                               series_kind_name(want.kind) + " (kind and unit are for new series)");
        if ((from_file || !a.unit.empty() || check.units().count(name)) && want.unit != m.unit)
            problems.push_back("series " + name + " exists with unit '" + m.unit + "'; " + by + " says '" + want.unit +
                               "' (kind and unit are for new series)");
    }
    if (!problems.empty()) {
        for (const std::string& p : problems) std::fprintf(stderr, "%s\n", p.c_str());
        const size_t more = check.error_count() > check.errors().size() ? check.error_count() - check.errors().size() : 0;
        if (more) std::fprintf(stderr, "... and %zu more\n", more);
        fail(kCommand, 2,
             std::string("nothing was written") +
                 (check.file_error_count() == 0 && check.error_count() > 0 && !a.keep_going
                      ? " (--keep-going imports the other lines" + std::string(a.rejects.empty() ? "; --rejects FILE lists every rejected one)" : ")")
                      : ""));
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
    size_t created = 0, used = 0;
    for (size_t i = 0; i < check.names().size(); ++i) {
        const std::string& name = check.names()[i];
        if (per_series[i] == 0) {  // only on rejected lines: not made
            ids.push_back(0);
            continue;
        }
        ++used;
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
    Importer write(*tz, store, raw_ms, a.format, divisor);
    write.show_progress("writing");
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
        if (!ok || write.file_error_count()) fail(kCommand, 1, file + " changed while it was imported");
    }
    if (write.error_count() != check.error_count()) fail(kCommand, 1, "the files changed while they were imported");
    {
    }
    flush();
    if (Status st = store.sync(); !st) fail(kCommand, 1, st.message());
    std::printf("imported %zu rows into %zu series (%zu new; a row at a time already stored, or given twice, replaces "
                "the earlier sample)\n",
                written, used, created);
    auto rolled = store.roll_up_now();
    if (!rolled) fail(kCommand, 1, "samples imported, but the rollups were not updated: " + rolled.status().message() +
                                       " (gridlet run updates them)");
}

}  // namespace

void register_import_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("import", "Load historic samples (CSV, InfluxDB line protocol, Socomec exports) into a store no gridlet has open");
    auto a = std::make_shared<ImportArgs>();
    cmd->add_option("files", a->files,
                    "Files: CSV (time,series,value[,quality] or time,<series>...[,<series>:quality]), InfluxDB line "
                    "protocol, Socomec EMS or CSV exports")
        ->required();
    cmd->add_option("--format", a->format, "The files' format (default auto: from each file's first line)")
        ->check(CLI::IsMember({"auto", "csv", "line", "socomec_ems", "socomec_csv"}));
    cmd->add_option("--precision", a->precision, "Line protocol timestamps: ns (default, as InfluxDB), us, ms or s")
        ->check(CLI::IsMember({"ns", "us", "ms", "s"}));
    cmd->add_option("--rejects", a->rejects, "Write every rejected line here, as CSV: file,line,reason,text");
    cmd->add_flag("--keep-going", a->keep_going,
                  "Import the good lines when some are rejected (default: a rejected line, and nothing is written)");
    add_store_options(cmd, a->db, a->config);
    cmd->add_option("--tz", a->tz, "IANA time zone of times without an offset (default: the site's, else UTC)");
    cmd->add_option("--kind", a->kind, "Kind of new series (default gauge)")
        ->check(CLI::IsMember({"gauge", "counter", "state"}));
    cmd->add_option("--unit", a->unit, "Unit of new series");
    cmd->add_option("--series", a->series_file,
                    "Kind, unit, tags and description of new series: what `gridlet series --format csv` writes");
    cmd->add_flag("--dry-run", a->dry_run,
                  "Check the files and say what would be imported; write nothing (also while gridlet runs on the store)");
    cmd->footer(
        "Reads what `gridlet query` writes (with or without --wide). Times: ISO-8601 (local in --tz without an\n"
        "offset) or @epoch_ms. Values: numbers, nan, inf, -inf (stored as bad data). Quality: 0..255 (default\n"
        "192, good). Line protocol: gridlet's own lines (tags device, point) go to <device>/<point>; others to\n"
        "<measurement>/<tag values in key order>/<field>. Socomec EMS: <device>/<circuit>/<quantity> from each\n"
        "variable's Name, value = Value / Coef, in the file's TimeZone; Socomec CSV: <device>/<load>/<measured\n"
        "value>, value = cell x Scale, local times in --tz. Every line is checked first: a rejected line, and\n"
        "nothing is written, unless --keep-going. A sample at a time that is already stored replaces it, so\n"
        "importing a file twice changes nothing. The store must not be open by a running gridlet (stop it first).\n"
        "Exit status: 0 imported; 1 the store failed; 2 bad arguments or a rejected line (nothing written).");
    on_run(cmd, "import", [a] { run_import(*a); });
}

}  // namespace gridlet::cli

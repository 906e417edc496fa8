// `gridlet query`: read series from the store of a site, running or stopped
// (a read-only secondary instance of its RocksDB database).
#include <CLI/CLI.hpp>

#include <charconv>
#include <cstdio>
#include <map>
#include <memory>
#include <set>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/store_access.h"
#include "store/site_file.h"
#include "store/store.h"
#include "store/time_spec.h"

namespace gridlet::cli {

namespace {
using store::Point;

struct QueryArgs {
    std::string pattern, tags, from = "-1h", to = "now", step, agg, format = "csv", db, config, tz;
    bool wide = false;
    bool no_quality = false;
    int digits = -1;  // decimals shown; -1: the exact stored value
};

void run_query(const QueryArgs& a) {
    if (a.pattern.empty() && a.tags.empty()) cli::fail("query", 2, "give a series pattern and/or --tags k=v,...");
    StoreLocation loc = locate_store("query", a.db, a.config);
    if (a.format != "csv" && a.format != "json") cli::fail("query", 2, "--format must be csv or json");
    const auto shown = [&](double v) { return round_decimals(v, a.digits); };
    std::string zone = a.tz.empty() ? loc.timezone : a.tz;
    auto tz = TimeZone::load(zone);
    if (!tz) cli::fail("query", 2, tz.status().message());
    const auto [from, to] = parse_time_range("query", a.from, a.to, *tz);
    std::optional<Aggregate> agg;
    if (!a.agg.empty()) {
        auto g = parse_aggregate(a.agg);
        if (!g) cli::fail("query", 2, "--agg: " + g.status().message());
        agg = *g;
    }
    if (agg && a.step.empty()) cli::fail("query", 2, "--agg needs --step");
    std::optional<CalendarUnit> unit;
    int64_t step = 0;
    if (!a.step.empty()) {
        if (auto u = parse_calendar_unit(a.step)) {
            unit = *u;
        } else {
            auto d = store::parse_duration_ms(a.step);
            if (!d || *d <= 0) cli::fail("query", 2, "--step: use a duration (15m, 1h, 1d) or day, week, month, year");
            step = *d;
        }
        if (!agg) agg = Aggregate::avg;
    }

    auto st = open_store_read_only("query", loc.path);
    const store::QueryEngine& q = st->query();
    Expected<std::vector<store::SeriesPoints>> res = Status::internal("no query");
    if (unit) res = q.calendar_many(a.pattern, a.tags, from, to, *unit, *tz, *agg);
    else if (step) res = q.downsample_many(a.pattern, a.tags, from, to, step, *agg);
    else res = q.raw_many(a.pattern, a.tags, from, to);
    if (!res) cli::fail("query", res.status().code() == StatusCode::invalid_argument ? 2 : 1, res.status().message());
    if (res->empty()) std::fprintf(stderr, "gridlet query: no series match '%s' %s\n", a.pattern.c_str(), a.tags.c_str());

    auto time_text = [&](int64_t t) { return tz->format_iso(t, true); };
    // Raw samples carry their quality (0 bad, 192 good; aggregates use good samples only).
    const bool with_quality = !agg && !a.no_quality;
    if (a.format == "json") {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& sp : *res) {
            nlohmann::json pts = nlohmann::json::array();
            for (size_t i = 0; i < sp.points.size(); ++i) {
                const Point& p = sp.points[i];
                nlohmann::json pt = {{"time", time_text(p.ts)}, {"ts_ms", p.ts}, {"value", json_number(shown(p.value))}};
                if (with_quality) pt["quality"] = sp.quality[i];
                pts.push_back(std::move(pt));
            }
            out.push_back({{"series", sp.meta.name},
                           {"unit", sp.meta.unit},
                           {"kind", series_kind_name(sp.meta.kind)},
                           {"aggregate", agg ? aggregate_name(*agg) : "raw"},
                           {"points", pts}});
        }
        std::printf("%s\n", out.dump(2).c_str());
        return;
    }
    if (!a.wide) {
        std::printf(with_quality ? "time,series,value,quality\n" : "time,series,value\n");
        for (const auto& sp : *res)
            for (size_t i = 0; i < sp.points.size(); ++i) {
                const Point& p = sp.points[i];
                std::printf("%s,%s,%s", time_text(p.ts).c_str(), sp.meta.name.c_str(), format_number(shown(p.value)).c_str());
                if (with_quality) std::printf(",%u", static_cast<unsigned>(sp.quality[i]));
                std::printf("\n");
            }
        return;
    }
    struct Cell {
        double value;
        uint8_t quality;
    };
    std::map<int64_t, std::vector<std::optional<Cell>>> rows;
    for (size_t i = 0; i < res->size(); ++i)
        for (size_t k = 0; k < (*res)[i].points.size(); ++k) {
            const Point& p = (*res)[i].points[k];
            auto& row = rows[p.ts];
            row.resize(res->size());
            row[i] = Cell{p.value, with_quality ? (*res)[i].quality[k] : uint8_t{0}};
        }
    std::string header = "time";
    for (const auto& sp : *res) {
        header += "," + sp.meta.name;
        if (with_quality) header += "," + sp.meta.name + ":quality";
    }
    std::printf("%s\n", header.c_str());
    for (auto& [t, cells] : rows) {
        cells.resize(res->size());
        std::string line = time_text(t);
        for (const auto& c : cells) {
            line += "," + (c ? format_number(shown(c->value)) : std::string());
            if (with_quality) line += "," + (c ? std::to_string(c->quality) : std::string());
        }
        std::printf("%s\n", line.c_str());
    }
}
}  // namespace

void register_query_command(CLI::App& app) {
    auto a = std::make_shared<QueryArgs>();
    auto* cmd = app.add_subcommand("query", "Read series from the store (also while gridlet runs)");
    cmd->add_option("pattern", a->pattern, "Series name, prefix (panel1/) or glob (panel?/*/power)");
    cmd->add_option("--tags", a->tags, "Tag selector k=v,k=v (every pair must match)");
    cmd->add_option("--from", a->from, "Start, inclusive: ISO-8601, -1h, today, now, @epoch_ms (default -1h)");
    cmd->add_option("--to", a->to, "End, exclusive (default now)");
    cmd->add_option("--step", a->step,
                    "Bucket width: 1m, 15m, 1h, 1d (aligned on the epoch, UTC) or day, week, month, year "
                    "(calendar periods in --tz); without it: raw samples");
    cmd->add_option("--agg", a->agg, "avg (default), min, max, sum, count, first, last, consumption (counters)");
    cmd->add_option("--format", a->format, "csv (default) or json");
    cmd->add_flag("--wide", a->wide, "CSV with one column per series (time,<series>,...) instead of tidy rows");
    cmd->add_flag("--no-quality", a->no_quality, "Raw samples without their quality column");
    cmd->add_option("--digits", a->digits,
                    "Round values to this many decimals for display (0..15); default: the exact stored value, "
                    "shortest text that reads back bit for bit")
        ->check(CLI::Range(0, 15));
    add_store_options(cmd, a->db, a->config);
    cmd->add_option("--tz", a->tz, "IANA time zone for --from/--to without offset, calendar steps and output "
                                   "(default: the site's, else UTC)");
    cmd->footer(
        "Output (CSV, pandas.read_csv reads it as is):\n"
        "  tidy (default): header 'time,series,value', one row per point;\n"
        "  --wide:         header 'time,<series 1>,<series 2>,...', empty cell = no value.\n"
        "  Raw samples (no --step) add their quality: a 'quality' column (wide: '<series>:quality'),\n"
        "  0 = bad, 192 = good; --no-quality leaves it out. Values nan, inf, -inf are written as such\n"
        "  (JSON: the strings \"NaN\", \"Infinity\", \"-Infinity\").\n"
        "  time is ISO-8601 with milliseconds and the offset of --tz (e.g. 2024-03-31T03:00:00.000+02:00);\n"
        "  a bucket is labelled with its start. Buckets without data are left out (no interpolation).\n"
        "  Values are exact by default (a sum of 0.1 and 0.2 prints 0.30000000000000004, as a\n"
        "  double); --digits 2 prints 0.3.\n"
        "Examples:\n"
        "  gridlet query 'panel1/*/power' --from -1d --step 15m --agg avg --db /var/lib/gridlet/db\n"
        "  gridlet query --tags usage=hvac --from 2024-03-01 --to 2024-04-01 --step day --agg consumption "
        "--config site.toml\n"
        "Exit status: 0 ok; 1 store error; 2 bad arguments.");
    on_run(cmd, "query", [a] { run_query(*a); });
}

}  // namespace gridlet::cli

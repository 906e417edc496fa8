// `gridlet query`: read series from the store of a site, running or stopped
// (a read-only secondary instance of its RocksDB database).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "answers/query_answer.h"
#include "cli/commands.h"
#include "cli/store_access.h"
#include "core/clock.h"
#include "store/store.h"

namespace gridlet::cli {

namespace {

struct QueryArgs : answers::QueryRequest {
    std::string db, config;
};

void run_query(const QueryArgs& a) {
    if (a.pattern.empty() && a.tags.empty()) cli::fail("query", 2, "give a series pattern and/or --tags k=v,...");
    StoreLocation loc = locate_store("query", a.db, a.config);
    auto plan = answers::plan_query(a, loc.timezone, SystemClock::instance().now_ms(), "--");
    if (!plan) cli::fail("query", 2, plan.status().message());
    plan->pretty = true;
    auto st = open_store_read_only("query", loc.path);
    size_t matched = 0;
    const Status done = answers::write_query(
        st->query(), *plan, 0,
        [](std::string_view text) { return std::fwrite(text.data(), 1, text.size(), stdout) == text.size(); }, &matched);
    if (!done) cli::fail("query", done.code() == StatusCode::invalid_argument ? 2 : 1, done.message());
    if (matched == 0) std::fprintf(stderr, "gridlet query: no series match '%s' %s\n", a.pattern.c_str(), a.tags.c_str());
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

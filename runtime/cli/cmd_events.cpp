// `gridlet events`: read the events of a site's store (alarms, rule events,
// EV charge history, plugin failures), running or stopped (read-only).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <limits>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/store_access.h"
#include "store/store.h"

namespace gridlet::cli {

namespace {
struct EventsArgs {
    std::string type, source, severity = "debug", from = "-7d", to = "now", format = "csv", db, config, tz;
    int64_t limit = 0;  // 0: all
};

void run_events(const EventsArgs& a) {
    StoreLocation loc = locate_store("events", a.db, a.config);
    if (a.format != "csv" && a.format != "json") cli::fail("events", 2, "--format must be csv or json");
    auto tz = TimeZone::load(a.tz.empty() ? loc.timezone : a.tz);
    if (!tz) cli::fail("events", 2, tz.status().message());
    const auto [from, to] = parse_time_range("events", a.from, a.to, *tz);
    auto severity = store::parse_severity(a.severity);
    if (!severity) cli::fail("events", 2, "--severity: " + severity.status().message());

    store::EventFilter filter;
    filter.from = from;
    filter.to = to;
    filter.type = a.type;
    filter.source_pattern = a.source;
    filter.min_severity = *severity;
    filter.limit = static_cast<size_t>(a.limit);
    auto st = open_store_read_only("events", loc.path);
    auto events = st->events().query(filter);
    if (!events) cli::fail("events", events.status().code() == StatusCode::invalid_argument ? 2 : 1, events.status().message());

    if (a.format == "json") {
        nlohmann::json out = nlohmann::json::array();
        for (const store::Event& e : *events) {
            out.push_back({{"time", tz->format_iso(e.ts, true)},
                           {"ts_ms", e.ts},
                           {"source", e.source},
                           {"type", e.type},
                           {"severity", store::severity_name(e.severity)},
                           {"body", nlohmann::json::parse(e.body, nullptr, false)}});
        }
        std::printf("%s\n", out.dump(2).c_str());
    } else {
        std::printf("time,source,type,severity,body\n");
        for (const store::Event& e : *events) {
            std::printf("%s,%s,%s,%s,%s\n", tz->format_iso(e.ts, true).c_str(), csv_field(e.source).c_str(),
                        csv_field(e.type).c_str(), store::severity_name(e.severity), csv_field(e.body).c_str());
        }
    }
    if (events->empty()) std::fprintf(stderr, "gridlet events: no event matches\n");
}
}  // namespace

void register_events_command(CLI::App& app) {
    auto a = std::make_shared<EventsArgs>();
    auto* cmd = app.add_subcommand("events", "Read events from the store: alarms, rule events, EV charge history");
    cmd->add_option("--type", a->type, "Event type, exact (e.g. ev_session, rule_stopped)");
    cmd->add_option("--source", a->source, "Source name, prefix (rule/) or glob (plugin/*)");
    cmd->add_option("--severity", a->severity, "Lowest severity: debug (default), info, notice, warning, error, critical");
    cmd->add_option("--from", a->from, "Start, inclusive: ISO-8601, -1h, today, now, @epoch_ms (default -7d)");
    cmd->add_option("--to", a->to, "End, exclusive (default now)");
    cmd->add_option("--limit", a->limit, "At most this many events (1 or more), the oldest first (default: all)")
        ->check(CLI::Range(int64_t{1}, std::numeric_limits<int64_t>::max()));
    cmd->add_option("--format", a->format, "csv (default) or json");
    add_store_options(cmd, a->db, a->config);
    cmd->add_option("--tz", a->tz, "IANA time zone for --from/--to without offset and output (default: the site's)");
    cmd->footer(
        "Output, oldest first:\n"
        "  csv:  header 'time,source,type,severity,body'; body is the event's JSON document (quoted);\n"
        "  json: [{time, ts_ms, source, type, severity, body}], body as JSON.\n"
        "Examples:\n"
        "  gridlet events --type ev_session --from 2024-06-01 --config site.toml   # EV charge history\n"
        "  gridlet events --severity warning --from today --format json --db /var/lib/gridlet/db\n"
        "Exit status: 0 ok; 1 store error; 2 bad arguments.");
    on_run(cmd, "events", [a] { run_events(*a); });
}

}  // namespace gridlet::cli

// `gridlet events`: read the events of a site's store (alarms, rule events,
// EV charge history, plugin failures), running or stopped (read-only).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <limits>
#include <memory>

#include <nlohmann/json.hpp>

#include "answers/event_answer.h"
#include "cli/commands.h"
#include "core/clock.h"
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
    answers::EventsRequest r;
    r.type = a.type;
    r.source = a.source;
    r.severity = a.severity;
    r.from = a.from;
    r.to = a.to;
    r.format = a.format;
    r.tz = a.tz;
    r.limit = static_cast<size_t>(a.limit);
    auto plan = answers::plan_events(r, loc.timezone, SystemClock::instance().now_ms(), "--");
    if (!plan) cli::fail("events", 2, plan.status().message());
    plan->pretty = true;
    auto st = open_store_read_only("events", loc.path);
    auto events = st->events().query(plan->filter);
    if (!events) cli::fail("events", events.status().code() == StatusCode::invalid_argument ? 2 : 1, events.status().message());
    answers::write_events(*events, *plan, [](std::string_view text) {
        return std::fwrite(text.data(), 1, text.size(), stdout) == text.size();
    });
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

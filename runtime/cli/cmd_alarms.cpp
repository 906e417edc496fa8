// `gridlet alarms`: the site's alarms (active, to acknowledge, history) as a
// table, CSV or JSON, read from the store (read-only: also while gridlet
// runs); `gridlet alarms ack ID`: acknowledge one, through the control
// socket of a running gridlet, or in the store of a stopped one. CLI thread.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "alarm/alarm_table.h"
#include "cli/commands.h"
#include "cli/control_client.h"
#include "cli/store_access.h"
#include "core/clock.h"
#include "core/text.h"
#include "kernel/alarm_store.h"
#include "kernel/site_plan.h"
#include "notify/notifier.h"
#include "store/site_file.h"

namespace gridlet::cli {

namespace {

struct AlarmsArgs {
    std::string status = "open", source, criticality, category, type, from, to = "now", format = "table", db, config,
                tz;
    int64_t limit = 0;
    // ack
    std::string id_text;
    uint64_t id = 0;
    std::string comment, by, control;
    int timeout_ms = 2000;
};

// One line for the table: control characters (line breaks) become spaces.
std::string one_line(std::string s) {
    for (char& c : s)
        if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    return s;
}

std::string value_text(double v) { return std::isfinite(v) ? format_number(round_decimals(v, 3)) : ""; }

void run_list(const AlarmsArgs& a) {
    const char* cmd = "alarms";
    StoreLocation loc = locate_store(cmd, a.db, a.config);
    if (a.format != "table" && a.format != "csv" && a.format != "json")
        fail(cmd, 2, "--format must be table, csv or json");
    auto tz = TimeZone::load(a.tz.empty() ? loc.timezone : a.tz);
    if (!tz) fail(cmd, 2, tz.status().message());
    alarm::AlarmFilter f;
    if (Status st = alarm::apply_status_filter(a.status, f); !st) fail(cmd, 2, "--status: " + st.message());
    if (!a.criticality.empty()) {
        auto c = alarm::parse_criticality(a.criticality);
        if (!c) fail(cmd, 2, "--criticality: " + c.status().message());
        f.min_criticality = *c;
    }
    if (!a.type.empty()) {
        auto t = alarm::parse_alarm_type(a.type);
        if (!t) fail(cmd, 2, "--type: " + t.status().message());
        f.type = *t;
    }
    f.source_pattern = a.source;
    f.category = a.category;
    if (a.from.empty() && a.to != "now") fail(cmd, 2, "--to needs --from (alarms that started in [from, to))");
    if (!a.from.empty()) {
        const auto [from, to] = parse_time_range(cmd, a.from, a.to, *tz);
        f.from_ms = from;
        f.to_ms = to;
    }
    f.limit = static_cast<size_t>(a.limit);
    auto st = open_store_read_only(cmd, loc.path);
    kernel::StoreAlarmPersistence persistence(st->state());
    alarm::TableOptions o;
    o.history_days = 0;  // read-only: delete nothing
    alarm::AlarmTable table(persistence, o);
    if (Status s = table.load(SystemClock::instance().now_ms()); !s) {
        if (s.code() != StatusCode::corruption) fail(cmd, 1, s.message());
        std::fprintf(stderr, "gridlet alarms: %s\n", s.message().c_str());
    }
    auto alarms = table.list(f);
    if (!alarms) fail(cmd, 1, alarms.status().message());
    const auto when = [&](int64_t ms) { return ms == 0 ? std::string() : tz->format_iso(ms); };
    if (a.format == "json") {
        nlohmann::json out = nlohmann::json::array();
        for (const alarm::Alarm& x : *alarms) {
            nlohmann::json j = alarm::to_json(x);
            j["start"] = when(x.start_ms);
            j["end"] = x.end_ms ? nlohmann::json(when(x.end_ms)) : nlohmann::json();
            out.push_back(std::move(j));
        }
        std::printf("%s\n", out.dump(2).c_str());
    } else if (a.format == "csv") {
        std::printf("id,start,end,status,criticality,type,source,name,category,origin,series,value_start,value_extreme,"
                    "acknowledged_by,acknowledged_at,comment,message\n");
        for (const alarm::Alarm& x : *alarms)
            std::printf("%llu,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n",
                        static_cast<unsigned long long>(x.id), when(x.start_ms).c_str(), when(x.end_ms).c_str(),
                        alarm::alarm_status_name(x.status()), alarm::criticality_name(x.criticality),
                        alarm::alarm_type_name(x.type), csv_field(x.source).c_str(), csv_field(x.name).c_str(),
                        csv_field(x.category).c_str(), csv_field(x.origin).c_str(), csv_field(x.series).c_str(),
                        value_text(x.value_start).c_str(), value_text(x.value_extreme).c_str(),
                        csv_field(x.ack ? x.ack->by : "").c_str(), x.ack ? when(x.ack->at_ms).c_str() : "",
                        csv_field(x.ack ? x.ack->comment : "").c_str(), csv_field(x.message).c_str());
    } else {
        std::printf("%-6s %-19s %-19s %-23s %-12s %-14s %-22s %s\n", "ID", "START", "END", "STATUS", "CRITICALITY",
                    "SOURCE", "NAME", "MESSAGE");
        for (const alarm::Alarm& x : *alarms) {
            std::string start = when(x.start_ms).substr(0, 19), end = x.end_ms ? when(x.end_ms).substr(0, 19) : "-";
            std::string msg = x.message;
            if (x.ack) msg += "  [ack " + x.ack->by + (x.ack->comment.empty() ? "" : ": " + x.ack->comment) + "]";
            msg = one_line(msg);
            std::printf("%-6llu %-19s %-19s %-23s %-12s %-14s %-22s %s\n", static_cast<unsigned long long>(x.id),
                        start.c_str(), end.c_str(), alarm::alarm_status_name(x.status()),
                        alarm::criticality_name(x.criticality), x.source.c_str(), x.name.c_str(), msg.c_str());
        }
    }
    if (alarms->empty()) std::fprintf(stderr, "gridlet alarms: no alarm matches (--status %s)\n", a.status.c_str());
}

void print_acked(const nlohmann::json& j) {
    std::printf("alarm %llu (%s, %s) acknowledged by %s; now %s\n",
                static_cast<unsigned long long>(j.value("id", uint64_t{0})), j.value("name", "").c_str(),
                j.value("source", "").c_str(), j["ack"].is_object() ? j["ack"].value("by", "").c_str() : "",
                j.value("status", "").c_str());
}

void run_ack(AlarmsArgs& a) {
    const char* cmd = "alarms ack";
    {
        const std::string& t = a.id_text;
        char* end = nullptr;
        errno = 0;
        const unsigned long long v = std::strtoull(t.c_str(), &end, 10);
        if (t.empty() || t.find_first_not_of("0123456789") != std::string::npos || errno == ERANGE || v == 0)
            fail(cmd, 2, "'" + t + "' is not an alarm id (a whole number from 1, the first column of `gridlet alarms`)");
        a.id = v;
    }
    const std::string by = !a.by.empty() ? a.by : (std::getenv("USER") ? std::getenv("USER") : "cli");
    // A stopped site: the store is ours to write. A running one holds the
    // store (locked): ask it through its control socket.
    store::StoreOptions o;
    if (!a.config.empty()) {
        auto site = store::read_site_store(a.config);
        if (!site) fail(cmd, 2, site.status().message());
        o = site->options;
    } else if (!a.db.empty()) {
        o.path = a.db;
        o.apply_retention = false;  // the site's retention is not known: nothing expires meanwhile
    } else if (a.control.empty()) {
        fail(cmd, 2, "give the site: --config SITE.toml (running or stopped), --db STORE (stopped) or --control "
                     "ENDPOINT (running)");
    }
    ControlTarget target;
    target.config_path = a.config;
    target.control = a.control;
    target.timeout_ms = a.timeout_ms;
    const bool running = !a.control.empty() || (!a.config.empty() && control_endpoint_live(target.endpoint()));
    if (!running) {
        o.create_if_missing = false;
        auto opened = store::Store::open(o);
        if (opened) {
            // The site's [[notifications]] hear of it when gridlet runs again
            // (queued in the store's outbox now). Queueing needs their
            // filters, not their secrets; a site file with errors is refused
            // before anything changes (nothing acknowledged untold).
            std::unique_ptr<notify::Notifier> notifier;
            const int64_t now = SystemClock::instance().now_ms();
            if (!a.config.empty()) {
                // The checks of `gridlet check` and `run`, the secrets aside.
                config::Diagnostics diags;
                kernel::SitePlan plan = kernel::load_site(a.config, diags, kernel::DeviceProblems::refuse_site,
                                                          /*compile_rules=*/true, notify::Secrets::skip);
                if (!diags.empty())
                    fail(cmd, 2, diags.front().to_string() +
                                     (diags.size() > 1 ? " (and " + std::to_string(diags.size() - 1) + " more)" : "") +
                                     "; nothing acknowledged: `gridlet check` shows every problem");
                auto zone = TimeZone::load(plan.site.timezone);
                if (!plan.notifications.empty()) {
                    notifier = std::make_unique<notify::Notifier>(plan.notifications, (*opened)->outbox(),
                                                                  (*opened)->state(), plan.site.site_name,
                                                                  zone ? *zone : TimeZone(), nullptr);
                    spdlog::set_level(spdlog::level::warn);  // the CLI prints its own result
                    if (Status s = notifier->start(now); !s) fail(cmd, 1, "nothing acknowledged: " + s.message());
                }
            }
            kernel::StoreAlarmPersistence persistence((*opened)->state());
            alarm::AlarmTable table(persistence);
            if (Status s = table.load(now); !s && s.code() != StatusCode::corruption) fail(cmd, 1, s.message());
            auto acked = table.acknowledge(a.id, by, a.comment, now);
            if (!acked)
                fail(cmd, acked.status().code() == StatusCode::not_found ? 2 : 1, acked.status().message());
            for (const alarm::AlarmChange& c : table.take_transitions()) {
                if (notifier)
                    if (Status q = notifier->on_change(alarm::transition_name(c.transition), c.alarm, now); !q)
                        std::fprintf(stderr, "gridlet alarms ack: not queued for the notifications: %s\n",
                                     q.message().c_str());
                store::Event ev;
                ev.ts = now;
                ev.source = c.alarm.source;
                ev.type = alarm::transition_event_type(c.transition);
                ev.severity = store::Severity::info;
                ev.body = dump_json(alarm::to_json(c.alarm));
                if (Status s = (*opened)->events().append(ev); !s)
                    std::fprintf(stderr, "gridlet alarms ack: event not stored: %s\n", s.message().c_str());
            }
            if (Status s = (*opened)->sync(); !s) fail(cmd, 1, s.message());
            print_acked(alarm::to_json(*acked));
            return;
        }
        fail(cmd, opened.status().code() == StatusCode::not_found ? 2 : 1,
             opened.status().message() + (opened.status().code() == StatusCode::unavailable
                                              ? " (a gridlet runs on it: give --config SITE.toml or --control to ask it)"
                                              : ""));
    }
    nlohmann::json req = {{"alarm_ack", {{"id", a.id}, {"by", by}, {"comment", a.comment}}}};
    print_acked(control_call(cmd, target.endpoint(), req, target.timeout_ms)["alarm"]);
}

}  // namespace

void register_alarms_command(CLI::App& app) {
    auto a = std::make_shared<AlarmsArgs>();
    auto* cmd = app.add_subcommand("alarms", "List the site's alarms; `alarms ack ID` acknowledges one");
    cmd->add_option("--status", a->status,
                    "open (default: active or not acknowledged), active, finished, unacknowledged, acknowledged, "
                    "active_unacknowledged, active_acknowledged, finished_unacknowledged, finished_acknowledged, all");
    cmd->add_option("--source", a->source, "Source: a device, rule/<name>, kernel (pattern: panel*)");
    cmd->add_option("--criticality", a->criticality, "Lowest criticality: information, non_critical, critical");
    cmd->add_option("--category", a->category, "Category, exact (communication, rule, measurement, ...)");
    cmd->add_option("--type", a->type, "alarm, system or power_quality");
    cmd->add_option("--from", a->from, "Alarms that started at or after: ISO-8601, -1h, today, @epoch_ms");
    cmd->add_option("--to", a->to, "... and before (default now; with --from)");
    cmd->add_option("--limit", a->limit, "At most this many, newest first")
        ->check(CLI::Range(int64_t{1}, std::numeric_limits<int64_t>::max()));
    cmd->add_option("--format", a->format, "table (default), csv or json");
    add_store_options(cmd, a->db, a->config);
    cmd->add_option("--tz", a->tz, "IANA time zone for times (default: the site's)");
    cmd->footer("Newest first. Statuses as the Socomec alarm dashboard: active_unacknowledged, active_acknowledged,\n"
                "finished_unacknowledged, finished_acknowledged.\n"
                "Examples:\n"
                "  gridlet alarms --config site.toml                       # what needs a look\n"
                "  gridlet alarms --status all --from -7d --format csv --config site.toml\n"
                "  gridlet alarms ack 12 --comment \"breaker checked\" --config site.toml\n"
                "Exit status: 0 ok; 1 store error; 2 bad arguments or no store.");

    auto* ack = cmd->add_subcommand("ack", "Acknowledge an alarm (running site: through its control socket)");
    ack->add_option("id", a->id_text, "The alarm's id (first column of `gridlet alarms`)")->required();
    ack->add_option("--comment", a->comment, "Why, what was done");
    ack->add_option("--by", a->by, "Who acknowledges (default: $USER)");
    ack->add_option("--config", a->config, "The site file (running or stopped site)");
    ack->add_option("--db", a->db, "The store folder of a stopped site");
    ack->add_option("--control", a->control, "The control socket of a running gridlet");
    ack->add_option("--timeout-ms", a->timeout_ms, "How long to wait for a running gridlet's answer")
        ->check(CLI::Range(1, 3'600'000));
    ack->footer("A latching alarm whose condition is over finishes when acknowledged.\n"
                "Exit status: 0 acknowledged; 1 refused (already acknowledged), store or socket error; "
                "2 bad arguments or no such alarm.");
    on_run(ack, "alarms ack", [a] { run_ack(*a); });
    on_run(cmd, "alarms", [a, cmd] {
        if (cmd->got_subcommand("ack")) return;
        run_list(*a);
    });
}

}  // namespace gridlet::cli

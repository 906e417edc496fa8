// `gridlet export`: writes the files of the site's [[exports]]
// (export/export_job.h) for the periods in --from/--to, to a folder or to
// their [[export_targets]]; lists the exports, the files waiting in the
// targets' outboxes, or tests the targets' connectivity. Reads the store
// read-only (beside a running gridlet). CLI thread.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "cli/store_access.h"
#include "export/export_job.h"
#include "export/export_scheduler.h"
#include "export/legrand_history.h"
#include "answers/outbox_answer.h"
#include "export/outbox_sender.h"
#include "export/transport.h"
#include "kernel/site_plan.h"
#include "store/time_spec.h"

namespace gridlet::cli {

namespace {

struct ExportArgs {
    std::string config, name, from, to, out, target, download, by = "point", items, rate = "15m", fluid;
    bool list = false, outbox = false, test_targets = false, send = false, legrand = false, costs = false;
};

std::string read_file(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

// --test-targets: each target, logged in, a small file written and deleted.
void test_targets(const std::vector<exporter::TargetConfig>& targets) {
    int failed = 0;
    for (const auto& t : targets) {
        auto r = exporter::test_target(t, nullptr);
        if (r) std::printf("%s\t%s\tok: %s\n", t.name.c_str(), t.url.c_str(), r->c_str());
        else std::printf("%s\t%s\tFAILED: %s\n", t.name.c_str(), t.url.c_str(), r.status().message().c_str());
        failed += !r;
    }
    if (failed) fail("export", 1, std::to_string(failed) + " of " + std::to_string(targets.size()) + " target(s) failed");
}

// --outbox: per target, the files waiting (oldest first) and the last error.
void list_outbox(const ExportArgs& a, const std::vector<exporter::TargetConfig>& targets, const TimeZone& zone) {
    const char* cmd = "export";
    auto loc = locate_store(cmd, "", a.config);
    auto st = open_store_read_only(cmd, loc.path);
    auto all = answers::read_outboxes(*st, targets, a.target);
    if (!all) fail(cmd, 1, all.status().message());
    if (all->empty()) fail(cmd, 2, a.config + ": the site has no [[export_targets]] and no files wait");
    for (const answers::OutboxTarget& t : *all) {
        const std::string url =
            t.configured ? t.url : "(no [[export_targets]] of this name: its files are kept until one is configured again)";
        std::printf("%s\t%s\t%zu file%s waiting (%llu bytes)%s\n", t.name.c_str(), url.c_str(), t.files.size(),
                    t.files.size() == 1 ? "" : "s", static_cast<unsigned long long>(t.bytes),
                    t.last_error.empty()
                        ? ""
                        : ("\tlast error at " + zone.format_iso(t.last_try_ms) + " (" +
                           std::to_string(t.failures_in_a_row) + " failure(s) in a row): " + t.last_error)
                              .c_str());
        for (const answers::OutboxFile& f : t.files)
            std::printf("  %s\texport %s\tqueued %s\n", f.file_name.c_str(), f.export_name.c_str(),
                        zone.format_iso(f.queued_ms).c_str());
    }
}

// --legrand: the Legrand history tree's month files for the months of
// --from/--to, in today's layout (no versions), into --out.
void write_legrand(const ExportArgs& a, const SiteConfig& site, const model::SiteModel& m, const TimeZone& tz) {
    const char* cmd = "export";
    if (a.out.empty()) fail(cmd, 2, "--legrand needs --out <folder>: where the tree is written");
    if (m.points.empty()) fail(cmd, 2, a.config + ": --legrand needs [model] points (the tree is their consumption)");
    config::Diagnostics diags;
    auto cfg = exporter::parse_legrand_history(*site.root, site.path, diags);
    if (!diags.empty()) fail(cmd, 2, diags.front().to_string());
    exporter::LegrandConfig c = cfg ? *cfg : exporter::LegrandConfig{};
    c.dir = a.out;
    const int64_t now = SystemClock::instance().now_ms();
    const auto [from, to] = parse_time_range(cmd, a.from.empty() ? "today" : a.from, a.to.empty() ? "now" : a.to, tz);
    auto loc = locate_store(cmd, "", a.config);
    auto st = open_store_read_only(cmd, loc.path);
    exporter::LegrandHistory h(c, m, st->query(), st->registry(), tz, nullptr);
    size_t files = 0;
    // Whole months (a month file holds its month): those the range touches.
    if (tz.start_of(CalendarUnit::month, from) >= now) fail(cmd, 2, "--from/--to: no month of the range has begun");
    for (int64_t month = tz.start_of(CalendarUnit::month, from); month < std::min(to, now);
         month = tz.next_start(CalendarUnit::month, month)) {
        auto w = h.write_month(month, std::min(now, tz.next_start(CalendarUnit::month, month)), now);
        if (!w) fail(cmd, 1, w.status().message());
        for (const std::string& f : *w) std::printf("%s\n", (std::filesystem::path(a.out) / f).c_str());
        files += w->size();
    }
    std::fprintf(stderr, "%zu file%s written into %s\n", files, files == 1 ? "" : "s", a.out.c_str());
}

// --download: the Legrand data download, reportdata.zip (every fluid) or
// datalogger.csv (one fluid).
void write_download(const ExportArgs& a, const SiteConfig& site, const model::SiteModel& m, const TimeZone& tz) {
    const char* cmd = "export";
    if (m.points.empty()) fail(cmd, 2, a.config + ": --download needs [model] points");
    exporter::DownloadRequest req;
    auto by = model::parse_breakdown(a.by);
    if (!by) fail(cmd, 2, "--by: " + by.status().message());
    req.by = *by;
    if (a.rate == "15m") req.rate = model::Period::quarter_hour;
    else if (a.rate == "hour" || a.rate == "1h") req.rate = model::Period::hour;
    else if (a.rate == "day" || a.rate == "1d") req.rate = model::Period::day;
    else fail(cmd, 2, "--rate: '" + a.rate + "': 15m, hour or day (the Legrand sample rates)");
    for (size_t from = 0; !a.items.empty() && from <= a.items.size();) {
        const size_t comma = std::min(a.items.find(',', from), a.items.size());
        if (comma > from) req.items.push_back(a.items.substr(from, comma - from));
        from = comma + 1;
    }
    req.costs = a.costs;
    std::string ext = std::filesystem::path(a.download).extension().string();
    for (char& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (ext != ".zip" && ext != ".csv")
        fail(cmd, 2, "--download " + a.download + ": a .zip (reportdata.zip, every fluid) or a .csv (datalogger.csv, one fluid)");
    if (std::error_code ec; std::filesystem::is_directory(a.download, ec))
        fail(cmd, 2, "--download " + a.download + " is a folder: name the file, such as " + a.download + "/reportdata.zip");
    const bool zip = ext == ".zip";
    if (!zip && a.costs) fail(cmd, 2, "--costs: the costs come in files of their own: write a .zip");
    req.fluid = a.fluid.empty() && !zip ? "electricity" : a.fluid;
    const int64_t now = SystemClock::instance().now_ms();
    const auto [from, to] = parse_time_range(cmd, a.from.empty() ? "today" : a.from, a.to.empty() ? "now" : a.to, tz);
    req.from = from;
    req.to = std::min(to, now);
    if (req.from >= req.to) fail(cmd, 2, "--from/--to: an empty range");
    config::Diagnostics diags;
    auto cfg = exporter::parse_legrand_history(*site.root, site.path, diags);
    const exporter::CsvDialect dialect = cfg ? cfg->dialect : exporter::LegrandConfig{}.dialect;
    auto loc = locate_store(cmd, "", a.config);
    auto st = open_store_read_only(cmd, loc.path);
    if (to > now) {  // up to now: the whole periods only, not the one in progress
        auto e = model::ConsumptionEngine(m, st->query(), st->registry(), tz)
                     .edges(req.rate, req.from, now);
        if (e)
            for (int64_t edge : *e)
                if (edge <= now) req.to = edge;
        if (req.from >= req.to) fail(cmd, 2, "--from/--to: no whole period of " + a.rate + " has ended in the range");
    }
    std::vector<std::string> notes;
    auto files = exporter::data_download(req, m, st->query(), st->registry(), tz, dialect, &notes);
    if (!files) fail(cmd, 2, files.status().message());
    for (const std::string& n : notes) std::fprintf(stderr, "%s\n", n.c_str());
    if (const auto parent = std::filesystem::path(a.download).parent_path(); !parent.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(parent, ec);
        if (ec) fail(cmd, 1, "--download " + a.download + ": " + ec.message());
    }
    if (zip) {
        if (Status w = exporter::write_zip(a.download, *files); !w) fail(cmd, 1, w.message());
    } else {
        const std::filesystem::path p(a.download);
        if (Status w = exporter::write_file_whole(p.parent_path().empty() ? "." : p.parent_path().string(),
                                                  p.filename().string(), files->front().bytes);
            !w)
            fail(cmd, 1, w.message());
    }
    if (zip) {
        for (const auto& f : *files) std::printf("%s\t%zu bytes\n", f.name.c_str(), f.bytes.size());
        std::fprintf(stderr, "%s: %zu file%s\n", a.download.c_str(), files->size(), files->size() == 1 ? "" : "s");
    } else {
        std::printf("%s\t%zu bytes\n", a.download.c_str(), files->front().bytes.size());
    }
}

void run_export(const ExportArgs& a) {
    const char* cmd = "export";
    if (a.config.empty()) fail(cmd, 2, "--config <site.toml> is required: the exports are its [[exports]]");
    config::Diagnostics diags;
    SiteConfig site = load_site_config(a.config, kernel::section_schemas(), diags);
    model::SiteModel m;
    std::vector<exporter::ExportConfig> exports;
    std::vector<exporter::TargetConfig> targets;
    if (diags.empty() && site.root) {
        m = model::parse_site_model(*site.root, site.path, site.timezone, diags);
        // Listing needs no secret; sending and testing do.
        const bool reads_only = a.list || a.outbox || a.legrand || (!a.send && !a.test_targets);
        const auto notifications = notify::parse_notifications(
            *site.root, site.path, diags, reads_only ? notify::Secrets::skip : notify::Secrets::read);
        targets = exporter::parse_export_targets(*site.root, site.path, diags,
                                                 reads_only ? exporter::TargetSecrets::skip : exporter::TargetSecrets::read,
                                                 notifications);
        exports = exporter::parse_exports(*site.root, site.path, site.site_name, m, diags, targets);
    }
    if (!diags.empty())
        fail(cmd, 2, diags.front().to_string() + (diags.size() > 1 ? " (and more: gridlet check lists every problem)" : ""));
    auto tz = TimeZone::load(site.timezone);
    if (!tz) fail(cmd, 2, tz.status().message());
    if (a.legrand) {
        write_legrand(a, site, m, *tz);
        return;
    }
    if (!a.download.empty()) {
        write_download(a, site, m, *tz);
        return;
    }
    if (a.test_targets || a.outbox) {
        if (!a.target.empty()) {
            std::erase_if(targets, [&](const exporter::TargetConfig& t) { return t.name != a.target; });
            if (targets.empty()) fail(cmd, 2, "--target: the site has no [[export_targets]] named '" + a.target + "'");
        }
        if (targets.empty() && a.test_targets) fail(cmd, 2, a.config + ": the site has no [[export_targets]]");
        if (a.test_targets) {
            test_targets(targets);
            return;
        }
        list_outbox(a, targets, *tz);
        return;
    }
    if (exports.empty()) fail(cmd, 2, a.config + ": the site has no [[exports]] (see runtime/export/README.md)");
    if (!a.name.empty()) {
        std::erase_if(exports, [&](const exporter::ExportConfig& e) { return e.name != a.name; });
        if (exports.empty()) fail(cmd, 2, "--name: the site has no export named '" + a.name + "' (gridlet export --list)");
    }
    if (a.list) {
        for (const auto& e : exports)
        {
            std::string to = e.dir.empty() ? "" : "\tdir " + e.dir;
            if (e.at_minute >= 0) {
                static const char* days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
                char at[24];
                std::snprintf(at, sizeof at, "\tat %s%s%02d:%02d", e.at_weekday >= 0 ? days[e.at_weekday] : "",
                              e.at_weekday >= 0 ? " " : "", e.at_minute / 60, e.at_minute % 60);
                to += at;
            }
            for (const std::string& t : e.targets) to += "\ttarget " + t;
            if (!e.scheduled()) to += "\ton demand only (no dir, no targets)";
            if (e.format == exporter::Format::legrand_report) {
                std::string items;
                for (const std::string& i : e.report.items) items += (items.empty() ? "" : ",") + i;
                std::printf("%s\treport\t%s\t%s\t%s%s%s%s\n", e.name.c_str(), exporter::report_type_name(e.report.type),
                            exporter::report_period_name(e.report.period), exporter::report_format_name(e.report.format),
                            e.report.type == exporter::ReportType::detailed
                                ? ("\tby " + std::string(model::breakdown_name(e.report.by))).c_str()
                                : "",
                            e.report.type == exporter::ReportType::detailed ? ("\titems " + (items.empty() ? std::string("all") : items)).c_str() : "",
                            to.c_str());
                continue;
            }
            std::printf("%s\t%s\t%s\tstep %llds\tevery %llds\t%zu variable%s\tdevice %s%s\n", e.name.c_str(),
                        exporter::format_name(e.format), exporter::socomec::ems_name(e.data_type),
                        static_cast<long long>(e.step_ms / 1000), static_cast<long long>(e.every_ms / 1000),
                        e.variables.size(), e.variables.size() == 1 ? "" : "s", e.device.c_str(), to.c_str());
        }
        return;
    }
    if (a.out.empty() == !a.send)
        fail(cmd, 2, a.send ? "--send and --out: one or the other (to the export's targets, or to a folder)"
                            : "--out <folder> or --send is required: where the files go");
    if (a.send)
        for (const auto& e : exports)
            if (e.targets.empty())
                fail(cmd, 2, "--send: export '" + e.name + "' has no targets (targets = [...]; or choose --name)");
    // Reports of one type, period and format have one file name (the
    // manual's): in one folder, one would overwrite the other.
    if (!a.send)
        for (size_t i = 0; i < exports.size(); ++i)
            for (size_t k = i + 1; k < exports.size(); ++k) {
                const auto &x = exports[i], &y = exports[k];
                if (exporter::same_report_names(x, y))
                    fail(cmd, 2, "reports '" + x.name + "' and '" + y.name +
                                     "' write files of the same name into --out: choose one with --name");
            }
    const int64_t now = SystemClock::instance().now_ms();
    const auto [from, to] = parse_time_range(cmd, a.from.empty() ? "today" : a.from, a.to.empty() ? "now" : a.to, *tz);
    std::error_code ec;
    if (!a.send) std::filesystem::create_directories(a.out, ec);
    if (ec) fail(cmd, 1, "--out " + a.out + ": " + ec.message());
    auto loc = locate_store(cmd, "", a.config);
    auto st = open_store_read_only(cmd, loc.path);
    size_t written = 0, unchanged = 0, periods = 0, empty = 0, transfers = 0;
    for (const auto& e : exports) {
        // A report is of each month (year) the range touches, also the one
        // in progress (its figures up to now). An export file is of
        // whole periods only.
        const bool report = e.format == exporter::Format::legrand_report && e.calendar && to > from;
        const int64_t until = report ? tz->next_start(*e.calendar, exporter::period_start_at(e, to - 1, *tz))
                                     : std::min(to, now);
        const auto list = exporter::export_periods(e, report ? exporter::period_start_at(e, from, *tz) : from, until, *tz);
        if (list.empty())
            std::fprintf(stderr, "%s '%s': no whole period of %s in the range\n",
                         e.format == exporter::Format::legrand_report ? "report" : "export", e.name.c_str(),
                         e.calendar ? (std::string("a ") + calendar_unit_name(*e.calendar)).c_str()
                                    : (std::to_string(e.every_ms / 1000) + "s").c_str());
        // Built on the machine's cores (two periods at once on two), written
        // in period order.
        const unsigned threads = std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
        const Status built = exporter::build_export_files(e, st->query(), st->registry(), list, *tz, &m, now, threads,
                                                          [&](exporter::ExportFile& file) {
            ++periods;
            if (file.data_rows == 0) {  // on demand, a period without data makes no file
                ++empty;
                return Status::ok();
            }
            if (a.send) {
                for (const std::string& tn : e.targets) {
                    const auto& t = *std::find_if(targets.begin(), targets.end(),
                                                  [&](const exporter::TargetConfig& x) { return x.name == tn; });
                    const Status sent = exporter::push_file(t, file.name, file.bytes,
                                                            "gridlet:" + e.name + ":" + file.name, nullptr);
                    if (!sent) fail(cmd, 1, file.name + ": " + sent.message());
                    std::printf("%s\t%s\t%zu rows\n", tn.c_str(), file.name.c_str(), file.data_rows);
                    ++transfers;
                }
                ++written;
                return Status::ok();
            }
            const std::filesystem::path path = std::filesystem::path(a.out) / file.name;
            if (std::filesystem::exists(path) && read_file(path) == file.bytes) {
                ++unchanged;
                return Status::ok();
            }
            // Written whole or not at all, as the scheduler writes (export_scheduler.h).
            if (Status w = exporter::write_file_whole(a.out, file.name, file.bytes); !w) fail(cmd, 1, w.message());
            std::printf("%s\t%zu rows\n", path.c_str(), file.data_rows);
            ++written;
            return Status::ok();
        });
        if (!built) fail(cmd, 1, built.message());
    }
    if (a.send)
        std::fprintf(stderr, "%zu period%s: %zu file%s sent (%zu transfer%s to the exports' targets), %zu without data "
                             "(no file)\n",
                     periods, periods == 1 ? "" : "s", written, written == 1 ? "" : "s", transfers,
                     transfers == 1 ? "" : "s", empty);
    else
        std::fprintf(stderr, "%zu period%s: %zu file%s written, %zu already there and unchanged, %zu without data (no file)\n",
                     periods, periods == 1 ? "" : "s", written, written == 1 ? "" : "s", unchanged, empty);
}

}  // namespace

void register_export_command(CLI::App& app) {
    auto a = std::make_shared<ExportArgs>();
    auto* cmd = app.add_subcommand("export", "Write the site's [[exports]] files (Socomec EMS, CSV) and [[reports]] (Legrand, "
                                             "PDF or CSV) for a range of periods");
    cmd->add_option("--config", a->config, "Site file: its [[exports]] and its store (required)");
    cmd->add_option("--name", a->name, "Only this export (default: all)");
    cmd->add_option("--from", a->from, "Start: a local date 2026-11-01, -1d, today (default), @epoch_ms");
    cmd->add_option("--to", a->to, "End, exclusive (default now): the periods that end by then");
    cmd->add_option("--out", a->out, "Folder the files are written to (created if missing)");
    cmd->add_flag("--send", a->send, "Send the files to the export's [[export_targets]] instead of --out");
    cmd->add_flag("--list", a->list, "List the exports instead");
    cmd->add_flag("--outbox", a->outbox, "List the files waiting in the targets' outboxes, and their last error");
    cmd->add_flag("--test-targets", a->test_targets,
                  "Test each target: log in, write gridlet-connectivity-test.txt, delete it (HTTP: send it)");
    cmd->add_option("--target", a->target, "With --outbox or --test-targets: only this target");
    cmd->add_option("--download", a->download,
                    "The Legrand data download into this file: a .zip (reportdata.zip: each fluid's consumption, "
                    "and costs) or a .csv (datalogger.csv: one fluid)");
    cmd->add_option("--by", a->by, "--download: point (meters, default), group or load");
    cmd->add_option("--items", a->items, "--download: only these points, groups or loads (comma-separated)");
    cmd->add_option("--rate", a->rate, "--download: 15m (default), hour or day");
    cmd->add_option("--fluid", a->fluid, "--download: only this fluid (a .csv: electricity by default)");
    cmd->add_flag("--costs", a->costs, "--download: add the costs files ([model] currency and prices)");
    cmd->add_flag("--legrand", a->legrand,
                  "Write the Legrand history tree's month files of --from/--to into --out (today's layout)");
    cmd->footer(
        "One file per export and period (every = ... of the export), named <site>_<server>_<device>_<type>_\n"
        "<date>_<time>.csv with the period's end in local time; a file already there with the same bytes is\n"
        "left alone, so running the command twice writes nothing new; a period without data makes no file.\n"
        "Files are written whole (.part, then renamed).\n"
        "A report ([[reports]]) is one file per local month (year) the range touches, also the one in\n"
        "progress, named <summary|detailed>-<monthly|yearly>-report_<YYYY-MM|YYYY>.<pdf|csv>.\n"
        "Prints each file written and its rows; a summary on stderr.\n"
        "Examples:\n"
        "  gridlet export --config site.toml --from 2026-11-01 --to 2026-11-02 --out exports/\n"
        "  gridlet export --config site.toml --name panel1_avg --from -1h --out /tmp/x\n"
        "  gridlet export --config site.toml --list\n"
        "  gridlet export --config site.toml --name monthly_summary --from 2026-11-01 --to 2026-12-01 --out /tmp/r\n"
        "  gridlet export --config site.toml --name panel1_avg --from -1d --send\n"
        "  gridlet export --config site.toml --test-targets\n"
        "  gridlet export --config site.toml --outbox\n"
        "  gridlet export --config site.toml --legrand --from 2026-10-01 --to 2026-12-01 --out /tmp/history\n"
        "  gridlet export --config site.toml --download reportdata.zip --from 2026-11-01 --to 2026-12-01 --costs\n"
        "  gridlet export --config site.toml --download datalogger.csv --by group --rate hour --from -7d\n"
        "--send pushes each file to the export's targets at once (not through the outbox); a running gridlet\n"
        "pushes its scheduled files through the outbox (--outbox lists what waits there).\n"
        "Exit status: 0 ok; 1 store, file or target error; 2 bad arguments or site file.");
    on_run(cmd, "export", [a] { run_export(*a); });
}

}  // namespace gridlet::cli

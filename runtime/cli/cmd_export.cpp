// `gridlet export`: writes the files of the site's [[exports]]
// (export/export_job.h) for the periods in --from/--to, to a folder or to
// their [[export_targets]]; lists the exports, the files waiting in the
// targets' outboxes, or tests the targets' connectivity. Reads the store
// read-only (beside a running gridlet). CLI thread.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "cli/store_access.h"
#include "export/export_job.h"
#include "export/export_scheduler.h"
#include "export/outbox_sender.h"
#include "export/transport.h"
#include "kernel/site_plan.h"
#include "store/time_spec.h"

namespace gridlet::cli {

namespace {

struct ExportArgs {
    std::string config, name, from, to, out, target;
    bool list = false, outbox = false, test_targets = false, send = false;
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
    for (const auto& t : targets) {
        const std::string queue = exporter::outbox_queue(t.name);
        const auto state = exporter::read_target_state(st->state(), t.name);
        std::vector<exporter::QueuedFile> files;
        uint64_t after = 0, bytes = 0;
        for (;;) {
            auto page = st->outbox().read(queue, after, 256);
            if (!page) fail(cmd, 1, page.status().message());
            if (page->empty()) break;
            for (const auto& entry : *page) {
                after = entry.seq;
                auto f = exporter::decode_queued(entry);
                if (!f) continue;
                bytes += f->bytes.size();
                f->bytes.clear();
                files.push_back(std::move(*f));
            }
        }
        std::printf("%s\t%s\t%zu file%s waiting (%llu bytes)%s\n", t.name.c_str(), t.url.c_str(), files.size(),
                    files.size() == 1 ? "" : "s", static_cast<unsigned long long>(bytes),
                    state.last_error.empty()
                        ? ""
                        : ("\tlast error at " + zone.format_iso(state.last_try_ms) + " (" +
                           std::to_string(state.attempts) + " failure(s) in a row): " + state.last_error)
                              .c_str());
        for (const auto& f : files)
            std::printf("  %s\texport %s\tqueued %s\n", f.file_name.c_str(), f.export_name.c_str(),
                        zone.format_iso(f.queued_ms).c_str());
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
        targets = exporter::parse_export_targets(*site.root, site.path, diags);
        exports = exporter::parse_exports(*site.root, site.path, site.site_name, m, diags, targets);
    }
    if (!diags.empty())
        fail(cmd, 2, diags.front().to_string() + (diags.size() > 1 ? " (and " + std::to_string(diags.size() - 1) + " more; gridlet check lists them)" : ""));
    auto tz = TimeZone::load(site.timezone);
    if (!tz) fail(cmd, 2, tz.status().message());
    if (a.test_targets || a.outbox) {
        if (!a.target.empty()) {
            std::erase_if(targets, [&](const exporter::TargetConfig& t) { return t.name != a.target; });
            if (targets.empty()) fail(cmd, 2, "--target: the site has no [[export_targets]] named '" + a.target + "'");
        }
        if (targets.empty()) fail(cmd, 2, a.config + ": the site has no [[export_targets]]");
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
            for (const std::string& t : e.targets) to += "\ttarget " + t;
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
    const int64_t now = SystemClock::instance().now_ms();
    const auto [from, to] = parse_time_range(cmd, a.from.empty() ? "today" : a.from, a.to.empty() ? "now" : a.to, *tz);
    std::error_code ec;
    if (!a.send) std::filesystem::create_directories(a.out, ec);
    if (ec) fail(cmd, 1, "--out " + a.out + ": " + ec.message());
    auto loc = locate_store(cmd, "", a.config);
    auto st = open_store_read_only(cmd, loc.path);
    size_t written = 0, unchanged = 0, periods = 0, empty = 0;
    for (const auto& e : exports) {
        const auto list = exporter::export_periods(e, from, std::min(to, now), *tz);
        if (list.empty())
            std::fprintf(stderr, "export '%s': no whole period of %llds in the range\n", e.name.c_str(),
                         static_cast<long long>(e.every_ms / 1000));
        for (const auto& [pf, pt] : list) {
            ++periods;
            auto file = exporter::build_export_file(e, st->query(), st->registry(), pf, pt, *tz);
            if (!file) fail(cmd, 1, file.status().message());
            if (file->data_rows == 0) {  // on demand, a period without data makes no file
                ++empty;
                continue;
            }
            if (a.send) {
                for (const std::string& tn : e.targets) {
                    const auto& t = *std::find_if(targets.begin(), targets.end(),
                                                  [&](const exporter::TargetConfig& x) { return x.name == tn; });
                    const Status sent = exporter::push_file(t, file->name, file->bytes,
                                                            "gridlet:" + e.name + ":" + file->name, nullptr);
                    if (!sent) fail(cmd, 1, file->name + ": " + sent.message());
                    std::printf("%s\t%s\t%zu rows\n", tn.c_str(), file->name.c_str(), file->data_rows);
                }
                ++written;
                continue;
            }
            const std::filesystem::path path = std::filesystem::path(a.out) / file->name;
            if (std::filesystem::exists(path) && read_file(path) == file->bytes) {
                ++unchanged;
                continue;
            }
            // Written whole or not at all, as the scheduler writes (export_scheduler.h).
            if (Status st = exporter::write_file_whole(a.out, file->name, file->bytes); !st) fail(cmd, 1, st.message());
            std::printf("%s\t%zu rows\n", path.c_str(), file->data_rows);
            ++written;
        }
    }
    std::fprintf(stderr, "%zu period%s: %zu file%s %s, %zu already there and unchanged, %zu without data (no file)\n",
                 periods, periods == 1 ? "" : "s", written, written == 1 ? "" : "s",
                 a.send ? "sent to the export's targets" : "written", unchanged, empty);
}

}  // namespace

void register_export_command(CLI::App& app) {
    auto a = std::make_shared<ExportArgs>();
    auto* cmd = app.add_subcommand("export", "Write the site's [[exports]] files (Socomec EMS, CSV) for a range of periods");
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
    cmd->footer(
        "One file per export and period (every = ... of the export), named <site>_<server>_<device>_<type>_\n"
        "<date>_<time>.csv with the period's end in local time; a file already there with the same bytes is\n"
        "left alone, so running the command twice writes nothing new; a period without data makes no file.\n"
        "Files are written whole (.part, then renamed).\n"
        "Prints each file written and its rows; a summary on stderr.\n"
        "Examples:\n"
        "  gridlet export --config site.toml --from 2026-11-01 --to 2026-11-02 --out exports/\n"
        "  gridlet export --config site.toml --name panel1_avg --from -1h --out /tmp/x\n"
        "  gridlet export --config site.toml --list\n"
        "  gridlet export --config site.toml --name panel1_avg --from -1d --send\n"
        "  gridlet export --config site.toml --test-targets\n"
        "  gridlet export --config site.toml --outbox\n"
        "--send pushes each file to the export's targets at once (not through the outbox); a running gridlet\n"
        "pushes its scheduled files through the outbox (--outbox lists what waits there).\n"
        "Exit status: 0 ok; 1 store, file or target error; 2 bad arguments or site file.");
    on_run(cmd, "export", [a] { run_export(*a); });
}

}  // namespace gridlet::cli

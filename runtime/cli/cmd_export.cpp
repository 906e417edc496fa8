// `gridlet export`: writes the files of the site's [[exports]]
// (export/export_job.h) for the periods in --from/--to, to a folder, or
// lists the exports. Reads the store read-only (beside a running gridlet).
// CLI thread.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "cli/store_access.h"
#include "export/export_job.h"
#include "export/export_scheduler.h"
#include "kernel/site_plan.h"
#include "store/time_spec.h"

namespace gridlet::cli {

namespace {

struct ExportArgs {
    std::string config, name, from, to, out;
    bool list = false;
};

std::string read_file(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

void run_export(const ExportArgs& a) {
    const char* cmd = "export";
    if (a.config.empty()) fail(cmd, 2, "--config <site.toml> is required: the exports are its [[exports]]");
    config::Diagnostics diags;
    SiteConfig site = load_site_config(a.config, kernel::section_schemas(), diags);
    model::SiteModel m;
    std::vector<exporter::ExportConfig> exports;
    if (diags.empty() && site.root) {
        m = model::parse_site_model(*site.root, site.path, site.timezone, diags);
        exports = exporter::parse_exports(*site.root, site.path, site.site_name, m, diags);
    }
    if (!diags.empty())
        fail(cmd, 2, diags.front().to_string() + (diags.size() > 1 ? " (and " + std::to_string(diags.size() - 1) + " more; gridlet check lists them)" : ""));
    if (exports.empty()) fail(cmd, 2, a.config + ": the site has no [[exports]] (see runtime/export/README.md)");
    if (!a.name.empty()) {
        std::erase_if(exports, [&](const exporter::ExportConfig& e) { return e.name != a.name; });
        if (exports.empty()) fail(cmd, 2, "--name: the site has no export named '" + a.name + "' (gridlet export --list)");
    }
    auto tz = TimeZone::load(site.timezone);
    if (!tz) fail(cmd, 2, tz.status().message());
    if (a.list) {
        for (const auto& e : exports)
            std::printf("%s\t%s\t%s\tstep %llds\tevery %llds\t%zu variable%s\tdevice %s\n", e.name.c_str(),
                        exporter::format_name(e.format), exporter::socomec::ems_name(e.data_type),
                        static_cast<long long>(e.step_ms / 1000), static_cast<long long>(e.every_ms / 1000),
                        e.variables.size(), e.variables.size() == 1 ? "" : "s", e.device.c_str());
        return;
    }
    if (a.out.empty()) fail(cmd, 2, "--out <folder> is required: where the files are written");
    const int64_t now = SystemClock::instance().now_ms();
    const auto [from, to] = parse_time_range(cmd, a.from.empty() ? "today" : a.from, a.to.empty() ? "now" : a.to, *tz);
    std::error_code ec;
    std::filesystem::create_directories(a.out, ec);
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
    std::fprintf(stderr, "%zu period%s: %zu file%s written, %zu already there and unchanged, %zu without data (no file)\n",
                 periods, periods == 1 ? "" : "s", written, written == 1 ? "" : "s", unchanged, empty);
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
    cmd->add_flag("--list", a->list, "List the exports instead");
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
        "Exit status: 0 ok; 1 store or file error; 2 bad arguments or site file.");
    on_run(cmd, "export", [a] { run_export(*a); });
}

}  // namespace gridlet::cli

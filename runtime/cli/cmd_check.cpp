// `gridlet check <site.toml>`: validate a site file and the plugins it names
// without starting anything. Exit 0 if valid, 2 with file:line messages if not.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>

#include "cli/commands.h"
#include "kernel/site_plan.h"

namespace gridlet::cli {

void register_check_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("check", "Validate a site file and the plugins it names, without running them");
    auto path = std::make_shared<std::string>();
    auto quiet = std::make_shared<bool>(false);
    cmd->add_option("config", *path, "Site file (TOML)")->required();
    cmd->add_flag("-q,--quiet", *quiet, "Print nothing when the file is valid");
    cmd->footer("Exit status: 0 valid; 2 invalid (each problem printed as file:line: message).");
    cmd->callback([path, quiet] {
        config::Diagnostics diags;
        kernel::SitePlan plan = kernel::load_site(*path, diags);
        for (const auto& d : diags) std::fprintf(stderr, "%s\n", d.to_string().c_str());
        if (!diags.empty()) {
            std::fprintf(stderr, "%s: %zu problem%s\n", path->c_str(), diags.size(), diags.size() == 1 ? "" : "s");
            throw CLI::RuntimeError(2);
        }
        for (const auto& w : plan.warnings) std::fprintf(stderr, "warning: %s\n", w.to_string().c_str());
        if (!*quiet) {
            size_t devices = 0;
            for (const auto& p : plan.plugins) devices += p.devices.size();
            const size_t alarms = plan.alarm_rules.size();
            const size_t notifications = plan.notifications.size();
            const size_t reports = static_cast<size_t>(std::count_if(
                plan.exports.begin(), plan.exports.end(),
                [](const exporter::ExportConfig& e) { return e.format == exporter::Format::legrand_report; }));
            const size_t exports = plan.exports.size() - reports;
            const std::string alarm_text =
                (alarms == 0 ? "" : ", " + std::to_string(alarms) + " alarm rule" + (alarms == 1 ? "" : "s")) +
                (notifications == 0
                     ? ""
                     : ", " + std::to_string(notifications) + " notification" + (notifications == 1 ? "" : "s")) +
                (plan.model.points.empty()
                     ? ""
                     : ", a site model of " + std::to_string(plan.model.points.size()) + " point" +
                           (plan.model.points.size() == 1 ? "" : "s")) +
                (exports == 0 ? "" : ", " + std::to_string(exports) + " export" + (exports == 1 ? "" : "s")) +
                (reports == 0 ? "" : ", " + std::to_string(reports) + " report" + (reports == 1 ? "" : "s")) +
                (plan.export_targets.empty()
                     ? ""
                     : ", " + std::to_string(plan.export_targets.size()) + " export target" +
                           (plan.export_targets.size() == 1 ? "" : "s")) +
                (plan.legrand ? ", the Legrand history tree in " + plan.legrand->dir : "");
            std::printf("%s: ok (site '%s', %zu plugin%s, %zu device%s, %zu rule%s%s)\n", path->c_str(),
                        plan.site.site_name.c_str(), plan.plugins.size(), plan.plugins.size() == 1 ? "" : "s", devices,
                        devices == 1 ? "" : "s", plan.site.rules.size(), plan.site.rules.size() == 1 ? "" : "s",
                        alarm_text.c_str());
            if (!plan.site.has_store)
                std::printf("note: no [store]: samples and events are not kept (add [store] to keep them)\n");
        }
    });
}

}  // namespace gridlet::cli

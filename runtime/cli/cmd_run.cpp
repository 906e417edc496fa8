// `gridlet run <site.toml>`: validate, start every plugin, run until SIGINT
// or SIGTERM; SIGHUP applies the edited site file (kernel/live_reload.cpp).
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>

#include "cli/commands.h"
#include "kernel/kernel.h"

namespace gridlet::cli {

void register_run_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("run", "Run a site: load and start its plugins until SIGINT/SIGTERM");
    auto path = std::make_shared<std::string>();
    cmd->add_option("config", *path, "Site file (TOML)")->required();
    cmd->footer(
        "Signals: SIGINT/SIGTERM stop the plugins in reverse start order; SIGHUP applies the edited site file\n"
        "(devices, plugins, rules, alarms, exports, the log level; `gridlet reload` does it and says what changed).\n"
        "Exit status: 0 clean stop; 1 runtime failure (a plugin failed or did not stop, a device was left out, a store\n"
        "error); 2 invalid site file.");
    cmd->callback([path] {
        kernel::block_signals();
        config::Diagnostics diags;
        kernel::SitePlan plan = kernel::load_site(*path, diags, kernel::DeviceProblems::leave_device_out);
        for (const auto& d : diags) std::fprintf(stderr, "%s\n", d.to_string().c_str());
        if (!diags.empty()) throw CLI::RuntimeError(2);
        Status st = kernel::setup_logging(plan.site);
        if (!st) {
            std::fprintf(stderr, "%s\n", st.message().c_str());
            throw CLI::RuntimeError(2);
        }
        kernel::Kernel k(std::move(plan));
        st = k.start();
        if (!st) {
            spdlog::critical("{}", st.message());
            throw CLI::RuntimeError(1);
        }
        int code = k.run_until_signal();
        if (code != 0) throw CLI::RuntimeError(code);
    });
}

}  // namespace gridlet::cli

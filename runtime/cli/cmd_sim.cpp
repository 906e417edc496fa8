// `gridlet sim bcpm --port N`: run a device simulator alone (no site file),
// until SIGINT/SIGTERM. The same simulators run inside a site as the "sim"
// plugin (plugins/sim).
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>

#include "bcpm_server.h"
#include "cli/commands.h"

namespace gridlet::cli {

void register_sim_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("sim", "Run a device simulator alone (Modbus TCP server) until SIGINT/SIGTERM");
    cmd->require_subcommand(1);
    auto* bcpm = cmd->add_subcommand("bcpm", "Schneider/Veris BCPM panel monitor: two panels, unit ids 1 and 2");
    auto opts = std::make_shared<sim::BcpmServerOptions>();
    auto model = std::make_shared<std::string>("A");
    opts->port = 5020;
    bcpm->add_option("--port", opts->port, "TCP port (0: any free port, printed)")
        ->check(CLI::Range(0, 65535))
        ->capture_default_str();
    bcpm->add_option("--bind", opts->bind, "Address to listen on")->capture_default_str();
    bcpm->add_option("--panels", opts->panels, "1 or 2 panels")->check(CLI::Range(1, 2))->capture_default_str();
    // Modbus unit ids 1..247 (0 is broadcast; Modbus over serial line 2.4).
    bcpm->add_option("--unit", opts->base_unit, "Unit id of panel 1, 1..247 (panel 2 is the next)")
        ->check(CLI::Range(1, 247))
        ->capture_default_str();
    bcpm->add_option("--model", *model, "A (full), B (current and power) or C (current only)")->capture_default_str();
    bcpm->add_option("--channels", opts->branch_channels, "Branch channels fitted (1..42)")
        ->check(CLI::Range(1, 42))
        ->capture_default_str();
    bcpm->add_option("--seed", opts->seed, "Seed of the simulated loads")->capture_default_str();
    bcpm->add_option("--state-file", opts->state_file, "Keep the non-volatile registers in this file");
    bcpm->footer("Exit status: 0 stopped by a signal; 1 could not serve; 2 bad arguments.");
    bcpm->callback([opts, model] {
        sim::BcpmModel m{};
        if (!sim::parse_bcpm_model(*model, &m)) {
            std::fprintf(stderr, "gridlet sim bcpm: --model must be A, B or C, not '%s'\n", model->c_str());
            throw CLI::RuntimeError(2);
        }
        opts->model = m;
        if (opts->panels == 2 && opts->base_unit > 246) {
            std::fprintf(stderr, "gridlet sim bcpm: --unit %d with 2 panels puts panel 2 at unit %d (unit ids are 1..247)\n",
                         static_cast<int>(opts->base_unit), static_cast<int>(opts->base_unit) + 1);
            throw CLI::RuntimeError(2);
        }
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before the server's threads start
        sim::BcpmServer server(*opts);
        if (std::string err = server.start(); !err.empty()) {
            std::fprintf(stderr, "gridlet sim bcpm: %s\n", err.c_str());
            throw CLI::RuntimeError(1);
        }
        std::printf("BCPM simulator: Modbus TCP on %s:%u, unit ids %u..%u (Ctrl-C to stop)\n", opts->bind.c_str(),
                    server.port(), opts->base_unit, opts->base_unit + opts->panels - 1);
        std::fflush(stdout);
        int sig = 0;
        sigwait(&set, &sig);
        server.stop();
    });
}

}  // namespace gridlet::cli

// `gridlet sim bcpm|evse --port N`: run a device simulator alone (no site
// file), until SIGINT/SIGTERM. The same simulators run inside a site as the "sim"
// plugin (plugins/sim).
#include <CLI/CLI.hpp>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <thread>
#include <cstdio>

#include "bcpm_server.h"
#include "evse_server.h"
#include "sensor_sim.h"
#include "cli/commands.h"

namespace gridlet::cli {

namespace {

// Blocks SIGINT/SIGTERM (before the server's threads start: they inherit
// the mask), then waits for one of them.
sigset_t block_stop_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    return set;
}

void wait_for_stop(const sigset_t& set) {
    int sig = 0;
    sigwait(&set, &sig);
}

struct EvseArgs {
    sim::EvseServerOptions server;
    int stations = 4;
    double rated_current = 32;
    int phases = 3;
    double response_ms = 2000;
    double background = 40;
    int meter_unit = 100;  // an int for CLI11: a uint8_t default prints as a byte
};

void register_sim_evse(CLI::App& sim_cmd) {
    auto* evse = sim_cmd.add_subcommand(
        "evse", "EV charging site: stations on unit ids 1..N and the main meter (plugins/sim/README.md)");
    auto a = std::make_shared<EvseArgs>();
    a->server.port = 5030;
    evse->add_option("--port", a->server.port, "TCP port (0: any free port, printed)")
        ->check(CLI::Range(0, 65535))
        ->capture_default_str();
    evse->add_option("--bind", a->server.bind, "Address to listen on")->capture_default_str();
    evse->add_option("--stations", a->stations, "Charging stations, on unit ids 1..N")
        ->check(CLI::Range(1, 99))
        ->capture_default_str();
    evse->add_option("--rated-current", a->rated_current, "Rated current of each station, A (6..80)")
        ->check(CLI::Range(6.0, 80.0))
        ->capture_default_str();
    evse->add_option("--phases", a->phases, "1 or 3 (single-phase stations go on L1, L2, L3 in turn)")
        ->check(CLI::IsMember({1, 3}))
        ->capture_default_str();
    evse->add_option("--response-ms", a->response_ms, "Time a vehicle takes to follow a new setpoint, ms")
        ->check(CLI::Range(0.0, 60000.0))
        ->capture_default_str();
    evse->add_option("--meter-unit", a->meter_unit, "Unit id of the main meter (1..247)")
        ->check(CLI::Range(1, 247))
        ->capture_default_str();
    evse->add_option("--background", a->background, "Other loads of the installation, A per phase")
        ->check(CLI::Range(0.0, 10000.0))
        ->capture_default_str();
    evse->add_option("--noise", a->server.noise, "Relative noise on the background, 0..1")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    evse->add_flag("--random", a->server.random_arrivals, "Vehicles arrive at random (else none arrive)");
    evse->add_option("--mean-arrival-s", a->server.mean_arrival_s, "Mean time between arrivals per free station, s")
        ->check(CLI::Range(1.0, 1e7))
        ->capture_default_str();
    evse->add_option("--seed", a->server.seed, "Seed of the random arrivals and noise")->capture_default_str();
    evse->add_option("--time-scale", a->server.time_scale, "Simulated seconds per real second")
        ->check(CLI::Range(0.01, 10000.0))
        ->capture_default_str();
    evse->footer("Register maps: config/profiles/evse.toml (stations), config/profiles/meter3ph.toml (meter).\n"
                 "Exit status: 0 stopped by a signal; 1 could not serve; 2 bad arguments.");
    evse->callback([a] {
        a->server.meter_unit = static_cast<uint8_t>(a->meter_unit);
        if (a->server.meter_unit <= a->stations) {
            std::fprintf(stderr, "gridlet sim evse: --meter-unit %u is a station's unit id (stations are 1..%d)\n",
                         static_cast<unsigned>(a->server.meter_unit), a->stations);
            throw CLI::RuntimeError(2);
        }
        a->server.stations.clear();
        for (int i = 0; i < a->stations; ++i) {
            sim::EvseStationOptions st;
            st.unit = static_cast<uint8_t>(i + 1);
            st.rated_current = a->rated_current;
            st.phases = a->phases;
            st.phase = i % 3 + 1;
            st.response_s = a->response_ms / 1000;
            a->server.stations.push_back(st);
        }
        for (double& b : a->server.background) b = a->background;
        const sigset_t set = block_stop_signals();
        sim::EvseServer server(a->server);
        if (std::string err = server.start(); !err.empty()) {
            std::fprintf(stderr, "gridlet sim evse: %s\n", err.c_str());
            throw CLI::RuntimeError(1);
        }
        std::printf("EV site simulator: Modbus TCP on %s:%u, stations on unit ids 1..%d, main meter on unit id %u "
                    "(Ctrl-C to stop)\n",
                    a->server.bind.c_str(), server.port(), a->stations, static_cast<unsigned>(a->server.meter_unit));
        std::fflush(stdout);
        wait_for_stop(set);
        server.stop();
    });
}

void register_sim_sensors(CLI::App& sim_cmd) {
    auto* cmd = sim_cmd.add_subcommand(
        "sensors", "Building-IoT sensors publishing JSON to an MQTT broker (plugins/sim/sensor_sim.h)");
    auto o = std::make_shared<sim::SensorSimOptions>();
    auto broker = std::make_shared<std::string>("mqtt://127.0.0.1:1883");
    auto print_site = std::make_shared<bool>(false);
    cmd->add_option("--broker", *broker, "mqtt://host:port")->capture_default_str();
    cmd->add_option("--site", o->site, "Site name (tag site=)")->capture_default_str();
    cmd->add_option("--building", o->building, "Building name (tag building=)")->capture_default_str();
    cmd->add_option("--floors", o->floors, "Floors")->check(CLI::Range(1, 100))->capture_default_str();
    cmd->add_option("--spaces", o->spaces, "Spaces per floor, one sensor each")->check(CLI::Range(1, 200))->capture_default_str();
    cmd->add_option("--prefix", o->prefix, "First topic level")->capture_default_str();
    cmd->add_option("--time-scale", o->time_scale, "Simulated seconds per real second")
        ->check(CLI::Range(0.01, 10000.0))
        ->capture_default_str();
    cmd->add_option("--silent", o->silent, "Share of the sensors that go silent (0..1)")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    cmd->add_option("--silent-after", o->silent_after_s, "... after this many simulated seconds")
        ->check(CLI::Range(0.0, 1e9))
        ->capture_default_str();
    cmd->add_option("--tamper-per-day", o->tamper_per_day, "Tamper events a day per sensor, on average")
        ->check(CLI::Range(0.0, 10000.0))
        ->capture_default_str();
    cmd->add_option("--seed", o->seed, "Random seed")->capture_default_str();
    cmd->add_option("--duration", o->duration_s, "Stop after this many real seconds (0: at Ctrl-C)")
        ->check(CLI::Range(0.0, 1e9))
        ->capture_default_str();
    cmd->add_option("--plugin", o->plugin, "The mqtt plugin instance the --print-site entries name")->capture_default_str();
    cmd->add_option("--offline-after", o->offline_after_s, "With --print-site: offline_after_s of each sensor (default: the profiles')")
        ->check(CLI::Range(1.0, 2592000.0));
    cmd->add_flag("--print-site", *print_site, "Print the [[devices]] of a gridlet site for these sensors, and exit");
    cmd->footer("Exit status: 0 stopped; 1 could not connect; 2 bad arguments.");
    cmd->callback([o, broker, print_site] {
        if (*print_site) {
            std::printf("%s", sim::sensor_site_devices(*o).c_str());
            return;
        }
        std::string rest;
        if (broker->rfind("mqtt://", 0) == 0) rest = broker->substr(7);
        const size_t colon = rest.rfind(':');
        char* end = nullptr;
        const long port = colon == std::string::npos ? 1883 : std::strtol(rest.c_str() + colon + 1, &end, 10);
        if (rest.empty() || (colon != std::string::npos && (*end || port < 1 || port > 65535))) {
            std::fprintf(stderr, "gridlet sim sensors: --broker must be mqtt://host:port, not '%s'\n", broker->c_str());
            throw CLI::RuntimeError(2);
        }
        o->host = rest.substr(0, colon);
        o->port = static_cast<int>(port);
        const sigset_t set = block_stop_signals();
        static std::atomic<bool> stop{false};
        std::thread waiter([set] {
            wait_for_stop(set);
            stop = true;
        });
        waiter.detach();
        const int rc = sim::run_sensor_sim(*o, stop, [](const std::string& line) {
            std::printf("%s\n", line.c_str());
            std::fflush(stdout);
        });
        if (rc != 0) throw CLI::RuntimeError(rc);
    });
}

}  // namespace

void register_sim_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("sim", "Run a device simulator alone (Modbus TCP server, or MQTT sensors) until SIGINT/SIGTERM");
    cmd->require_subcommand(1);
    auto* bcpm = cmd->add_subcommand("bcpm", "Schneider/Veris BCPM panel monitor: two panels, unit ids 1 and 2");
    auto opts = std::make_shared<sim::BcpmServerOptions>();
    auto model = std::make_shared<std::string>("A");
    auto unit = std::make_shared<int>(1);  // an int for CLI11: a uint8_t default prints as a byte
    opts->port = 5020;
    bcpm->add_option("--port", opts->port, "TCP port (0: any free port, printed)")
        ->check(CLI::Range(0, 65535))
        ->capture_default_str();
    bcpm->add_option("--bind", opts->bind, "Address to listen on")->capture_default_str();
    bcpm->add_option("--panels", opts->panels, "1 or 2 panels")->check(CLI::Range(1, 2))->capture_default_str();
    // Modbus unit ids 1..247 (0 is broadcast; Modbus over serial line 2.4).
    bcpm->add_option("--unit", *unit, "Unit id of panel 1, 1..247 (panel 2 is the next)")
        ->check(CLI::Range(1, 247))
        ->capture_default_str();
    bcpm->add_option("--model", *model, "A (full), B (current and power) or C (current only)")->capture_default_str();
    bcpm->add_option("--channels", opts->branch_channels, "Branch channels fitted (1..42)")
        ->check(CLI::Range(1, 42))
        ->capture_default_str();
    bcpm->add_option("--seed", opts->seed, "Seed of the simulated loads")->capture_default_str();
    bcpm->add_option("--state-file", opts->state_file, "Keep the non-volatile registers in this file");
    bcpm->add_option("--overloaded", opts->overloaded, "Branches of panel 1 loaded at 110 % of their breaker size (to show alarms)")
        ->check(CLI::Range(1, 42));
    bcpm->footer("Exit status: 0 stopped by a signal; 1 could not serve; 2 bad arguments.");
    bcpm->callback([opts, model, unit] {
        opts->base_unit = static_cast<uint8_t>(*unit);
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
        const sigset_t set = block_stop_signals();
        sim::BcpmServer server(*opts);
        if (std::string err = server.start(); !err.empty()) {
            std::fprintf(stderr, "gridlet sim bcpm: %s\n", err.c_str());
            throw CLI::RuntimeError(1);
        }
        std::printf("BCPM simulator: Modbus TCP on %s:%u, unit ids %u..%u (Ctrl-C to stop)\n", opts->bind.c_str(),
                    server.port(), opts->base_unit, opts->base_unit + opts->panels - 1);
        std::fflush(stdout);
        wait_for_stop(set);
        server.stop();
    });
    register_sim_evse(*cmd);
    register_sim_sensors(*cmd);
}

}  // namespace gridlet::cli

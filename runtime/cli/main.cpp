// gridlet: the runtime's single executable.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"

int main(int argc, char** argv) {
    // `gridlet run`: a SIGHUP that comes while the site is still being read
    // (a reload sent at once after a start) waits for the kernel's signal
    // handling instead of ending the process (its default action).
    if (argc > 1 && std::string(argv[1]) == "run") {
        sigset_t hup;
        sigemptyset(&hup);
        sigaddset(&hup, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &hup, nullptr);
    }
    // Messages (RocksDB's warnings, the store's) go to stderr: stdout is the
    // data of query, events, series and state, read by other programs.
    // `gridlet run` installs its own logger (file or journal, kernel/logging).
    spdlog::set_default_logger(spdlog::stderr_color_mt("gridlet"));
    CLI::App app{"gridlet: edge analytics runtime for building-energy gateways", "gridlet"};
    app.require_subcommand(0, 1);  // none: the help below, exit 2
    app.set_help_all_flag("--help-all", "Help for every subcommand");
    app.set_version_flag("--version", std::string("gridlet ") + GRIDLET_VERSION, "Print gridlet's version and exit");
    // `gridlet help [COMMAND...]`: the same text as --help.
    auto help_topic = std::make_shared<std::vector<std::string>>();
    auto* help = app.add_subcommand("help", "Print this help, or a command's: gridlet help store repair");
    help->add_option("command", *help_topic, "A command (and subcommand)");
    help->callback([&app, help_topic] {
        const CLI::App* topic = &app;
        for (const std::string& name : *help_topic) {
            const CLI::App* sub = nullptr;
            try {
                sub = topic->get_subcommand(name);
            } catch (const CLI::OptionNotFound&) {
            }
            if (!sub || name == "help") {
                std::fprintf(stderr, "gridlet help: no command '%s' (gridlet help lists them)\n", name.c_str());
                throw CLI::RuntimeError(2);
            }
            topic = sub;
        }
        // App::help() would describe the parsed subcommand (`help` itself).
        const std::string name = topic == &app ? std::string("gridlet") : "gridlet " + [&] {
            std::string path;
            for (const std::string& n : *help_topic) path += (path.empty() ? "" : " ") + n;
            return path;
        }();
        std::printf("%s", topic->get_formatter()->make_help(topic, name, CLI::AppFormatMode::Normal).c_str());
    });
    gridlet::cli::register_version_command(app);
    gridlet::cli::register_check_command(app);
    gridlet::cli::register_run_command(app);
    gridlet::cli::register_plugins_command(app);
    gridlet::cli::register_metrics_command(app);
    gridlet::cli::register_status_command(app);
    gridlet::cli::register_reload_command(app);
    gridlet::cli::register_publish_command(app);
    gridlet::cli::register_sim_command(app);
    gridlet::cli::register_test_rule_command(app);
    gridlet::cli::register_query_command(app);
    gridlet::cli::register_series_command(app);
    gridlet::cli::register_events_command(app);
    gridlet::cli::register_store_command(app);
    gridlet::cli::register_import_command(app);
    gridlet::cli::register_state_command(app);
    gridlet::cli::register_alarms_command(app);
    gridlet::cli::register_notify_command(app);
    gridlet::cli::register_consumption_command(app);
    gridlet::cli::register_export_command(app);
    gridlet::cli::register_user_command(app);
    gridlet::cli::register_token_command(app);
    gridlet::cli::register_backup_command(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::RuntimeError& e) {
        return e.get_exit_code();  // a subcommand's own exit status; it printed why
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);  // prints what is wrong with the arguments
        return 2;     // bad input, as for a bad site file
    }
    if (app.get_subcommands().empty()) {  // `gridlet` alone
        std::fprintf(stderr, "%s\ngridlet: a command is required (above)\n", app.help().c_str());
        return 2;
    }
    return 0;
}

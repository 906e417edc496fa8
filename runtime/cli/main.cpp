// gridlet: the runtime's single executable.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/commands.h"

int main(int argc, char** argv) {
    // Messages (RocksDB's warnings, the store's) go to stderr: stdout is the
    // data of query, events, series and state, read by other programs.
    // `gridlet run` installs its own logger (file or journal, kernel/logging).
    spdlog::set_default_logger(spdlog::stderr_color_mt("gridlet"));
    CLI::App app{"gridlet: edge analytics runtime for building-energy gateways"};
    app.require_subcommand(1);
    app.set_help_all_flag("--help-all", "Help for every subcommand");
    gridlet::cli::register_version_command(app);
    gridlet::cli::register_check_command(app);
    gridlet::cli::register_run_command(app);
    gridlet::cli::register_plugins_command(app);
    gridlet::cli::register_metrics_command(app);
    gridlet::cli::register_publish_command(app);
    gridlet::cli::register_sim_command(app);
    gridlet::cli::register_test_rule_command(app);
    gridlet::cli::register_query_command(app);
    gridlet::cli::register_series_command(app);
    gridlet::cli::register_events_command(app);
    gridlet::cli::register_store_command(app);
    gridlet::cli::register_import_command(app);
    gridlet::cli::register_state_command(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::RuntimeError& e) {
        return e.get_exit_code();  // a subcommand's own exit status; it printed why
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);  // prints what is wrong with the arguments
        return 2;     // bad input, as for a bad site file
    }
    return 0;
}

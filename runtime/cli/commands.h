// The `gridlet` subcommands. Each lives in its own cmd_<name>.cpp and adds
// itself to the CLI11 app here; main.cpp calls every register_* function.
//
// Convention: a subcommand's callback throws CLI::RuntimeError(code) to exit
// with `code` (0 ok, 1 runtime failure, 2 bad input: config, arguments).
// Messages for users go to stderr, results to stdout.
#pragma once

namespace CLI {
class App;
}

namespace gridlet::cli {

void register_version_command(CLI::App& app);
void register_check_command(CLI::App& app);
void register_run_command(CLI::App& app);
void register_plugins_command(CLI::App& app);
void register_metrics_command(CLI::App& app);
void register_status_command(CLI::App& app);
void register_reload_command(CLI::App& app);
void register_publish_command(CLI::App& app);
void register_sim_command(CLI::App& app);
void register_test_rule_command(CLI::App& app);
void register_query_command(CLI::App& app);
void register_series_command(CLI::App& app);
void register_events_command(CLI::App& app);
void register_store_command(CLI::App& app);
void register_import_command(CLI::App& app);
void register_state_command(CLI::App& app);
void register_alarms_command(CLI::App& app);
void register_notify_command(CLI::App& app);
void register_consumption_command(CLI::App& app);
void register_export_command(CLI::App& app);
void register_user_command(CLI::App& app);
void register_token_command(CLI::App& app);
void register_backup_command(CLI::App& app);  // backup and restore

}  // namespace gridlet::cli

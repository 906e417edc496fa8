// `gridlet test-rule`: run one Lua rule offline, on a simulated clock,
// against a scripted timeline (runtime/script/timeline.h), and print the
// commands, events, logs and state it produced. See runtime/script/README.md.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "cli/store_access.h"
#include "core/config_schema.h"
#include "core/text.h"
#include "script/engine.h"
#include "script/harness.h"
#include "toml_syntax.h"

namespace gridlet::cli {

namespace {

struct TestRuleArgs {
    std::string rule;
    std::string input;
    std::string params;
    std::string tz;
    std::string expect;
    std::string name;
    std::vector<std::string> lib_dirs;
    bool json = false;
    bool verbose = false;
    uint64_t instructions = 0;
    int64_t time_ms = 0;
    size_t memory_mb = 0;
};

// --params: inline JSON ("{...}"), or a .json / .toml file.
nlohmann::json load_params(const std::string& arg) {
    auto first = arg.find_first_not_of(" \t");
    if (first != std::string::npos && arg[first] == '{') {
        auto j = nlohmann::json::parse(arg, nullptr, false);
        if (j.is_discarded() || !j.is_object()) cli::fail("test-rule", 2, "--params: not a JSON object: " + arg);
        return j;
    }
    std::ifstream in(arg);
    if (!in) cli::fail("test-rule", 2, "--params: cannot read " + arg);
    std::ostringstream text;
    text << in.rdbuf();
    if (std::filesystem::path(arg).extension() == ".toml") {
        try {
            toml::table t = toml::parse(text.str(), arg);
            return config::toml_to_json(t);
        } catch (const toml::parse_error& e) {
            cli::fail("test-rule", 2, "--params: " + arg + ":" + std::to_string(e.source().begin.line) + ": " + toml_syntax_message(e.description()));
        }
    }
    auto j = nlohmann::json::parse(text.str(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) cli::fail("test-rule", 2, "--params: " + arg + " is not a JSON object");
    return j;
}

void run(const TestRuleArgs& a) {
    script::HarnessOptions o;
    o.rule_file = a.rule;
    o.timeline_file = a.input;
    o.rule_name = a.name;
    o.tz = a.tz;
    o.echo_logs = a.verbose;
    if (!a.params.empty()) o.params = load_params(a.params);
    o.lib_dirs = a.lib_dirs;
    if (o.lib_dirs.empty()) {
        if (const char* env = std::getenv("GRIDLET_LIB_DIR")) o.lib_dirs.push_back(env);
        if (std::filesystem::is_directory("scripts/lib")) o.lib_dirs.push_back("scripts/lib");
    }
    for (const std::string& d : script::builtin_lib_dirs())  // gridlet's own, from any folder
        if (std::find(o.lib_dirs.begin(), o.lib_dirs.end(), d) == o.lib_dirs.end()) o.lib_dirs.push_back(d);
    if (a.instructions) o.budgets.instructions = a.instructions;
    if (a.time_ms) o.budgets.time_ms = a.time_ms;
    if (a.memory_mb) o.budgets.memory_bytes = a.memory_mb * 1024 * 1024;

    // SIGINT / SIGTERM stop the run between steps, so that what it made is
    // removed (the notifications' temporary store); exit 128 + the signal.
    static volatile std::sig_atomic_t signal_seen = 0;
    struct sigaction sa {};
    sa.sa_handler = [](int sig) { signal_seen = sig; };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    o.interrupted = [] { return signal_seen != 0; };
    auto report = script::run_rule_test(o);
    if (signal_seen != 0) cli::fail("test-rule", 128 + signal_seen, "interrupted");
    if (!report) cli::fail("test-rule", 2, report.status().message());
    const nlohmann::json j = script::report_to_json(*report);
    if (a.json) {
        std::cout << dump_json(j, 2) << "\n";
    } else {
        std::cout << script::report_to_text(*report);
    }
    std::vector<std::string> problems;
    // Expectations about errors (status, error_contains, no_errors) judge
    // them; otherwise a callback error or a stopped rule fails the run.
    bool errors_judged = false;
    const auto judges = [&](const nlohmann::json& want) {
        if (want.is_object())
            for (const char* k : {"status", "error_contains", "no_errors"})
                if (want.contains(k)) errors_judged = true;
    };
    judges(report->expect);
    if (!report->expect.is_null()) problems = script::check_expectations(j, report->expect);
    if (!a.expect.empty()) {
        std::ifstream in(a.expect);
        if (!in) cli::fail("test-rule", 2, "--expect: cannot read " + a.expect);
        std::ostringstream text;
        text << in.rdbuf();
        auto want = nlohmann::json::parse(text.str(), nullptr, false);
        if (want.is_discarded()) cli::fail("test-rule", 2, "--expect: " + a.expect + " is not JSON");
        judges(want);
        auto more = script::check_expectations(j, want);
        problems.insert(problems.end(), more.begin(), more.end());
    }
    if (!problems.empty()) {
        std::cerr << "gridlet test-rule: " << problems.size() << " expectation(s) not met:\n";
        for (const auto& p : problems) std::cerr << "  " << p << "\n";
        throw CLI::RuntimeError(1);
    }
    // A rule that did not load fails the run, unless the expectations judge
    // it (a test of the load error itself: {"status": "failed", ...}).
    if (report->load_error && !errors_judged)
        cli::fail("test-rule", 1, "the rule did not load: " + report->load_error->message());
    const bool rule_ok = j.value("status", "") == "running" || j.value("status", "") == "no_rule";
    if (!errors_judged && (j.value("errors", 0) > 0 || !rule_ok))
        cli::fail("test-rule", 1, "the rule ended " + j.value("status", std::string("?")) + " after " + std::to_string(j.value("errors", 0)) +
                    " callback error(s) (when errors are what you test, say so: expect {\"status\": ...}, "
                    "{\"error_contains\": ...} or {\"no_errors\": false})");
    if (!report->expect.is_null() || !a.expect.empty()) std::cerr << "gridlet test-rule: expectations met\n";
}

}  // namespace

void register_test_rule_command(CLI::App& app) {
    auto args = std::make_shared<TestRuleArgs>();
    CLI::App* cmd = app.add_subcommand("test-rule", "Run a Lua rule offline on a simulated clock against a timeline");
    cmd->add_option("rule", args->rule, "The rule's .lua file (default: the timeline header's \"rule\")");
    cmd->add_option("--input,-i", args->input, "Timeline: JSON lines of samples, scripted replies, ...")->required();
    cmd->add_option("--params,-p", args->params, "Parameters: inline JSON '{...}', or a .json/.toml file");
    cmd->add_option("--tz", args->tz, "Site time zone (IANA), instead of the timeline's");
    cmd->add_option("--expect", args->expect, "Expected outputs (JSON); exit 1 when not met");
    cmd->add_option("--name", args->name, "Rule name (default: the file's stem)");
    cmd->add_option("--lib", args->lib_dirs, "Folder for require() (default: $GRIDLET_LIB_DIR and ./scripts/lib); gridlet's own library is searched last");
    cmd->add_flag("--json", args->json, "Machine-readable report");
    cmd->add_flag("--verbose,-v", args->verbose, "Print the rule's log lines as they happen (stderr)");
    // The same bounds as the site's [rule_engine] / [[rules]] keys.
    cmd->add_option("--instructions", args->instructions, "Instruction budget per callback (1000..1e12)")
        ->check(CLI::Range(uint64_t{1000}, uint64_t{1'000'000'000'000}));
    cmd->add_option("--time-ms", args->time_ms, "Time budget per callback (ms, 1..600000)")
        ->check(CLI::Range(int64_t{1}, int64_t{600'000}));
    cmd->add_option("--memory-mb", args->memory_mb, "Memory budget (MiB, 1..4096)")->check(CLI::Range(size_t{1}, size_t{4096}));
    cmd->callback([args] { run(*args); });
}

}  // namespace gridlet::cli

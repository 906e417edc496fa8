// Talking to a running gridlet's control socket (kernel/control.cpp), for
// the CLI commands that act on a running site (metrics, publish). Main
// thread of the CLI only.
#pragma once

#include <CLI/CLI.hpp>

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace gridlet::cli {

// Adds the --config / --control / --timeout-ms options that name the target.
struct ControlTarget {
    std::string config_path;
    std::string control;
    int timeout_ms = 2000;
    void add_options(CLI::App* cmd);
    // The endpoint to use; prints why and throws CLI::RuntimeError(2) if the
    // site file cannot give one.
    std::string endpoint() const;
};

// Whether a process accepts connections on the unix socket of an ipc://
// endpoint now (a socket file left by a killed process refuses them).
bool control_endpoint_live(const std::string& endpoint);

// Sends `request`, returns the reply, or nullopt after printing why
// (unreachable, no answer within the timeout).
std::optional<std::string> control_request(const std::string& endpoint, const std::string& request, int timeout_ms);

// A JSON request whose answer is {"ok": true, ...}: returns that answer.
// Otherwise prints "gridlet <command>: <error>" and exits 2 when the
// answer's code is not_found, else 1 (no answer: 1).
nlohmann::json control_call(const char* command, const std::string& endpoint, const nlohmann::json& request,
                            int timeout_ms);

}  // namespace gridlet::cli

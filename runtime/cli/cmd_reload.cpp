// `gridlet reload`: asks a running gridlet to read its site file again and
// apply it, as SIGHUP does (kernel/live_reload.cpp), and says what it did:
// the changes applied, the plugins added, restarted, removed or failed, and
// what waits for a restart; or, for a file with errors, each error with
// file:line (the running configuration is kept).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "cli/control_client.h"

namespace gridlet::cli {

namespace {

std::string joined(const nlohmann::json& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n.get<std::string>();
    return out;
}

// Whether `running` (the path the running gridlet was given, maybe relative
// to its own folder) and `named` are one file: compared as full paths when
// `running` is absolute, else by file name (its folder is not known here).
bool same_file(const std::string& running, const std::string& named) {
    std::error_code e1, e2;
    const auto mine = std::filesystem::weakly_canonical(named, e1);
    if (!std::filesystem::path(running).is_absolute()) return std::filesystem::path(running).filename() == mine.filename();
    const auto theirs = std::filesystem::weakly_canonical(running, e2);
    return !e1 && !e2 && mine == theirs;
}

void print_answer(const nlohmann::json& a) {
    std::printf("applied: %s\n", joined(a.value("applied", nlohmann::json::array())).c_str());
    const nlohmann::json changes = a.value("changes", nlohmann::json::array());
    for (const auto& c : changes) std::printf("  %s\n", c.get<std::string>().c_str());
    const nlohmann::json p = a.value("plugins", nlohmann::json::object());
    for (const char* what : {"added", "restarted", "removed"}) {
        const nlohmann::json names = p.value(what, nlohmann::json::array());
        if (!names.empty()) std::printf("plugins %s: %s\n", what, joined(names).c_str());
    }
    const nlohmann::json revived = a.value("revived_plugins", nlohmann::json::array());
    if (!revived.empty()) std::printf("plugins started again after a failure: %s\n", joined(revived).c_str());
    const nlohmann::json kept = a.value("not_applied_until_restart", nlohmann::json::array());
    if (!kept.empty()) {
        std::printf("not applied until gridlet restarts:\n");
        for (const auto& k : kept) std::printf("  %s\n", k.get<std::string>().c_str());
    }
    if (changes.empty() && kept.empty() && revived.empty()) std::printf("no device or plugin changed\n");
}

}  // namespace

void register_reload_command(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "reload", "Apply a running gridlet's edited site file (as SIGHUP) and say what changed, or why it was refused");
    auto target = std::make_shared<ControlTarget>();
    target->timeout_ms = 60'000;  // plugins stop and start: each within [kernel] stop_timeout_ms
    target->add_options(cmd);
    auto json_out = std::make_shared<bool>(false);
    cmd->add_flag("--json", *json_out, "Print the kernel's answer as JSON");
    cmd->footer(
        "Applied live: devices and plugins (a plugin whose file, config or devices changed is restarted;\n"
        "the others keep running), rules, [[alarms]], [[exports]], the log level. Other changes are named\n"
        "as waiting for a restart. A site file with errors is refused and the running one kept.\n"
        "Exit status: 0 applied; 1 no answer, or a plugin did not stop or start; 2 the site file has\n"
        "errors (each printed with file:line), or bad arguments.");
    cmd->callback([target, json_out] {
        std::string endpoint;
        try {
            endpoint = target->endpoint();
        } catch (const CLI::RuntimeError&) {
            std::fprintf(stderr,
                         "gridlet reload: nothing was sent: %s cannot be read (above), so its control socket is not "
                         "known; fix it and run this again, or name the socket with --control\n",
                         target->config_path.c_str());
            throw;
        }
        // A socket nobody listens on: say so now, not after the timeout.
        if (endpoint.rfind("ipc://", 0) == 0 && !control_endpoint_live(endpoint)) {
            std::fprintf(stderr, "gridlet reload: no gridlet listens on %s%s\n", endpoint.c_str(),
                         target->config_path.empty()
                             ? ""
                             : " (the socket the site file names now: if its [site] name or [kernel] control changed, "
                               "give the running gridlet's socket with --control)");
            throw CLI::RuntimeError(1);
        }
        // The running gridlet reads its own site file: when it is not the one
        // named, nothing is sent (that file would not be the one applied).
        if (!target->config_path.empty()) {
            auto status = control_request(endpoint, R"({"status":{}})", target->timeout_ms);
            if (!status) throw CLI::RuntimeError(1);
            const auto st = nlohmann::json::parse(*status, nullptr, false);
            if (st.is_object() && st.contains("path") && st["path"].is_string()) {
                const std::string running = st["path"].get<std::string>();
                if (!same_file(running, target->config_path)) {
                    std::fprintf(stderr,
                                 "gridlet reload: the gridlet on %s runs the site file %s, not %s: nothing was sent "
                                 "(edit that file, or name it with --config)\n",
                                 endpoint.c_str(), running.c_str(), target->config_path.c_str());
                    throw CLI::RuntimeError(2);
                }
            }
        }
        auto reply = control_request(endpoint, R"({"reload":{}})", target->timeout_ms);
        if (!reply) throw CLI::RuntimeError(1);
        auto a = nlohmann::json::parse(*reply, nullptr, false);
        if (!a.is_object()) {
            std::fprintf(stderr, "gridlet reload: the answer is not JSON: %s\n", reply->c_str());
            throw CLI::RuntimeError(1);
        }
        if (*json_out) std::printf("%s\n", a.dump(2).c_str());
        if (a.contains("error")) {
            if (!*json_out) {
                for (const auto& e : a.value("errors", nlohmann::json::array()))
                    std::fprintf(stderr, "%s\n", e.get<std::string>().c_str());
                std::fprintf(stderr, "gridlet reload: %s\n", a.value("error", std::string()).c_str());
            }
            throw CLI::RuntimeError(a.value("code", std::string()) == "invalid_argument" ? 2 : 1);
        }
        if (!*json_out) print_answer(a);
        const nlohmann::json failed = a.value("plugins", nlohmann::json::object()).value("failed", nlohmann::json::array());
        if (!failed.empty()) {
            for (const auto& f : failed) std::fprintf(stderr, "plugin failed: %s\n", f.get<std::string>().c_str());
            throw CLI::RuntimeError(1);
        }
    });
}

}  // namespace gridlet::cli

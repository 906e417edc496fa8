// `gridlet metrics`: ask a running gridlet for its bus and plugin counters.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>

#include "cli/commands.h"
#include "cli/control_client.h"

namespace gridlet::cli {

void register_metrics_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("metrics", "Print a running gridlet's counters (messages, bytes, drops per plugin) as JSON");
    auto target = std::make_shared<ControlTarget>();
    target->add_options(cmd);
    cmd->footer("Exit status: 0 printed; 1 no answer; 2 bad arguments or site file.");
    cmd->callback([target] {
        auto reply = control_request(target->endpoint(), "metrics", target->timeout_ms);
        if (!reply) throw CLI::RuntimeError(1);
        auto j = nlohmann::json::parse(*reply, nullptr, false);
        std::printf("%s\n", j.is_discarded() ? reply->c_str() : j.dump(2).c_str());
        // A failed plugin, a device left out or a store error: exit 1, so
        // that a health check sees it.
        if (j.is_object() && j.contains("problems") && j["problems"].is_array() && !j["problems"].empty()) {
            for (const auto& p : j["problems"]) std::fprintf(stderr, "problem: %s\n", p.dump().c_str());
            throw CLI::RuntimeError(1);
        }
    });
}

}  // namespace gridlet::cli

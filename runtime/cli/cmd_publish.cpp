// `gridlet publish <series> <value>`: put one sample on a running gridlet's
// bus, as a driver would (stored, seen by rules). For manual values and
// run-time overrides, e.g. `gridlet publish greenup/ev1/start_wait 0`.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>

#include "cli/commands.h"
#include "cli/control_client.h"
#include "core/pattern.h"

namespace gridlet::cli {

void register_publish_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("publish", "Publish one sample on a running gridlet's bus (manual values, overrides)");
    auto target = std::make_shared<ControlTarget>();
    auto series = std::make_shared<std::string>();
    auto value = std::make_shared<double>(0);
    auto unit = std::make_shared<std::string>();
    auto kind = std::make_shared<std::string>();
    cmd->add_option("series", *series, "Series name, device/point (created if new)")->required();
    auto value_text = std::make_shared<std::string>();
    cmd->add_option("value", *value, "The value (a finite number)")->required()->each([value_text](const std::string& v) {
        *value_text = v;
    });
    cmd->add_option("--unit", *unit, "Unit of a new series");
    cmd->add_option("--kind", *kind, "Kind of a new series")->check(CLI::IsMember({"gauge", "counter", "state"}));
    target->add_options(cmd);
    cmd->footer("The sample is stamped with the gridlet's clock and good quality. The answer comes once\n"
                "the sample is on the bus (rules see it) and, when the site has a [store], in the store's WAL\n"
                "(it survives the process being killed; power loss: [store] sync).\n"
                "Exit status: 0 published (and stored); 1 no answer, refused or not stored; 2 bad arguments.");
    cmd->callback([=] {
        if (!valid_series_name(*series)) {
            std::fprintf(stderr, "gridlet publish: '%s' is not a series name (device/point, segments of letters, digits, '_', '-', '.')\n",
                         series->c_str());
            throw CLI::RuntimeError(2);
        }
        if (!std::isfinite(*value)) {
            std::fprintf(stderr, "gridlet publish: the value must be a finite number, not %s\n", value_text->c_str());
            throw CLI::RuntimeError(2);
        }
        nlohmann::json req = {{"publish", {{"series", *series}, {"value", *value}}}};
        if (!unit->empty()) req["publish"]["unit"] = *unit;
        if (!kind->empty()) req["publish"]["kind"] = *kind;
        const nlohmann::json j = control_call("publish", target->endpoint(), req, target->timeout_ms);
        std::printf("published %s = %g (series id %d)\n", series->c_str(), *value, j["id"].get<int>());
    });
}

}  // namespace gridlet::cli

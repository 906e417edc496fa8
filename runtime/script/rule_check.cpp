#include "script/rule_check.h"

#include "script/sim_host.h"

namespace gridlet::script {

std::vector<RuleLoadError> check_rules(const std::vector<RuleConfig>& rules, const EngineOptions& options,
                                       const TimeZone& zone, int64_t now_ms,
                                       std::optional<std::vector<std::string>> devices) {
    SimHost host(now_ms, zone);
    if (devices) host.set_site_devices(std::move(*devices));
    Engine engine(host, options);
    return engine.configure(rules);
}

}  // namespace gridlet::script

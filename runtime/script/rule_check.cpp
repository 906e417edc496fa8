#include "script/rule_check.h"

#include "script/sim_host.h"

namespace gridlet::script {

std::vector<RuleLoadError> check_rules(const std::vector<RuleConfig>& rules, const EngineOptions& options,
                                       const TimeZone& zone, int64_t now_ms) {
    SimHost host(now_ms, zone);
    Engine engine(host, options);
    return engine.configure(rules);
}

}  // namespace gridlet::script

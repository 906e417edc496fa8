// check_rules(): loads rules the way `gridlet run` does (sandbox, the
// file's top level with its params, within its budgets), offline on a
// simulated clock with no bus or store, and returns those that fail with
// "file:line: message". `gridlet check` and `gridlet run` share it through
// the site plan, so a rule that would not load is refused by both.
//
// Threads: runs on the calling thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/timezone.h"
#include "script/engine.h"

namespace gridlet::script {

// `devices`: the site's device names (gridlet.devices()).
std::vector<RuleLoadError> check_rules(const std::vector<RuleConfig>& rules, const EngineOptions& options,
                                       const TimeZone& zone, int64_t now_ms,
                                       std::optional<std::vector<std::string>> devices = std::nullopt);

}  // namespace gridlet::script

// Each device's state for an operator, as `gridlet status` prints it and
// the HTTP API sends it (GET /api/v1/devices): from the store (the driver's
// <device>/online or <device>/status series, its <device>/comm/* counters
// and its offline events of the last week) and the plugins' states. Any
// thread (the store is thread-safe).
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/site_config.h"

namespace gridlet::store {
class Store;
}

namespace gridlet::answers {

// One object per device of `devices` (only the one named `only`, unless
// empty), in file order:
//   {name, plugin, plugin_state, state: online|offline|unknown|stopped|left_out,
//    last_poll_ms|null, errors|null, comm: {requests, timeouts, ...},
//    last_error|null, last_error_ms|null[, last_data_ms (with_newest)]}
// `plugins`: the kernel's metrics "plugins" object (name -> {state, ...});
// a device whose plugin it does not name (a disabled plugin) is "stopped",
// its plugin_state "not_running" (with an empty `plugins`: not known);
// `refused`: devices left out at start (name -> why). `store` may be null.
nlohmann::json devices_status(store::Store* store, const std::vector<DeviceEntry>& devices,
                              const std::map<std::string, std::string>& refused, const nlohmann::json& plugins,
                              int64_t now_ms, const std::string& only = "", bool with_newest = false);

}  // namespace gridlet::answers

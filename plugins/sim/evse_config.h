// The sim plugin's `evse = [...]` entries (plugins/sim/README.md) and the run-time
// commands of an EV site simulator. Plugin glue only (not in gridlet_sim_core).
#pragma once

#include "evse_server.h"

#include <nlohmann/json.hpp>

#include <string>

namespace gridlet::sim {

// Throws gridlet::Error(GL_ERR_INVALID, "<where>: ...") on a bad entry.
EvseServerOptions parse_evse(const nlohmann::json& entry, const std::string& where, std::string* name);

// Applies a command to `server`: `what` is the target after "<name>/":
//   station<unit>/arrive (value: the vehicle's maximum A; text "need_ah=40 stay_s=3600")
//   station<unit>/depart, station<unit>/failure (0/1), station<unit>/silent (0/1),
//   background/l1 .. background/l3 (A). Returns "" or an error text.
std::string evse_command(EvseServer& server, const std::string& what, double value, const std::string& text);

}  // namespace gridlet::sim

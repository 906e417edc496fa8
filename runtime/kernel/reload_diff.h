// What a SIGHUP reload does not apply. The kernel reloads the log level and
// pattern and the rules ([[rules]], the budget keys of [rule_engine]); every
// other setting takes effect only at the next start. settings_not_applied()
// names each one that differs between the running site file and the file
// on disk, so that an operator is never left believing a change took.
// Pure function; any thread.
#pragma once

#include <string>
#include <vector>

#include "core/site_config.h"

namespace gridlet::kernel {

// One line per setting that changed but is not applied by a reload, e.g.
//   "[store] retention_raw_days: 30 -> 60"
//   "device 'panel1' (site.toml:40): poll_ms: 1000 -> 500"
//   "plugin 'sim' added"
//   "exports changed" (also alarms, alarm_settings, notifications, model)
// in file order; empty when a reload applies everything that changed.
std::vector<std::string> settings_not_applied(const SiteConfig& running, const SiteConfig& fresh);

}  // namespace gridlet::kernel

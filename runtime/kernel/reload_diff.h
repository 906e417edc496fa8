// What a SIGHUP reload changes, as lines for the log and the control answer.
// The kernel applies live: the log level and pattern, the plugins and their
// devices, the rules ([[rules]], the budget keys of [rule_engine]), and the
// [[alarms]] and [[exports]]; every other setting takes effect only at the
// next start. settings_not_applied() names each one that differs between the
// running site and the file on disk, so that an operator is never left
// believing a change took. Pure functions; any thread.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "core/site_config.h"

namespace gridlet::kernel {

// One line per plugin and device that differs, in file order, e.g.
//   "plugin 'sim' added", "plugin 'sim' removed",
//   "plugin 'sim' config: evse[0].noise: 0.03 -> 0.05",
//   "plugin 'sim': enabled: true -> false",
//   "device 'panel1' (site.toml:40): poll_ms: 1000 -> 500",
//   "device 'panel2' (site.toml:52) added", "device 'panel3' (site.toml:60) removed"
// (line numbers of the file on disk, or of the running file for a removed one).
std::vector<std::string> device_and_plugin_changes(const SiteConfig& running, const SiteConfig& fresh);

// One line per entry of the array of tables `section` ("alarms", "exports",
// "rules", "notifications") added, removed or changed, named by its `name`
// key ("#2" without one), e.g.
//   "[[alarms]] 'hot' added", "[[exports]] 'daily' removed",
//   "[[alarms]] 'hot': threshold: 30 -> 35";
// "<section> changed" when it is not an array of tables; empty when equal.
std::vector<std::string> named_entry_changes(const SiteConfig& running, const SiteConfig& fresh,
                                             const std::string& section);

// True when the top-level table or array of tables `name` ("alarms",
// "exports") differs between the two files.
bool section_changed(const SiteConfig& running, const SiteConfig& fresh, const std::string& name);

// One line per setting that changed but is not applied by a reload, e.g.
//   "[store] retention_raw_days: 30 -> 60", "[http] port: 8443 -> 9443",
//   "[[notifications]] 'ops': to: ... -> ..." (arrays of tables, entry by entry)
// in file order; empty when a reload applies everything that changed. The
// plugins, devices and rules are applied by every reload and never named
// here; the top-level sections in `applied_live` ("alarms", "exports") are
// applied by this one.
std::vector<std::string> settings_not_applied(const SiteConfig& running, const SiteConfig& fresh,
                                              const std::set<std::string>& applied_live = {});

}  // namespace gridlet::kernel

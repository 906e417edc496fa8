// SitePlan: a site config with every plugin loaded and checked, ready to
// start. prepare_site() loads each enabled plugin file (ABI checks), checks
// its [plugins.config] against the plugin's schema and each of its devices
// against the plugin's device schema, all with file:line diagnostics, and
// runs nothing of the plugins but their entry points. `gridlet check` stops
// here; `gridlet run` goes on to Kernel. Kernel thread only.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config_schema.h"
#include "alarm/alarm_rules.h"
#include "export/export_config.h"
#include "export/legrand_history.h"
#include "http/http_config.h"
#include "model/site_model.h"
#include "notify/notification_config.h"
#include "core/site_config.h"
#include "http/http_config.h"
#include "plugin/plugin_library.h"

namespace gridlet::kernel {

struct PlannedPlugin {
    std::string name;
    std::shared_ptr<plugin::PluginLibrary> library;
    nlohmann::json config;   // validated, defaults filled
    nlohmann::json devices;  // array of validated device objects
    // The files its config and devices name (a device's own profile, a
    // certificate): path -> digest of the contents, so that a reload sees an
    // edited file as a change of the plugin.
    std::map<std::string, std::string> file_digests;
};

// A device its plugin's validate() refused, left out by `gridlet run`.
struct RefusedDevice {
    std::string plugin, device;
    config::Diagnostic problem;  // file:line of the device, and why
};

struct SitePlan {
    SiteConfig site;
    std::vector<PlannedPlugin> plugins;  // enabled ones, in file order
    std::vector<RefusedDevice> refused_devices;
    // The files each [[rules]] entry names (its Lua file): rule name ->
    // path -> digest of the contents (as PlannedPlugin::file_digests), so
    // that a reload names a rule whose file was edited.
    std::map<std::string, std::map<std::string, std::string>> rule_file_digests;
    // What the plugins' validate() warned about (file:line of the plugin):
    // the site runs; `check` prints them, `run` logs them.
    config::Diagnostics warnings;
    // [[alarms]] (enabled ones) and [alarm_settings], checked.
    std::vector<alarm::AlarmRule> alarm_rules;
    alarm::AlarmSettings alarm_settings;
    std::vector<notify::NotificationConfig> notifications;  // [[notifications]] (enabled ones)
    model::SiteModel model;                                 // [model], checked
    std::vector<exporter::ExportConfig> exports;            // [[exports]], checked
    std::vector<exporter::TargetConfig> export_targets;     // [[export_targets]], checked
    std::optional<exporter::LegrandConfig> legrand;          // [legrand_history], checked
    std::optional<http::HttpConfig> http;                    // [http] (enabled), checked
};

// What a device problem found by a plugin's validate() does: `check`
// refuses the site; `run` leaves that device out and runs the others.
enum class DeviceProblems { refuse_site, leave_device_out };

// `compile_rules` false: the rules are not loaded offline (a SIGHUP reload:
// the engine itself loads them and keeps the running version of one that fails).
// `secrets`: the notifications' secrets (notify::parse_notifications); skip
// for a command that only queues changes (`alarms ack` on a stopped site).
SitePlan prepare_site(SiteConfig site, config::Diagnostics& diags,
                      DeviceProblems device_problems = DeviceProblems::refuse_site, bool compile_rules = true,
                      notify::Secrets secrets = notify::Secrets::read);

// Loads and checks the site file at `path` (both steps above). The one
// validation path of `gridlet check` and `gridlet run`.
SitePlan load_site(const std::string& path, config::Diagnostics& diags,
                   DeviceProblems device_problems = DeviceProblems::refuse_site, bool compile_rules = true,
                   notify::Secrets secrets = notify::Secrets::read);

// The section schemas every site is checked with ([store], [[rules]]).
SectionSchemas section_schemas();

}  // namespace gridlet::kernel

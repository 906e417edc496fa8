// PluginLibrary: one dlopen'ed plugin file and its checked descriptor.
//
// open() loads the file with RTLD_NOW | RTLD_LOCAL, finds the entry point,
// calls it with the host's table and checks the descriptor (ABI major,
// struct size, required fields) before anything else of the plugin runs.
// Every refusal names the file, what was found and what was wanted.
// The library stays loaded while a PluginLibrary (shared by the plugin's
// instances) lives. Thread-safe after open().
#pragma once

#include <gridlet/plugin.h>

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config_schema.h"
#include "core/status.h"

namespace gridlet::plugin {

// One problem a plugin's validate() reported: about `device` ("" = the
// plugin's own config).
struct ConfigProblem {
    std::string device;
    std::string message;
};

// What a plugin's validate() sees and reports (the context behind its
// gl_host_ctx). Kernel thread.
struct ConfigCheck {
    std::string name;           // the instance name, for instance_name()
    std::string config_text;    // [plugins.config] as JSON
    std::string devices_text;   // its devices as a JSON array
    nlohmann::json config;
    std::vector<ConfigProblem> problems;
    std::vector<ConfigProblem> warnings;  // what it logged at warn level: the site runs, but look
    bool has_store = true;                 // feed_open answers GL_ERR_UNSUPPORTED without one
};

// The smallest descriptor the host accepts: ABI 1.0's, up to on_timer.
inline constexpr size_t kMinDescriptorSize = offsetof(gl_plugin_descriptor, on_timer) + sizeof(void*);

class PluginLibrary {
public:
    ~PluginLibrary();
    PluginLibrary(const PluginLibrary&) = delete;
    PluginLibrary& operator=(const PluginLibrary&) = delete;

    static Expected<std::shared_ptr<PluginLibrary>> open(const std::string& path, const gl_host_api* host);
    // A plugin linked into this process (kernel components, tests): the same
    // checks as open(), on an entry point instead of a file. `label` stands
    // for the path in messages ("builtin:store").
    static Expected<std::shared_ptr<PluginLibrary>> from_entry(const std::string& label, gl_plugin_entry_fn entry,
                                                               const gl_host_api* host);

    const std::string& path() const noexcept { return path_; }
    const gl_plugin_descriptor& descriptor() const noexcept { return *desc_; }

    // The descriptor's schemas as KeySpecs (checked when opened).
    const std::vector<config::KeySpec>& config_keys() const noexcept { return config_keys_; }
    const std::vector<config::KeySpec>& device_keys() const noexcept { return device_keys_; }

    static const char* kind_name(gl_plugin_kind kind) noexcept;

    // Runs the plugin's validate() (ABI 1.1; none: no problems) on this
    // config and these devices. An error status or an exception of the
    // plugin is reported as a problem of its own config. What it logs at
    // warn level goes to `warnings` when given.
    std::vector<ConfigProblem> validate(const std::string& instance, const nlohmann::json& config,
                                        const nlohmann::json& devices,
                                        std::vector<ConfigProblem>* warnings = nullptr, bool has_store = true) const;

private:
    PluginLibrary() = default;
    static Status check_entry(PluginLibrary& lib, gl_plugin_entry_fn entry, const gl_host_api* host);
    std::string path_;
    void* handle_ = nullptr;
    const gl_plugin_descriptor* desc_ = nullptr;
    std::vector<config::KeySpec> config_keys_;
    std::vector<config::KeySpec> device_keys_;
};

// Finds a plugin file: a name with a '/' is taken as a path; otherwise
// <dir>/<name>, <dir>/<name>.so and <dir>/gridlet_<name>.so are tried in
// each of `dirs`. The error lists where it looked.
Expected<std::string> find_plugin_file(const std::string& name, const std::vector<std::string>& dirs);

// Folders searched after the site's plugin_path: $GRIDLET_PLUGIN_PATH
// (colon-separated), the build tree's plugins, the installed plugins.
std::vector<std::string> default_plugin_dirs();

}  // namespace gridlet::plugin

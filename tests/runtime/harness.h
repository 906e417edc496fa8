// In-process kernel harness for runtime tests: fake plugins are C++ classes
// on the real SDK wrapper (gridlet/plugin.hpp), loaded through the same
// checks as .so files (PluginLibrary::from_entry), run by the real Kernel.
#pragma once

#include <gridlet/plugin.hpp>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "kernel/kernel.h"
#include "plugin/plugin_instance.h"

namespace gridlet::testing {

template <class T>
kernel::PlannedPlugin planned(const std::string& name, nlohmann::json config = nlohmann::json::object(),
                              nlohmann::json devices = nlohmann::json::array()) {
    auto lib = plugin::PluginLibrary::from_entry("builtin:" + name, &gridlet::detail::Adapter<T>::entry,
                                                 plugin::host_api_table());
    if (!lib) throw std::runtime_error(lib.status().message());
    config::fill_defaults(config, (*lib)->config_keys());
    return {name, *lib, std::move(config), std::move(devices), {}};
}

inline kernel::SitePlan site_with(std::vector<kernel::PlannedPlugin> plugins, int queue_depth = 10000,
                                  int send_timeout_ms = 200) {
    kernel::SitePlan plan;
    plan.site.site_name = "test";
    plan.site.path = "test.toml";
    plan.site.stop_timeout_ms = 2000;
    plan.site.bus_queue_depth = queue_depth;
    plan.site.bus_send_timeout_ms = send_timeout_ms;
    plan.plugins = std::move(plugins);
    return plan;
}

// Waits until pred() is true (polled), at most `timeout`.
inline bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return pred();
}

}  // namespace gridlet::testing

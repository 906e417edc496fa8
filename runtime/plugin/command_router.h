// CommandRouter: which plugin instance handles the commands of each device.
// A plugin claims a device by subscribing to "cmd/<device>/". One handler
// per device; a failed plugin's claims are released. Thread-safe.
#pragma once

#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "core/status.h"

namespace gridlet::plugin {

class CommandRouter {
public:
    // invalid_argument if another instance already handles `device`.
    Status claim(const std::string& device, const std::string& instance) {
        std::unique_lock lock(mu_);
        auto [it, added] = owners_.emplace(device, instance);
        if (!added && it->second != instance)
            return Status::invalid("commands of device '" + device + "' are already handled by plugin '" + it->second + "'");
        return Status::ok();
    }
    std::optional<std::string> owner(const std::string& device) const {
        std::shared_lock lock(mu_);
        auto it = owners_.find(device);
        if (it == owners_.end()) return std::nullopt;
        return it->second;
    }
    void release_all(const std::string& instance) {
        std::unique_lock lock(mu_);
        for (auto it = owners_.begin(); it != owners_.end();)
            it = it->second == instance ? owners_.erase(it) : std::next(it);
    }

private:
    mutable std::shared_mutex mu_;
    std::unordered_map<std::string, std::string> owners_;
};

}  // namespace gridlet::plugin

#include "kernel/service_manager.h"

#include <systemd/sd-daemon.h>

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <cstring>

namespace gridlet::kernel {

ServiceManager::ServiceManager() {
    const char* sock = std::getenv("NOTIFY_SOCKET");
    notifying_ = sock != nullptr && *sock != '\0';
    uint64_t usec = 0;
    // > 0: the watchdog is on for this process (WATCHDOG_PID is ours or unset).
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) watchdog_ms_ = static_cast<int64_t>(usec / 1000);
    if (watchdog_ms_ > 0 && watchdog_ms_ < 2) watchdog_ms_ = 2;
}

int ServiceManager::poll_timeout_ms() const noexcept {
    return watchdog_ms_ > 0 ? static_cast<int>(watchdog_ms_ / 2) : -1;
}

void ServiceManager::send(const std::string& state) {
    if (!notifying_) return;
    int r = sd_notify(0, state.c_str());
    if (r < 0) spdlog::warn("sd_notify({}): {}", state.substr(0, state.find('\n')), std::strerror(-r));
}

void ServiceManager::ready(const std::string& status) {
    last_status_ = status;
    send("READY=1\nSTATUS=" + status);
}

void ServiceManager::reloading() { send("RELOADING=1\nSTATUS=reloading the site file"); }

void ServiceManager::stopping() { send("STOPPING=1\nSTATUS=stopping"); }

void ServiceManager::status(const std::string& line) {
    if (line == last_status_) return;
    last_status_ = line;
    send("STATUS=" + line);
}

void ServiceManager::feed_watchdog(int64_t now_ms) {
    if (watchdog_ms_ <= 0) return;
    if (last_fed_ms_ >= 0 && now_ms - last_fed_ms_ < watchdog_ms_ / 2) return;
    last_fed_ms_ = now_ms;
    send("WATCHDOG=1");
}

}  // namespace gridlet::kernel

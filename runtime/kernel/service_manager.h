// The service manager's side of `gridlet run` under systemd (Type=notify):
// readiness, reload and stop notifications, a one-line status, and the
// watchdog (sd_notify(3), sd_watchdog_enabled(3); systemd.service(5)
// "Type=notify", "WatchdogSec="). Outside systemd (no $NOTIFY_SOCKET) every
// call is a no-op and watchdog_interval_ms() is 0.
//
// Owned by the Kernel; main thread only (the one that runs
// run_until_signal()): the watchdog is fed by the kernel's main loop, so a
// kernel whose main loop hangs is no longer fed and systemd restarts it.
#pragma once

#include <cstdint>
#include <string>

namespace gridlet::kernel {

class ServiceManager {
public:
    // Reads $NOTIFY_SOCKET and $WATCHDOG_USEC/$WATCHDOG_PID once.
    ServiceManager();

    bool notifying() const noexcept { return notifying_; }
    // The watchdog's period in ms (WatchdogSec=), 0 when none is asked.
    int64_t watchdog_interval_ms() const noexcept { return watchdog_ms_; }
    // How long the main loop may wait between two checks: half the period
    // (systemd's advice), or -1 (forever) without a watchdog.
    int poll_timeout_ms() const noexcept;

    // READY=1 with STATUS=<status>: the site is started.
    void ready(const std::string& status);
    // RELOADING=1 (SIGHUP received); then ready() again once applied.
    void reloading();
    // STOPPING=1.
    void stopping();
    // STATUS=<line> (shown by `systemctl status`); sent only when it changed.
    void status(const std::string& line);
    // WATCHDOG=1 if at least poll_timeout_ms() passed since the last one.
    // `now_ms`: a monotonic clock.
    void feed_watchdog(int64_t now_ms);

private:
    void send(const std::string& state);
    bool notifying_ = false;
    int64_t watchdog_ms_ = 0;
    int64_t last_fed_ms_ = -1;
    std::string last_status_;
};

}  // namespace gridlet::kernel

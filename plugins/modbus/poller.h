// The Modbus poller: one worker thread per connection (a TCP endpoint or a
// serial line). Devices sharing a connection (a gateway, an RS-485 bus, the
// two panels of a BCPM) are polled in turn with the link's gap between
// requests; devices on different connections never wait for each other.
//
// Each device is polled on a fixed grid (start + k * poll_ms, no drift);
// a poll that overruns skips the missed slots (counted as overruns).
//
// Thread-safety: start/stop from one thread; command() and stats() from any.
#pragma once

#include "device_config.h"
#include "profile.h"
#include "register_plan.h"
#include "sink.h"

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace gridlet::modbus {

struct DeviceStats {
    uint64_t polls = 0, good_polls = 0, failed_polls = 0, overruns = 0;
    uint64_t requests = 0, timeouts = 0, exceptions = 0, malformed = 0;
    uint64_t connects = 0, connect_failures = 0, disconnects = 0;
    uint64_t writes = 0, write_errors = 0;
    uint64_t wrong_unit = 0;      // replies from another unit id, refused
    uint64_t reopened = 0;        // connections the device closed, reopened within the poll
    uint64_t stale_replies = 0;   // late replies to this device's requests, discarded
    uint64_t failing_points = 0;  // points whose block answers with an exception or malformed reply
    bool online = false;
    int64_t backoff_ms = 0;  // current reconnect delay of the device's link
};

// Reply to a command: GL_OK with "" or an error status with a text.
using CommandDone = std::function<void(gl_status, const std::string&)>;

class LinkWorker;

class Poller {
public:
    struct Device {
        DeviceConfig config;
        std::shared_ptr<const Profile> profile;
    };

    Poller(std::vector<Device> devices, Sink& sink, bool publish_comm_stats = true);
    ~Poller();
    Poller(const Poller&) = delete;
    Poller& operator=(const Poller&) = delete;

    // Registers every series, then starts the workers.
    void start();
    void stop();

    // Writes to `point` of `device` (a writable point or a command). `done`
    // runs exactly once, on a worker thread (or here, for an unknown device).
    void command(const std::string& device, const std::string& point, double value, const std::string& text,
                 CommandDone done);

    DeviceStats stats(const std::string& device) const;
    size_t worker_count() const { return workers_.size(); }
    // Read requests per poll of a device (after merging).
    const RegisterPlan* plan(const std::string& device) const;

private:
    Sink& sink_;
    bool comm_stats_;
    std::vector<std::unique_ptr<LinkWorker>> workers_;
    std::map<std::string, LinkWorker*> by_device_;
};

}  // namespace gridlet::modbus

// Where the poller's output goes: the plugin passes the host; tests and the
// benchmark pass their own. Every method may be called from worker threads
// concurrently.
#pragma once

#include <gridlet/plugin.h>

#include <cstdint>
#include <string>

namespace gridlet::modbus {

struct SeriesDef {
    std::string name, unit, description, tags, states;
    gl_series_kind kind = GL_SERIES_GAUGE;
};

class Sink {
public:
    virtual ~Sink() = default;
    // Returns the series id; throws on failure.
    virtual uint32_t register_series(const SeriesDef& def) = 0;
    virtual void publish(const gl_sample* samples, size_t n) = 0;
    virtual void event(const std::string& device, const std::string& type, gl_severity severity,
                       const std::string& body_json) = 0;
    virtual void log(gl_log_level level, const std::string& msg) = 0;
    virtual int64_t now_ms() = 0;  // UTC ms
    // After every poll: start on the monotonic clock (us) and whether it was good.
    virtual void poll_done(const std::string& /*device*/, int64_t /*start_us*/, bool /*good*/) {}
};

}  // namespace gridlet::modbus

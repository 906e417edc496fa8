// One Modbus connection (a TCP socket or a serial line) on libmodbus, with
// errors classified the way the poller counts them.
//
// Thread-safety: none; a Link belongs to one worker thread.
#pragma once

#include "device_config.h"

#include <cstdint>
#include <string>
#include <vector>

typedef struct _modbus modbus_t;

namespace gridlet::modbus {

enum class Outcome : uint8_t { Ok, Timeout, Exception, Malformed, Disconnected };

struct Result {
    Outcome outcome = Outcome::Ok;
    int exception = 0;   // Modbus exception code when outcome == Exception
    std::string error;   // text for logs and command replies
};

// "02 (illegal data address)" and so on.
std::string exception_text(int code);

class Link {
public:
    explicit Link(LinkConfig cfg);
    ~Link();
    Link(const Link&) = delete;
    Link& operator=(const Link&) = delete;

    const LinkConfig& config() const { return cfg_; }
    bool connected() const { return connected_; }
    // "" on success, else why not.
    std::string connect(int timeout_ms);
    void close();

    // fc 1..4 into regs (fc 3/4) or bits (fc 1/2, one 0/1 per uint16).
    Result read(int unit, int fc, uint16_t address, uint16_t count, uint16_t* out, int timeout_ms);
    // fc 5, 6, 15 or 16.
    Result write(int unit, int fc, uint16_t address, const std::vector<uint16_t>& words, int timeout_ms);

private:
    Result classify(int err, const char* what);
    void set_timeout(int ms);

    LinkConfig cfg_;
    modbus_t* ctx_ = nullptr;
    bool connected_ = false;
    int timeout_ms_ = -1;
    int unit_ = -1;
};

}  // namespace gridlet::modbus

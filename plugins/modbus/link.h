// One Modbus connection (a TCP socket or a serial line), with errors
// classified the way the poller counts them.
//
// Modbus TCP is framed here (tcp_link.cpp), not by libmodbus: every reply is
// matched to its request by transaction id, so a late reply is discarded and
// never taken for the next request's; the MBAP header (protocol id 0, length
// 2..254), the unit id and the PDU (function code, byte count, write echo)
// are checked; a reply may arrive in any number of TCP segments within the
// response timeout. A stream that cannot be resynchronised (bad MBAP header,
// a reply cut off by the timeout) is closed, so the next request starts on a
// fresh connection. Source: Modbus Messaging on TCP/IP Implementation Guide
// V1.0b, 3.1.3 (MBAP header) and 4.3 (transaction id).
//
// Modbus RTU goes through libmodbus (rtu_link.cpp): CRC, slave address and
// function code are checked there; input is flushed before a request that
// follows a failed one, so a late reply is not read as the next one's.
//
// Thread-safety: none; a Link belongs to one worker thread. Waits end early
// when `cancel_fd` (an eventfd owned by the caller) becomes readable.
#pragma once

#include "device_config.h"

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gridlet::modbus {

enum class Outcome : uint8_t {
    Ok,
    Timeout,       // no complete reply within the response timeout
    Exception,     // a Modbus exception reply (Result::exception)
    Malformed,     // a reply that does not fit the request (function, byte count, echo, framing)
    WrongUnit,     // a reply from another unit id than the one asked
    Disconnected,  // the connection is closed (by the peer, an error, or stopping)
};

// The comm/* series that counts an outcome ("timeouts", ...); "" for Ok and
// Disconnected (connections are counted apart: comm/reconnects).
inline const char* comm_series_of(Outcome o) noexcept {
    switch (o) {
        case Outcome::Timeout: return "timeouts";
        case Outcome::Exception: return "exceptions";
        case Outcome::Malformed: return "malformed";
        case Outcome::WrongUnit: return "wrong_unit";
        case Outcome::Ok:
        case Outcome::Disconnected: return "";
    }
    return "";
}

struct Result {
    Outcome outcome = Outcome::Ok;
    int exception = 0;   // Modbus exception code when outcome == Exception
    std::string error;   // text for logs and command replies
};

// "02 (illegal data address)" and so on.
std::string exception_text(int code);

// Counters a link keeps across connections (read by its worker thread only).
struct LinkCounters {
    uint64_t stale_replies = 0;    // replies to earlier requests, discarded (TCP: other transaction id)
    // The same per unit id (TCP: the late reply's unit; RTU: the unit whose
    // request failed before the discarded bytes came), so that each device
    // on a shared connection counts its own.
    std::array<uint64_t, 256> stale_by_unit{};
    void count_stale(int unit) {
        ++stale_replies;
        if (unit >= 0) ++stale_by_unit[static_cast<size_t>(unit) & 0xFF];
    }
    uint64_t framing_errors = 0;   // streams closed because they could not be resynchronised
    uint64_t peer_closes = 0;      // connections closed by the device
};

class Link {
public:
    virtual ~Link() = default;

    // A TCP or RTU link for `cfg`. `cancel_fd` stays owned by the caller.
    static std::unique_ptr<Link> make(const LinkConfig& cfg, int cancel_fd);

    const LinkConfig& config() const { return cfg_; }
    const LinkCounters& counters() const { return counters_; }
    virtual bool connected() const = 0;
    // "" on success, else why not.
    virtual std::string connect(int timeout_ms) = 0;
    virtual void close() = 0;

    // fc 1..4 into regs (fc 3/4) or bits (fc 1/2, one 0/1 per uint16).
    virtual Result read(int unit, int fc, uint16_t address, uint16_t count, uint16_t* out, int timeout_ms) = 0;
    // fc 5, 6, 15 or 16.
    virtual Result write(int unit, int fc, uint16_t address, const std::vector<uint16_t>& words, int timeout_ms) = 0;

protected:
    explicit Link(LinkConfig cfg) : cfg_(std::move(cfg)) {}
    LinkConfig cfg_;
    LinkCounters counters_;
};

std::unique_ptr<Link> make_tcp_link(const LinkConfig& cfg, int cancel_fd);
std::unique_ptr<Link> make_rtu_link(const LinkConfig& cfg, int cancel_fd);

// The endpoints a TCP link's host:port resolves to ("127.0.0.1:502",
// "[::1]:502"); devices whose endpoints overlap share one connection. An
// RTU link, or a host that does not resolve now, gives its key().
std::vector<std::string> resolve_endpoints(const LinkConfig& cfg);

}  // namespace gridlet::modbus

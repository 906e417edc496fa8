// Fault injection for the simulator transports. Every field may be changed
// at run time from any thread (tests, the sim plugin); the server reads it on
// each request.
#pragma once

#include <atomic>
#include <cstdint>

namespace gridlet::sim {

struct Faults {
    // Delay every reply by this many ms (the server keeps serving others).
    std::atomic<int> latency_ms{0};
    // Answer the next N requests with `exception_code` instead of data.
    std::atomic<int> exception_burst{0};
    std::atomic<int> exception_code{0x06};  // server device busy
    // Answer the next N requests with a malformed reply (wrong function code
    // and byte count).
    std::atomic<int> malformed_burst{0};
    // Read requests but never answer (a hung device).
    std::atomic<bool> silent{false};
    // Close every open client connection once (set true; the server resets it).
    std::atomic<bool> drop_connections{false};
    // Close a connection after it has served this many requests (0 = never).
    std::atomic<int> drop_after_requests{0};
    // Accept at most this many simultaneous connections; a further client is
    // accepted and closed at once, as single-connection devices do.
    std::atomic<int> max_connections{64};
};

}  // namespace gridlet::sim

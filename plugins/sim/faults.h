// Fault injection for the simulator transports. Every field may be changed
// at run time from any thread (tests, the sim plugin); the server reads it on
// each request.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace gridlet::sim {

// One request as the server saw it, for a fault script.
struct FaultRequest {
    uint64_t seq = 0;        // requests served by the server so far (0 = first)
    int served = 0;          // requests served on this connection before this one (TCP)
    uint8_t unit = 0, fc = 0;
    uint16_t address = 0, count = 0;  // PDU address and quantity (0 when the PDU has none)
};

// What to do with that request instead of (or besides) answering it.
struct FaultAction {
    bool no_reply = false;       // read it, never answer
    bool close_instead = false;  // close the connection without answering (TCP)
    bool close_after = false;    // answer, then close the connection (TCP)
    int delay_ms = 0;            // answer after this delay (the server keeps serving others)
    int reply_unit = -1;         // answer as this unit id
    int exception = 0;           // answer with this exception code
    bool bad_byte_count = false; // a read reply whose byte count says one byte more than it has
    int split_at = 0;            // send the first split_at bytes, the rest split_delay_ms later
    int split_delay_ms = 0;
    int protocol_id = 0;         // MBAP protocol id of the reply (TCP; Modbus is 0)
    int length_delta = 0;        // added to the MBAP length field of the reply (TCP)
    std::vector<uint8_t> raw;    // send exactly these bytes instead of the reply
};

using FaultScript = std::function<FaultAction(const FaultRequest&)>;

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
    // Close a connection that has been idle this long (0 = never), as many
    // devices and gateways do (TCP).
    std::atomic<int> idle_close_ms{0};

    // A per-request script (tests); nullptr = none. Any thread.
    void set_script(FaultScript f) {
        std::lock_guard lk(script_mu_);
        script_ = f ? std::make_shared<FaultScript>(std::move(f)) : nullptr;
    }
    // What the script says for `rq` (a default action when there is none).
    FaultAction decide(const FaultRequest& rq) {
        std::shared_ptr<FaultScript> f;
        {
            std::lock_guard lk(script_mu_);
            f = script_;
        }
        return f ? (*f)(rq) : FaultAction{};
    }

private:
    std::mutex script_mu_;
    std::shared_ptr<FaultScript> script_;
};

}  // namespace gridlet::sim

// Per-endpoint bus counters (one set per plugin and per kernel component).
// Written by the owning endpoint's thread(s) with relaxed atomics; read from
// any thread (metrics snapshot, CLI).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace gridlet::bus {

struct EndpointMetrics {
    std::atomic<uint64_t> messages_out{0};
    std::atomic<uint64_t> bytes_out{0};
    std::atomic<uint64_t> samples_out{0};
    std::atomic<uint64_t> drops_out{0};          // messages dropped: a queue stayed full
    std::atomic<uint64_t> samples_dropped{0};    // samples in those messages
    std::atomic<uint64_t> messages_in{0};
    std::atomic<uint64_t> bytes_in{0};
    std::atomic<uint64_t> samples_in{0};         // delivered after filtering
    std::atomic<uint64_t> malformed_in{0};       // frames refused by the codec
    std::atomic<uint64_t> commands_sent{0};
    std::atomic<uint64_t> commands_handled{0};
    std::atomic<uint64_t> command_timeouts{0};
    std::atomic<uint64_t> late_replies{0};       // replies after the timeout: dropped
    std::atomic<uint64_t> events_out{0};
    std::atomic<uint64_t> callback_errors{0};

    static void add(std::atomic<uint64_t>& c, uint64_t n = 1) noexcept { c.fetch_add(n, std::memory_order_relaxed); }
    nlohmann::json to_json() const;
};

}  // namespace gridlet::bus

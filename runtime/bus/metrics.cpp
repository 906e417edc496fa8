#include "bus/metrics.h"

namespace gridlet::bus {

nlohmann::json EndpointMetrics::to_json() const {
    auto v = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    return {
        {"messages_out", v(messages_out)},   {"bytes_out", v(bytes_out)},
        {"samples_out", v(samples_out)},     {"drops_out", v(drops_out)},
        {"samples_dropped", v(samples_dropped)}, {"messages_in", v(messages_in)},
        {"bytes_in", v(bytes_in)},           {"samples_in", v(samples_in)},
        {"malformed_in", v(malformed_in)},   {"commands_sent", v(commands_sent)},
        {"commands_handled", v(commands_handled)}, {"command_timeouts", v(command_timeouts)},
        {"late_replies", v(late_replies)},   {"events_out", v(events_out)},
        {"callback_errors", v(callback_errors)},
    };
}

}  // namespace gridlet::bus

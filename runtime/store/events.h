// EventLog: events {ts, source, type, severity, JSON body} in the "events"
// family, keyed ts | seq (big-endian), so a time range is one sequential
// scan. Retention: StoreOptions::retention.events_ms.
//
// Thread-safe. append() returns once the events are in the WAL.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/db.h"

namespace gridlet::store {

enum class Severity : uint8_t { debug = 0, info = 1, notice = 2, warning = 3, error = 4, critical = 5 };
const char* severity_name(Severity s) noexcept;
Expected<Severity> parse_severity(std::string_view name);

struct Event {
    int64_t ts = 0;          // UTC ms
    std::string source;      // e.g. "rule/peak_shaving", "plugin/modbus1"
    std::string type;        // e.g. "alarm.raised"
    Severity severity = Severity::info;
    std::string body = "{}";  // a JSON document
    uint64_t seq = 0;         // set by append(): orders events of equal ts
    bool operator==(const Event&) const = default;
};

struct EventFilter {
    int64_t from = std::numeric_limits<int64_t>::min();  // inclusive
    int64_t to = std::numeric_limits<int64_t>::max();    // exclusive
    std::string source_pattern;                           // core/pattern.h; "" = any
    std::string type;                                     // exact; "" = any
    std::string exclude_type;                             // exact; "" = none left out
    Severity min_severity = Severity::debug;
    size_t limit = 0;                                     // 0: no limit
};

class EventLog {
public:
    explicit EventLog(StoreDb& db);
    // Validates (non-empty source and type, body is JSON), assigns seq.
    Status append(std::vector<Event>& events);
    Status append(Event& event);
    // Time order.
    Expected<std::vector<Event>> query(const EventFilter& filter) const;

private:
    StoreDb& db_;
    std::atomic<uint64_t> seq_;
};

std::string encode_event(const Event& e);
Expected<Event> decode_event(std::string_view key, std::string_view value);

}  // namespace gridlet::store

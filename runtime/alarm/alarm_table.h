// AlarmTable: the alarms of a site, one record per occurrence, kept durable
// through an AlarmPersistence (the kernel's: the store's "state" family; the
// offline harness and tests: memory). Every raise, acknowledgement, return
// and end goes through it, whoever the source ([[alarms]] rules, Lua rules,
// the kernel's own faults), and is queued as a Transition that the caller
// publishes on the bus (take_transitions()): the event log and the
// notifiers see each one once.
//
// In memory it keeps the open alarms: active ones and finished ones not yet
// acknowledged (what a person must still look at). Finished and
// acknowledged alarms live only in the persistence (history); list() reads
// them from there.
//
// Flood control: a source that raises more than flood_per_minute alarms
// within a minute gets no more alarms until a minute passes under the
// limit; what was held back is counted, and the flood itself is a system
// alarm ("alarm_flood", key "system/alarm_flood|<source>") that ends once
// the source is quiet again (tick()).
//
// Threads: every method may be called from any thread (one mutex). Calls
// that change a record return once the persistence has it (in the WAL).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "alarm/alarm.h"
#include "core/status.h"

namespace gridlet::alarm {

// Where records are kept: one JSON text per alarm id.
class AlarmPersistence {
public:
    virtual ~AlarmPersistence() = default;
    virtual Expected<std::vector<std::string>> load_all() = 0;
    // Durable (in the WAL) before it returns.
    virtual Status put(uint64_t id, const std::string& json) = 0;
    virtual Status erase(uint64_t id) = 0;
};

// Records in memory only (tests, the offline harness).
class MemoryPersistence final : public AlarmPersistence {
public:
    Expected<std::vector<std::string>> load_all() override;
    Status put(uint64_t id, const std::string& json) override;
    Status erase(uint64_t id) override;

private:
    std::map<uint64_t, std::string> records_;
};

// The changes of an alarm: raised; acknowledged; returned (a latching
// alarm's condition ended, it waits for its acknowledgement); reactivated
// (that condition came back before the acknowledgement: the same alarm is
// active again); finished.
enum class Transition : uint8_t { raised, acknowledged, returned, reactivated, finished };
const char* transition_name(Transition t) noexcept;  // "raised", ...
std::optional<Transition> parse_transition(std::string_view name) noexcept;
// When `t` happened to `a` (UTC ms): start, acknowledgement, return,
// detail.reactivated_ms, end.
int64_t transition_ms(Transition t, const Alarm& a) noexcept;
// The event type of a transition on the bus and in the event log:
// "alarm_raised", "alarm_acknowledged", "alarm_returned", "alarm_reactivated",
// "alarm_finished".
std::string transition_event_type(Transition t);

struct AlarmChange {
    Transition transition = Transition::raised;
    Alarm alarm;  // the record after the change
};

// What a source knows when it raises an alarm; the table adds id and times.
struct RaiseRequest {
    std::string key, name, source, series, category, origin, condition, message;
    AlarmType type = AlarmType::alarm;
    Criticality criticality = Criticality::non_critical;
    bool latching = false;
    double value = std::numeric_limits<double>::quiet_NaN();
    int64_t ts_ms = 0;  // UTC: the start
    // Which way is worse for the extreme value: +1 higher, -1 lower, 0 none.
    int worse = 0;
    nlohmann::json detail = nlohmann::json::object();
};

// A system alarm of the gateway itself (type system, origin "kernel",
// condition = name, not latching): the fields every such raise shares; the
// caller adds the key, message, value and detail.
RaiseRequest system_raise(const std::string& name, const std::string& source, const std::string& category,
                          Criticality criticality, int64_t ts_ms);

struct TableOptions {
    uint32_t flood_per_minute = 60;  // raises per source and minute; 0: no limit
    int64_t history_days = 400;      // finished+acknowledged records older than this are deleted at load
};

struct TableCounters {
    uint64_t raised = 0, finished = 0, acknowledged = 0;
    uint64_t held_back_by_flood = 0;  // raises refused by flood control
    uint64_t persist_failures = 0;    // records the persistence refused (kept in memory, retried)
};

class AlarmTable {
public:
    AlarmTable(AlarmPersistence& persistence, TableOptions options = {});

    // Reads every record: the open ones into memory, the next id, and
    // deletes history older than history_days (before now_ms). Call once,
    // before anything else.
    Status load(int64_t now_ms);

    // Raises the alarm of `r.key`, or, when one is active for that key,
    // keeps it and updates its extreme value (a latching alarm whose
    // condition had returned is active again: transition reactivated,
    // detail.reactivated_ms and detail.reactivations). Returns the record. Errors:
    // flood control (unavailable), a request without key, name or source
    // (invalid), the persistence failing (the alarm is kept in memory).
    Expected<Alarm> raise(const RaiseRequest& r);
    // The condition of `key` returned at ts_ms: a non-latching alarm
    // finishes, a latching one finishes if acknowledged, else waits for its
    // acknowledgement (returned). `reason` goes to detail.end_reason.
    // Returns the record, or nullopt when no alarm of that key is active.
    Expected<std::optional<Alarm>> clear(std::string_view key, int64_t ts_ms, double value,
                                         const std::string& reason = {});
    // A new value of the measurement of an active alarm: its extreme is
    // kept (persisted by flush(), at most once a second).
    void observe(std::string_view key, double value);
    // The condition of the active alarm of `key` returned at since_ms and
    // waits for its off-delay (0: it came back, no longer waiting). Stored
    // at once (detail.off_delay_since_ms), so that after a restart the
    // evaluator ends it on time even when no sample comes.
    void mark_ending(std::string_view key, int64_t since_ms);
    // Acknowledges alarm `id` (active or finished). A latching alarm whose
    // condition returned finishes now. Errors: unknown id (not_found),
    // already acknowledged (already_exists, naming who and when).
    Expected<Alarm> acknowledge(uint64_t id, const std::string& by, const std::string& comment, int64_t now_ms);

    // Writes changed extreme values; ends floods that are over. Call about
    // once a second.
    void tick(int64_t now_ms);
    // When tick() would end a flood (UTC ms), or nullopt (simulated clocks).
    std::optional<int64_t> next_due_ms() const;

    std::optional<Alarm> active(std::string_view key) const;
    std::vector<std::string> active_keys() const;
    // Newest start first; reads the history from the persistence only when
    // the filter can match finished and acknowledged alarms.
    Expected<std::vector<Alarm>> list(const AlarmFilter& filter) const;
    size_t open_count() const;
    size_t active_count() const;

    // The changes since the last call, in order: publish each on the bus.
    std::vector<AlarmChange> take_transitions();
    TableCounters counters() const;

private:
    struct Flood {
        std::deque<int64_t> raises;  // start times in the last minute
        uint64_t held_back = 0;
        int64_t last_held_ms = 0;
    };
    Status persist(const Alarm& a);                        // under mu_
    void change(Transition t, const Alarm& a);             // under mu_
    bool flood_allows(const std::string& source, int64_t ts_ms);  // under mu_
    void finish(Alarm& a, int64_t ts_ms, const std::string& reason);  // under mu_

    AlarmPersistence& persistence_;
    const TableOptions options_;
    mutable std::mutex mu_;
    uint64_t next_id_ = 1;
    std::map<uint64_t, Alarm> open_;                          // active, or finished and not acknowledged
    std::unordered_map<std::string, uint64_t> active_by_key_;
    std::map<uint64_t, bool> dirty_;                          // extreme changed, not yet persisted
    std::map<std::string, Flood, std::less<>> floods_;
    std::vector<AlarmChange> changes_;
    TableCounters counters_;
};

}  // namespace gridlet::alarm

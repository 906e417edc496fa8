// EngineCore: the engine's shared services, as the Lua API functions of every
// rule see them (the host, the series cache, request ids, timer queues).
// Internal to runtime/script. Engine thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "script/budgets.h"
#include "script/rule_host.h"
#include "script/series_cache.h"

namespace gridlet::script {

struct EngineOptions {
    // Folders require() searches after the rule's own folder (scripts/lib).
    std::vector<std::string> lib_dirs;
    // Budgets of a rule whose config does not set them.
    Budgets default_budgets;
    // Samples handed to one subscription per call (batch size cap).
    size_t max_batch = 4096;
    // A rule's errors are logged at most once per this interval (the rest are
    // counted and reported with the next one).
    int64_t error_log_interval_ms = 10'000;
};

// One due time in a timer queue; stale entries are skipped when popped.
struct TimerEntry {
    int64_t due = 0;
    uint64_t rule_uid = 0;
    int timer_id = 0;
    bool operator>(const TimerEntry& o) const { return due > o.due; }
};
using TimerQueue = std::priority_queue<TimerEntry, std::vector<TimerEntry>, std::greater<TimerEntry>>;

class EngineCore {
public:
    EngineCore(RuleHost& host, EngineOptions options) : host(host), options(std::move(options)) {}

    RuleHost& host;
    EngineOptions options;
    SeriesCache cache;

    // Name/id lookups through the host, cached (unknown names are not).
    std::optional<SeriesRef> find_series(std::string_view name);
    std::optional<SeriesRef> series_info(uint32_t id);

    uint64_t next_request_id() { return ++last_request_id_; }
    // Which rule (uid) waits for the reply of a request id.
    std::unordered_map<uint64_t, uint64_t> command_owner;

    // every() timers are due on the monotonic clock, at() timers on UTC.
    TimerQueue periodic_timers;
    TimerQueue calendar_timers;

    // Replies the engine gives itself (a command the host refused to send),
    // delivered at the end of the current entry point.
    std::vector<CommandReply> local_replies;

    // Routing: a full rebuild when a rule loads, stops or goes (routes_dirty);
    // a subscription a live rule adds or cancels changes only its own routes
    // (pending until the next delivery), so subscribing costs the rule that
    // does it, not every rule.
    bool routes_dirty = true;
    std::vector<std::pair<uint64_t, int>> subscriptions_added;    // rule uid, subscription id
    std::vector<std::pair<uint64_t, int>> subscriptions_removed;  // rule uid, subscription id
    // Timer queue entries left behind by cancelled timers and closed rules
    // (the engine compacts the queues when they outnumber the live ones).
    size_t stale_timer_entries = 0;

private:
    uint64_t last_request_id_ = 0;
    std::unordered_map<std::string, SeriesRef> by_name_;
    std::unordered_map<uint32_t, SeriesRef> by_id_;
};

}  // namespace gridlet::script

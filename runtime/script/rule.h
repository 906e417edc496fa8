// Rule: one rule file running in its own sandboxed lua_State.
//
// Lifecycle: Rule::load() creates the state (its allocator counts the rule's
// memory), installs the sandbox and the `gridlet` module, and runs the file's
// top level within the rule's budgets. Side effects asked for while loading
// (commands, events, state writes) are held back until commit(), so a rule
// that fails to load leaves no trace and, on reload, the old version keeps
// running. After commit() the engine delivers samples, timers and replies.
//
// A budget overrun stops the rule for good (until it is reloaded): its state
// is closed, a "rule_stopped" event says why. A Lua error in a callback is
// logged (rule, file:line, traceback) and the rule goes on.
//
// Threads: engine thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "script/budgets.h"
#include "script/calendar.h"
#include "script/engine_core.h"
#include "script/lua_support.h"

namespace gridlet::script {

struct RuleConfig {
    std::string name;  // unique; tags logs, events, state
    std::string file;  // the rule's .lua file
    nlohmann::json params = nlohmann::json::object();
    Budgets budgets;
};

enum class RuleStatus { running, stopped, failed };
const char* rule_status_name(RuleStatus s) noexcept;

// on(): callbacks for the samples of the series matching any pattern.
// latest(): a view, a table the engine keeps up to date with the latest good
// sample of each named series, no callback (view = true).
struct Subscription {
    int id = 0;
    std::vector<std::string> patterns;
    // The patterns split for routing: exact names (a hash lookup per
    // series) and the others (prefixes, globs), matched one by one.
    std::unordered_set<std::string> exact;
    std::vector<std::string> wild;
    size_t charged = 0;  // engine bytes charged to the rule for it
    int64_t made_ms = 0;   // engine monotonic time it was made
    bool matched = false;  // a series has been routed to it
    bool warned = false;   // "nothing matches" said once
    std::string pattern;  // patterns for messages: "a", "a, b"
    bool batch = false;
    bool view = false;
    std::unordered_map<std::string, int> slot_of;  // view: series name -> 1-based slot
    std::vector<int> pending_slots;                // view: slot of each pending sample
    int fn_ref = 0;     // registry ref of the callback
    int table_ref = 0;  // registry ref of the reused batch table
    int columns_ref[4] = {0, 0, 0, 0};  // value, ts, series, quality (view: value, ts)
    int last_n = 0;     // entries in the columns now
    int capacity = 0;   // the largest batch delivered (fresh columns' size)
    std::vector<gl_sample> pending;
};

struct Timer {
    int id = 0;
    bool calendar = false;   // at() (UTC due) or every() (monotonic due)
    int64_t interval_ms = 0;
    std::optional<CalendarSpec> spec;
    int64_t due = 0;
    int fn_ref = 0;
    // Engine bytes per timer (record, queue entry, map node, the rule's
    // callback reference): 60,000 timers measured 34 MB of RSS, about 570 each.
    static constexpr size_t kCharge = 600;
};

class Rule {
public:
    // Loads and runs the file; the error names file:line.
    static Expected<std::unique_ptr<Rule>> load(const RuleConfig& config, EngineCore& core, uint64_t uid);
    ~Rule();
    Rule(const Rule&) = delete;
    Rule& operator=(const Rule&) = delete;

    // Release the held-back side effects and start receiving callbacks.
    void commit();

    const RuleConfig& config() const noexcept { return config_; }
    const std::string& name() const noexcept { return config_.name; }
    uint64_t uid() const noexcept { return uid_; }
    bool live() const noexcept { return live_; }
    bool stopped() const noexcept { return L_ == nullptr || limits_->stopped(); }
    const std::string& stop_message() const noexcept { return stop_message_; }
    // Files read to build the rule (its file and required modules): path -> content.
    const std::map<std::string, std::string>& sources() const noexcept { return sources_; }

    std::map<int, Subscription>& subscriptions() noexcept { return subs_; }
    const std::map<int, Timer>& timers() const noexcept { return timers_; }

    // Deliver a subscription's pending samples (then cleared): call its
    // callback, or bring its view up to date.
    void deliver(int subscription_id);
    bool is_view(int subscription_id) const { auto it = subs_.find(subscription_id); return it != subs_.end() && it->second.view; }
    // Run timer `id` if it is still due at `due` (else it is a stale queue
    // entry); reschedules it.
    void fire_timer(int id, int64_t due);
    // Deliver a command reply to the callback registered for it.
    void deliver_reply(const CommandReply& reply);

    // Statistics for `gridlet rules` and the benchmark.
    uint64_t callbacks() const noexcept { return callbacks_; }
    uint64_t errors() const noexcept { return errors_; }
    // The last Lua error of a callback ("what: file:line: message", first
    // line) and when (UTC ms); empty / 0: none since it loaded.
    const std::string& last_error() const noexcept { return last_error_; }
    int64_t last_error_ms() const noexcept { return last_error_ms_; }
    // gridlet.status(fn) (api_status.cpp): the registry ref of fn, replacing
    // an earlier one.
    void set_status_function(int fn_ref);
    // The rule's status document: fn() as JSON, called within the rule's
    // budgets; null when the rule has none. Errors: fn failed or returned
    // what is not JSON (counted as the rule's errors); the rule stopped.
    Expected<nlohmann::json> status_document();
    size_t memory_used() const noexcept { return limits_->memory_used(); }
    // Recent wall time of its deliveries, ms, decayed (RuleLimits): the engine
    // serves the least busy rule first.
    double recent_busy_ms(int64_t engine_now_ms) const noexcept { return limits_->recent_busy_ms(engine_now_ms); }
    // Persistent state (api_state.cpp): the JSON size of each stored key, their
    // total, and the limit on it (a quarter of the memory budget, so the
    // state always loads again).
    std::unordered_map<std::string, size_t>& state_sizes() noexcept { return state_sizes_; }
    size_t& state_bytes() noexcept { return state_bytes_; }
    size_t state_limit() const noexcept { return limits_->budgets().memory_bytes / 4; }
    // The outcome of one state write to the store. A failure is logged at
    // once, then at most once a minute with the count since (a full disk
    // would otherwise log every write); the first success after failures
    // says how many were not saved.
    void state_saved(const std::string& key, const Status& result);
    // Rate limits (Budgets::*_per_s, per second of the engine clock): true
    // when one more of `kind` fits in this second, and counts it. A log line
    // over the limit is dropped here, the drops reported once a minute.
    enum class Rate { write, event, state_write, log_line, log_byte, event_byte, state_byte };
    // `amount` of `kind` (1 call, or a number of bytes).
    bool take(Rate kind, int64_t amount = 1);
    // A log line of the rule's own (gridlet.log.*, print): `where` ("file:12: ")
    // then `text`, cut at kMaxLogLine bytes ("... (N more bytes cut)"), then
    // counted against log_bytes_per_s (dropped and counted over it).
    static constexpr size_t kMaxLogLine = 2000;
    void log_text(LogLevel level, std::string_view where, std::string_view text);
    int64_t rate_limit(Rate kind) const noexcept;

    // ---- for the api_*.cpp functions -------------------------------------
    static Rule& of(lua_State* L);
    EngineCore& core() noexcept { return core_; }
    lua_State* state() noexcept { return L_.get(); }
    // Run `effect` now if live, else on commit().
    void side_effect(std::function<void()> effect);
    int add_subscription(std::vector<std::string> patterns, bool batch, int fn_ref);
    // latest(): the view table (fields value, ts) is on top of the stack.
    int add_view(std::vector<std::string> names);
    int add_timer(Timer timer);
    bool cancel(int handle);
    void track_reply(uint64_t request_id, int fn_ref, std::string target);
    // The chunk environment (globals) of this rule, pushed.
    void push_env();
    // require(): finds, loads and records a module file.
    int require_module(lua_State* L);
    // Engine-side log line for this rule.
    void log(LogLevel level, std::string_view message);
    // gridlet.last()/window() of a name no series has: warned once per name,
    // after the rule has run kSilentAfterMs (a driver may register it late).
    void note_unknown_series(std::string_view name);
    // gridlet.window(): the rule is charged for the `points` its window of
    // `series` covers (SeriesCache::kPointBytes each; the cache is shared,
    // each rule pays for its own range). May stop the rule (memory).
    void charge_window(uint32_t series, size_t points);
    // Subscriptions no series has reached for kSilentAfterMs: warned once.
    void warn_silent_subscriptions(int64_t now_ms);
    static constexpr int64_t kSilentAfterMs = 60'000;

private:
    Rule(const RuleConfig& config, EngineCore& core, uint64_t uid);
    Status build();
    static int setup_state(lua_State* L);  // lua_cpcall: sandbox, module, refs
    // Calls the function below `nargs` arguments on the stack under the
    // budgets; reports errors and stops. False when it did not succeed.
    bool protected_call(int nargs, const std::string& what);
    void report_error(const std::string& what, const std::string& message);
    void handle_stop(const std::string& what);
    void schedule(const Timer& t);
    // A live rule's subscription change, for the engine's routes.
    void note_subscription(int id, bool added);
    static constexpr size_t kWriteCharge = 96;  // engine bytes per pending write, plus its target
    // Unprotected: pcall with traceback; false with the message on error.
    bool call(int nargs, std::string& error);
    void close();
    template <class F>
    void guard(const std::string& what, F&& body) noexcept;
    void deliver_unguarded(int subscription_id);
    void fire_timer_unguarded(int id, int64_t due);
    void deliver_reply_unguarded(const CommandReply& reply);

    RuleConfig config_;
    EngineCore& core_;
    uint64_t uid_;
    std::unique_ptr<RuleLimits> limits_;  // outlives L_
    LuaStatePtr L_;
    bool live_ = false;
    std::vector<std::function<void()>> deferred_;
    std::map<std::string, std::string> sources_;
    struct PendingWrite {
        int fn_ref;  // LUA_NOREF: no callback
        std::string target;
    };
    std::map<int, Subscription> subs_;
    std::map<int, Timer> timers_;
    std::unordered_map<uint64_t, PendingWrite> writes_;
    int next_handle_ = 0;
    int env_ref_ = 0;
    int each_ref_ = 0;     // trusted per-sample dispatcher
    int modules_ref_ = 0;  // require() cache
    int names_ref_ = 0;    // series id -> name strings
    std::string stop_message_;
    uint64_t callbacks_ = 0;
    uint64_t errors_ = 0;
    uint64_t errors_unlogged_ = 0;
    std::string last_error_;
    int64_t last_error_ms_ = 0;
    int status_ref_ = LUA_NOREF;
    int64_t last_error_log_ms_ = INT64_MIN / 2;
    friend class Engine;
    std::unordered_map<std::string, size_t> state_sizes_;
    std::unordered_set<std::string> unknown_warned_;
    std::unordered_map<uint32_t, size_t> window_points_;  // charged, by series
    int64_t live_since_ms_ = 0;
    size_t state_bytes_ = 0;
    struct StateSaveFailures {
        uint64_t since_log = 0;  // failures not logged yet
        uint64_t total = 0;      // since the last success
        int64_t last_log_ms = 0;
    } state_failures_;
    struct RateWindow {
        int64_t second = INT64_MIN;
        int64_t used = 0;
    } rates_[7];
    uint64_t log_lines_dropped_ = 0;  // since the last report
    int64_t log_drop_reported_ms_ = 0;
};

}  // namespace gridlet::script

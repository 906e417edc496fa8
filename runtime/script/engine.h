// Engine: runs the site's Lua rules (issue 5). See README.md in this folder
// for the Lua API rules are written against.
//
// The engine reaches the outside only through a RuleHost (rule_host.h): the
// kernel implements it on the bus and the store, the offline harness
// (harness.h) on a simulated clock.
//
// Threads: an Engine has one owner thread, the engine thread. Every method,
// the construction and the destruction run on it; RuleHost methods are called
// on it, from inside these methods. Feeding it is the owner's job:
//   on_samples()        samples from the bus (batches; any series)
//   on_command_reply()  the one reply of each command a rule sent
//   run_due_timers()    when next_timer_in_ms() says so (or more often)
//   poll_file_changes() when watch_fd() is readable (inotify), or
//   reload_changed()    on SIGHUP
// None of them blocks on I/O except through the host.
//
// Isolation: each rule has its own lua_State (own memory budget), sandbox and
// environment. A rule that errors is logged and goes on; a rule that exceeds
// a budget is stopped (event "rule_stopped") and the others go on; a rule
// that fails to load does not start (event "rule_load_failed") while the
// others do, and on reload the previous version keeps running.
#pragma once

#include <map>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "script/engine_core.h"
#include "script/rule.h"

namespace gridlet::script {

class FileWatch;

struct RuleInfo {
    std::string name;
    std::string file;
    RuleStatus status = RuleStatus::failed;
    std::string error;  // load error (failed) or stop reason (stopped)
    uint64_t callbacks = 0;
    uint64_t errors = 0;
    size_t memory_bytes = 0;
    std::string last_error;    // the last Lua error of a callback; empty: none
    int64_t last_error_ms = 0;
};

// A rule that could not be (re)loaded, and why ("file:line: message").
struct RuleLoadError {
    std::string rule;
    Status status;
};

// The folders of gridlet's own Lua library (gridlet.greenup, ...) that
// exist here: the source tree's scripts/lib, then the installed one. Both
// `gridlet run` and `gridlet test-rule` search them after their own.
std::vector<std::string> builtin_lib_dirs();

class Engine {
public:
    explicit Engine(RuleHost& host, EngineOptions options = {});
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // Makes `rules` the running set: new rules load, rules no longer listed
    // are unloaded, changed ones (file, params or budgets) are swapped, the
    // others keep running untouched; with `revive_stopped` (SIGHUP) the
    // rules stopped by a budget or a fault load again. Returns the rules that
    // failed (each is logged once, with event "rule_load_failed").
    std::vector<RuleLoadError> configure(const std::vector<RuleConfig>& rules, bool revive_stopped = false);

    // Re-reads every rule's files (the rule and the modules it required) and
    // swaps the rules whose sources changed; retries rules that failed to
    // load, and with `revive_stopped` (SIGHUP, an operator's request) loads
    // again the rules stopped by a budget or a fault, changed or not. A
    // version that fails to load leaves the old one running. A retry that
    // fails with the same error as the last attempt is not logged again
    // (unless `revive_stopped`: an operator asked).
    std::vector<RuleLoadError> reload_changed(bool revive_stopped = false);
    // Reloads one rule now, changed or not.
    Status reload(const std::string& name);

    // inotify on the folders of every rule file and module. watch_fd() is
    // readable when something changed; then call poll_file_changes().
    Status watch_files();
    int watch_fd() const;
    std::vector<RuleLoadError> poll_file_changes();

    void on_samples(std::span<const gl_sample> samples);
    void on_command_reply(const CommandReply& reply);
    void run_due_timers();
    // run_due_timers() returns after this much work with timers still due
    // (next_timer_in_ms() is then 0), so samples are served in between.
    static constexpr int kTimerSliceMs = 50;
    // Milliseconds until the next timer is due (0: now), or -1 if none.
    int64_t next_timer_in_ms();

    std::vector<RuleInfo> rules() const;
    // Rule `name`'s status document (gridlet.status): null when it has none.
    // Errors: not_found (no such rule), unavailable (not running), invalid
    // (its function failed).
    Expected<nlohmann::json> status_document(const std::string& name);
    // Total Lua heap of all rules, bytes.
    size_t memory_bytes() const;
    EngineCore& core() noexcept { return core_; }

private:
    struct Slot {
        RuleConfig config;
        std::unique_ptr<Rule> rule;  // null when it failed to load
        std::string error;
        std::string last_failure;  // the last load error, until a load succeeds
    };
    struct Route {
        Rule* rule;
        Subscription* sub;
        int slot;  // a view's slot for this series (0: a callback subscription)
        int sub_id;
    };
    // The slot of `name` in `sub` (a view's slot, 0 for a callback
    // subscription), or -1 when the subscription does not take it.
    static int route_slot(const Subscription& sub, std::string_view name);
    // Brings routes_ up to date: a full rebuild when routes_dirty, else the
    // subscriptions added and cancelled since the last delivery.
    void update_routes();
    // Drops the timer queue entries of cancelled timers and closed rules
    // once they outnumber the live ones.
    void compact_timer_queues();
    // Every 10 s (engine clock, from run_due_timers): subscriptions that no
    // series has reached in a minute are warned about, once each.
    void warn_silent_subscriptions();
    int64_t next_silence_check_ms_ = 0;

    Status load_into(Slot& slot, const RuleConfig& config, bool quiet_repeat = false);
    void retire(Slot& slot);
    const std::vector<Route>& routes_for(uint32_t series_id);
    void finish();  // local replies, stopped rules
    Rule* by_uid(uint64_t uid) const;
    void update_watches();
    bool sources_changed(const Rule& rule) const;

    EngineCore core_;
    std::map<std::string, Slot> slots_;
    std::unordered_map<uint64_t, Rule*> by_uid_;
    std::unordered_map<uint32_t, std::vector<Route>> routes_;
    std::vector<std::pair<Rule*, int>> touched_;
    uint64_t next_uid_ = 0;
    std::unique_ptr<FileWatch> watch_;
};

}  // namespace gridlet::script

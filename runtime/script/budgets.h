// Per-rule budgets: instructions and wall time per callback, memory per rule.
//
// Every rule has its own lua_State, created with RuleLimits::alloc as its
// allocator (the limits object is the allocator's `ud`), so memory is counted
// per rule exactly. Rule states run with the JIT engine off: LuaJIT-compiled
// traces never look at hooks (a compiled `while true do end` cannot be
// interrupted, measured), whereas the interpreter honours a count hook on
// every instruction. The count hook fires every `kHookGranularity`
// instructions and checks both the instruction count and the elapsed time of
// the current callback; exceeding either, or the memory budget, stops the
// rule.
//
// Stopping cannot be swallowed by pcall: once stopped, the hook is re-armed
// to fire on every instruction and raises again, the sandbox's pcall/xpcall
// re-raise, and the allocator refuses every allocation above the budget. The
// engine sees the stop when its protected call returns and closes the state.
//
// Long C calls: the string pattern functions count their matcher steps as
// instructions and check the time every 1,024 steps (charge_steps), so a
// pathological pattern is stopped like a Lua loop. gridlet's own API calls
// are bounded by their argument limits; store reads (query, window) charge
// the samples and buckets they make as steps while they read
// (store::QueryLimit).
//
// Threads: a RuleLimits belongs to its rule's lua_State and is used on the
// engine thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

struct lua_State;
struct lua_Debug;

namespace gridlet::script {

struct Budgets {
    uint64_t instructions = 20'000'000;     // Lua VM instructions per callback
    int64_t time_ms = 250;                  // wall time per callback
    size_t memory_bytes = 16u * 1024 * 1024;  // heap of the rule's Lua state
    // Rates per second of the engine clock (a flood of output would fill the
    // log, the store or a device). Over the limit, gridlet.write, emit and
    // state writes raise an error; log lines are dropped and counted.
    int64_t writes_per_s = 500;
    int64_t events_per_s = 50;
    int64_t state_writes_per_s = 500;
    int64_t log_lines_per_s = 100;
    // Bytes per second of log text and of event bodies (a few huge lines or
    // events would fill the disk or stall the store). Over the limit, log
    // lines are dropped and counted; emit raises an error.
    int64_t log_bytes_per_s = 20'000;
    int64_t event_bytes_per_s = 100'000;
    int64_t state_bytes_per_s = 200'000;  // each state write goes to the disk
    // Share of the engine thread a rule may use over time: the wall time of
    // its deliveries, decayed with a 10 s time constant, per second of the
    // engine clock. Above it the rule keeps the others waiting and is
    // stopped. 100 = no limit.
    int cpu_share_pct = 50;
    bool operator==(const Budgets&) const = default;
};

// fault: the engine itself failed while serving the rule (an exception on
// an engine path); the rule is stopped rather than the engine.
enum class StopReason { none, instructions, time, memory, fault, cpu_share };
const char* stop_reason_name(StopReason r) noexcept;

class RuleLimits {
public:
    static constexpr int kHookGranularity = 1000;

    explicit RuleLimits(const Budgets& budgets) : budgets_(budgets) {}
    RuleLimits(const RuleLimits&) = delete;
    RuleLimits& operator=(const RuleLimits&) = delete;

    // The lua_Alloc of a rule state; `ud` is the RuleLimits.
    static void* alloc(void* ud, void* ptr, size_t osize, size_t nsize) noexcept;
    // The RuleLimits of a state created with alloc().
    static RuleLimits& of(lua_State* L) noexcept;

    // Once the state exists: arm the count hook.
    void attach(lua_State* L) noexcept;
    // Start the instruction and time budget of one delivery (a batch of
    // samples, whatever number of callbacks it takes; a timer firing; a
    // reply). Errors inside the delivery do not renew it.
    void begin_callback() noexcept;
    // End of that delivery at `engine_now_ms` (the engine's monotonic
    // clock): its wall time joins the rule's recent busy time. True when the
    // rule's share of the engine is now above cpu_share_pct (it is stopped).
    bool end_delivery(int64_t engine_now_ms) noexcept;
    // The rule's recent busy time, ms (decayed to `engine_now_ms`): the
    // engine runs the due work of the least busy rule first.
    double recent_busy_ms(int64_t engine_now_ms) const noexcept;
    static constexpr double kShareWindowMs = 10'000;  // time constant of the share
    // Work done inside a C function (string pattern matcher steps), counted
    // as instructions; the time is checked too. False when the rule is (now)
    // stopped: the caller then raises with raise_stop().
    bool charge_steps(uint64_t steps) noexcept;
    // Stop the rule for an engine fault; `why` is kept for stop_message().
    void fail(std::string why) noexcept;
    // Instructions used by the current callback (to kHookGranularity).
    uint64_t instructions_used() const noexcept { return instructions_; }

    StopReason stop_reason() const noexcept { return reason_; }
    bool stopped() const noexcept { return reason_ != StopReason::none; }
    // "instruction budget of 20000000 per callback exceeded at rule.lua:12",
    // ... (the place is the Lua line running when the stop was raised; none
    // for a stop between callbacks, e.g. cpu_share).
    std::string stop_message() const;

    // Memory the rule holds: its Lua heap and what the engine keeps for it
    // (subscriptions, views, timers, pending writes; add_engine_bytes()).
    size_t memory_used() const noexcept { return used_ + engine_bytes_; }
    size_t engine_bytes() const noexcept { return engine_bytes_; }
    // The engine's records for the rule grow (delta > 0) or shrink. Above
    // the memory budget the rule is stopped (reason memory), as for its heap.
    void add_engine_bytes(long delta) noexcept;
    size_t memory_peak() const noexcept { return peak_; }
    const Budgets& budgets() const noexcept { return budgets_; }

    // The object that owns the state (the Rule), for the API functions.
    void set_owner(void* owner) noexcept { owner_ = owner; }
    void* owner() const noexcept { return owner_; }

    // Raise the stop error in L (the hook does it; also used by the pcall
    // wrappers). Does not return.
    [[noreturn]] void raise_stop(lua_State* L) const;

private:
    static void count_hook(lua_State* L, lua_Debug* ar);
    void stop(StopReason reason) noexcept;

    Budgets budgets_;
    lua_State* L_ = nullptr;
    void* owner_ = nullptr;
    size_t used_ = 0;
    size_t engine_bytes_ = 0;
    size_t peak_ = 0;
    uint64_t instructions_ = 0;
    std::chrono::steady_clock::time_point deadline_{};
    std::chrono::steady_clock::time_point started_{};
    bool in_delivery_ = false;
    double busy_ms_ = 0;           // decayed busy time
    int64_t busy_at_ms_ = INT64_MIN;  // engine time busy_ms_ refers to
    double share_at_stop_ = 0;
    size_t heap_at_stop_ = 0, engine_at_stop_ = 0;  // for stop_message()
    mutable std::string where_;  // "rule.lua:12", where the stop was first raised
    StopReason reason_ = StopReason::none;
    std::string fault_;
};

}  // namespace gridlet::script

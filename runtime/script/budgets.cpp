#include "script/budgets.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>

#include <lua.hpp>

namespace gridlet::script {

const char* stop_reason_name(StopReason r) noexcept {
    switch (r) {
        case StopReason::none: return "none";
        case StopReason::instructions: return "instructions";
        case StopReason::time: return "time";
        case StopReason::memory: return "memory";
        case StopReason::fault: return "fault";
        case StopReason::cpu_share: return "cpu_share";
    }
    return "?";
}

void* RuleLimits::alloc(void* ud, void* ptr, size_t osize, size_t nsize) noexcept {
    auto* self = static_cast<RuleLimits*>(ud);
    const size_t old_size = ptr ? osize : 0;
    if (nsize == 0) {
        std::free(ptr);
        self->used_ -= old_size;
        return nullptr;
    }
    if (nsize > old_size && self->used_ + self->engine_bytes_ - old_size + nsize > self->budgets_.memory_bytes) {
        // Refusing makes Lua raise "not enough memory"; stopping makes sure a
        // pcall cannot catch that and carry on.
        self->stop(StopReason::memory);
        return nullptr;
    }
    void* p = std::realloc(ptr, nsize);
    if (p == nullptr) return nullptr;
    self->used_ = self->used_ - old_size + nsize;
    if (self->used_ + self->engine_bytes_ > self->peak_) self->peak_ = self->used_ + self->engine_bytes_;
    return p;
}

void RuleLimits::add_engine_bytes(long delta) noexcept {
    if (delta < 0 && static_cast<size_t>(-delta) > engine_bytes_) {
        engine_bytes_ = 0;
        return;
    }
    engine_bytes_ = static_cast<size_t>(static_cast<long>(engine_bytes_) + delta);
    if (used_ + engine_bytes_ > peak_) peak_ = used_ + engine_bytes_;
    if (delta > 0 && used_ + engine_bytes_ > budgets_.memory_bytes) stop(StopReason::memory);
}

RuleLimits& RuleLimits::of(lua_State* L) noexcept {
    void* ud = nullptr;
    lua_getallocf(L, &ud);
    return *static_cast<RuleLimits*>(ud);
}

void RuleLimits::attach(lua_State* L) noexcept {
    L_ = L;
    lua_sethook(L, &RuleLimits::count_hook, LUA_MASKCOUNT, kHookGranularity);
    if (stopped()) lua_sethook(L, &RuleLimits::count_hook, LUA_MASKCOUNT, 1);
}

void RuleLimits::begin_callback() noexcept {
    instructions_ = 0;
    started_ = std::chrono::steady_clock::now();
    deadline_ = started_ + std::chrono::milliseconds(budgets_.time_ms);
    in_delivery_ = true;
}

double RuleLimits::recent_busy_ms(int64_t engine_now_ms) const noexcept {
    if (busy_at_ms_ == INT64_MIN || engine_now_ms <= busy_at_ms_) return busy_ms_;
    return busy_ms_ * std::exp(-static_cast<double>(engine_now_ms - busy_at_ms_) / kShareWindowMs);
}

bool RuleLimits::end_delivery(int64_t engine_now_ms) noexcept {
    if (!in_delivery_) return false;
    in_delivery_ = false;
    const double elapsed =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_).count();
    busy_ms_ = recent_busy_ms(engine_now_ms) + elapsed;
    busy_at_ms_ = std::max(busy_at_ms_, engine_now_ms);
    const double share = busy_ms_ / kShareWindowMs;  // of the last ~10 s of engine time
    if (budgets_.cpu_share_pct >= 100 || stopped() || share * 100 <= budgets_.cpu_share_pct) return false;
    share_at_stop_ = share;
    stop(StopReason::cpu_share);
    return true;
}

bool RuleLimits::charge_steps(uint64_t steps) noexcept {
    if (stopped()) return false;
    instructions_ += steps;
    if (instructions_ > budgets_.instructions) {
        stop(StopReason::instructions);
    } else if (std::chrono::steady_clock::now() > deadline_) {
        stop(StopReason::time);
    }
    return !stopped();
}

void RuleLimits::stop(StopReason reason) noexcept {
    if (reason_ == StopReason::none) {
        reason_ = reason;
        heap_at_stop_ = used_;  // what was held then: engine records may be released before the message is read
        engine_at_stop_ = engine_bytes_;
    }
    // Fire on the very next instruction, whatever pcall the code sits in.
    // lua_sethook is async-safe in LuaJIT; it is fine from the allocator.
    if (L_ != nullptr) lua_sethook(L_, &RuleLimits::count_hook, LUA_MASKCOUNT, 1);
}

void RuleLimits::fail(std::string why) noexcept {
    try {
        fault_ = std::move(why);
    } catch (...) {
    }
    stop(StopReason::fault);
}

std::string RuleLimits::stop_message() const {
    const std::string at = where_.empty() ? std::string() : " at " + where_;
    switch (reason_) {
        case StopReason::instructions:
            return "instruction budget of " + std::to_string(budgets_.instructions) + " per callback exceeded" + at;
        case StopReason::time:
            return "time budget of " + std::to_string(budgets_.time_ms) + " ms per callback exceeded" + at;
        case StopReason::memory:
            return "memory budget of " + std::to_string(budgets_.memory_bytes) + " bytes exceeded (Lua heap " +
                   std::to_string(heap_at_stop_) + " bytes, engine records " + std::to_string(engine_at_stop_) +
                   " bytes)" + at;
        case StopReason::fault: return "engine fault: " + fault_;
        case StopReason::cpu_share:
            return "it used " + std::to_string(static_cast<int>(share_at_stop_ * 100 + 0.5)) +
                   " % of the rule engine over the last 10 s (limit cpu_share_pct = " +
                   std::to_string(budgets_.cpu_share_pct) + " %), keeping the other rules waiting";
        case StopReason::none: break;
    }
    return "not stopped";
}

void RuleLimits::raise_stop(lua_State* L) const {
    if (where_.empty()) {
        // The innermost Lua line running (level 0 may be a C function: a
        // pattern match, an API call).
        lua_Debug ar;
        for (int level = 0; level < 8 && lua_getstack(L, level, &ar) != 0; ++level) {
            if (lua_getinfo(L, "Sl", &ar) != 0 && ar.currentline > 0) {
                where_ = std::string(ar.short_src) + ":" + std::to_string(ar.currentline);
                break;
            }
        }
    }
    lua_pushfstring(L, "rule stopped: %s", stop_message().c_str());
    lua_error(L);
    std::abort();  // lua_error does not return
}

void RuleLimits::count_hook(lua_State* L, lua_Debug* /*ar*/) {
    RuleLimits& self = of(L);
    if (!self.stopped()) {
        self.instructions_ += kHookGranularity;
        if (self.instructions_ > self.budgets_.instructions) {
            self.stop(StopReason::instructions);
        } else if (std::chrono::steady_clock::now() > self.deadline_) {
            self.stop(StopReason::time);
        } else {
            return;
        }
    }
    self.raise_stop(L);
}

}  // namespace gridlet::script

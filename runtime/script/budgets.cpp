#include "script/budgets.h"

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
    if (nsize > old_size && self->used_ - old_size + nsize > self->budgets_.memory_bytes) {
        // Refusing makes Lua raise "not enough memory"; stopping makes sure a
        // pcall cannot catch that and carry on.
        self->stop(StopReason::memory);
        return nullptr;
    }
    void* p = std::realloc(ptr, nsize);
    if (p == nullptr) return nullptr;
    self->used_ = self->used_ - old_size + nsize;
    if (self->used_ > self->peak_) self->peak_ = self->used_;
    return p;
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
    deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(budgets_.time_ms);
}

void RuleLimits::stop(StopReason reason) noexcept {
    if (reason_ == StopReason::none) reason_ = reason;
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
    switch (reason_) {
        case StopReason::instructions:
            return "instruction budget of " + std::to_string(budgets_.instructions) + " per callback exceeded";
        case StopReason::time:
            return "time budget of " + std::to_string(budgets_.time_ms) + " ms per callback exceeded";
        case StopReason::memory:
            return "memory budget of " + std::to_string(budgets_.memory_bytes) + " bytes exceeded";
        case StopReason::fault: return "engine fault: " + fault_;
        case StopReason::none: break;
    }
    return "not stopped";
}

void RuleLimits::raise_stop(lua_State* L) const {
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

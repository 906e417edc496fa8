// Small helpers shared by the engine's Lua glue: RAII for lua_State, the
// C++/Lua error boundary, JSON <-> Lua conversion, durations.
//
// The error boundary: every lua_CFunction the engine registers is wrapped by
// guarded<F>, which turns a std::exception into a Lua error after the C++
// frame is left, so C++ exceptions never cross a Lua frame. (It catches
// std::exception only: LuaJIT's own errors unwind as foreign exceptions and
// must pass through.)
#pragma once

#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <string_view>

#include <lua.hpp>
#include <nlohmann/json.hpp>

#include "core/status.h"

namespace gridlet::script {

struct LuaStateDeleter {
    void operator()(lua_State* L) const noexcept {
        if (L != nullptr) lua_close(L);
    }
};
using LuaStatePtr = std::unique_ptr<lua_State, LuaStateDeleter>;

template <int (*F)(lua_State*)>
int guarded(lua_State* L) {
    char message[512];
    try {
        return F(L);
    } catch (const std::exception& e) {
        std::snprintf(message, sizeof message, "%s", e.what());
    }
    return luaL_error(L, "%s", message);
}

// A std::string_view of the string at `idx` (must be a string).
inline std::string_view to_view(lua_State* L, int idx) {
    size_t len = 0;
    const char* s = lua_tolstring(L, idx, &len);
    return s ? std::string_view(s, len) : std::string_view();
}

// Message handler for lua_pcall: message + traceback.
int traceback_handler(lua_State* L);

// Pushes `value` (null -> nil, objects -> tables, arrays -> 1-based tables).
void push_json(lua_State* L, const nlohmann::json& value);

// The Lua value at `idx` as JSON. Tables with keys 1..n are arrays, tables
// with string keys objects, an empty table is an object. Errors: functions,
// userdata, mixed or non-string keys, NaN/inf, nesting deeper than 32.
// Strings and keys that are not valid UTF-8 are escaped (core/text.h).
Expected<nlohmann::json> to_json(lua_State* L, int idx);

// "250ms", "10s", "5m", "2h", "1d", or a bare number of seconds. > 0
// (>= 0 with allow_zero).
Expected<int64_t> parse_duration_ms(std::string_view text, bool allow_zero = false);
// The duration at `idx` (number of seconds or a duration string); raises a
// Lua error naming `what` when it is neither.
int64_t check_duration_ms(lua_State* L, int idx, const char* what);

}  // namespace gridlet::script

// gridlet.on(pattern | {patterns}, fn [, {batch = true}]), gridlet.latest(names)
// and gridlet.cancel(handle).
#include <set>
#include <string_view>

#include "core/pattern.h"
#include "script/rule.h"
#include "core/text.h"
#include "script/sandbox.h"

namespace gridlet::script {

namespace {

int l_on(lua_State* L) {
    std::vector<std::string> patterns = check_names(L, 1, "on");
    luaL_checktype(L, 2, LUA_TFUNCTION);
    bool batch = false;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_getfield(L, 3, "batch");
        batch = lua_toboolean(L, -1) != 0;
        lua_pop(L, 1);
    }
    lua_pushvalue(L, 2);
    const int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushinteger(L, Rule::of(L).add_subscription(std::move(patterns), batch, ref));
    return 1;
}

// gridlet.latest(names) -> view {n, series, value, ts, handle}: value[i] and
// ts[i] are the latest good sample of series[i], kept up to date by the
// engine (no Lua runs per sample).
int l_latest(lua_State* L) {
    std::vector<std::string> names = check_names(L, 1, "latest");
    std::set<std::string_view> seen;
    for (const std::string& n : names) {
        if (has_wildcard(n) || n.back() == '/')
            return luaL_error(L, "gridlet.latest: '%s': exact series names only, not patterns", n.c_str());
        if (!seen.insert(n).second) return luaL_error(L, "gridlet.latest: '%s' is listed twice", n.c_str());
    }
    const int count = static_cast<int>(names.size());
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, count);
    lua_setfield(L, -2, "n");
    lua_createtable(L, count, 0);
    for (int i = 0; i < count; ++i) {
        lua_pushlstring(L, names[static_cast<size_t>(i)].data(), names[static_cast<size_t>(i)].size());
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "series");
    lua_createtable(L, count, 0);
    lua_setfield(L, -2, "value");
    lua_createtable(L, count, 0);
    lua_setfield(L, -2, "ts");
    const int handle = Rule::of(L).add_view(std::move(names));
    lua_pushinteger(L, handle);
    lua_setfield(L, -2, "handle");
    return 1;
}

int l_cancel(lua_State* L) {
    const int handle = static_cast<int>(luaL_checkinteger(L, 1));
    lua_pushboolean(L, Rule::of(L).cancel(handle));
    return 1;
}

}  // namespace

std::vector<std::string> check_names(lua_State* L, int arg, const char* fn) {
    std::vector<std::string> out;
    auto add = [&](int idx) {
        size_t len = 0;
        const char* p = lua_type(L, idx) == LUA_TSTRING ? lua_tolstring(L, idx, &len) : nullptr;
        if (p == nullptr) luaL_error(L, "gridlet.%s: entry %d of the list is not a string", fn, static_cast<int>(out.size()) + 1);
        if (len == 0 || len > 255) {
            const std::string shown = len > 60 ? std::string(p, 60) + "..." : std::string(p, len);
            luaL_error(L, "gridlet.%s: '%s' (%d bytes): a name or pattern must be 1..255 characters", fn,
                       valid_text(shown).c_str(), static_cast<int>(len));
        }
        out.emplace_back(p, len);
    };
    if (lua_type(L, arg) == LUA_TTABLE) {
        const int n = static_cast<int>(lua_objlen(L, arg));
        if (n < 1 || n > 1000) luaL_error(L, "gridlet.%s: the list must hold 1..1000 names (has %d)", fn, n);
        for (int i = 1; i <= n; ++i) {
            lua_rawgeti(L, arg, i);
            add(lua_gettop(L));
            lua_pop(L, 1);
        }
    } else {
        luaL_checktype(L, arg, LUA_TSTRING);
        add(arg);
    }
    return out;
}


void register_sample_api(lua_State* L) {
    lua_pushcfunction(L, guarded<l_on>);
    lua_setfield(L, -2, "on");
    lua_pushcfunction(L, guarded<l_latest>);
    lua_setfield(L, -2, "latest");
    lua_pushcfunction(L, l_cancel);
    lua_setfield(L, -2, "cancel");
}

}  // namespace gridlet::script

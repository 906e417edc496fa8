// gridlet.on(pattern, fn [, {batch = true}]) and gridlet.cancel(handle).
#include "script/rule.h"
#include "script/sandbox.h"

namespace gridlet::script {

namespace {

int l_on(lua_State* L) {
    size_t len = 0;
    const char* pattern = luaL_checklstring(L, 1, &len);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    if (len == 0 || len > 255) return luaL_error(L, "gridlet.on: pattern must be 1..255 characters");
    bool batch = false;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_getfield(L, 3, "batch");
        batch = lua_toboolean(L, -1) != 0;
        lua_pop(L, 1);
    }
    lua_pushvalue(L, 2);
    const int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushinteger(L, Rule::of(L).add_subscription(std::string(pattern, len), batch, ref));
    return 1;
}

int l_cancel(lua_State* L) {
    const int handle = static_cast<int>(luaL_checkinteger(L, 1));
    lua_pushboolean(L, Rule::of(L).cancel(handle));
    return 1;
}

}  // namespace

void register_sample_api(lua_State* L) {
    lua_pushcfunction(L, guarded<l_on>);
    lua_setfield(L, -2, "on");
    lua_pushcfunction(L, l_cancel);
    lua_setfield(L, -2, "cancel");
}

}  // namespace gridlet::script

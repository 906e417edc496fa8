// gridlet.every(interval, fn) and gridlet.at(spec, fn).
#include "script/rule.h"
#include "script/sandbox.h"

namespace gridlet::script {

namespace {

int l_every(lua_State* L) {
    const int64_t interval = check_duration_ms(L, 1, "gridlet.every");
    luaL_checktype(L, 2, LUA_TFUNCTION);
    Rule& rule = Rule::of(L);
    lua_pushvalue(L, 2);
    Timer t;
    t.fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    t.interval_ms = interval;
    t.due = rule.core().host.clock().monotonic_ms() + interval;
    lua_pushinteger(L, rule.add_timer(std::move(t)));
    return 1;
}

int l_at(lua_State* L) {
    const char* text = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    Rule& rule = Rule::of(L);
    char message[512];
    {
        auto spec = CalendarSpec::parse(text);
        if (spec) {
            RuleHost& host = rule.core().host;
            auto due = spec->next_after(host.time_zone(), host.clock().now_ms());
            if (due) {
                lua_pushvalue(L, 2);
                Timer t;
                t.fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
                t.calendar = true;
                t.spec = std::move(*spec);
                t.due = *due;
                lua_pushinteger(L, rule.add_timer(std::move(t)));
                return 1;
            }
            std::snprintf(message, sizeof message, "gridlet.at: %s", due.status().message().c_str());
        } else {
            std::snprintf(message, sizeof message, "gridlet.at: %s", spec.status().message().c_str());
        }
    }
    return luaL_error(L, "%s", message);
}

}  // namespace

void register_timer_api(lua_State* L) {
    lua_pushcfunction(L, guarded<l_every>);
    lua_setfield(L, -2, "every");
    lua_pushcfunction(L, guarded<l_at>);
    lua_setfield(L, -2, "at");
}

}  // namespace gridlet::script

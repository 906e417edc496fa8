// gridlet.status(fn): the rule's status document. `fn` is called on the
// engine thread when someone asks (the HTTP API's GET /api/v1/rules, /ev,
// /demand), never otherwise, within the rule's budgets; it returns a table
// that becomes JSON. A rule has one: a second call replaces the first.
#include "script/rule.h"
#include "script/sandbox.h"

namespace gridlet::script {

namespace {

int l_status(lua_State* L) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_pushvalue(L, 1);
    Rule::of(L).set_status_function(luaL_ref(L, LUA_REGISTRYINDEX));
    return 0;
}

}  // namespace

void register_status_api(lua_State* L) {
    lua_pushcfunction(L, guarded<l_status>);
    lua_setfield(L, -2, "status");
}

}  // namespace gridlet::script

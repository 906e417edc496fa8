// The `gridlet` module table of a rule: assembled from the api_*.cpp parts.
#include "script/rule.h"
#include "script/sandbox.h"

namespace gridlet::script {

void push_gridlet_module(lua_State* L, Rule& rule) {
    lua_createtable(L, 0, 16);
    register_sample_api(L);
    register_timer_api(L);
    register_status_api(L);
    register_data_api(L);
    register_output_api(L);
    register_alarm_api(L);
    register_export_api(L);
    push_state_proxy(L, rule);
    lua_setfield(L, -2, "state");
    lua_pushlstring(L, rule.name().data(), rule.name().size());
    lua_setfield(L, -2, "rule");
}

}  // namespace gridlet::script

// gridlet.state: persistent key-value, stored through the host (RuleHost::
// put_state) and loaded when the rule (re)starts.
//
//   gridlet.state.count = (gridlet.state.count or 0) + 1
//
// Values are JSON-like (nil, booleans, numbers, strings, tables of those).
// A read returns a copy of what was stored: change a table, then assign it
// again to persist the change.
#include "script/rule.h"
#include "script/sandbox.h"

namespace gridlet::script {

namespace {

constexpr size_t kMaxKeyBytes = 200;
constexpr size_t kMaxValueBytes = 1u << 20;

// __newindex(proxy, key, value); upvalue 1 = the backing table.
int state_set(lua_State* L) {
    size_t key_len = 0;
    if (lua_type(L, 2) != LUA_TSTRING) return luaL_error(L, "gridlet.state: keys must be strings");
    const char* key = lua_tolstring(L, 2, &key_len);
    if (key_len == 0 || key_len > kMaxKeyBytes) return luaL_error(L, "gridlet.state: key must be 1..200 bytes");
    Rule& rule = Rule::of(L);
    std::optional<std::string> text;
    if (!lua_isnil(L, 3)) {
        auto value = to_json(L, 3);
        if (!value) throw std::runtime_error("gridlet.state." + std::string(key, key_len) + ": " + value.status().message());
        text = value->dump();
        if (text->size() > kMaxValueBytes) throw std::runtime_error("gridlet.state: value larger than 1 MiB");
        push_json(L, *value);  // the stored copy
    } else {
        lua_pushnil(L);
    }
    lua_pushvalue(L, 2);
    lua_insert(L, -2);
    lua_rawset(L, lua_upvalueindex(1));
    rule.side_effect([&rule, k = std::string(key, key_len), text = std::move(text)] {
        Status st = rule.core().host.put_state(rule.name(), k, text);
        if (!st) rule.log(LogLevel::error, "gridlet.state." + k + " not saved: " + st.message());
    });
    return 0;
}

}  // namespace

void push_state_proxy(lua_State* L, Rule& rule) {
    lua_newtable(L);  // proxy
    lua_newtable(L);  // backing data
    const int data = lua_gettop(L);
    bool failed = false;
    char message[512];
    {
        auto stored = rule.core().host.load_state(rule.name());
        if (stored) {
            for (const auto& [key, text] : *stored) {
                auto value = nlohmann::json::parse(text, nullptr, false);
                if (value.is_discarded()) {
                    rule.log(LogLevel::warn, "gridlet.state." + key + ": stored value is not JSON; ignored");
                    continue;
                }
                lua_pushlstring(L, key.data(), key.size());
                push_json(L, value);
                lua_rawset(L, data);
            }
        } else {
            failed = true;
            std::snprintf(message, sizeof message, "loading persistent state: %s", stored.status().message().c_str());
        }
    }
    if (failed) luaL_error(L, "%s", message);
    lua_createtable(L, 0, 3);  // mt
    lua_pushvalue(L, data);
    lua_setfield(L, -2, "__index");
    lua_pushvalue(L, data);
    lua_pushcclosure(L, guarded<state_set>, 1);
    lua_setfield(L, -2, "__newindex");
    lua_pushstring(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, data - 1);
    lua_pop(L, 1);  // data
}

}  // namespace gridlet::script

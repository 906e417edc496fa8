// gridlet.state: persistent key-value, stored through the host (RuleHost::
// put_state) and loaded when the rule (re)starts.
//
//   gridlet.state.count = (gridlet.state.count or 0) + 1
//
// Values are JSON-like (nil, booleans, numbers, strings, tables of those).
// A read returns a copy of what was stored: change a table, then assign it
// again to persist the change. gridlet.state is a userdata proxy, so rawset
// and rawget cannot go around it. The JSON of all keys together is limited
// to a quarter of the rule's memory budget (Rule::state_limit), so a rule's
// state always loads again; a write over the limit is an error naming it.
#include <cstring>

#include "core/text.h"
#include "script/rule.h"
#include "script/sandbox.h"

namespace gridlet::script {

namespace {

constexpr size_t kMaxKeyBytes = 200;
constexpr size_t kMaxValueBytes = 1u << 20;

// A deep copy of the table at `idx` (stored values: no metatables, no cycles).
void push_copy(lua_State* L, int idx, int depth) {
    if (idx < 0) idx = lua_gettop(L) + idx + 1;
    if (!lua_istable(L, idx) || depth > 40) {
        lua_pushvalue(L, idx);
        return;
    }
    lua_createtable(L, static_cast<int>(lua_objlen(L, idx)), 0);
    const int out = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pushvalue(L, -2);
        push_copy(L, lua_gettop(L) - 1, depth + 1);
        lua_rawset(L, out);
        lua_pop(L, 1);
    }
}

// __index(proxy, key); upvalue 1 = the backing table. Tables come back as copies.
int state_get(lua_State* L) {
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    if (lua_istable(L, -1)) push_copy(L, -1, 0);
    return 1;
}

// __newindex(proxy, key, value); upvalue 1 = the backing table.
int state_set(lua_State* L) {
    size_t key_len = 0;
    if (lua_type(L, 2) != LUA_TSTRING) return luaL_error(L, "gridlet.state: keys must be strings");
    const char* key = lua_tolstring(L, 2, &key_len);
    if (key_len == 0 || key_len > kMaxKeyBytes) return luaL_error(L, "gridlet.state: key must be 1..200 bytes");
    // Keys are names in `gridlet state show`, JSON and logs: UTF-8 text, no NUL.
    if (!is_valid_text(std::string_view(key, key_len)) || std::memchr(key, 0, key_len) != nullptr)
        return luaL_error(L, "gridlet.state: key '%s' is not UTF-8 text", valid_text(std::string_view(key, key_len)).c_str());
    Rule& rule = Rule::of(L);
    if (!rule.take(Rule::Rate::state_write))
        return luaL_error(L, "gridlet.state: more than %d writes in one second (state_writes_per_s)",
                          static_cast<int>(rule.rate_limit(Rule::Rate::state_write)));
    const std::string k(key, key_len);
    std::optional<std::string> text;
    if (!lua_isnil(L, 3)) {
        auto value = to_json(L, 3);
        if (!value) throw std::runtime_error("gridlet.state." + k + ": " + value.status().message());
        text = value->dump();
        if (text->size() > kMaxValueBytes)
            throw std::runtime_error("gridlet.state." + k + ": a value of " + std::to_string(text->size()) +
                                     " bytes (JSON) is over the limit of " + std::to_string(kMaxValueBytes));
        auto& sizes = rule.state_sizes();
        const size_t old = sizes.count(k) ? sizes[k] : 0;
        const size_t total = rule.state_bytes() - old + text->size() + k.size();
        if (total > rule.state_limit())
            throw std::runtime_error("gridlet.state." + k + ": the rule's state would be " + std::to_string(total) +
                                     " bytes, over its limit of " + std::to_string(rule.state_limit()) +
                                     " (a quarter of its memory budget); store less, or raise memory_mb");
        if (!rule.take(Rule::Rate::state_byte, static_cast<int64_t>(text->size() + k.size())))
            throw std::runtime_error("gridlet.state." + k + ": more than " +
                                     std::to_string(rule.rate_limit(Rule::Rate::state_byte)) +
                                     " bytes of state written in one second (state_bytes_per_s)");
        push_json(L, *value);  // the stored copy
        rule.state_bytes() = total;
        sizes[k] = text->size() + k.size();
    } else {
        lua_pushnil(L);
        auto& sizes = rule.state_sizes();
        if (auto it = sizes.find(k); it != sizes.end()) {
            rule.state_bytes() -= it->second;
            sizes.erase(it);
        }
    }
    lua_pushvalue(L, 2);
    lua_insert(L, -2);
    lua_rawset(L, lua_upvalueindex(1));
    rule.side_effect([&rule, k, text = std::move(text)] {
        rule.state_saved(k, rule.core().host.put_state(rule.name(), k, text));
    });
    return 0;
}

}  // namespace

void push_state_proxy(lua_State* L, Rule& rule) {
    lua_newuserdata(L, 0);  // proxy: no rawset/rawget around the metamethods
    lua_newtable(L);        // backing data
    const int data = lua_gettop(L);
    bool failed = false;
    char message[1024];
    {
        auto stored = rule.core().host.load_state(rule.name());
        size_t total = 0;
        if (stored)
            for (const auto& [key, text] : *stored) total += key.size() + text.size();
        if (stored && total > rule.state_limit()) {
            failed = true;
            std::snprintf(message, sizeof message,
                          "its persistent state (%zu keys, %zu bytes) is over the limit of %zu bytes (a quarter of "
                          "its memory budget): raise the rule's memory_mb to load it, or see it with `gridlet state "
                          "show %s` and remove it with `gridlet state clear %s` (gridlet stopped)",
                          stored->size(), total, rule.state_limit(), rule.name().c_str(), rule.name().c_str());
        } else if (stored) {
            rule.state_bytes() = total;
            for (const auto& [key, text] : *stored) {
                rule.state_sizes()[key] = key.size() + text.size();
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
    lua_pushcclosure(L, guarded<state_get>, 1);
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

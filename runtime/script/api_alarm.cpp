// gridlet.alarm: raise, clear, read and acknowledge alarms from a rule, in
// the site's alarm table (runtime/alarm/), for logic that [[alarms]] cannot
// say. The same model as every alarm: criticality, category, latching,
// acknowledgement; flood control holds back a rule that raises too many.
//
//   local id = gridlet.alarm.raise{name = "peak", value = kw, criticality = "critical",
//                                   message = "demand above the limit", key = "main"}
//   gridlet.alarm.clear("main")           -- its condition is over
//   gridlet.alarm.active("main")          -- the record, or nil
//   gridlet.alarm.list{status = "active"} -- records, newest first
//   gridlet.alarm.ack(id, "handled by the rule")
//
// Keys are the rule's own: "main" is stored as "rule/<rule>|main" (default:
// the name). Engine thread.
#include <cmath>
#include <cstring>

#include "alarm/alarm_table.h"
#include "core/pattern.h"
#include "core/text.h"
#include "script/rule.h"
#include "script/sandbox.h"

namespace gridlet::script {

namespace {

constexpr size_t kMaxText = 1024;

alarm::AlarmTable& table_of(lua_State* L, const char* fn) {
    alarm::AlarmTable* t = Rule::of(L).core().host.alarms();
    if (!t) throw std::runtime_error(std::string("gridlet.alarm.") + fn + ": no alarm table on this host");
    return *t;
}

std::string full_key(Rule& r, const std::string& key) { return "rule/" + r.name() + "|" + key; }

// A string field of the table at `idx`, or `def`; a Lua error if it is not a
// string or longer than kMaxText.
std::string text_field(lua_State* L, int idx, const char* key, const char* fn, const std::string& def) {
    lua_getfield(L, idx, key);
    std::string out = def;
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING) {
            lua_pop(L, 1);
            luaL_error(L, "gridlet.alarm.%s: '%s' must be a string", fn, key);
        }
        const std::string_view v = to_view(L, -1);
        if (v.size() > kMaxText) {
            lua_pop(L, 1);
            luaL_error(L, "gridlet.alarm.%s: '%s' is longer than %d bytes", fn, key, static_cast<int>(kMaxText));
        }
        out = valid_text(v);
    }
    lua_pop(L, 1);
    return out;
}

int l_raise(lua_State* L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    // Not counted in events_per_s: the table's flood control bounds what a
    // rule raises (held-back raises make no event), and a raise of an
    // active key only updates it.
    Rule& rule = Rule::of(L);
    alarm::RaiseRequest r;
    r.name = text_field(L, 1, "name", "raise", "");
    if (r.name.empty() || !valid_series_name(r.name, 1) || r.name.find('/') != std::string::npos)
        return luaL_error(L, "gridlet.alarm.raise: 'name' must be a name of letters, digits, _ - . (got '%s')",
                          r.name.c_str());
    r.key = full_key(rule, text_field(L, 1, "key", "raise", r.name));
    r.series = text_field(L, 1, "series", "raise", "");
    r.source = text_field(L, 1, "source", "raise", "rule/" + rule.name());
    if (!valid_series_name(r.source, 1))
        return luaL_error(L, "gridlet.alarm.raise: 'source' must be a name such as \"panel1\" (letters, digits, _ - . and /)");
    if (!r.series.empty() && !valid_series_name(r.series, 2))
        return luaL_error(L, "gridlet.alarm.raise: 'series' must be a series name (device/point)");
    r.category = text_field(L, 1, "category", "raise", "rule");
    r.message = text_field(L, 1, "message", "raise", r.name);
    r.origin = "rule";
    r.condition = text_field(L, 1, "condition", "raise", "rule");
    if (auto c = alarm::parse_criticality(text_field(L, 1, "criticality", "raise", "non_critical")); c) {
        r.criticality = *c;
    } else {
        return luaL_error(L, "gridlet.alarm.raise: %s", c.status().message().c_str());
    }
    const std::string worse = text_field(L, 1, "worse", "raise", "");
    if (worse != "" && worse != "higher" && worse != "lower")
        return luaL_error(L, "gridlet.alarm.raise: 'worse' is \"higher\" or \"lower\"");
    r.worse = worse == "higher" ? 1 : worse == "lower" ? -1 : 0;
    lua_getfield(L, 1, "value");
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER) return luaL_error(L, "gridlet.alarm.raise: 'value' must be a number");
        r.value = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    lua_getfield(L, 1, "latching");
    r.latching = lua_toboolean(L, -1) != 0;
    lua_pop(L, 1);
    lua_getfield(L, 1, "detail");
    if (!lua_isnil(L, -1)) {
        auto j = to_json(L, lua_gettop(L));
        if (!j || !j->is_object()) return luaL_error(L, "gridlet.alarm.raise: 'detail' must be a table with string keys");
        if (dump_json(*j).size() > 16 * 1024) return luaL_error(L, "gridlet.alarm.raise: 'detail' is over 16 KB");
        r.detail = std::move(*j);
    }
    lua_pop(L, 1);
    r.ts_ms = rule.core().host.clock().now_ms();
    auto a = table_of(L, "raise").raise(r);
    if (!a && a.status().code() != StatusCode::io_error) {
        lua_pushnil(L);
        lua_pushstring(L, a.status().message().c_str());
        return 2;
    }
    // Not stored yet (the store failing): the alarm is in the table, retried.
    lua_pushnumber(L, static_cast<double>(a ? a->id : 0));
    return 1;
}

int l_clear(lua_State* L) {
    Rule& rule = Rule::of(L);
    const std::string key = full_key(rule, luaL_checkstring(L, 1));
    double value = std::numeric_limits<double>::quiet_NaN();
    if (!lua_isnoneornil(L, 2)) value = luaL_checknumber(L, 2);
    auto c = table_of(L, "clear").clear(key, rule.core().host.clock().now_ms(), value);
    lua_pushboolean(L, c && c->has_value());
    return 1;
}

int l_active(lua_State* L) {
    Rule& rule = Rule::of(L);
    auto a = table_of(L, "active").active(full_key(rule, luaL_checkstring(L, 1)));
    if (!a) {
        lua_pushnil(L);
    } else {
        push_json(L, alarm::to_json(*a));
    }
    return 1;
}

int l_list(lua_State* L) {
    alarm::AlarmFilter f;
    f.limit = 100;
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        const std::string status = text_field(L, 1, "status", "list", "open");
        if (status == "open") {
            f.open = true;
        } else if (Status st = alarm::apply_status_filter(status, f); !st) {
            return luaL_error(L, "gridlet.alarm.list: %s", st.message().c_str());
        }
        f.source_pattern = text_field(L, 1, "source", "list", "");
        f.category = text_field(L, 1, "category", "list", "");
        const std::string crit = text_field(L, 1, "criticality", "list", "");
        if (!crit.empty()) {
            auto c = alarm::parse_criticality(crit);
            if (!c) return luaL_error(L, "gridlet.alarm.list: %s", c.status().message().c_str());
            f.min_criticality = *c;
        }
        lua_getfield(L, 1, "limit");
        if (!lua_isnil(L, -1)) {
            const lua_Number n = lua_tonumber(L, -1);
            if (!(n >= 1 && n <= 1000)) return luaL_error(L, "gridlet.alarm.list: 'limit' is 1..1000");
            f.limit = static_cast<size_t>(n);
        }
        lua_pop(L, 1);
    } else {
        f.open = true;
    }
    auto list = table_of(L, "list").list(f);
    if (!list) return luaL_error(L, "gridlet.alarm.list: %s", list.status().message().c_str());
    nlohmann::json out = nlohmann::json::array();
    for (const alarm::Alarm& a : *list) out.push_back(alarm::to_json(a));
    push_json(L, out);
    return 1;
}

int l_ack(lua_State* L) {
    Rule& rule = Rule::of(L);
    const lua_Number id = luaL_checknumber(L, 1);
    if (!(id >= 1 && id == std::floor(id))) return luaL_error(L, "gridlet.alarm.ack: an alarm id (1, 2, ...)");
    std::string comment;
    if (!lua_isnoneornil(L, 2)) {
        const std::string_view v = to_view(L, 2);
        if (v.size() > kMaxText) return luaL_error(L, "gridlet.alarm.ack: comment over %d bytes", static_cast<int>(kMaxText));
        comment = valid_text(v);
    }
    auto a = table_of(L, "ack").acknowledge(static_cast<uint64_t>(id), "rule/" + rule.name(), comment,
                                            rule.core().host.clock().now_ms());
    if (!a) {
        lua_pushnil(L);
        lua_pushstring(L, a.status().message().c_str());
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

}  // namespace

void register_alarm_api(lua_State* L) {
    lua_createtable(L, 0, 5);
    lua_pushcfunction(L, guarded<l_raise>);
    lua_setfield(L, -2, "raise");
    lua_pushcfunction(L, guarded<l_clear>);
    lua_setfield(L, -2, "clear");
    lua_pushcfunction(L, guarded<l_active>);
    lua_setfield(L, -2, "active");
    lua_pushcfunction(L, guarded<l_list>);
    lua_setfield(L, -2, "list");
    lua_pushcfunction(L, guarded<l_ack>);
    lua_setfield(L, -2, "ack");
    make_readonly(L, "gridlet.alarm");
    lua_setfield(L, -2, "alarm");
}

}  // namespace gridlet::script

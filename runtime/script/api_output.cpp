// gridlet.write(target, value [, fn | opts]), gridlet.emit(type, severity, body),
// gridlet.publish(series, value [, opts]),
// gridlet.log.debug/info/warn/error(fmt, ...), gridlet.now().
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/pattern.h"
#include "core/text.h"
#include "script/rule.h"
#include "script/sandbox.h"

namespace gridlet::script {

namespace {

constexpr int64_t kDefaultWriteTimeoutMs = 5000;
// Sizes of what a rule hands out, in bytes: a command's text, an event body
// (as JSON). Log lines: Rule::log_text.
constexpr size_t kMaxWriteText = 4096;
constexpr size_t kMaxEventBody = 64 * 1024;

// An argument as shown in an error message: at most 60 bytes, valid text.
std::string shown(lua_State* L, int idx) {
    const std::string_view v = to_view(L, idx);
    return valid_text(v.size() > 60 ? std::string(v.substr(0, 60)) + "..." : std::string(v));
}

// The text at `idx` for gridlet.write, refused above kMaxWriteText.
std::string write_text(lua_State* L, int idx) {
    const std::string_view text = to_view(L, idx);
    if (text.size() > kMaxWriteText)
        luaL_error(L, "gridlet.write: a text of %d bytes is over the limit of %d", static_cast<int>(text.size()),
                   static_cast<int>(kMaxWriteText));
    return valid_text(text);
}

int l_write(lua_State* L) {
    size_t len = 0;
    const char* target = luaL_checklstring(L, 1, &len);
    if (!valid_series_name(std::string_view(target, len), 2)) {
        return luaL_error(L, "gridlet.write: bad target '%s' (want \"device/point\", at most 255 characters)",
                          shown(L, 1).c_str());
    }
    if (Rule& r = Rule::of(L); !r.take(Rule::Rate::write))
        return luaL_error(L, "gridlet.write: more than %d writes in one second (writes_per_s)",
                          static_cast<int>(r.rate_limit(Rule::Rate::write)));
    CommandRequest req;
    switch (lua_type(L, 2)) {
        case LUA_TNUMBER:
            req.value = lua_tonumber(L, 2);
            if (!std::isfinite(req.value)) return luaL_error(L, "gridlet.write: value is NaN or infinite");
            break;
        case LUA_TBOOLEAN: req.value = lua_toboolean(L, 2) ? 1 : 0; break;
        case LUA_TSTRING:
            req.value = 0;
            req.text = write_text(L, 2);
            break;
        default: return luaL_error(L, "gridlet.write: value must be a number, boolean or string, got %s", luaL_typename(L, 2));
    }
    int64_t timeout = kDefaultWriteTimeoutMs;
    int fn_index = 0;
    if (lua_type(L, 3) == LUA_TFUNCTION) {
        fn_index = 3;
    } else if (lua_type(L, 3) == LUA_TTABLE) {
        lua_getfield(L, 3, "timeout");
        if (!lua_isnil(L, -1)) timeout = check_duration_ms(L, -1, "gridlet.write: timeout");
        lua_pop(L, 1);
        lua_getfield(L, 3, "text");
        if (!lua_isnil(L, -1)) {
            luaL_checkstring(L, -1);
            req.text = write_text(L, -1);
        }
        lua_pop(L, 1);
        lua_getfield(L, 3, "on_reply");
        if (lua_type(L, -1) == LUA_TFUNCTION) {
            fn_index = lua_gettop(L);
        } else if (!lua_isnil(L, -1)) {
            return luaL_error(L, "gridlet.write: on_reply must be a function");
        } else {
            lua_pop(L, 1);
        }
    } else if (!lua_isnoneornil(L, 3)) {
        return luaL_error(L, "gridlet.write: third argument must be a reply function or an options table");
    }
    if (timeout > 3'600'000) return luaL_error(L, "gridlet.write: timeout above 1 h");
    Rule& rule = Rule::of(L);
    EngineCore& core = rule.core();
    int ref = LUA_NOREF;
    if (fn_index != 0) {
        lua_pushvalue(L, fn_index);
        ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    req.request_id = core.next_request_id();
    req.rule = rule.name();
    req.target.assign(target, len);
    req.timeout_ms = static_cast<uint32_t>(timeout);
    rule.track_reply(req.request_id, ref, req.target);
    const double id = static_cast<double>(req.request_id);
    rule.side_effect([&core, req = std::move(req)] {
        Status st = core.host.send_command(req);
        if (!st) {
            core.local_replies.push_back(CommandReply{req.request_id, GL_ERR, "not sent: " + st.message()});
        }
    });
    lua_pushnumber(L, id);
    return 1;
}

// gridlet.publish(series, value [, {ts =, unit =, kind =}]): a sample of a
// series of the rule's own (computed values, run-time overrides), as a
// driver publishes one. Counted against writes_per_s.
int l_publish(lua_State* L) {
    size_t len = 0;
    const char* series = luaL_checklstring(L, 1, &len);
    if (!valid_series_name(std::string_view(series, len), 2)) {
        return luaL_error(L, "gridlet.publish: bad series '%s' (want \"device/point\", at most 255 characters)",
                          shown(L, 1).c_str());
    }
    Rule& rule = Rule::of(L);
    if (!rule.take(Rule::Rate::write))
        return luaL_error(L, "gridlet.publish: more than %d writes and publishes in one second (writes_per_s)",
                          static_cast<int>(rule.rate_limit(Rule::Rate::write)));
    PublishedSample p;
    p.rule = rule.name();
    p.series.assign(series, len);
    switch (lua_type(L, 2)) {
        case LUA_TNUMBER:
            p.value = lua_tonumber(L, 2);
            if (!std::isfinite(p.value)) return luaL_error(L, "gridlet.publish: value is NaN or infinite");
            break;
        case LUA_TBOOLEAN: p.value = lua_toboolean(L, 2) ? 1 : 0; break;
        default: return luaL_error(L, "gridlet.publish: value must be a number or a boolean, got %s", luaL_typename(L, 2));
    }
    EngineCore& core = rule.core();
    p.ts_ms = core.host.clock().now_ms();
    if (lua_type(L, 3) == LUA_TTABLE) {
        lua_getfield(L, 3, "ts");
        if (!lua_isnil(L, -1)) {
            if (lua_type(L, -1) != LUA_TNUMBER || !std::isfinite(lua_tonumber(L, -1)))
                return luaL_error(L, "gridlet.publish: ts must be UTC milliseconds");
            p.ts_ms = static_cast<int64_t>(std::floor(lua_tonumber(L, -1)));
        }
        lua_pop(L, 1);
        lua_getfield(L, 3, "unit");
        if (!lua_isnil(L, -1)) {
            if (lua_type(L, -1) != LUA_TSTRING || to_view(L, -1).size() > 32)
                return luaL_error(L, "gridlet.publish: unit must be a text of at most 32 bytes");
            p.unit = valid_text(to_view(L, -1));
        }
        lua_pop(L, 1);
        lua_getfield(L, 3, "kind");
        if (!lua_isnil(L, -1)) {
            auto k = lua_type(L, -1) == LUA_TSTRING ? parse_series_kind(to_view(L, -1)) : std::nullopt;
            if (!k) return luaL_error(L, "gridlet.publish: kind must be \"gauge\", \"counter\" or \"state\"");
            p.kind = *k;
        }
        lua_pop(L, 1);
    } else if (!lua_isnoneornil(L, 3)) {
        return luaL_error(L, "gridlet.publish: third argument must be an options table {ts =, unit =, kind =}");
    }
    if (const std::string why = core.host.publish_refusal(p.series); !why.empty())
        return luaL_error(L, "gridlet.publish: %s", why.c_str());
    rule.side_effect([&rule, &host = core.host, p = std::move(p)] {
        Status st = host.publish_sample(p);
        if (!st) rule.log_text(LogLevel::error, "", "gridlet.publish " + p.series + ": not published: " + st.message());
    });
    return 0;
}

bool valid_event_type(std::string_view t) {
    if (t.empty() || t.size() > 64) return false;
    for (char c : t) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.')) {
            return false;
        }
    }
    return true;
}

int l_emit(lua_State* L) {
    size_t type_len = 0;
    const char* type = luaL_checklstring(L, 1, &type_len);
    if (std::strlen(type) != type_len || !valid_event_type(type))  // a NUL would cut the type short
        return luaL_error(L, "gridlet.emit: bad event type '%s' (1..64 letters, digits, _ - .)", shown(L, 1).c_str());
    if (Rule& r = Rule::of(L); !r.take(Rule::Rate::event))
        return luaL_error(L, "gridlet.emit: more than %d events in one second (events_per_s)",
                          static_cast<int>(r.rate_limit(Rule::Rate::event)));
    Severity severity = Severity::info;
    if (lua_type(L, 2) == LUA_TNUMBER) {
        const lua_Number s = lua_tonumber(L, 2);
        if (!(s >= 0 && s <= 4 && s == std::floor(s)))
            return luaL_error(L, "gridlet.emit: severity %s is not 0..4 (or debug, info, warning, error, critical)",
                              lua_tostring(L, 2));
        severity = static_cast<Severity>(static_cast<int>(s));
    } else {
        const char* name = luaL_checkstring(L, 2);
        auto parsed = parse_severity(name);
        if (!parsed)
            return luaL_error(L, "gridlet.emit: unknown severity '%s' (debug, info, warning, error, critical)",
                              shown(L, 2).c_str());
        severity = *parsed;
    }
    nlohmann::json body = nlohmann::json::object();
    if (lua_type(L, 3) == LUA_TSTRING) {
        if (to_view(L, 3).size() > kMaxEventBody)
            return luaL_error(L, "gridlet.emit: a body of %d bytes is over the limit of %d",
                              static_cast<int>(to_view(L, 3).size()), static_cast<int>(kMaxEventBody));
        body["message"] = valid_text(to_view(L, 3));
    } else if (lua_type(L, 3) == LUA_TTABLE) {
        auto j = to_json(L, 3);
        if (!j) throw std::runtime_error("gridlet.emit: body: " + j.status().message());
        if (!j->is_object()) throw std::runtime_error("gridlet.emit: body must be a table with string keys");
        body = std::move(*j);
    } else if (!lua_isnoneornil(L, 3)) {
        return luaL_error(L, "gridlet.emit: body must be a table or a string");
    }
    Rule& rule = Rule::of(L);
    std::string body_json = dump_json(body);
    if (body_json.size() > kMaxEventBody)
        throw std::runtime_error("gridlet.emit: a body of " + std::to_string(body_json.size()) +
                                 " bytes (JSON) is over the limit of " + std::to_string(kMaxEventBody));
    if (!rule.take(Rule::Rate::event_byte, static_cast<int64_t>(body_json.size())))
        throw std::runtime_error("gridlet.emit: more than " + std::to_string(rule.rate_limit(Rule::Rate::event_byte)) +
                                 " bytes of event bodies in one second (event_bytes_per_s)");
    RuleEvent ev{rule.core().host.clock().now_ms(), "rule/" + rule.name(), type, severity, std::move(body_json)};
    rule.side_effect([&host = rule.core().host, ev = std::move(ev)] { host.emit_event(ev); });
    return 0;
}

template <LogLevel Level>
int l_log(lua_State* L) {
    const int n = lua_gettop(L);
    if (n == 0) return 0;
    if (!Rule::of(L).take(Rule::Rate::log_line)) return 0;  // dropped, counted
    if (n > 1) {
        lua_getglobal(L, "string");  // the real library: C functions see the state's globals
        lua_getfield(L, -1, "format");
        lua_insert(L, 1);
        lua_pop(L, 1);
        lua_call(L, n, 1);
    } else {
        lua_getglobal(L, "tostring");
        lua_pushvalue(L, 1);
        lua_call(L, 1, 1);
    }
    luaL_where(L, 1);
    Rule::of(L).log_text(Level, to_view(L, -1), to_view(L, -2));
    return 0;
}

int l_now(lua_State* L) {
    lua_pushnumber(L, static_cast<double>(Rule::of(L).core().host.clock().now_ms()));
    return 1;
}

int l_monotonic(lua_State* L) {
    lua_pushnumber(L, static_cast<double>(Rule::of(L).core().host.clock().monotonic_ms()));
    return 1;
}

// gridlet.devices() -> {"name", ...} (sorted) | nil
int l_devices(lua_State* L) {
    auto devices = Rule::of(L).core().host.site_devices();
    if (!devices) {
        lua_pushnil(L);
        return 1;
    }
    std::sort(devices->begin(), devices->end());
    lua_createtable(L, static_cast<int>(devices->size()), 0);
    for (size_t i = 0; i < devices->size(); ++i) {
        lua_pushlstring(L, (*devices)[i].data(), (*devices)[i].size());
        lua_rawseti(L, -2, static_cast<int>(i + 1));
    }
    return 1;
}

}  // namespace

void register_output_api(lua_State* L) {
    lua_pushcfunction(L, guarded<l_write>);
    lua_setfield(L, -2, "write");
    lua_pushcfunction(L, guarded<l_emit>);
    lua_setfield(L, -2, "emit");
    lua_pushcfunction(L, guarded<l_publish>);
    lua_setfield(L, -2, "publish");
    lua_pushcfunction(L, l_now);
    lua_setfield(L, -2, "now");
    lua_pushcfunction(L, l_monotonic);
    lua_setfield(L, -2, "monotonic");
    lua_pushcfunction(L, guarded<l_devices>);
    lua_setfield(L, -2, "devices");
    lua_createtable(L, 0, 4);
    lua_pushcfunction(L, guarded<l_log<LogLevel::debug>>);
    lua_setfield(L, -2, "debug");
    lua_pushcfunction(L, guarded<l_log<LogLevel::info>>);
    lua_setfield(L, -2, "info");
    lua_pushcfunction(L, guarded<l_log<LogLevel::warn>>);
    lua_setfield(L, -2, "warn");
    lua_pushcfunction(L, guarded<l_log<LogLevel::error>>);
    lua_setfield(L, -2, "error");
    make_readonly(L, "gridlet.log");
    lua_setfield(L, -2, "log");
}

}  // namespace gridlet::script

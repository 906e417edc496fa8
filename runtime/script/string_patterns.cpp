#include "script/string_patterns.h"

#include <cstring>

#include <lua.hpp>

#include "script/pattern_match.h"

namespace gridlet::script {

namespace {

const PatternMeter& meter_of(lua_State* L, int upvalue) {
    return *static_cast<const PatternMeter*>(lua_touserdata(L, lua_upvalueindex(upvalue)));
}

// The matcher calls the state's meter through this context.
struct MeterContext {
    lua_State* L;
    const PatternMeter* meter;
};

bool charge_meter(void* context, uint64_t steps) {
    auto* c = static_cast<MeterContext*>(context);
    return c->meter->charge(c->L, steps);
}

// After a match: report a stop or a malformed pattern as a Lua error.
void raise_if_failed(lua_State* L, PatternMatch& m, const MeterContext& context) {
    m.flush_steps();
    if (m.stopped()) context.meter->raise_stop(L);
    if (m.error() != nullptr) luaL_error(L, "%s", m.error());
}

// Capture i of a match [s, e); with no captures, capture 0 is the whole match.
void push_capture(lua_State* L, const PatternMatch& m, int i, const char* s, const char* e) {
    if (i >= m.level()) {
        if (i != 0) luaL_error(L, "invalid capture index");
        lua_pushlstring(L, s, static_cast<size_t>(e - s));
        return;
    }
    const PatternMatch::Capture& c = m.capture(i);
    if (c.len == PatternMatch::kUnfinishedCapture) luaL_error(L, "unfinished capture");
    if (c.len == PatternMatch::kPositionCapture) {
        lua_pushinteger(L, c.start - m.subject() + 1);
    } else {
        lua_pushlstring(L, c.start, static_cast<size_t>(c.len));
    }
}

// All captures (or the whole match when there are none and `s` is given).
int push_captures(lua_State* L, const PatternMatch& m, const char* s, const char* e) {
    const int n = (m.level() == 0 && s != nullptr) ? 1 : m.level();
    luaL_checkstack(L, n, "too many captures");
    for (int i = 0; i < n; ++i) push_capture(L, m, i, s, e);
    return n;
}

bool has_specials(const char* p, size_t len) {
    for (size_t i = 0; i < len; ++i)
        if (p[i] != '\0' && std::strchr("^$*+?.([%-", p[i]) != nullptr) return true;
    return false;
}

int find_or_match(lua_State* L, bool find) {
    size_t ls = 0, lp = 0;
    const char* s = luaL_checklstring(L, 1, &ls);
    const char* p = luaL_checklstring(L, 2, &lp);
    // LuaJIT 2.1: a negative start counts from the end; before the start is
    // the start, beyond the end is the end.
    lua_Integer start = luaL_optinteger(L, 3, 1);
    start = start < 0 ? start + static_cast<lua_Integer>(ls) : start - 1;
    if (start < 0) start = 0;
    const size_t init = static_cast<size_t>(start) > ls ? ls : static_cast<size_t>(start);

    if (find && (lua_toboolean(L, 4) || !has_specials(p, lp))) {
        const void* at = memmem(s + init, ls - init, p, lp);
        if (at == nullptr) {
            lua_pushnil(L);
            return 1;
        }
        const auto first = static_cast<const char*>(at) - s;
        lua_pushinteger(L, first + 1);
        lua_pushinteger(L, first + static_cast<lua_Integer>(lp));
        return 2;
    }
    MeterContext context{L, &meter_of(L, 1)};
    PatternMatch m(s, ls, p, lp, charge_meter, &context);
    const bool anchored = m.take_anchor();
    for (size_t at = init; at <= ls; ++at) {
        const char* end = m.match_at(s + at);
        if (m.failed()) break;
        if (end != nullptr) {
            raise_if_failed(L, m, context);
            if (!find) return push_captures(L, m, s + at, end);
            lua_pushinteger(L, static_cast<lua_Integer>(at) + 1);
            lua_pushinteger(L, end - s);
            return push_captures(L, m, nullptr, nullptr) + 2;
        }
        if (anchored) break;
    }
    raise_if_failed(L, m, context);
    lua_pushnil(L);
    return 1;
}

int string_find(lua_State* L) { return find_or_match(L, true); }
int string_match(lua_State* L) { return find_or_match(L, false); }

// Upvalues: subject, pattern, next start (0-based), meter.
int gmatch_next(lua_State* L) {
    size_t ls = 0, lp = 0;
    const char* s = lua_tolstring(L, lua_upvalueindex(1), &ls);
    const char* p = lua_tolstring(L, lua_upvalueindex(2), &lp);
    const auto from = static_cast<size_t>(lua_tointeger(L, lua_upvalueindex(3)));
    MeterContext context{L, &meter_of(L, 4)};
    PatternMatch m(s, ls, p, lp, charge_meter, &context);  // '^' is literal in gmatch (LuaJIT)
    for (size_t at = from; at <= ls; ++at) {
        const char* end = m.match_at(s + at);
        if (m.failed()) break;
        if (end != nullptr) {
            raise_if_failed(L, m, context);
            lua_Integer next = end - s;
            if (end == s + at) ++next;  // an empty match: go on one further
            lua_pushinteger(L, next);
            lua_replace(L, lua_upvalueindex(3));
            return push_captures(L, m, s + at, end);
        }
    }
    raise_if_failed(L, m, context);
    return 0;
}

int string_gmatch(lua_State* L) {
    luaL_checkstring(L, 1);
    luaL_checkstring(L, 2);
    lua_settop(L, 2);
    lua_pushinteger(L, 0);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushcclosure(L, gmatch_next, 4);
    return 1;
}

// A replacement string: %0 the match, %1..%9 captures, % and another
// character that character (a '%' at the very end adds a NUL, as LuaJIT).
void add_replacement_text(lua_State* L, luaL_Buffer* b, const PatternMatch& m, const char* s, const char* e) {
    size_t len = 0;
    const char* text = lua_tolstring(L, 3, &len);
    for (size_t i = 0; i < len; ++i) {
        if (text[i] != '%') {
            luaL_addchar(b, text[i]);
            continue;
        }
        ++i;
        const char c = i < len ? text[i] : '\0';
        if (c < '0' || c > '9') {
            luaL_addchar(b, c);
        } else if (c == '0') {
            luaL_addlstring(b, s, static_cast<size_t>(e - s));
        } else {
            push_capture(L, m, c - '1', s, e);
            luaL_addvalue(b);
        }
    }
}

void add_replacement(lua_State* L, luaL_Buffer* b, const PatternMatch& m, const char* s, const char* e) {
    switch (lua_type(L, 3)) {
        case LUA_TFUNCTION: {
            lua_pushvalue(L, 3);
            const int n = push_captures(L, m, s, e);
            lua_call(L, n, 1);
            break;
        }
        case LUA_TTABLE:
            push_capture(L, m, 0, s, e);
            lua_gettable(L, 3);
            break;
        default: add_replacement_text(L, b, m, s, e); return;
    }
    if (!lua_toboolean(L, -1)) {  // nil or false: keep the match
        lua_pop(L, 1);
        lua_pushlstring(L, s, static_cast<size_t>(e - s));
    } else if (!lua_isstring(L, -1)) {
        luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    }
    luaL_addvalue(b);
}

int string_gsub(lua_State* L) {
    size_t ls = 0, lp = 0;
    const char* src = luaL_checklstring(L, 1, &ls);
    const char* p = luaL_checklstring(L, 2, &lp);
    const int type = lua_type(L, 3);
    const lua_Integer max_n = luaL_optinteger(L, 4, static_cast<lua_Integer>(ls) + 1);
    if (!(type == LUA_TNUMBER || type == LUA_TSTRING || type == LUA_TFUNCTION || type == LUA_TTABLE))
        luaL_argerror(L, 3, "string/function/table expected");
    MeterContext context{L, &meter_of(L, 1)};
    PatternMatch m(src, ls, p, lp, charge_meter, &context);
    const bool anchored = m.take_anchor();
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    const char* end_of_src = src + ls;
    lua_Integer n = 0;
    while (n < max_n) {
        const char* e = m.match_at(src);
        if (m.failed()) break;
        if (e != nullptr) {
            ++n;
            m.flush_steps();  // count them before any Lua runs
            if (m.stopped()) break;
            add_replacement(L, &b, m, src, e);
        }
        if (e != nullptr && e > src) {
            src = e;
        } else if (src < end_of_src) {
            luaL_addchar(&b, *src++);
        } else {
            break;
        }
        if (anchored) break;
    }
    raise_if_failed(L, m, context);
    luaL_addlstring(&b, src, static_cast<size_t>(end_of_src - src));
    luaL_pushresult(&b);
    lua_pushinteger(L, n);
    return 2;
}

}  // namespace

void install_string_patterns(lua_State* L, int lib, const PatternMeter* meter) {
    if (lib < 0 && lib > LUA_REGISTRYINDEX) lib = lua_gettop(L) + lib + 1;
    const struct {
        const char* name;
        lua_CFunction fn;
    } functions[] = {
        {"find", string_find}, {"match", string_match}, {"gmatch", string_gmatch}, {"gsub", string_gsub}};
    for (const auto& f : functions) {
        lua_pushlightuserdata(L, const_cast<PatternMeter*>(meter));
        lua_pushcclosure(L, f.fn, 1);
        lua_setfield(L, lib, f.name);
    }
}

}  // namespace gridlet::script

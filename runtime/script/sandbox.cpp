#include "script/sandbox.h"

#include <cmath>
#include <cstring>
#include <ctime>

#include <date/date.h>

#include "script/lua_support.h"
#include "script/rule.h"
#include "script/string_patterns.h"

namespace gridlet::script {

namespace {

const char* const kBaseAllowed[] = {"assert", "error", "ipairs", "next", "pairs", "rawequal", "rawget",
                                    "select", "setmetatable", "getmetatable", "tonumber", "tostring",
                                    "type", "unpack", "_VERSION"};
const char* const kReadonlyKey = "__gridlet_readonly";

int readonly_newindex(lua_State* L) {
    lua_getmetatable(L, 1);
    lua_getfield(L, -1, kReadonlyKey);
    const char* name = lua_tostring(L, -1);
    const char* key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : luaL_typename(L, 2);
    if (name != nullptr && std::strcmp(name, "_G") == 0) {
        return luaL_error(L, "cannot assign global '%s': globals are read-only in rules (use a local)", key);
    }
    return luaL_error(L, "cannot modify read-only table '%s' (field '%s')", name ? name : "?", key);
}

int unknown_global(lua_State* L) {
    const char* key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : luaL_typename(L, 2);
    return luaL_error(L, "unknown global '%s' (not available in rules)", key);
}

bool is_readonly(lua_State* L, int idx) {
    if (!lua_getmetatable(L, idx)) return false;
    lua_getfield(L, -1, kReadonlyKey);
    bool ro = !lua_isnil(L, -1);
    lua_pop(L, 2);
    return ro;
}

int sandbox_rawset(lua_State* L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    if (is_readonly(L, 1)) return luaL_error(L, "rawset: cannot modify a read-only table");
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

int sandbox_pcall(lua_State* L) {
    luaL_checkany(L, 1);
    int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    RuleLimits& limits = RuleLimits::of(L);
    if (limits.stopped()) limits.raise_stop(L);
    lua_pushboolean(L, status == 0);
    lua_insert(L, 1);
    return lua_gettop(L);
}

int sandbox_xpcall(lua_State* L) {
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 2);
    lua_remove(L, 2);
    lua_insert(L, 1);  // handler, f, args...
    int status = lua_pcall(L, lua_gettop(L) - 2, LUA_MULTRET, 1);
    RuleLimits& limits = RuleLimits::of(L);
    if (limits.stopped()) limits.raise_stop(L);
    lua_pushboolean(L, status == 0);
    lua_replace(L, 1);
    return lua_gettop(L);
}

// load(text [, chunkname [, mode [, env]]]) and loadstring(text [, chunkname]):
// text chunks only, run in the rule's environment unless `env` is given.
int load_text(lua_State* L, int env_idx) {
    if (lua_type(L, 1) != LUA_TSTRING) {
        lua_pushnil(L);
        lua_pushstring(L, "load: only text chunks (strings) can be loaded in rules");
        return 2;
    }
    size_t len = 0;
    const char* text = lua_tolstring(L, 1, &len);
    // A chunk name "@/etc/passwd" would make errors name a file of the
    // host ("/etc/passwd:1:"); a loaded chunk is always shown as one:
    // [load "name"]:1: (the name cut to 60 bytes, without NUL or newline).
    std::string name = "=[load]";
    if (!lua_isnoneornil(L, 2)) {
        size_t n = 0;
        const char* given = luaL_checklstring(L, 2, &n);
        std::string shown(given, std::min<size_t>(n, 60));
        for (char& c : shown)
            if (c == '\0' || c == '\n' || c == '\r') c = ' ';
        name = "=[load \"" + shown + "\"]";
    }
    if (len > 0 && text[0] == LUA_SIGNATURE[0]) {
        lua_pushnil(L);
        lua_pushstring(L, "load: binary (bytecode) chunks are not allowed in rules");
        return 2;
    }
    if (luaL_loadbufferx(L, text, len, name.c_str(), "t") != 0) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    if (env_idx > 0 && lua_type(L, env_idx) == LUA_TTABLE) {
        lua_pushvalue(L, env_idx);
    } else {
        Rule::of(L).push_env();
    }
    lua_setfenv(L, -2);
    return 1;
}

int sandbox_load(lua_State* L) {
    if (lua_gettop(L) >= 3 && !lua_isnil(L, 3)) {
        const char* mode = luaL_checkstring(L, 3);
        if (std::strchr(mode, 'b') != nullptr && std::strchr(mode, 't') == nullptr) {
            lua_pushnil(L);
            lua_pushstring(L, "load: binary (bytecode) chunks are not allowed in rules");
            return 2;
        }
    }
    return load_text(L, 4);
}

int sandbox_loadstring(lua_State* L) { return load_text(L, 0); }

int sandbox_require(lua_State* L) { return Rule::of(L).require_module(L); }

int sandbox_print(lua_State* L) {
    if (!Rule::of(L).take(Rule::Rate::log_line)) return 0;  // dropped, counted
    std::string line;
    int n = lua_gettop(L);
    for (int i = 1; i <= n; ++i) {
        lua_getglobal(L, "tostring");
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_pushstring(L, luaL_typename(L, i));
        } else {
            lua_pushvalue(L, i);
            lua_call(L, 1, 1);
        }
        if (i > 1) line += '\t';
        if (lua_isstring(L, -1)) line += to_view(L, -1);
        else line += "?";
        lua_pop(L, 1);
        if (line.size() > Rule::kMaxLogLine) break;  // cut anyway: build no more
    }
    Rule::of(L).log_text(LogLevel::info, "", line);
    return 0;
}

int sandbox_collectgarbage(lua_State* L) {
    const char* opt = luaL_optstring(L, 1, "collect");
    if (std::strcmp(opt, "count") == 0) {
        lua_pushnumber(L, lua_gc(L, LUA_GCCOUNT, 0) + lua_gc(L, LUA_GCCOUNTB, 0) / 1024.0);
        return 1;
    }
    if (std::strcmp(opt, "collect") == 0) {
        lua_gc(L, LUA_GCCOLLECT, 0);
        lua_pushinteger(L, 0);
        return 1;
    }
    if (std::strcmp(opt, "step") == 0) {
        lua_pushboolean(L, lua_gc(L, LUA_GCSTEP, static_cast<int>(luaL_optinteger(L, 2, 0))));
        return 1;
    }
    return luaL_error(L, "collectgarbage('%s') is not allowed in rules (count, collect, step)", opt);
}

// ---- os.time / os.date on the engine clock and the site zone -------------

int os_time(lua_State* L) {
    RuleHost& host = Rule::of(L).core().host;
    if (lua_isnoneornil(L, 1)) {
        lua_pushnumber(L, std::floor(static_cast<double>(host.clock().now_ms()) / 1000.0));
        return 1;
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    // Fields are whole numbers; years 1..9999, others within +-10,000,000
    // (normalized below), so nothing overflows into a wrong date.
    auto field = [&](const char* k, int dflt) {
        lua_getfield(L, 1, k);
        if (dflt < 0 && !lua_isnumber(L, -1)) luaL_error(L, "os.time: field '%s' missing in date table", k);
        int v = dflt;
        if (lua_isnumber(L, -1)) {
            const double d = lua_tonumber(L, -1);
            const double limit = std::strcmp(k, "year") == 0 ? 9999 : 1e7;
            if (!(d == std::floor(d) && std::fabs(d) <= limit) || (std::strcmp(k, "year") == 0 && d < 1))
                luaL_error(L, "os.time: field '%s' is %s: a whole number %s", k, lua_tostring(L, -1),
                           std::strcmp(k, "year") == 0 ? "in 1..9999" : "within +-10000000");
            v = static_cast<int>(d);
        }
        lua_pop(L, 1);
        return v;
    };
    // Out-of-range fields normalize, as in C's mktime: day 0 is the last day
    // of the previous month, hour 25 is 01:00 the next day.
    const int year = field("year", -1), month = field("month", -1);
    const int64_t years = year + (month - 1 >= 0 ? (month - 1) / 12 : (month - 12) / 12);
    const int month0 = ((month - 1) % 12 + 12) % 12;
    const date::sys_days first = date::year(static_cast<int>(years)) / date::month(static_cast<unsigned>(month0 + 1)) / 1;
    const int64_t local_s = (first.time_since_epoch().count() + field("day", -1) - 1) * 86400LL + field("hour", 12) * 3600LL +
                            field("min", 0) * 60LL + field("sec", 0);
    const int64_t days = local_s >= 0 ? local_s / 86400 : (local_s - 86399) / 86400;
    const date::year_month_day ymd{date::sys_days{date::days{days}}};
    const int64_t sod = local_s - days * 86400;
    CivilTime c{int(ymd.year()), int(unsigned(ymd.month())), int(unsigned(ymd.day())), int(sod / 3600), int(sod / 60 % 60),
                int(sod % 60), 0};
    char message[256];
    {
        auto utc = host.time_zone().from_local(c);
        if (utc) {
            lua_pushnumber(L, std::floor(static_cast<double>(*utc) / 1000.0));
            return 1;
        }
        std::snprintf(message, sizeof message, "os.time: %s", utc.status().message().c_str());
    }
    return luaL_error(L, "%s", message);
}

int os_date(lua_State* L) {
    RuleHost& host = Rule::of(L).core().host;
    size_t fmt_len = 0;
    const char* fmt = luaL_optlstring(L, 1, "%c", &fmt_len);
    if (std::strlen(fmt) != fmt_len) return luaL_error(L, "os.date: the format holds a NUL byte");
    int64_t ms = 0;
    if (lua_isnoneornil(L, 2)) {
        ms = host.clock().now_ms();
    } else {
        const double s = std::floor(luaL_checknumber(L, 2));
        if (!(s >= static_cast<double>(kFirstIsoYearMs / 1000) && s <= static_cast<double>(kLastIsoYearMs / 1000)))
            return luaL_error(L, "os.date: time %s is outside years 0001..9999", lua_tostring(L, 2));
        ms = static_cast<int64_t>(s) * 1000;
    }
    bool utc = fmt[0] == '!';
    if (utc) ++fmt;
    const TimeZone zone = utc ? TimeZone::utc() : host.time_zone();
    CivilTime c = zone.to_local(ms);
    const int64_t offset = zone.utc_offset_ms(ms);
    // DST when the offset is above the smaller of January's and July's.
    const int64_t year_start = zone.start_of(CalendarUnit::year, ms);
    const int64_t off_jan = zone.utc_offset_ms(year_start);
    const int64_t off_jul = zone.utc_offset_ms(year_start + 182LL * 86'400'000);
    const bool isdst = offset > std::min(off_jan, off_jul);
    std::tm tm{};
    tm.tm_year = c.year - 1900;
    tm.tm_mon = c.month - 1;
    tm.tm_mday = c.day;
    tm.tm_hour = c.hour;
    tm.tm_min = c.minute;
    tm.tm_sec = c.second;
    const int64_t local_days = (ms + offset) >= 0 ? (ms + offset) / 86'400'000 : ((ms + offset) - 86'399'999) / 86'400'000;
    tm.tm_wday = static_cast<int>(((local_days % 7) + 11) % 7);  // 1970-01-01 was a Thursday
    const int64_t jan1 = zone.start_of(CalendarUnit::year, ms);
    tm.tm_yday = static_cast<int>((ms + offset - (jan1 + zone.utc_offset_ms(jan1))) / 86'400'000);
    tm.tm_isdst = isdst ? 1 : 0;
    tm.tm_gmtoff = static_cast<long>(offset / 1000);
    tm.tm_zone = utc ? "UTC" : nullptr;
    if (std::strcmp(fmt, "*t") == 0) {
        lua_createtable(L, 0, 9);
        lua_pushinteger(L, c.year), lua_setfield(L, -2, "year");
        lua_pushinteger(L, c.month), lua_setfield(L, -2, "month");
        lua_pushinteger(L, c.day), lua_setfield(L, -2, "day");
        lua_pushinteger(L, c.hour), lua_setfield(L, -2, "hour");
        lua_pushinteger(L, c.minute), lua_setfield(L, -2, "min");
        lua_pushinteger(L, c.second), lua_setfield(L, -2, "sec");
        lua_pushinteger(L, tm.tm_wday + 1), lua_setfield(L, -2, "wday");
        lua_pushinteger(L, tm.tm_yday + 1), lua_setfield(L, -2, "yday");
        lua_pushboolean(L, isdst), lua_setfield(L, -2, "isdst");
        return 1;
    }
    // Plain conversions only (%Y, %Ez...): glibc's flags and widths (%^Z,
    // %#Z, %10Z) would get past the %Z check and can make huge output. %Z
    // (the zone abbreviation) is not known here, except in UTC.
    for (const char* p = fmt; *p; ++p) {
        if (*p != '%') continue;
        const char* conv = p + 1;
        if (*conv == 'E' || *conv == 'O') ++conv;
        if (*conv == '\0' || std::strchr("aAbBcCdDeFgGhHIjmMnprRStTuUVwWxXyYzZ%", *conv) == nullptr)
            return luaL_error(L, "os.date: '%%%c' is not a supported conversion (plain ones only, such as %%Y %%m %%d %%H)",
                              *(p + 1) ? *(p + 1) : ' ');
        if (*conv == 'Z' && !utc) return luaL_error(L, "os.date: %%Z is not supported (use %%z for the UTC offset)");
        p = conv;
    }
    char out[512];
    size_t n = std::strftime(out, sizeof out, fmt, &tm);
    if (n == 0 && fmt[0] != '\0') return luaL_error(L, "os.date: format too long or empty result");
    lua_pushlstring(L, out, n);
    return 1;
}

// string.rep(s, n [, sep]): LuaJIT answers "" when the length overflows an
// int (string.rep("x", 2^31)); a result larger than the rule's memory
// budget is an error that says so, whatever its size.
int string_rep(lua_State* L) {
    size_t len = 0, sep_len = 0;
    luaL_checklstring(L, 1, &len);
    const lua_Number n = luaL_checknumber(L, 2);
    if (!lua_isnoneornil(L, 3)) luaL_checklstring(L, 3, &sep_len);
    if (n >= 1) {
        const double total = static_cast<double>(len) * n + static_cast<double>(sep_len) * (n - 1);
        const double budget = 4.0 * static_cast<double>(Rule::of(L).state_limit());
        if (total > budget || total > 2147483647.0)
            return luaL_error(L, "string.rep: a result of %.0f bytes is more than the rule's memory budget (%.0f bytes)",
                              total, budget);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

int os_clock(lua_State* L) {
    lua_pushnumber(L, static_cast<double>(std::clock()) / CLOCKS_PER_SEC);
    return 1;
}

// The pattern functions charge their steps to the rule's budgets.
const PatternMeter kRuleMeter{
    [](lua_State* L, uint64_t steps) { return RuleLimits::of(L).charge_steps(steps); },
    [](lua_State* L) { RuleLimits::of(L).raise_stop(L); },
};

void open_lib(lua_State* L, const char* name, lua_CFunction open) {
    lua_pushcfunction(L, open);
    lua_pushstring(L, name);
    lua_call(L, 1, 0);
}

// Pushes the library table `lib` of the state's globals, without `skip`.
// The rule sees it through a read-only proxy, so it is not copied.
void push_lib(lua_State* L, const char* lib, const char* skip) {
    lua_getglobal(L, lib);
    if (skip != nullptr) {
        lua_pushnil(L);
        lua_setfield(L, -2, skip);
    }
}

}  // namespace

void make_readonly(lua_State* L, const char* name) {
    lua_newtable(L);                 // proxy
    lua_createtable(L, 0, 4);        // mt
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, readonly_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushstring(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_pushstring(L, name);
    lua_setfield(L, -2, kReadonlyKey);
    lua_setmetatable(L, -2);
    lua_remove(L, -2);
}

void install_sandbox(lua_State* L, Rule& rule) {
    open_lib(L, "", luaopen_base);
    open_lib(L, LUA_TABLIBNAME, luaopen_table);
    open_lib(L, LUA_STRLIBNAME, luaopen_string);
    open_lib(L, LUA_MATHLIBNAME, luaopen_math);
    // Rule states never JIT-compile: compiled traces ignore the budget hook.
    luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);

    lua_createtable(L, 0, 40);  // builtins
    int builtins = lua_gettop(L);
    for (const char* name : kBaseAllowed) {
        lua_getglobal(L, name);
        lua_setfield(L, builtins, name);
    }
    const struct {
        const char* name;
        lua_CFunction fn;
    } wrapped[] = {{"pcall", sandbox_pcall},
                   {"xpcall", sandbox_xpcall},
                   {"rawset", sandbox_rawset},
                   {"load", sandbox_load},
                   {"loadstring", sandbox_loadstring},
                   {"require", guarded<sandbox_require>},
                   {"print", guarded<sandbox_print>},
                   {"collectgarbage", sandbox_collectgarbage}};
    for (const auto& w : wrapped) {
        lua_pushcfunction(L, w.fn);
        lua_setfield(L, builtins, w.name);
    }
    push_lib(L, LUA_STRLIBNAME, "dump");
    lua_getfield(L, -1, "rep");
    lua_pushcclosure(L, string_rep, 1);  // the original as upvalue
    lua_setfield(L, -2, "rep");
    install_string_patterns(L, -1, &kRuleMeter);
    make_readonly(L, "string");
    lua_setfield(L, builtins, "string");
    push_lib(L, LUA_TABLIBNAME, nullptr);
    make_readonly(L, "table");
    lua_setfield(L, builtins, "table");
    push_lib(L, LUA_MATHLIBNAME, nullptr);
    make_readonly(L, "math");
    lua_setfield(L, builtins, "math");
    lua_createtable(L, 0, 3);
    lua_pushcfunction(L, guarded<os_time>);
    lua_setfield(L, -2, "time");
    lua_pushcfunction(L, guarded<os_date>);
    lua_setfield(L, -2, "date");
    lua_pushcfunction(L, os_clock);
    lua_setfield(L, -2, "clock");
    make_readonly(L, "os");
    lua_setfield(L, builtins, "os");

    // The string metatable (("x"):upper()) must not be reachable for changes.
    lua_pushstring(L, "");
    if (lua_getmetatable(L, -1)) {
        lua_pushstring(L, "locked");
        lua_setfield(L, -2, "__metatable");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);

    push_json(L, rule.config().params.is_null() ? nlohmann::json::object() : rule.config().params);
    const int params = lua_gettop(L);
    push_gridlet_module(L, rule);
    lua_pushvalue(L, params);
    lua_setfield(L, -2, "params");
    make_readonly(L, "gridlet");
    lua_setfield(L, builtins, "gridlet");
    lua_setfield(L, builtins, "params");

    // builtins: unknown names raise; env: the read-only globals view.
    lua_createtable(L, 0, 3);
    lua_pushcfunction(L, unknown_global);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, readonly_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushstring(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_pushstring(L, "_G");
    lua_setfield(L, -2, kReadonlyKey);
    lua_setmetatable(L, builtins);
    lua_pushvalue(L, builtins);
    make_readonly(L, "_G");  // env: proxy over builtins, readonly
    int env = lua_gettop(L);
    lua_pushstring(L, "_G");
    lua_pushvalue(L, env);
    lua_rawset(L, builtins);
    lua_remove(L, builtins);
}

}  // namespace gridlet::script

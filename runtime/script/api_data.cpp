// gridlet.last(series), gridlet.window(series, duration), gridlet.query{...}.
#include <cmath>
#include <cstring>

#include "core/pattern.h"
#include "store/aggregation.h"
#include "script/budgets.h"
#include "script/rule.h"
#include "script/sandbox.h"

namespace gridlet::script {

namespace {

constexpr size_t kMaxQueryRows = 200'000;
constexpr size_t kRowTableBytes = 170;  // a result row as a Lua table, measured (about)

int l_last(lua_State* L) {
    size_t len = 0;
    const char* name = luaL_checklstring(L, 1, &len);
    EngineCore& core = Rule::of(L).core();
    auto ref = core.find_series(std::string_view(name, len));
    if (!ref) {
        Rule::of(L).note_unknown_series(std::string_view(name, len));
        return 0;
    }
    auto last = core.cache.last(ref->id);
    if (!last) {
        last = core.host.last_sample(ref->id);
        if (!last) return 0;
        core.cache.remember_last(*last);
    }
    lua_pushnumber(L, last->value);
    lua_pushnumber(L, static_cast<double>(last->ts_ms));
    lua_pushinteger(L, last->quality);
    return 3;
}

void set_number(lua_State* L, const char* key, double v) {
    lua_pushnumber(L, v);
    lua_setfield(L, -2, key);
}

// The rule's budgets, told the work a store read does while it reads
// (store::QueryLimit::meter): samples decoded and buckets made count as
// instructions, and the time budget is checked (RuleLimits::charge_steps).
std::function<Status(uint64_t)> rule_meter(RuleLimits& limits) {
    return [&limits](uint64_t work) {
        return limits.charge_steps(work) ? Status::ok() : Status::timeout("stopped by its budget");
    };
}

int l_window(lua_State* L) {
    size_t len = 0;
    const char* name = luaL_checklstring(L, 1, &len);
    const int64_t duration = check_duration_ms(L, 2, "gridlet.window");
    Rule& rule = Rule::of(L);
    RuleLimits& limits = RuleLimits::of(L);
    EngineCore& core = rule.core();
    auto ref = core.find_series(std::string_view(name, len));
    if (!ref) {
        rule.note_unknown_series(std::string_view(name, len));
        return 0;
    }
    const int64_t now = core.host.clock().now_ms();
    const size_t cap = SeriesCache::kMaxWindowPoints;
    bool failed = false;
    char message[512];
    if (!core.cache.has_window(ref->id, duration)) {
        QuerySpec spec;
        spec.series = {ref->id};
        spec.from_ms = now - duration;
        spec.to_ms = now + 1;
        spec.max_rows = cap;
        spec.meter = rule_meter(limits);
        auto rows = core.host.query(spec);
        if (rows) {
            std::vector<gl_sample> history;
            history.reserve(rows->size());
            for (const QueryRow& r : *rows) history.push_back(gl_sample{r.ts_ms, r.value, r.series_id, r.quality, {0, 0, 0}});
            if (!core.cache.ensure_window(ref->id, duration, history)) {
                failed = true;
                std::snprintf(message, sizeof message,
                              "gridlet.window('%s'): more than %zu samples in the window; use gridlet.query with step and agg",
                              ref->name.c_str(), cap);
            }
        } else if (!limits.stopped()) {
            failed = true;
            std::snprintf(message, sizeof message, "gridlet.window('%s'): %s", ref->name.c_str(),
                          rows.status().message().c_str());
        }
    } else if (core.cache.complete_from(ref->id) > now - duration) {
        failed = true;
        std::snprintf(message, sizeof message,
                      "gridlet.window('%s'): more than %zu samples in the window; use gridlet.query with step and agg",
                      ref->name.c_str(), cap);
    }
    if (limits.stopped()) limits.raise_stop(L);
    if (failed) return luaL_error(L, "%s", message);
    const WindowStats st = core.cache.stats(ref->id, now - duration, now, ref->kind == SeriesKind::counter);
    rule.charge_window(ref->id, st.count);
    if (limits.stopped()) limits.raise_stop(L);
    lua_createtable(L, 0, 10);
    set_number(L, "count", static_cast<double>(st.count));
    if (st.count > 0) {
        set_number(L, "avg", st.sum / static_cast<double>(st.count));
        set_number(L, "min", st.min);
        set_number(L, "max", st.max);
        set_number(L, "sum", st.sum);
        set_number(L, "first", st.first);
        set_number(L, "last", st.last);
        set_number(L, "delta", st.delta);
        set_number(L, "first_ts", static_cast<double>(st.first_ts));
        set_number(L, "last_ts", static_cast<double>(st.last_ts));
    }
    return 1;
}

// A time argument of query (UTC ms): a finite number in the store's range
// (0001-01-01 .. 9999-12-31), else an error naming the argument.
int64_t check_time_ms(lua_State* L, int idx, const char* what) {
    const double t = luaL_checknumber(L, idx);
    if (!(t >= static_cast<double>(store::kMinStoreTime) && t <= static_cast<double>(store::kMaxStoreTime)))  // and NaN, inf
        luaL_error(L, "gridlet.query: '%s' must be a time in UTC ms between 0001-01-01 and 9999-12-31", what);
    return static_cast<int64_t>(t);
}

// query{series = "name or pattern" | {names...}, from = ms, to = ms | last = duration,
//       step = duration | "day" | "week" | "month" | "year", agg = "avg"}
// Bounded while it reads (store::QueryLimit): 200,000 rows, the rule's
// instruction and time budgets, the rows held counted in its memory.
// gridlet.consumption{by=, period=, from= | last=, to=, fluid=, node=, cost=, kwh=}
// -> the site model's consumption (RuleHost::consumption; runtime/model).
int l_consumption(lua_State* L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    EngineCore& core = Rule::of(L).core();
    static const char* known[] = {"by", "period", "from", "to", "last", "fluid", "node", "cost", "kwh"};
    lua_pushnil(L);
    while (lua_next(L, 1) != 0) {
        lua_pop(L, 1);
        bool ok = false;
        if (lua_type(L, -1) == LUA_TSTRING)
            for (const char* k : known) ok = ok || std::strcmp(k, lua_tostring(L, -1)) == 0;
        if (!ok) {
            const char* key = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : luaL_typename(L, -1);
            return luaL_error(L, "gridlet.consumption: '%s' is unknown (by, period, from, to, last, fluid, node, cost, kwh)", key);
        }
    }
    const int64_t now = core.host.clock().now_ms();
    nlohmann::json req = nlohmann::json::object();
    req["to"] = now;
    lua_getfield(L, 1, "last");
    const bool has_last = !lua_isnil(L, -1);
    if (has_last) req["from"] = now - check_duration_ms(L, -1, "gridlet.consumption: last");
    lua_pop(L, 1);
    lua_getfield(L, 1, "from");
    if (!lua_isnil(L, -1)) {
        if (has_last) return luaL_error(L, "gridlet.consumption: give either 'last' or 'from', not both");
        req["from"] = check_time_ms(L, -1, "from");
    } else if (!has_last) {
        return luaL_error(L, "gridlet.consumption: 'from' (UTC ms) or 'last' (a duration) is required");
    }
    lua_pop(L, 1);
    lua_getfield(L, 1, "to");
    if (!lua_isnil(L, -1)) req["to"] = check_time_ms(L, -1, "to");
    lua_pop(L, 1);
    for (const char* key : {"by", "period", "fluid", "node"}) {
        lua_getfield(L, 1, key);
        if (!lua_isnil(L, -1)) {
            if (lua_type(L, -1) != LUA_TSTRING) return luaL_error(L, "gridlet.consumption: '%s' must be a string", key);
            req[key] = lua_tostring(L, -1);
        }
        lua_pop(L, 1);
    }
    for (const char* key : {"cost", "kwh"}) {
        lua_getfield(L, 1, key);
        if (!lua_isnil(L, -1)) {
            if (!lua_isboolean(L, -1)) return luaL_error(L, "gridlet.consumption: '%s' must be true or false", key);
            req[key] = static_cast<bool>(lua_toboolean(L, -1));
        }
        lua_pop(L, 1);
    }
    auto res = core.host.consumption(req);
    if (!res) return luaL_error(L, "gridlet.consumption: %s", res.status().message().c_str());
    push_json(L, *res);
    return 1;
}

int l_query(lua_State* L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    EngineCore& core = Rule::of(L).core();
    const int64_t now = core.host.clock().now_ms();
    lua_getfield(L, 1, "series");
    if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TTABLE)
        return luaL_error(L, "gridlet.query: 'series' (a name, a pattern or a list of names) is required");
    std::vector<std::string> patterns = check_names(L, lua_gettop(L), "query");
    lua_pop(L, 1);
    QuerySpec spec;
    spec.to_ms = now;
    lua_getfield(L, 1, "last");
    const bool has_last = !lua_isnil(L, -1);
    if (has_last) spec.from_ms = now - check_duration_ms(L, -1, "gridlet.query: last");
    lua_pop(L, 1);
    lua_getfield(L, 1, "from");
    if (!lua_isnil(L, -1)) {
        if (has_last) return luaL_error(L, "gridlet.query: give either 'last' or 'from', not both");
        spec.from_ms = check_time_ms(L, -1, "from");
    } else if (!has_last) {
        return luaL_error(L, "gridlet.query: 'from' (UTC ms) or 'last' (a duration) is required");
    }
    lua_pop(L, 1);
    lua_getfield(L, 1, "to");
    if (!lua_isnil(L, -1)) spec.to_ms = check_time_ms(L, -1, "to");
    lua_pop(L, 1);
    if (spec.to_ms <= spec.from_ms) return luaL_error(L, "gridlet.query: empty range (to <= from)");
    lua_getfield(L, 1, "step");
    if (!lua_isnil(L, -1)) {
        // "day", "week", "month", "year": calendar periods of the site's
        // zone (a DST day is 23 or 25 h), as `gridlet query --step day`.
        std::optional<CalendarUnit> unit;
        if (lua_type(L, -1) == LUA_TSTRING)
            if (auto u = parse_calendar_unit(lua_tostring(L, -1))) unit = *u;
        if (unit) spec.calendar = unit;
        else spec.step_ms = check_duration_ms(L, -1, "gridlet.query: step");
    }
    lua_pop(L, 1);
    lua_getfield(L, 1, "agg");
    if (!lua_isnil(L, -1)) {
        const char* agg = luaL_checkstring(L, -1);
        auto parsed = parse_aggregate(agg);
        if (!parsed) return luaL_error(L, "gridlet.query: unknown agg '%s' (avg, min, max, sum, count, first, last, delta)", agg);
        spec.aggregate = *parsed;
        // No step: one bucket [from, to), labelled from (QuerySpec).
    } else if (spec.step_ms != 0 || spec.calendar) {
        spec.aggregate = Aggregate::avg;
    }
    lua_pop(L, 1);

    std::vector<std::string> names;  // by id, for the result
    std::unordered_map<uint32_t, size_t> name_of;
    for (const std::string& p : patterns) {
        const bool exact = !has_wildcard(p) && (p.empty() || p.back() != '/');
        std::vector<SeriesRef> refs;
        if (exact) {
            if (auto r = core.find_series(p)) refs.push_back(*r);
        } else {
            refs = core.host.resolve(p);
        }
        for (auto& r : refs) {
            if (name_of.emplace(r.id, names.size()).second) {
                spec.series.push_back(r.id);
                names.push_back(r.name);
            }
        }
    }
    RuleLimits& limits = RuleLimits::of(L);
    spec.max_rows = kMaxQueryRows;
    spec.meter = rule_meter(limits);
    char message[512];
    bool stopped = false;
    {
        auto rows = spec.series.empty() ? Expected<std::vector<QueryRow>>(std::vector<QueryRow>{}) : core.host.query(spec);
        stopped = limits.stopped();
        if (rows && !stopped) {
            // The rows are held while the result table is built: counted.
            const long held = static_cast<long>(rows->size() * sizeof(QueryRow));
            limits.add_engine_bytes(held);
            struct Release {
                RuleLimits& l;
                long n;
                ~Release() { l.add_engine_bytes(-n); }
            } release{limits, held};
            stopped = limits.stopped();
            // Garbage counts in the budget until collected: a rule that
            // queries again and again would be refused for its old results.
            // So collect first when the new table might not fit.
            if (!stopped && limits.memory_used() + rows->size() * kRowTableBytes > limits.budgets().memory_bytes)
                lua_gc(L, LUA_GCCOLLECT, 0);
            if (!stopped) {
                lua_createtable(L, static_cast<int>(rows->size()), 0);
                int i = 0;
                for (const QueryRow& r : *rows) {
                    lua_createtable(L, 0, 3);
                    const std::string& nm = names[name_of[r.series_id]];
                    lua_pushlstring(L, nm.data(), nm.size());
                    lua_setfield(L, -2, "series");
                    set_number(L, "ts", static_cast<double>(r.ts_ms));
                    set_number(L, "value", r.value);
                    lua_rawseti(L, -2, ++i);
                }
                return 1;
            }
        } else if (!stopped) {
            std::snprintf(message, sizeof message, "gridlet.query: %s", rows.status().message().c_str());
        }
    }
    if (stopped) limits.raise_stop(L);
    return luaL_error(L, "%s", message);
}

}  // namespace

void register_data_api(lua_State* L) {
    lua_pushcfunction(L, guarded<l_last>);
    lua_setfield(L, -2, "last");
    lua_pushcfunction(L, guarded<l_window>);
    lua_setfield(L, -2, "window");
    lua_pushcfunction(L, guarded<l_query>);
    lua_setfield(L, -2, "query");
    lua_pushcfunction(L, guarded<l_consumption>);
    lua_setfield(L, -2, "consumption");
}

}  // namespace gridlet::script

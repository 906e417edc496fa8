// gridlet.export{target =, name =, content =}: a rule's own export file (a
// custom CSV or JSON it builds, on its own schedule: gridlet.every,
// gridlet.at), queued for an [[export_targets]] server through the same
// outbox and transports as [[exports]] (runtime/export/outbox_sender.h):
// it waits in the store until the server took it, retried, alarmed.
//
//   gridlet.at("00:30", function()
//     local day = gridlet.query{series = "panel1/mains/kwh", from = "-1d", agg = "consumption"}
//     gridlet.export{target = "office", name = "kwh_" .. os.date("!%Y-%m-%d") .. ".json", content = day}
//   end)
//
// `content` is the file's bytes (a string: CSV, text), or a table, written
// as JSON (as gridlet.alarm's detail: string keys, numbers, booleans,
// strings, arrays).
//
// Errors (Lua errors, at the call): an unknown target, a name that is not a
// plain file name (1..128 bytes, no '/', '\', '"' or control character), a
// content over 16 MiB, more than writes_per_s calls in a second. The file is
// queued at the call (during a rule's load: once the load succeeded, like
// gridlet.publish); one that cannot be queued (the target's outbox full) is
// logged as the rule's error. A file with the same name and bytes as the newest one
// waiting for that target is not queued twice.
#include <cstring>

#include "core/text.h"
#include "script/lua_support.h"
#include "script/rule.h"
#include "script/sandbox.h"

namespace gridlet::script {

namespace {

constexpr size_t kMaxExportBytes = 16 * 1024 * 1024;
constexpr size_t kMaxExportName = 128;

std::string field(lua_State* L, const char* key, size_t max, bool required) {
    lua_getfield(L, 1, key);
    std::string out;
    if (lua_type(L, -1) == LUA_TSTRING) {
        size_t len = 0;
        const char* s = lua_tolstring(L, -1, &len);
        if (len > max)
            luaL_error(L, "gridlet.export: '%s' is %d bytes, over the limit of %d", key, static_cast<int>(len),
                       static_cast<int>(max));
        out.assign(s, len);
    } else if (!lua_isnil(L, -1) || required) {
        luaL_error(L, "gridlet.export: '%s' must be a string", key);
    }
    lua_pop(L, 1);
    return out;
}

int l_export(lua_State* L) {
    if (lua_type(L, 1) != LUA_TTABLE)
        return luaL_error(L, "gridlet.export: takes one table {target =, name =, content =}, got %s", luaL_typename(L, 1));
    // Every key is one of the three: a misspelt one would be silently ignored.
    lua_pushnil(L);
    while (lua_next(L, 1) != 0) {
        const bool known = lua_type(L, -2) == LUA_TSTRING &&
                           (std::strcmp(lua_tostring(L, -2), "target") == 0 || std::strcmp(lua_tostring(L, -2), "name") == 0 ||
                            std::strcmp(lua_tostring(L, -2), "content") == 0);
        if (!known) {
            const std::string key = lua_type(L, -2) == LUA_TSTRING ? valid_text(to_view(L, -2)) : luaL_typename(L, -2);
            return luaL_error(L, "gridlet.export: unknown key '%s' (target, name, content)", key.c_str());
        }
        lua_pop(L, 1);
    }
    const std::string target = field(L, "target", 64, true);
    const std::string name = field(L, "name", kMaxExportName, true);
    std::string content;
    lua_getfield(L, 1, "content");
    const bool table = lua_type(L, -1) == LUA_TTABLE;
    if (table) {
        auto j = to_json(L, lua_gettop(L));
        if (!j) return luaL_error(L, "gridlet.export: 'content': %s", j.status().message().c_str());
        content = dump_json(*j);
        if (content.size() > kMaxExportBytes)
            return luaL_error(L, "gridlet.export: 'content' as JSON is over the limit of %d bytes",
                              static_cast<int>(kMaxExportBytes));
    }
    lua_pop(L, 1);
    if (!table) {
        lua_getfield(L, 1, "content");
        const bool text = lua_type(L, -1) == LUA_TSTRING;
        lua_pop(L, 1);
        if (!text) return luaL_error(L, "gridlet.export: 'content' must be a string (the file's text) or a table (JSON)");
        content = field(L, "content", kMaxExportBytes, true);
    }
    if (name.empty()) return luaL_error(L, "gridlet.export: 'name' is empty");
    if (name == "." || name == "..") return luaL_error(L, "gridlet.export: name '%s' is not a file name", name.c_str());
    for (unsigned char c : name)
        if (c < 0x20 || c == 0x7f || c == '/' || c == '\\' || c == '"')
            return luaL_error(L, "gridlet.export: name '%s' has a '/', '\\', '\"' or a control character",
                              valid_text(name).c_str());
    Rule& rule = Rule::of(L);
    EngineCore& core = rule.core();
    if (const std::string why = core.host.export_refusal(target); !why.empty())
        return luaL_error(L, "gridlet.export: %s", why.c_str());
    if (!rule.take(Rule::Rate::write))
        return luaL_error(L, "gridlet.export: more than %d writes, publishes and exports in one second (writes_per_s)",
                          static_cast<int>(rule.rate_limit(Rule::Rate::write)));
    rule.side_effect([&rule, &host = core.host, target, name, content = std::move(content)] {
        Status st = host.export_file(rule.name(), target, name, content);
        if (!st) rule.log_text(LogLevel::error, "", "gridlet.export " + name + " to '" + target + "': not queued: " + st.message());
    });
    return 0;
}

}  // namespace

void register_export_api(lua_State* L) {
    lua_pushcfunction(L, guarded<l_export>);
    lua_setfield(L, -2, "export");
}

}  // namespace gridlet::script

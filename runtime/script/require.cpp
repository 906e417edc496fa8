// require() inside the sandbox: modules come only from the rule's own folder
// and the configured lib folders (scripts/lib), by dotted name.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "script/rule.h"

namespace gridlet::script {

namespace {

namespace fs = std::filesystem;

bool valid_module_name(std::string_view name) {
    if (name.empty() || name.size() > 200 || name.front() == '.' || name.back() == '.') return false;
    char prev = 0;
    for (char c : name) {
        const bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        if (!word && c != '.') return false;
        if (c == '.' && prev == '.') return false;
        prev = c;
    }
    return true;
}

bool inside(const fs::path& file, const fs::path& root) {
    auto rel = file.lexically_relative(root);
    return !rel.empty() && *rel.begin() != "..";
}

struct Found {
    std::string path;
    std::string text;
};

// The module's file, or a message saying where it was looked for.
Expected<Found> find_module(const std::string& name, const std::vector<std::string>& roots) {
    std::string rel = name;
    for (char& c : rel) {
        if (c == '.') c = '/';
    }
    std::string looked;
    for (const std::string& root : roots) {
        std::error_code ec;
        const fs::path canon_root = fs::canonical(root, ec);
        if (ec) continue;
        for (const std::string& candidate : {rel + ".lua", rel + "/init.lua"}) {
            const fs::path path = canon_root / candidate;
            looked += "\n\t" + path.string();
            if (!fs::is_regular_file(path, ec)) continue;
            const fs::path real = fs::canonical(path, ec);
            if (ec || !inside(real, canon_root)) {
                return Status::invalid("module '" + name + "': " + path.string() + " resolves outside " +
                                       canon_root.string() + " (symlink escape refused)");
            }
            std::ifstream in(real, std::ios::binary);
            std::ostringstream text;
            text << in.rdbuf();
            if (!in && !in.eof()) return Status::io_error("module '" + name + "': cannot read " + real.string());
            return Found{real.string(), text.str()};
        }
    }
    return Status::not_found("module '" + name + "' not found; looked in:" + looked);
}

}  // namespace

int Rule::require_module(lua_State* L) {
    const char* name = luaL_checkstring(L, 1);
    if (std::string_view(name) == "gridlet") {
        push_env();
        lua_getfield(L, -1, "gridlet");
        return 1;
    }
    if (!valid_module_name(name)) {
        return luaL_error(L, "require: bad module name '%s' (want names like \"gridlet.greenup\": letters, digits, _ and dots)",
                          name);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, modules_ref_);
    const int modules = lua_gettop(L);
    lua_getfield(L, modules, name);
    if (lua_islightuserdata(L, -1)) return luaL_error(L, "require: loop while loading module '%s'", name);
    if (!lua_isnil(L, -1)) return 1;
    lua_pop(L, 1);

    bool loaded = false;
    {
        std::vector<std::string> roots;
        roots.push_back(fs::path(config_.file).parent_path().empty() ? std::string(".")
                                                                      : fs::path(config_.file).parent_path().string());
        for (const auto& dir : core_.options.lib_dirs) roots.push_back(dir);
        auto found = find_module(name, roots);
        if (found) {
            sources_[found->path] = found->text;
            const std::string chunkname = "@" + found->path;
            if (luaL_loadbufferx(L, found->text.data(), found->text.size(), chunkname.c_str(), "t") == 0) {
                loaded = true;
            }
        } else {
            lua_pushstring(L, found.status().message().c_str());
        }
    }
    if (!loaded) return lua_error(L);  // the message is on the stack
    push_env();
    lua_setfenv(L, -2);
    lua_pushlightuserdata(L, this);  // "loading" marker
    lua_setfield(L, modules, name);
    lua_pushstring(L, name);
    if (lua_pcall(L, 1, 1, 0) != 0) {
        lua_pushnil(L);
        lua_setfield(L, modules, name);  // a later require tries again
        RuleLimits& limits = RuleLimits::of(L);
        if (limits.stopped()) limits.raise_stop(L);
        return lua_error(L);
    }
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, modules, name);
    return 1;
}

}  // namespace gridlet::script

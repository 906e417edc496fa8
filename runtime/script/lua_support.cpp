#include "script/lua_support.h"

#include <charconv>
#include <cmath>
#include <vector>

#include "core/text.h"

namespace gridlet::script {

namespace {

// "chunk.lua:12: ..." or "[string \"...\"]:3: ...": the position Lua puts
// before a message (error() at level 1 or 2, the VM's own errors).
bool starts_with_position(std::string_view msg) {
    const size_t line = msg.find(':');
    if (line == std::string_view::npos) return false;
    const std::string_view chunk = msg.substr(0, line);
    if (!(chunk.size() > 4 && chunk.substr(chunk.size() - 4) == ".lua") && !(!chunk.empty() && chunk.back() == ']'))
        return false;
    size_t i = line + 1;
    while (i < msg.size() && msg[i] >= '0' && msg[i] <= '9') ++i;
    return i > line + 1 && i < msg.size() && msg[i] == ':';
}

}  // namespace

int traceback_handler(lua_State* L) {
    // The message as text that survives C strings: a NUL in error("a\0b")
    // would cut it short, so it is escaped here (core/text.h).
    // A long message is cut (a rule could log megabytes through error()).
    constexpr size_t kMaxMessage = 2000;
    const auto cut = [](std::string_view text) {
        if (text.size() <= kMaxMessage) return valid_text(text);
        size_t keep = kMaxMessage;
        while (keep > 0 && (static_cast<unsigned char>(text[keep]) & 0xC0) == 0x80) --keep;
        return valid_text(text.substr(0, keep)) + " ... (" + std::to_string(text.size() - keep) + " more bytes cut)";
    };
    std::string msg;
    if (lua_type(L, 1) == LUA_TSTRING || lua_type(L, 1) == LUA_TNUMBER) {
        msg = cut(to_view(L, 1));
    } else if (luaL_callmeta(L, 1, "__tostring") && lua_isstring(L, -1)) {
        msg = cut(to_view(L, -1));
    } else {
        msg = luaL_typename(L, 1);
    }
    // error(message, 0) is a message for the user (a rule's "params.x: must
    // be ..."): raised by `error` itself with no position in it. It is said
    // alone; a traceback would only bury it. Any other error (a fault in
    // the code, error() with a position, a gridlet API error) keeps its
    // traceback to find the call.
    lua_Debug ar;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "nS", &ar) && ar.what && std::string_view(ar.what) == "C" && ar.name &&
        std::string_view(ar.name) == "error" && !starts_with_position(msg)) {
        lua_pushlstring(L, msg.data(), msg.size());
        return 1;
    }
    luaL_traceback(L, L, msg.c_str(), 1);
    return 1;
}

void push_json(lua_State* L, const nlohmann::json& value) {
    luaL_checkstack(L, 4, "json nesting too deep");
    switch (value.type()) {
        case nlohmann::json::value_t::null:
        case nlohmann::json::value_t::discarded: lua_pushnil(L); break;
        case nlohmann::json::value_t::boolean: lua_pushboolean(L, value.get<bool>()); break;
        case nlohmann::json::value_t::number_integer:
        case nlohmann::json::value_t::number_unsigned:
        case nlohmann::json::value_t::number_float: lua_pushnumber(L, value.get<double>()); break;
        case nlohmann::json::value_t::string: {
            const auto& s = value.get_ref<const std::string&>();
            lua_pushlstring(L, s.data(), s.size());
            break;
        }
        case nlohmann::json::value_t::binary: lua_pushnil(L); break;
        case nlohmann::json::value_t::array: {
            lua_createtable(L, static_cast<int>(value.size()), 0);
            int i = 1;
            for (const auto& item : value) {
                push_json(L, item);
                lua_rawseti(L, -2, i++);
            }
            break;
        }
        case nlohmann::json::value_t::object: {
            lua_createtable(L, 0, static_cast<int>(value.size()));
            for (const auto& [k, v] : value.items()) {
                lua_pushlstring(L, k.data(), k.size());
                push_json(L, v);
                lua_rawset(L, -3);
            }
            break;
        }
    }
}

namespace {

// The error of an item, with where it is: "at a.b[3]: what". A path longer
// than about 100 characters (a cycle goes 32 levels deep) starts with "...".
Status at_path(const Status& st, const std::string& element) {
    std::string msg = st.message();
    if (msg.rfind("at ", 0) == 0) {
        const size_t colon = msg.find(": ");
        if (colon != std::string::npos && colon > 100) {
            if (msg.rfind("at ...", 0) != 0) msg.insert(3, "...");
            return Status::invalid(msg);
        }
        const bool next_index = msg.size() > 3 && msg[3] == '[';
        msg = "at " + element + (next_index || msg.rfind("at ...", 0) == 0 ? "" : ".") + msg.substr(3);
    } else {
        msg = "at " + element + ": " + msg;
    }
    return Status::invalid(msg);
}

Status to_json_rec(lua_State* L, int idx, int depth, nlohmann::json& out) {
    if (depth > 32) return Status::invalid("value nested deeper than 32 levels (a cycle?)");
    switch (lua_type(L, idx)) {
        case LUA_TNIL: out = nullptr; return Status::ok();
        case LUA_TBOOLEAN: out = lua_toboolean(L, idx) != 0; return Status::ok();
        case LUA_TNUMBER: {
            double d = lua_tonumber(L, idx);
            if (!std::isfinite(d)) return Status::invalid("number is NaN or infinite");
            if (d == std::floor(d) && std::fabs(d) < 9.007199254740992e15) {
                out = static_cast<int64_t>(d);
            } else {
                out = d;
            }
            return Status::ok();
        }
        case LUA_TSTRING: out = valid_text(to_view(L, idx)); return Status::ok();
        case LUA_TTABLE: break;
        default: return Status::invalid(std::string("cannot store a ") + luaL_typename(L, idx));
    }
    if (idx < 0) idx = lua_gettop(L) + idx + 1;
    luaL_checkstack(L, 4, "nesting too deep");
    size_t n = lua_objlen(L, idx);
    size_t count = 0;
    bool string_keys = true;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        ++count;
        if (lua_type(L, -2) != LUA_TSTRING) string_keys = false;
        lua_pop(L, 1);
    }
    if (count == 0) {
        out = nlohmann::json::object();
        return Status::ok();
    }
    if (n == count && !string_keys) {
        out = nlohmann::json::array();
        for (size_t i = 1; i <= n; ++i) {
            lua_rawgeti(L, idx, static_cast<int>(i));
            nlohmann::json item;
            Status st = to_json_rec(L, -1, depth + 1, item);
            lua_pop(L, 1);
            if (!st) return at_path(st, "[" + std::to_string(i) + "]");
            out.push_back(std::move(item));
        }
        return Status::ok();
    }
    if (!string_keys) return Status::invalid("table mixes array items and keys, or has non-string keys");
    out = nlohmann::json::object();
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        std::string key = valid_text(to_view(L, -2));
        nlohmann::json item;
        Status st = to_json_rec(L, -1, depth + 1, item);
        lua_pop(L, 1);
        if (!st) {
            lua_pop(L, 1);
            return at_path(st, key);
        }
        out[key] = std::move(item);
    }
    return Status::ok();
}

}  // namespace

Expected<nlohmann::json> to_json(lua_State* L, int idx) {
    nlohmann::json out;
    Status st = to_json_rec(L, idx, 0, out);
    if (!st) return st;
    return out;
}

Expected<int64_t> parse_duration_ms(std::string_view text, bool allow_zero) {
    const char* begin = text.data();
    const char* end = text.data() + text.size();
    double number = 0;
    auto [ptr, ec] = std::from_chars(begin, end, number);
    if (ec != std::errc() || ptr == begin) {
        return Status::invalid("bad duration '" + std::string(text) + "' (want e.g. 500ms, 10s, 5m, 2h, 1d)");
    }
    std::string_view unit(ptr, static_cast<size_t>(end - ptr));
    double scale = 0;
    if (unit.empty() || unit == "s") scale = 1000;
    else if (unit == "ms") scale = 1;
    else if (unit == "m" || unit == "min") scale = 60'000;
    else if (unit == "h") scale = 3'600'000;
    else if (unit == "d") scale = 86'400'000;
    else return Status::invalid("bad duration unit in '" + std::string(text) + "' (ms, s, m, h or d)");
    double ms = number * scale;
    if (allow_zero && ms == 0) return int64_t{0};
    if (!(ms >= 1) || ms > 1e15) return Status::invalid("duration '" + std::string(text) + "' out of range (1 ms .. 30000 years)");
    return static_cast<int64_t>(std::llround(ms));
}

int64_t check_duration_ms(lua_State* L, int idx, const char* what) {
    if (lua_type(L, idx) == LUA_TNUMBER) {
        double s = lua_tonumber(L, idx);
        if (!(s * 1000 >= 1) || s > 1e12) luaL_error(L, "%s: duration out of range: %f s", what, s);
        return static_cast<int64_t>(std::llround(s * 1000));
    }
    if (lua_type(L, idx) != LUA_TSTRING) {
        luaL_error(L, "%s: want a duration (seconds or \"10s\", \"5m\", ...), got %s", what, luaL_typename(L, idx));
    }
    char message[256];
    {
        auto parsed = parse_duration_ms(to_view(L, idx));
        if (parsed) return *parsed;
        std::snprintf(message, sizeof message, "%s: %s", what, parsed.status().message().c_str());
    }
    luaL_error(L, "%s", message);
    return 0;
}

}  // namespace gridlet::script

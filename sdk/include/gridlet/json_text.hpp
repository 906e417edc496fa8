// gridlet::json_text: writing JSON text by hand on hot paths (a message per
// sample, a server-sent event per sample) without a JSON library: integers,
// doubles that read back exactly, escaped strings, and the names of
// gl_severity. Appends to the caller's buffer; header-only, C++17, any
// thread.
#ifndef GRIDLET_JSON_TEXT_HPP
#define GRIDLET_JSON_TEXT_HPP

#include <gridlet/plugin.h>

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace gridlet::json_text {

inline void append_int(std::string& out, int64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

// The shortest text that reads back as the same double (finite values;
// the caller says what a NaN or an infinity becomes).
inline void append_double(std::string& out, double v) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

// The body of a JSON string (no quotes): '"', '\' and control characters escaped.
inline void append_escaped(std::string& out, std::string_view text) {
    static const char hex[] = "0123456789abcdef";
    for (unsigned char c : text) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    out += "\\u00";
                    out += hex[c >> 4];
                    out += hex[c & 15];
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
}

// "debug", "info", "warning", "error" or "critical" (above error).
inline const char* severity_name(int32_t s) {
    switch (s) {
        case GL_SEV_DEBUG: return "debug";
        case GL_SEV_INFO: return "info";
        case GL_SEV_WARNING: return "warning";
        case GL_SEV_ERROR: return "error";
        default: return s > GL_SEV_ERROR ? "critical" : "info";
    }
}

}  // namespace gridlet::json_text

#endif  // GRIDLET_JSON_TEXT_HPP

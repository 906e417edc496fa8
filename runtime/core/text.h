// Text that crosses into JSON, log lines and events: always valid UTF-8.
//
// Rules (Lua strings), device replies and file names are bytes, not text;
// nlohmann::json throws type_error 316 on invalid UTF-8 and a log line with
// a NUL is cut short. valid_text() keeps well-formed UTF-8 as it is and
// writes every other byte as the four characters "\xNN" (NUL included), so
// the result can be dumped, logged and read back, and the bytes stay
// recognisable. Any thread; no allocation when the input is already valid
// and has no NUL (returns a copy).
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace gridlet {

// True when `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF) and has no NUL byte.
bool is_valid_text(std::string_view s) noexcept;

// `s` with every byte that is not part of a well-formed UTF-8 sequence, and
// every NUL, written as "\xNN" (uppercase hex).
std::string valid_text(std::string_view s);

// j.dump(indent) that never throws on bad UTF-8 (invalid bytes become
// U+FFFD): for JSON built from text that may not have gone through
// valid_text() (a safety net, not a substitute).
std::string dump_json(const nlohmann::json& j, int indent = -1);

}  // namespace gridlet

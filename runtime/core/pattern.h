// Topic and series-name patterns, shared by bus subscriptions, rules and
// queries. Pure functions; any thread.
//
//   "data/panel1/"            no wildcard: a prefix match
//   "panel?/branch*/current"  glob: '*' = any run within one '/' segment,
//                             '?' = one character (not '/'), "**" = any run,
//                             '/' included. A glob must match the whole text.
#pragma once

#include <string>
#include <string_view>

namespace gridlet {

bool has_wildcard(std::string_view pattern) noexcept;

// Glob match of the whole `text` (see above).
bool glob_match(std::string_view pattern, std::string_view text) noexcept;

// A subscription pattern: prefix when it has no wildcard, else glob.
bool pattern_match(std::string_view pattern, std::string_view text) noexcept;

// The longest literal prefix of `pattern` that ends at a '/' (or the whole
// pattern when it has no wildcard): what a prefix filter (ZeroMQ) can use.
std::string literal_prefix(std::string_view pattern);

// A series or point name: segments of [A-Za-z0-9_.-] joined by '/', no empty
// segment, 1..255 bytes. When `min_segments` > 1, at least that many.
bool valid_series_name(std::string_view name, int min_segments = 2) noexcept;

}  // namespace gridlet

// Topic and series-name patterns, shared by bus subscriptions, rules and
// queries. Pure functions; any thread.
//
//   "panel1/mains/kw"         no wildcard: that name, or what lies below it
//                             ("panel1/mains/kw/x"), never "panel1/mains/kwh"
//   "data/panel1/", ""        ending in '/' (or empty): a prefix match
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

// A subscription or selection pattern, as described above.
bool pattern_match(std::string_view pattern, std::string_view text) noexcept;

// The longest literal prefix of `pattern` that ends at a '/' (or the whole
// pattern when it has no wildcard): what a prefix filter (ZeroMQ) can use.
std::string literal_prefix(std::string_view pattern);

// A series or point name: segments of [A-Za-z0-9_.-] joined by '/', no empty
// segment, 1..255 bytes. When `min_segments` > 1, at least that many.
bool valid_series_name(std::string_view name, int min_segments = 2) noexcept;

// What is wrong with `name` as the name of a configured thing (a site,
// plugin, device, rule, alarm rule, notification), "" when nothing: one
// segment of letters, digits, '_', '-', '.', starting with a letter, a digit
// or '_' (not '-': it would read as a command-line option; not '.'), at most
// 200 bytes.
std::string config_name_problem(std::string_view name);

}  // namespace gridlet

// gridlet::glob_match: series-name globs for plugins, with the rules of the
// host's subscribe patterns: '*' any run within one '/' segment, '?' one
// character (not '/'), "**" any run across segments; the glob matches the
// whole name. Header-only, C++17, no allocation; any thread.
//
// plausible_series_pattern: whether a pattern can match a series name at all
// (names are [A-Za-z0-9_.-] segments joined by '/'; patterns add * ? **).
#ifndef GRIDLET_GLOB_HPP
#define GRIDLET_GLOB_HPP

#include <cstddef>
#include <string_view>

namespace gridlet {

inline bool glob_match(std::string_view p, std::string_view t, std::size_t i = 0, std::size_t j = 0) {
    while (i < p.size()) {
        if (p[i] == '*') {
            const bool deep = i + 1 < p.size() && p[i + 1] == '*';
            const std::size_t next = i + (deep ? 2 : 1);
            for (std::size_t k = j; k <= t.size(); ++k) {
                if (glob_match(p, t, next, k)) return true;
                if (k < t.size() && !deep && t[k] == '/') break;
            }
            return false;
        }
        if (j >= t.size() || (p[i] != t[j] && (p[i] != '?' || t[j] == '/'))) return false;
        ++i;
        ++j;
    }
    return j == t.size();
}

// The text to give a user whose pattern can never match.
inline constexpr const char* kSeriesPatternRule =
    "names are letters, digits, '_', '.' and '-' in segments joined by '/'; the wildcards are * ? **";

inline bool plausible_series_pattern(std::string_view p) {
    return !p.empty() &&
           p.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-/*?") ==
               std::string_view::npos;
}

}  // namespace gridlet

#endif  // GRIDLET_GLOB_HPP

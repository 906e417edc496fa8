#include "core/pattern.h"

#include <vector>

namespace gridlet {

bool has_wildcard(std::string_view p) noexcept {
    return p.find_first_of("*?") != std::string_view::npos;
}

namespace {
// Dynamic programming over (pattern position, text position): O(|p|*|t|),
// no exponential backtracking whatever the pattern.
bool glob_impl(std::string_view p, std::string_view t) noexcept {
    const size_t n = t.size();
    // row[j]: does the pattern suffix from the current position match t[j..]?
    std::vector<char> next(n + 1, 0), cur(n + 1, 0);
    next[n] = 1;  // empty pattern matches empty text
    for (size_t i = p.size(); i-- > 0;) {
        if (p[i] == '*' && i > 0 && p[i - 1] == '*') {
            // "**": handled at its first star; this star is part of it.
            continue;
        }
        const bool deep = p[i] == '*' && i + 1 < p.size() && p[i + 1] == '*';
        // For "**" the row below is the one after both stars: `next` already is,
        // because the second star was skipped.
        for (size_t j = n + 1; j-- > 0;) {
            char m = 0;
            if (p[i] == '*') {
                m = next[j];
                if (!m && j < n && (deep || t[j] != '/')) m = cur[j + 1];
            } else if (j < n && (p[i] == t[j] || (p[i] == '?' && t[j] != '/'))) {
                m = next[j + 1];
            }
            cur[j] = m;
        }
        std::swap(cur, next);
    }
    return next[0] != 0;
}
}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) noexcept { return glob_impl(pattern, text); }

bool pattern_match(std::string_view pattern, std::string_view text) noexcept {
    if (has_wildcard(pattern)) return glob_impl(pattern, text);
    if (text.substr(0, pattern.size()) != pattern) return false;
    // A prefix ends at a segment boundary: "a/kw" selects "a/kw" and "a/kw/x", not "a/kwh".
    return pattern.empty() || pattern.back() == '/' || text.size() == pattern.size() || text[pattern.size()] == '/';
}

std::string literal_prefix(std::string_view pattern) {
    size_t w = pattern.find_first_of("*?");
    if (w == std::string_view::npos) return std::string(pattern);
    size_t slash = pattern.rfind('/', w);
    if (slash == std::string_view::npos) return {};
    return std::string(pattern.substr(0, slash + 1));
}

bool valid_series_name(std::string_view name, int min_segments) noexcept {
    if (name.empty() || name.size() > 255) return false;
    int segments = 1;
    size_t seg_len = 0;
    for (char c : name) {
        if (c == '/') {
            if (seg_len == 0) return false;
            ++segments;
            seg_len = 0;
            continue;
        }
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                  c == '-' || c == '.';
        if (!ok) return false;
        ++seg_len;
    }
    return seg_len > 0 && segments >= min_segments;
}

std::string config_name_problem(std::string_view name) {
    if (name.empty()) return "the name is empty";
    if (name.size() > 200) return "the name is " + std::to_string(name.size()) + " bytes long (200 at most)";
    const auto ok_char = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
               c == '.';
    };
    const char first = name.front();
    bool ok = first != '-' && first != '.';
    for (char c : name) ok = ok && ok_char(c);
    if (ok) return "";
    return "name '" + std::string(name) +
           "' may use only letters, digits, '_', '-', '.', and starts with a letter, a digit or '_'";
}

}  // namespace gridlet

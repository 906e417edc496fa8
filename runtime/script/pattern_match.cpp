#include "script/pattern_match.h"

#include <cstring>

namespace gridlet::script {

namespace {

// ASCII classes, independent of the C locale (as LuaJIT's lj_char tables).
bool is_lower(unsigned c) { return c >= 'a' && c <= 'z'; }
bool is_upper(unsigned c) { return c >= 'A' && c <= 'Z'; }
bool is_alpha(unsigned c) { return is_lower(c) || is_upper(c); }
bool is_digit(unsigned c) { return c >= '0' && c <= '9'; }
bool is_space(unsigned c) { return c == ' ' || (c >= 9 && c <= 13); }
bool is_cntrl(unsigned c) { return c < 32 || c == 127; }
bool is_xdigit(unsigned c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_punct(unsigned c) { return c > 32 && c < 127 && !is_alpha(c) && !is_digit(c); }

// %a, %d, ... (upper case: the complement); any other character stands for itself.
bool class_match(unsigned c, unsigned cl) {
    bool res = false;
    switch (is_upper(cl) ? cl + ('a' - 'A') : cl) {
        case 'a': res = is_alpha(c); break;
        case 'c': res = is_cntrl(c); break;
        case 'd': res = is_digit(c); break;
        case 'l': res = is_lower(c); break;
        case 'p': res = is_punct(c); break;
        case 's': res = is_space(c); break;
        case 'u': res = is_upper(c); break;
        case 'w': res = is_alpha(c) || is_digit(c); break;
        case 'x': res = is_xdigit(c); break;
        case 'z': res = c == 0; break;
        default: return cl == c;
    }
    return is_upper(cl) ? !res : res;
}

unsigned uc(char c) { return static_cast<unsigned char>(c); }

// Leaves the matcher's depth as it found it on every return path.
struct Nesting {
    int& depth;
    ~Nesting() { --depth; }
};

}  // namespace

PatternMatch::PatternMatch(const char* subject, size_t subject_len, const char* pattern, size_t pattern_len,
                           Meter meter, void* context) noexcept
    : subject_(subject),
      subject_end_(subject + subject_len),
      pattern_(pattern),
      pattern_end_(pattern + strnlen(pattern, pattern_len)),
      meter_(meter),
      context_(context) {}

bool PatternMatch::take_anchor() noexcept {
    if (pattern_ == pattern_end_ || *pattern_ != '^') return false;
    ++pattern_;
    return true;
}

const char* PatternMatch::match_at(const char* s) noexcept {
    level_ = 0;
    depth_ = 0;
    if (failed()) return nullptr;
    return match(s, pattern_);
}

bool PatternMatch::step(uint64_t n) noexcept {
    pending_ += n;
    if (pending_ >= kStepsPerCharge) {
        const uint64_t steps = pending_;
        pending_ = 0;
        if (meter_ != nullptr && !meter_(context_, steps)) stopped_ = true;
    }
    return !failed();
}

void PatternMatch::flush_steps() noexcept {
    if (pending_ == 0) return;
    const uint64_t steps = pending_;
    pending_ = 0;
    if (meter_ != nullptr && !meter_(context_, steps)) stopped_ = true;
}

void PatternMatch::fail(const char* message) noexcept {
    if (error_ == nullptr) error_ = message;
}

// The end of the pattern item at p: one character, %x, or a set [...].
const char* PatternMatch::class_end(const char* p) noexcept {
    const char c = *p++;
    if (c == '%') {
        if (p == pattern_end_) {
            fail("malformed pattern (ends with '%')");
            return nullptr;
        }
        return p + 1;
    }
    if (c == '[') {
        if (p < pattern_end_ && *p == '^') ++p;
        // The first character of a set is never its end: "[]]" is the set of ']'.
        do {
            if (p >= pattern_end_) {
                fail("malformed pattern (missing ']')");
                return nullptr;
            }
            if (*p++ == '%' && p < pattern_end_) ++p;
        } while (p >= pattern_end_ || *p != ']');
        return p + 1;
    }
    return p;
}

// p at '[', ec at the closing ']'.
bool PatternMatch::set_match(unsigned char c, const char* p, const char* ec) const noexcept {
    bool in_set = true;
    if (uc(p[1]) == '^') {
        in_set = false;
        ++p;
    }
    while (++p < ec) {
        if (*p == '%') {
            ++p;
            if (class_match(c, uc(*p))) return in_set;
        } else if (p[1] == '-' && p + 2 < ec) {
            p += 2;
            if (uc(p[-2]) <= c && c <= uc(*p)) return in_set;
        } else if (uc(*p) == c) {
            return in_set;
        }
    }
    return !in_set;
}

bool PatternMatch::single_match(unsigned char c, const char* p, const char* ep) const noexcept {
    switch (*p) {
        case '.': return true;
        case '%': return class_match(c, uc(p[1]));
        case '[': return set_match(c, p, ep - 1);
        default: return uc(*p) == c;
    }
}

const char* PatternMatch::max_expand(const char* s, const char* p, const char* ep) noexcept {
    std::ptrdiff_t n = 0;
    while (s + n < subject_end_ && single_match(uc(s[n]), p, ep)) {
        ++n;
        if (!step()) return nullptr;
    }
    // The longest run first, then shorter ones.
    for (; n >= 0; --n) {
        const char* end = match(s + n, ep + 1);
        if (end != nullptr || failed()) return end;
    }
    return nullptr;
}

const char* PatternMatch::min_expand(const char* s, const char* p, const char* ep) noexcept {
    for (;;) {
        const char* end = match(s, ep + 1);
        if (end != nullptr || failed()) return end;
        if (s < subject_end_ && single_match(uc(*s), p, ep)) {
            ++s;
        } else {
            return nullptr;
        }
    }
}

// %bxy at p (p at x): a balanced run from x to its y.
const char* PatternMatch::balance(const char* s, const char* p) noexcept {
    if (p >= pattern_end_ || p + 1 >= pattern_end_) {
        fail("unbalanced pattern");
        return nullptr;
    }
    if (s >= subject_end_ || *s != *p) return nullptr;
    const char open = p[0], close = p[1];
    int depth = 1;
    while (++s < subject_end_) {
        if (!step()) return nullptr;
        if (*s == close) {
            if (--depth == 0) return s + 1;
        } else if (*s == open) {
            ++depth;
        }
    }
    return nullptr;
}

const char* PatternMatch::start_capture(const char* s, const char* p, std::ptrdiff_t what) noexcept {
    if (level_ >= kMaxCaptures) {
        fail("too many captures");
        return nullptr;
    }
    captures_[level_] = {s, what};
    ++level_;
    const char* end = match(s, p);
    if (end == nullptr) --level_;
    return end;
}

const char* PatternMatch::end_capture(const char* s, const char* p) noexcept {
    int open = level_ - 1;
    while (open >= 0 && captures_[open].len != kUnfinishedCapture) --open;
    if (open < 0) {
        fail("invalid pattern capture");
        return nullptr;
    }
    captures_[open].len = s - captures_[open].start;
    const char* end = match(s, p);
    if (end == nullptr) captures_[open].len = kUnfinishedCapture;
    return end;
}

const char* PatternMatch::back_reference(const char* s, int digit) noexcept {
    const int index = digit - '1';
    if (index < 0 || index >= level_ || captures_[index].len == kUnfinishedCapture) {
        fail("invalid capture index");
        return nullptr;
    }
    const std::ptrdiff_t len = captures_[index].len;
    if (len < 0) return nullptr;  // a position capture matches no text
    if (!step(static_cast<uint64_t>(len))) return nullptr;
    if (subject_end_ - s >= len && std::memcmp(captures_[index].start, s, static_cast<size_t>(len)) == 0)
        return s + len;
    return nullptr;
}

const char* PatternMatch::match(const char* s, const char* p) noexcept {
    if (++depth_ > kMaxDepth) {
        --depth_;
        fail("pattern too complex");
        return nullptr;
    }
    Nesting nesting{depth_};
    for (;;) {
        if (!step()) return nullptr;
        if (p == pattern_end_) return s;
        switch (*p) {
            case '(':
                if (p + 1 < pattern_end_ && p[1] == ')') return start_capture(s, p + 2, kPositionCapture);
                return start_capture(s, p + 1, kUnfinishedCapture);
            case ')': return end_capture(s, p + 1);
            case '$':
                if (p + 1 == pattern_end_) return s == subject_end_ ? s : nullptr;
                break;  // a '$' elsewhere is itself
            case '%':
                if (p + 1 == pattern_end_) break;  // class_end reports it
                if (p[1] == 'b') {
                    s = balance(s, p + 2);
                    if (s == nullptr) return nullptr;
                    p += 4;
                    continue;
                }
                if (p[1] == 'f') {
                    p += 2;
                    if (p == pattern_end_ || *p != '[') {
                        fail("missing '[' after '%f' in pattern");
                        return nullptr;
                    }
                    const char* ep = class_end(p);
                    if (ep == nullptr) return nullptr;
                    const unsigned char previous = s == subject_ ? 0 : uc(s[-1]);
                    const unsigned char current = s < subject_end_ ? uc(*s) : 0;
                    if (set_match(previous, p, ep - 1) || !set_match(current, p, ep - 1)) return nullptr;
                    p = ep;
                    continue;
                }
                if (is_digit(uc(p[1]))) {
                    s = back_reference(s, p[1]);
                    if (s == nullptr) return nullptr;
                    p += 2;
                    continue;
                }
                break;
            default: break;
        }
        // A single-character item, perhaps followed by ? * + -.
        const char* ep = class_end(p);
        if (ep == nullptr) return nullptr;
        const bool here = s < subject_end_ && single_match(uc(*s), p, ep);
        const char next = ep < pattern_end_ ? *ep : '\0';
        switch (next) {
            case '?':
                if (here) {
                    const char* end = match(s + 1, ep + 1);
                    if (end != nullptr || failed()) return end;
                }
                p = ep + 1;
                continue;
            case '*': return max_expand(s, p, ep);
            case '+': return here ? max_expand(s + 1, p, ep) : nullptr;
            case '-': return min_expand(s, p, ep);
            default:
                if (!here) return nullptr;
                ++s;
                p = ep;
                continue;
        }
    }
}

}  // namespace gridlet::script

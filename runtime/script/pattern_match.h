// Lua patterns, matched with a step meter (issue 12 item 4).
//
// The patterns of string.find, match, gmatch and gsub as the Lua 5.1
// reference manual defines them (§5.4.1 "Patterns": character classes %a %c
// %d %l %p %s %u %w %x %z and their complements, sets [...] with ranges and
// [^...], the items * + - ?, anchors ^ and $, captures ( ) and position
// captures (), back-references %1..%9, %bxy, the frontier %f[set]). Behaviour
// and error messages are LuaJIT 2.1's, including its limits: a pattern ends at
// its first NUL byte (match a NUL with %z), at most 32 captures, at most 200
// nested matcher levels ("pattern too complex").
//
// Why not LuaJIT's own functions: a backtracking match can take seconds on a
// short input ("(.-)(.-)(.-)(.-)x" against 10 kB) and a C function cannot be
// interrupted by the count hook. This matcher counts its steps (one per
// pattern item tried and per character a repetition or back-reference
// covers) and calls the meter every kStepsPerCharge steps; when the meter
// answers false the match stops at once and stopped() is true.
//
// No Lua here: the string functions on top are in string_patterns.cpp.
// Threads: an object belongs to one call on one thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gridlet::script {

class PatternMatch {
public:
    static constexpr int kMaxCaptures = 32;
    static constexpr int kMaxDepth = 200;
    static constexpr uint64_t kStepsPerCharge = 1024;
    static constexpr std::ptrdiff_t kPositionCapture = -2;
    static constexpr std::ptrdiff_t kUnfinishedCapture = -1;

    struct Capture {
        const char* start = nullptr;
        std::ptrdiff_t len = 0;  // or kPositionCapture / kUnfinishedCapture
    };
    // Told `steps` more steps were taken; false stops the match.
    using Meter = bool (*)(void* context, uint64_t steps);

    // `subject` is not copied and must outlive the object. `pattern` is read
    // up to `pattern_len` or its first NUL, whichever comes first.
    PatternMatch(const char* subject, size_t subject_len, const char* pattern, size_t pattern_len, Meter meter,
                 void* context) noexcept;

    // Is `pattern` anchored (begins with '^')? The anchor is then skipped by
    // match_at(); gmatch does not call this (LuaJIT's gmatch takes '^' literally).
    bool take_anchor() noexcept;

    // The end of a match of the pattern starting at `s` (a position in the
    // subject), or nullptr (no match here, or failed()). Captures from
    // capture(0..level()-1).
    const char* match_at(const char* s) noexcept;

    // A malformed pattern ("malformed pattern (missing ']')", ...), or a
    // capture problem met while matching; nullptr when none.
    const char* error() const noexcept { return error_; }
    // The meter said no.
    bool stopped() const noexcept { return stopped_; }
    bool failed() const noexcept { return error_ != nullptr || stopped_; }
    // Hand the steps not yet reported to the meter (at the end of a call).
    void flush_steps() noexcept;

    int level() const noexcept { return level_; }
    const Capture& capture(int i) const noexcept { return captures_[i]; }
    const char* subject() const noexcept { return subject_; }
    const char* subject_end() const noexcept { return subject_end_; }

private:
    const char* match(const char* s, const char* p) noexcept;
    const char* class_end(const char* p) noexcept;
    bool single_match(unsigned char c, const char* p, const char* ep) const noexcept;
    bool set_match(unsigned char c, const char* p, const char* ec) const noexcept;
    const char* max_expand(const char* s, const char* p, const char* ep) noexcept;
    const char* min_expand(const char* s, const char* p, const char* ep) noexcept;
    const char* balance(const char* s, const char* p) noexcept;
    const char* start_capture(const char* s, const char* p, std::ptrdiff_t what) noexcept;
    const char* end_capture(const char* s, const char* p) noexcept;
    const char* back_reference(const char* s, int index) noexcept;
    // Counts `n` steps; false once the match must stop.
    bool step(uint64_t n = 1) noexcept;
    void fail(const char* message) noexcept;

    const char* subject_;
    const char* subject_end_;
    const char* pattern_;
    const char* pattern_end_;
    Meter meter_;
    void* context_;
    uint64_t pending_ = 0;
    int level_ = 0;
    int depth_ = 0;
    const char* error_ = nullptr;
    bool stopped_ = false;
    Capture captures_[kMaxCaptures];
};

}  // namespace gridlet::script

// string.find, string.match, string.gmatch and string.gsub of rule states,
// on the metered matcher (pattern_match.h), so that a rule's time and
// instruction budgets hold during a long match (issue 12 item 4).
//
// Same arguments, results and error messages as LuaJIT 2.1's functions
// (Lua 5.1 reference manual §5.4); tests/unit/script/pattern_match_test.cpp
// compares them on random patterns and subjects. A plain find (the 4th
// argument true, or a pattern with none of ^$*+?.([%-) uses memmem, linear
// in the subject. Replacement strings, tables and functions of gsub work as
// in Lua; a replacement function runs as ordinary Lua code under the hook.
//
// Threads: the thread that runs the state.
#pragma once

#include <cstdint>

struct lua_State;

namespace gridlet::script {

struct PatternMeter {
    // Told of `steps` more matcher steps in `L`'s current call; false stops the match.
    bool (*charge)(lua_State* L, uint64_t steps);
    // Raises the error that reports the stop in L; does not return.
    void (*raise_stop)(lua_State* L);
};

// Replaces find, match, gmatch and gsub in the table at index `lib` (the
// string library table, which is also the strings' __index). `meter` must
// outlive the state (a static object).
void install_string_patterns(lua_State* L, int lib, const PatternMeter* meter);

}  // namespace gridlet::script

// The sandbox of a rule state: an allow-list of globals, read-only.
//
// A rule's chunk, its modules and the text chunks it load()s run with one
// environment table whose globals are:
//   base:   assert error ipairs next pairs pcall xpcall print rawequal rawget
//           rawset select setmetatable getmetatable tonumber tostring type
//           unpack _VERSION _G load loadstring require collectgarbage
//   string table math (copies; no string.dump), os.time os.date os.clock
//   gridlet (the rule API), params
// Not there: io, ffi, debug, jit, package, coroutine, dofile, loadfile,
// getfenv, setfenv, newproxy, module, gcinfo, os.* other than the above.
//   - load/loadstring accept text only (mode "t"): no bytecode;
//   - require finds modules only in the rule's folder and the lib folders
//     (names like "gridlet.greenup"; no paths, no "..", no symlink escapes);
//   - globals and the library tables are read-only: assigning one, or
//     reading an unknown global, raises an error naming it;
//   - pcall/xpcall cannot swallow a budget stop (see budgets.h);
//   - os.time() and os.date() use the engine clock and the site time zone.
//
// Threads: engine thread only.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

struct lua_State;

namespace gridlet::script {

class Rule;

// Opens the allowed libraries in a fresh state and leaves the rule's
// environment table on the stack. Raises Lua errors: run it protected.
void install_sandbox(lua_State* L, Rule& rule);

// Builds the `gridlet` module of `rule` and leaves it on the stack.
void push_gridlet_module(lua_State* L, Rule& rule);

// Wraps the table at the top of the stack in a read-only proxy (replaces it).
// `name` appears in the error on assignment.
void make_readonly(lua_State* L, const char* name);

// Per-file registration of the module's functions (api_*.cpp).
void register_sample_api(lua_State* L);   // on, cancel
void register_timer_api(lua_State* L);    // every, at
void register_status_api(lua_State* L);   // status
void register_data_api(lua_State* L);     // last, window, query
void register_output_api(lua_State* L);   // write, emit, log, now, monotonic
void register_alarm_api(lua_State* L);    // alarm.raise, clear, active, list, ack
void register_export_api(lua_State* L);   // export
void push_state_proxy(lua_State* L, Rule& rule);  // gridlet.state

// Argument `arg` of gridlet.<fn>: a series name or pattern (1..255
// characters), or a list of 1..1000 of them; raises a Lua error otherwise.
// The bound keeps the engine's matching work per call small (issue 12).
std::vector<std::string> check_names(lua_State* L, int arg, const char* fn);

}  // namespace gridlet::script

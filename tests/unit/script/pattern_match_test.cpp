// The metered string pattern functions (string_patterns.h) against LuaJIT's
// own: the same results and the same errors on random patterns and subjects,
// and a stop when the meter says so (issue 12 item 4).
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include <lua.hpp>

#include "script/lua_support.h"
#include "script/pattern_match.h"
#include "script/string_patterns.h"

namespace gridlet::script::test {
namespace {

// Steps allowed before the test meter stops a match; counts what it was told.
uint64_t g_step_limit = UINT64_MAX;
uint64_t g_steps = 0;

const PatternMeter kTestMeter{
    [](lua_State*, uint64_t steps) {
        g_steps += steps;
        return g_steps <= g_step_limit;
    },
    [](lua_State* L) {
        lua_pushstring(L, "stopped by the meter");
        lua_error(L);
    },
};

class PatternFunctions : public ::testing::Test {
protected:
    void SetUp() override {
        g_step_limit = UINT64_MAX;
        g_steps = 0;
        L_.reset(luaL_newstate());
        luaL_openlibs(L_.get());
        // `lj` keeps LuaJIT's own functions; `gl` has the metered ones.
        lua_newtable(L_.get());
        for (const char* f : {"find", "match", "gmatch", "gsub"}) {
            lua_getglobal(L_.get(), "string");
            lua_getfield(L_.get(), -1, f);
            lua_setfield(L_.get(), -3, f);
            lua_pop(L_.get(), 1);
        }
        lua_setglobal(L_.get(), "lj");
        lua_newtable(L_.get());
        install_string_patterns(L_.get(), -1, &kTestMeter);
        lua_setglobal(L_.get(), "gl");
    }
    // Runs `code`; returns its string result, or the error.
    std::string run(const std::string& code) {
        lua_State* L = L_.get();
        if (luaL_loadstring(L, code.c_str()) != 0 || lua_pcall(L, 0, 1, 0) != 0) {
            std::string e = lua_tostring(L, -1);
            lua_pop(L, 1);
            return "error: " + e;
        }
        lua_getglobal(L, "tostring");
        lua_insert(L, -2);
        lua_call(L, 1, 1);
        std::string r(to_view(L, -1));
        lua_pop(L, 1);
        return r;
    }
    LuaStatePtr L_;
};

// Random subjects and patterns built from the pieces where matchers differ:
// classes, sets, the four repetitions, anchors, captures, back-references,
// %b, %f, NUL bytes, malformed endings. Every call of find, match, gmatch and
// gsub (three kinds of replacement, with and without a limit) must give the
// same values, or the same error message, as LuaJIT's.
constexpr const char* kDifferential = R"LUA(
local seed, runs = ...
math.randomseed(seed)
local subject_chars = {"a", "b", "a", "1", " ", "(", ")", "[", "]", "%", "-", ".", "x", "\0", "\255", "_", "B"}
local pieces = {"a", "b", ".", "%a", "%d", "%s", "%w", "%A", "%p", "%z", "%x", "%u", "%l", "%c", "%%", "%.",
  "[ab]", "[^a]", "[a-c]", "[%a_]", "[]]", "[^]a]", "[a-]", "[%]]", "*", "+", "-", "?", "(", ")", "()", "%1", "%2",
  "%b()", "%b[]", "%f[%w]", "%f[%W]", "^", "$", "%", "[", "]", "\0", "%q", "[a", "%b", "%f", "%fx", "(a)", "(.-)",
  "(%d+)", "x", "B", "\255", "[\200-\255]"}
local function subject()
  local t = {}
  for i = 1, math.random(0, 14) do t[i] = subject_chars[math.random(#subject_chars)] end
  return table.concat(t)
end
local function pattern()
  local t = {}
  for i = 1, math.random(0, 7) do t[i] = pieces[math.random(#pieces)] end
  return table.concat(t)
end
local function pack(...) return {n = select("#", ...), ...} end
local function same(a, b)
  if a.n ~= b.n then return false end
  for i = 1, a.n do if a[i] ~= b[i] then return false end end
  return true
end
local function show(t)
  local out = {}
  for i = 1, t.n do out[#out + 1] = string.format("%q", tostring(t[i])) end
  return "{" .. table.concat(out, ", ") .. "}"
end
local function all(f, s, p)
  local ok, it = pcall(f, s, p)
  if not ok then return pack(false, it) end
  local out = {n = 0}
  for i = 1, 40 do
    local r = pack(pcall(it))
    out[#out + 1] = show(r)
    if not r[1] or r[2] == nil then break end
  end
  return pack(table.concat(out, ";"))
end
local inits = {false, 1, 2, 3, -1, -2, -30, 0, 40}
local repls = {"<%0>", "[%1]", "%2", "x%", "%%", "%a", 7, "",
  {a = "A", ["1"] = 1, b = false}, function(...) return select("#", ...) > 1 and (...) .. "|" or nil end,
  function() return {} end}
local checked = 0
for run = 1, runs do
  local s, p = subject(), pattern()
  local init = inits[math.random(#inits)] or nil
  for _, name in ipairs({"find", "match"}) do
    local a, b = pack(pcall(lj[name], s, p, init)), pack(pcall(gl[name], s, p, init))
    if not same(a, b) then return name .. " " .. string.format("%q %q %s", s, p, tostring(init)) .. " lj " .. show(a) .. " gl " .. show(b) end
  end
  local a, b = pack(pcall(lj.find, s, p, init, true)), pack(pcall(gl.find, s, p, init, true))
  if not same(a, b) then return string.format("plain find %q %q", s, p) .. " lj " .. show(a) .. " gl " .. show(b) end
  a, b = all(lj.gmatch, s, p), all(gl.gmatch, s, p)
  if not same(a, b) then return string.format("gmatch %q %q", s, p) .. " lj " .. show(a) .. " gl " .. show(b) end
  local repl = repls[math.random(#repls)]
  local limit = ({nil, 0, 1, 2})[math.random(4)]
  a, b = pack(pcall(lj.gsub, s, p, repl, limit)), pack(pcall(gl.gsub, s, p, repl, limit))
  if not same(a, b) then return string.format("gsub %q %q %s %s", s, p, tostring(repl), tostring(limit)) .. " lj " .. show(a) .. " gl " .. show(b) end
  checked = checked + 1
end
return "same " .. checked
)LUA";

TEST_F(PatternFunctions, AgreeWithLuaJitOnRandomPatterns) {
    lua_State* L = L_.get();
    ASSERT_EQ(luaL_loadstring(L, kDifferential), 0) << lua_tostring(L, -1);
    lua_pushinteger(L, 20261201);
    lua_pushinteger(L, 30000);
    ASSERT_EQ(lua_pcall(L, 2, 1, 0), 0) << lua_tostring(L, -1);
    EXPECT_STREQ(lua_tostring(L, -1), "same 30000");
}

TEST_F(PatternFunctions, AgreeOnTheDocumentedExamples) {
    // Lua 5.1 manual §5.4 examples, the argument errors and the limits.
    const char* cases[] = {
        "return tostring(gl.find('hello world', 'o w'))",
        "return select(2, gl.gsub('hello world', '(%w+)', '%1 %1'))",
        "return (gl.gsub('hello world', '%w+', '%0 %0', 1))",
        "return (gl.gsub('hello world from Lua', '(%w+)%s*(%w+)', '%2 %1'))",
        "return (gl.gsub('$name-$version', '%$(%w+)', {name='lua', version='5.1'}))",
        "return (gl.gsub('4+5 = $return 4+5$', '%$(.-)%$', function(s) return 'x' .. #s end))",
        "local t = {} for k, v in gl.gmatch('from=world, to=Lua', '(%w+)=(%w+)') do t[#t+1] = k .. v end return table.concat(t, ',')",
        "return gl.match('THE (quick) fox', '%f[%a]%a+')",
        "return gl.match('f(a(b)c)d', '%b()')",
        "return gl.match(' x = 12 ', '^%s*(%a+)%s*=%s*(%d+)%s*$')",
        "return tostring(gl.match('hello', '()ll()'))",
        "return gl.gsub('abc', 'b', true)",
        "return gl.find(nil, 'x')",
        "return gl.match('x', '[a')",
        "return gl.match('x', '%')",
        "return gl.match('x', '(x')",
        "return gl.match('x', 'x)')",
        "return gl.match('x', '%1')",
        "return gl.match('aaa', string.rep('(a)', 33))",
        "return gl.match(string.rep('a', 300), string.rep('a?', 300))",
        "return gl.gsub('abc', '%w', '%9')",
        "return gl.gsub('abc', '%w', function() return {} end)",
    };
    for (const char* code : cases) {
        std::string lj = code;
        for (size_t at = lj.find("gl."); at != std::string::npos; at = lj.find("gl.", at)) lj.replace(at, 3, "lj.");
        EXPECT_EQ(run(code), run(lj)) << code;
    }
    EXPECT_EQ(run("return gl.match(' x = 12 ', '^%s*(%a+)%s*=%s*(%d+)%s*$')"), "x");
    EXPECT_EQ(run("return gl.match('x', '[a')"), "error: malformed pattern (missing ']')");
    EXPECT_EQ(run("return gl.match(string.rep('a', 300), string.rep('a?', 300))"), "error: pattern too complex");
}

// The reason for all this: a match that would take seconds is stopped when
// the meter says so, mid-way, and the stop is raised as an error.
TEST_F(PatternFunctions, APathologicalMatchIsStoppedByTheMeter) {
    g_step_limit = 5'000'000;
    const auto start = std::chrono::steady_clock::now();
    for (const char* code :
         {"return gl.find(string.rep('a', 20000), '.-.-.-.-b')", "return gl.match(string.rep('a', 20000), '(.-)(.-)(.-)x')",
          "return select(2, gl.gsub(string.rep('a', 20000), '.-.-.-b', ''))",
          "for x in gl.gmatch(string.rep('a', 20000), 'a*a*a*b') do end return 'done'",
          "return gl.find(string.rep('(', 20000), '%b()')", "return gl.find(string.rep('ab', 9000), '(.*)%1%1x')"}) {
        g_steps = 0;
        EXPECT_EQ(run(code), "error: stopped by the meter") << code;
        EXPECT_LT(g_steps, g_step_limit + 2 * PatternMatch::kStepsPerCharge) << code;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LT(seconds, 30.0);  // each stop comes at 5 M steps (LuaJIT alone takes seconds for each)
}

// A replacement function that raises, or runs, inside gsub: ordinary Lua.
TEST_F(PatternFunctions, ReplacementFunctionErrorsPassThrough) {
    EXPECT_EQ(run("return gl.gsub('abc', '%w', function(c) if c == 'b' then error('no b', 0) end end)"), "error: no b");
    EXPECT_EQ(run("local n = 0 local r = gl.gsub('abc', '%w', function(c) n = n + 1 return c:upper() end) return r .. n"),
              "ABC3");
}

}  // namespace
}  // namespace gridlet::script::test

// Every way out of the sandbox fails, with an error that says why.
#include "script_fixture.h"

namespace gridlet::script::test {

namespace {

class SandboxTest : public ScriptTest {
protected:
    // Runs `code` inside pcall in a rule; returns the error text ("" if it
    // did not fail).
    std::string escape(const std::string& code) {
        write_file("lib/evil.lua", "return {}");
        auto c = rule("s", "local ok, err = pcall(function()\n" + code +
                               "\nend)\ngridlet.state.err = ok and '' or tostring(err)\n");
        std::string load = load_error(c);
        if (!load.empty()) return "load: " + load;
        std::string s = state("s", "err");
        return s.size() >= 2 ? s.substr(1, s.size() - 2) : s;
    }
};

TEST_F(SandboxTest, DangerousLibrariesAreAbsent) {
    for (const char* name : {"io", "ffi", "debug", "jit", "package", "coroutine", "dofile", "loadfile", "getfenv",
                             "setfenv", "newproxy", "module", "gcinfo"}) {
        EXPECT_NE(escape(std::string("return ") + name + ".x").find(std::string("unknown global '") + name + "'"),
                  std::string::npos)
            << name;
    }
}

TEST_F(SandboxTest, OsHasOnlyTimeDateClock) {
    EXPECT_NE(escape("os.execute('touch /tmp/x')").find("attempt to call field 'execute'"), std::string::npos);
    EXPECT_NE(escape("os.getenv('HOME')").find("attempt to call field 'getenv'"), std::string::npos);
    EXPECT_NE(escape("os.remove('/tmp/x')").find("attempt to call field 'remove'"), std::string::npos);
    EXPECT_NE(escape("os.exit(1)").find("attempt to call field 'exit'"), std::string::npos);
    EXPECT_EQ(escape("assert(os.time() and os.date('%Y') and os.clock())"), "");
}

TEST_F(SandboxTest, BytecodeCannotBeLoadedOrDumped) {
    EXPECT_NE(escape("return string.dump(print)").find("attempt to call field 'dump'"), std::string::npos);
    // A bytecode header ("\27LJ").
    EXPECT_NE(escape("local f, e = load('\\27LJ\\2\\0') error(e)").find("binary (bytecode) chunks are not allowed"),
              std::string::npos);
    EXPECT_NE(escape("local f, e = load('return 1', 'x', 'b') error(e)").find("not allowed"), std::string::npos);
    EXPECT_NE(escape("local f, e = load(function() return nil end) error(e)").find("only text chunks"), std::string::npos);
    // Text chunks work, and run in the rule's sandbox.
    EXPECT_EQ(escape("assert(loadstring('return 1 + 1')() == 2)"), "");
    EXPECT_NE(escape("loadstring('return io')()").find("unknown global 'io'"), std::string::npos);
}

TEST_F(SandboxTest, GlobalsAreReadOnly) {
    EXPECT_NE(escape("x = 1").find("cannot assign global 'x': globals are read-only"), std::string::npos);
    EXPECT_NE(escape("function helper() end").find("cannot assign global 'helper'"), std::string::npos);
    EXPECT_NE(escape("string.format = nil").find("cannot modify read-only table 'string'"), std::string::npos);
    EXPECT_NE(escape("math.pi = 3").find("read-only table 'math'"), std::string::npos);
    EXPECT_NE(escape("gridlet.write = print").find("read-only table 'gridlet'"), std::string::npos);
    EXPECT_NE(escape("_G.print = nil").find("cannot assign global 'print'"), std::string::npos);
    EXPECT_NE(escape("rawset(_G, 'x', 1)").find("rawset: cannot modify a read-only table"), std::string::npos);
    EXPECT_NE(escape("rawset(string, 'x', 1)").find("read-only"), std::string::npos);
    EXPECT_NE(escape("setmetatable(_G, {})").find("cannot change a protected metatable"), std::string::npos);
    EXPECT_NE(escape("getmetatable('').__index = {}").find("attempt to index a string value"), std::string::npos);
    EXPECT_NE(escape("return undefined_thing").find("unknown global 'undefined_thing'"), std::string::npos);
}

TEST_F(SandboxTest, RequireStaysInsideItsFolders) {
    write_file("outside.lua", "return 1");
    std::filesystem::create_symlink(dir_ / "outside.lua", dir_ / "lib" / "link.lua");
    EXPECT_NE(escape("require('../outside')").find("bad module name '../outside'"), std::string::npos);
    EXPECT_NE(escape("require('/etc/passwd')").find("bad module name"), std::string::npos);
    EXPECT_NE(escape("require('a..b')").find("bad module name"), std::string::npos);
    EXPECT_NE(escape("require('link')").find("symlink escape refused"), std::string::npos);
    EXPECT_NE(escape("require('nothere')").find("module 'nothere' not found; looked in:"), std::string::npos);
    EXPECT_NE(escape("require('os')").find("module 'os' not found"), std::string::npos);
}

TEST_F(SandboxTest, RulesDoNotShareGlobalsOrState) {
    auto a = rule("a", "gridlet.state.v = 'a'\nlocal t = {}\ngridlet.on('x/y', function() t[1] = 1 end)");
    auto b = rule("b", "gridlet.state.v = 'b'\nassert(gridlet.rule == 'b')");
    auto failed = engine_->configure({a, b});
    ASSERT_TRUE(failed.empty());
    EXPECT_EQ(state("a", "v"), "\"a\"");
    EXPECT_EQ(state("b", "v"), "\"b\"");
}

TEST_F(SandboxTest, CollectGarbageIsLimited) {
    EXPECT_NE(escape("collectgarbage('stop')").find("collectgarbage('stop') is not allowed"), std::string::npos);
    EXPECT_EQ(escape("assert(collectgarbage('count') > 0)"), "");
}

}  // namespace

}  // namespace gridlet::script::test

namespace gridlet::script::test {
namespace {

// Issue 12 item 9: the smaller holes. Each is an error that says what is
// wrong, never a wrong or silent result.
TEST_F(SandboxTest, SmallHolesAreErrorsThatSayWhat) {
    for (const char* fmt : {"%^Z", "%#Z", "%10Z", "%_H", "%-d", "%Q", "%"}) {
        const std::string e = escape(std::string("os.date('") + fmt + "')");
        EXPECT_NE(e.find("is not a supported conversion"), std::string::npos) << fmt << ": " << e;
    }
    EXPECT_NE(escape("os.date('%Z')").find("%Z is not supported"), std::string::npos);
    EXPECT_EQ(escape("assert(os.date('!%Z') == 'UTC' and os.date('%Ey %Om %%') ~= nil)"), "");
    EXPECT_NE(escape("os.date('%Y', 1e300)").find("outside years 0001..9999"), std::string::npos);
    EXPECT_NE(escape("os.date('%Y', 0/0)").find("outside years 0001..9999"), std::string::npos);
    EXPECT_NE(escape("os.time{year = 1e10, month = 1, day = 1}").find("field 'year' is"), std::string::npos);
    EXPECT_NE(escape("os.time{year = 2024, month = 1, day = 2^40}").find("field 'day' is"), std::string::npos);
    EXPECT_NE(escape("os.time{year = 2024.5, month = 1, day = 1}").find("a whole number"), std::string::npos);
    EXPECT_EQ(escape("assert(os.time{year = 2024, month = 13, day = 0} == os.time{year = 2024, month = 12, day = 31})"), "");
    EXPECT_NE(escape("gridlet.emit('t', 0/0)").find("severity nan is not 0..4"), std::string::npos)
        << escape("gridlet.emit('t', 0/0)");
    EXPECT_NE(escape("gridlet.emit('t', 1.5)").find("severity 1.5 is not 0..4"), std::string::npos);
    EXPECT_NE(escape("gridlet.emit('door\\0evil', 'info')").find("bad event type 'door\\\\x00evil'"), std::string::npos)
        << escape("gridlet.emit('door\\0evil', 'info')");
    EXPECT_NE(escape("local s = string.rep('x', 2^31)").find("more than the rule's memory budget"), std::string::npos);
    EXPECT_EQ(escape("assert(string.rep('ab', 3, ',') == 'ab,ab,ab' and string.rep('x', 0) == '')"), "");
    const std::string named = escape("local f = load('error(\"boom\")', '@/etc/passwd') f()");
    EXPECT_EQ(named.find("/etc/passwd:1:"), std::string::npos) << named;  // not posing as a file of the host
    EXPECT_EQ(named.rfind("[load ", 0), 0u) << named;  // [load "@/etc/passwd"]:1: boom
    EXPECT_NE(named.find("@/etc/passwd"), std::string::npos) << named;
    EXPECT_NE(named.find("]:1: boom"), std::string::npos) << named;
}

}  // namespace
}  // namespace gridlet::script::test

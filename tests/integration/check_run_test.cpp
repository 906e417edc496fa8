// `gridlet check` refuses everything `gridlet run` would refuse (issue 10,
// items 8 and 9): every broken fixture below goes through both. A device
// its plugin refuses makes check exit 2; run leaves only that device out,
// visibly (log with file:line, metrics problems, exit 1 at stop), and polls
// the healthy one. A rule that cannot load is refused by both.
#include "process.h"

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>

using namespace gridlet::testing;

namespace {

struct Broken {
    const char* name;
    std::string bad_device_line;  // replaces "poll_ms = 500" of device 'bad'
    std::string message;          // expected in both check's and run's messages
};

std::string site_text(int port, const std::string& ctl, const std::string& bad_line, const std::string& extra = "") {
    return "[site]\nname = \"t\"\n[kernel]\ncontrol = \"" + ctl +
           "\"\n"
           "[[plugins]]\nname = \"sim\"\nfile = \"sim\"\n[plugins.config]\nbcpm = [ { name = \"s\", port = " +
           std::to_string(port) +
           " } ]\n"
           "[[plugins]]\nname = \"modbus\"\nfile = \"modbus\"\n"
           "[[devices]]\nname = \"good\"\nplugin = \"modbus\"\nprofile = \"bcpm\"\naddress = \"127.0.0.1:" +
           std::to_string(port) +
           "\"\nunit_id = 1\npoll_ms = 500\n"
           "[[devices]]\nname = \"bad\"\nplugin = \"modbus\"\nprofile = \"bcpm\"\naddress = \"127.0.0.1:" +
           std::to_string(port) + "\"\nunit_id = 2\n" + bad_line + "\n" + extra;
}

}  // namespace

TEST(CheckRun, EveryBrokenDeviceIsRefusedByCheckAndLeftOutByRun) {
    std::string bad_profile = temp_file("broken_profile.toml",
                                        "[profile]\nname = \"broken\"\n[[point]]\nname = \"a\"\naddress = 1\ntype = \"int24\"\n");
    const std::vector<Broken> cases = {
        {"poll_ms too small", "poll_ms = 5", "poll_ms = 5 is out of range 10..86400000"},
        {"negative poll_ms", "poll_ms = -5", "poll_ms = -5 is out of range"},
        {"unit id 300", "unit_id = 300", "unit_id = 300 is out of range 0..247"},
        {"misspelled profile", "profile = \"bcmp\"", "profile 'bcmp' not found"},
        {"broken profile", "profile = \"" + bad_profile + "\"", "unknown type 'int24'"},
        {"invalid IPv4 address", "address = \"10.0.0.300:502\"", "'10.0.0.300' is not a valid IPv4 address"},
        {"space in the address", "address = \" 127.0.0.1:502\"", "contains a space or a line break"},
        {"IPv6 without brackets", "address = \"::1:502\"", "an IPv6 address needs brackets: [addr]:port"},
        {"unknown scheme", "address = \"udp://127.0.0.1:502\"", "unknown scheme 'udp://'"},
        {"relative serial device", "address = \"rtu:ttyUSB0\"", "the serial device must be a full path"},
    };
    for (const Broken& c : cases) {
        SCOPED_TRACE(c.name);
        int port = free_port();
        std::string ctl = "ipc:///tmp/gridlet-it-" + std::to_string(getpid()) + "-cr.sock";
        std::string text = site_text(port, ctl, c.bad_device_line);
        // A key written twice is a TOML error: drop the default line the case replaces.
        std::string key = c.bad_device_line.substr(0, c.bad_device_line.find(' '));
        if (key == "profile" || key == "address" || key == "unit_id") {
            auto last = text.rfind(key + " = ");
            auto end = text.find('\n', last);
            auto bad_at = text.rfind("name = \"bad\"");
            auto prev = text.rfind(key + " = ", last - 1);
            if (prev != std::string::npos && prev > bad_at) text.erase(prev, text.find('\n', prev) - prev + 1);
            (void)end;
        }
        std::string site = temp_file("cr.toml", text);

        Result chk = run({gridlet_bin(), "check", site});
        EXPECT_EQ(chk.code, 2) << chk.out << chk.err;
        EXPECT_TRUE(std::regex_search(chk.err, std::regex(std::regex_replace(site, std::regex("[.]"), "[.]") +
                                                          ":[0-9]+: device 'bad': ")))
            << chk.err;
        EXPECT_NE(chk.err.find(c.message), std::string::npos) << chk.err;

        Process p({gridlet_bin(), "run", site});
        ASSERT_TRUE(p.wait_for_err("left out")) << p.err();
        EXPECT_NE(p.err().find(c.message), std::string::npos) << p.err();
        EXPECT_TRUE(p.wait_for_err("device 'good' is online")) << p.err();
        Result m = run({gridlet_bin(), "metrics", "--control", ctl});
        EXPECT_EQ(m.code, 1) << "metrics reports the problem with its exit code";
        EXPECT_NE(m.out.find("device left out"), std::string::npos) << m.out;
        p.signal(SIGINT);
        EXPECT_EQ(p.wait(), 1) << "a run with a device left out does not end with 0\n" << p.err();
    }
}

TEST(CheckRun, RulesThatCannotLoadAreRefusedByBoth) {
    std::string syntax = temp_file("syntax.lua", "gridlet.on('a', function(v)\n  if v > 1 then\nend)\n");
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"/tmp/gridlet-no-such-rule.lua", "gridlet-no-such-rule.lua"},
        {syntax, "syntax.lua:"},
    };
    for (const auto& [file, message] : cases) {
        SCOPED_TRACE(file);
        std::string site = temp_file("rules.toml", "[site]\nname = \"t\"\n[[rules]]\nname = \"r\"\nfile = \"" + file + "\"\n");
        Result chk = run({gridlet_bin(), "check", site});
        EXPECT_EQ(chk.code, 2) << chk.out;
        EXPECT_NE(chk.err.find(site + ":3: rule 'r': "), std::string::npos) << chk.err;
        EXPECT_NE(chk.err.find(message), std::string::npos) << chk.err;
        Result r = run({gridlet_bin(), "run", site});
        EXPECT_EQ(r.code, 2);
        EXPECT_EQ(chk.err.substr(0, chk.err.find('\n')), r.err.substr(0, r.err.find('\n'))) << "one validation path";
    }
}

// Site-level problems that `run` refuses are refused by `check` too, with
// the same first line (a retest found each of these passing check).
TEST(CheckRun, SiteProblemsAreRefusedByBothWithTheSameMessage) {
    const std::string dir = "/tmp/gridlet-it-site-" + std::to_string(getpid());
    run({"rm", "-rf", dir});
    run({"mkdir", "-p", dir});
    std::ofstream(dir + "/a_file") << "x";
    const std::string sim = "[[plugins]]\nname = \"sim\"\nfile = \"sim\"\n[plugins.config]\n";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {sim + "bcpm = [ { name = \"x\", port = 26200, colour = \"red\" } ]\n", "unknown key 'colour'"},
        {sim + "bcpm = [ { name = \"x\", port = 70000 } ]\n", "port must be 0..65535"},
        {sim + "bcpm = [ { name = \"x\", port = 26201 }, { name = \"y\", port = 26201 } ]\n",
         "port 26201 is used by another simulator"},
        {sim + "building = [ { name = \"b\", port = 26202, day_s = 30 } ]\n", "day_s (an office day played in day_s seconds) must be 0 (off) or 60..86400"},
        {"[[plugins]]\nname = \"console\"\nfile = \"console\"\n[plugins.config]\nevery_ms = 50\n",
         "every_ms must be 100..86400000"},
        {"[logging]\nfile = \"" + dir + "\"\n", "is a folder"},
        {"[logging]\nfile = \"" + dir + "/missing/g.log\"\n", "does not exist (gridlet does not create it"},
        {"[kernel]\ncontrol = \"tcp://nothing\"\n", "is not an ipc:// endpoint"},
        {"[kernel]\nplugin_path = [\"/nonexistent\"]\n", "plugin_path: '/nonexistent' is not a folder"},
        {"[store]\npath = \"" + dir + "/a_file\"\n", "is not a folder ([store] path names a file)"},
        {"[store]\npath = \"" + dir + "/none\"\ncreate = \"never\"\n", "create it with `gridlet store init"},
        {"[store]\npath = \"" + dir + "/a_file/sub\"\n", "cannot be created: " + dir + "/a_file is not a folder"},
        {"[rule_engine]\nlib_dirs = [\"/nonexistent\"]\n", "lib_dirs: '/nonexistent' is not a folder"},
        {"[kernel]\ncontrol = \"ipc:///nonexistent/deeper/c.sock\"\n", "the folder '/nonexistent/deeper' does not exist"},
        {"[kernel]\ncontrol = \"ipc:///proc/gridlet-check/c.sock\"\n",
         "the folder '/proc/gridlet-check' does not exist, and cannot be made"},
        {"[logging]\npattern = \"\"\n", "[logging] pattern: empty"},
        {"[logging]\nfile = \"/proc/gridlet-check.log\"\n", "is in /proc or /sys, not on a disk"},
        {"[kernel]\ncontrol = \"ipc:///proc/gridlet-check.sock\"\n", "[kernel] control: no socket can be made in '/proc'"},
        {"[kernel]\ncontrol = \"ipc://relative.sock\"\n", "is relative"},
        {"[kernel]\ncontrol = \"ipc:///tmp/" + std::string(110, 'x') + ".sock\"\n", "over the 107 a unix socket takes"},
        {"[logging]\nfile = \"/proc/sys/kernel/hostname\"\n", "is in /proc or /sys, not on a disk"},
        {"[logging]\nfile = \"/dev/null\"\n", "is not a regular file"},
        {"[store]\npath = \"" + dir + "\"\n", "the folder holds other files (a_file) and no store"},
        {"[[plugins]]\nname = \"sim\"\nfile = \"sim\"\n[[devices]]\nname = \"..\"\nplugin = \"sim\"\n", "starts with a letter, a digit or '_'"},
        {"[[plugins]]\nname = \"sim\"\nfile = \"sim\"\n[[devices]]\nname = \"a/b\"\nplugin = \"sim\"\n",
         "name 'a/b' may use only letters, digits, '_', '-', '.'"},
        {"[store]\npath = \"/proc/gridlet-check-store\"\n", "cannot be created: /proc is not writable"},
        {"[[plugins]]\nname = \"console\"\nfile = \"console\"\n[plugins.config]\nseries = [\"[bad\"]\n",
         "series pattern '[bad' can never match"},
        {"[[plugins]]\nname = \"modbus\"\nfile = \"modbus\"\n[plugins.config]\nprofiles_dir = \"" + dir + "/none\"\n",
         "profiles_dir: '" + dir + "/none' is not a folder"},
        // A load whose device the site does not have (a typo): refused at
        // load, not at the first shed.
        {"[[plugins]]\nname = \"modbus\"\nfile = \"modbus\"\n[[devices]]\nname = \"relays\"\nplugin = \"modbus\"\nprofile = "
         "\"building\"\naddress = \"127.0.0.1:1502\"\nunit_id = 1\n[[rules]]\nname = \"demand_limit\"\nfile = \"" +
             source_dir() + "/scripts/rules/demand_limit.lua\"\n[rules.params]\npower = \"relays/power\"\nlimit_kw = 40\n"
             "loads = [ { name = \"boiler\", target = \"relais/relay1\", kw = 8 } ]\n",
         "params.loads[1].target: 'relais' is not a device of this site (devices: relays)"},
    };
    for (const auto& [body, message] : cases) {
        SCOPED_TRACE(body);
        std::string site = temp_file("site_problem.toml", "[site]\nname = \"sp\"\n" + body);
        Result chk = run({gridlet_bin(), "check", site});
        EXPECT_EQ(chk.code, 2) << chk.out << chk.err;
        EXPECT_NE(chk.err.find(message), std::string::npos) << chk.err;
        EXPECT_NE(chk.err.find(site + ":"), std::string::npos) << "file:line: " << chk.err;
        Result r = run({gridlet_bin(), "run", site}, std::chrono::seconds(10));
        EXPECT_EQ(r.code, 2) << r.err;
        EXPECT_EQ(chk.err.substr(0, chk.err.find('\n')), r.err.substr(0, r.err.find('\n'))) << "one validation path";
    }
    run({"rm", "-rf", dir});
}

// Two devices on one unit of one connection: fine for two profiles of one
// meter, so not refused; but check and run both say it (a copy-paste slip
// would otherwise read one meter twice under two names).
TEST(CheckRun, TwoDevicesOnOneUnitAreWarnedAbout) {
    int port = free_port();
    std::string ctl = "ipc:///tmp/gridlet-it-" + std::to_string(getpid()) + "-dup.sock";
    std::string text = site_text(port, ctl, "poll_ms = 500");
    text.replace(text.rfind("unit_id = 2"), 11, "unit_id = 1");
    std::string site = temp_file("dup_unit.toml", text);
    Result chk = run({gridlet_bin(), "check", site});
    EXPECT_EQ(chk.code, 0) << chk.err;
    const std::string warning = "plugin 'modbus': devices 'good' and 'bad' both poll unit 1 at 127.0.0.1:" + std::to_string(port);
    EXPECT_NE(chk.err.find("warning: " + site + ":"), std::string::npos) << chk.err;
    EXPECT_NE(chk.err.find(warning), std::string::npos) << chk.err;
    Process p({gridlet_bin(), "run", site});
    EXPECT_TRUE(p.wait_for_err(warning)) << p.err();
    EXPECT_TRUE(p.wait_for_err("device 'bad' is online")) << p.err();
    p.signal(SIGINT);
    EXPECT_EQ(p.wait(), 0) << p.err();
}

TEST(CheckRun, AFailedPluginMakesRunAndMetricsExitNonZero) {
    // A port this test holds: the sim plugin fails at start (its config is valid).
    int port = free_port();
    int holder = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(holder, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ASSERT_EQ(bind(holder, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(listen(holder, 1), 0);
    std::string ctl = "ipc:///tmp/gridlet-it-" + std::to_string(getpid()) + "-fp.sock";
    std::string site = temp_file("failing.toml", "[site]\nname = \"t\"\n[kernel]\ncontrol = \"" + ctl +
                                                    "\"\n[[plugins]]\nname = \"sim\"\nfile = \"sim\"\n"
                                                    "[plugins.config]\nbcpm = [ { name = \"s\", port = " + std::to_string(port) +
                                                    " } ]\n");
    Process p({gridlet_bin(), "run", site});
    ASSERT_TRUE(p.wait_for_err("plugin 'sim' is stopped")) << p.err();
    ASSERT_TRUE(p.wait_for_err("control socket")) << p.err();
    Result m = run({gridlet_bin(), "metrics", "--control", ctl});
    EXPECT_EQ(m.code, 1) << m.out;
    EXPECT_NE(m.out.find("plugin 'sim' failed"), std::string::npos) << m.out;
    p.signal(SIGINT);
    EXPECT_EQ(p.wait(), 1) << p.err();
    EXPECT_NE(p.err().find("exit 1: plugin 'sim' failed"), std::string::npos) << p.err();
    close(holder);
}

// Two plugins that both handle one device's commands (a simulator named like
// the Modbus device it serves): the failed start says which plugin has it.
TEST(CheckRun, ADeviceHandledByTwoPluginsIsNamedInTheFailure) {
    int port = free_port();
    std::string ctl = "ipc:///tmp/gridlet-it-" + std::to_string(getpid()) + "-twice.sock";
    std::string text = site_text(port, ctl, "poll_ms = 500");
    text.replace(text.find("name = \"s\""), 10, "name = \"good\"");  // the simulator takes the device's name
    std::string site = temp_file("twice.toml", text);
    Process p({gridlet_bin(), "run", site});
    EXPECT_TRUE(p.wait_for_err("commands of device 'good' are already handled by plugin 'sim'")) << p.err();
    p.signal(SIGINT);
    EXPECT_EQ(p.wait(), 1) << p.err();
}

// Checking a site (gridlet check, and every command that loads it: status,
// reload, consumption...) never makes or removes the log's own path or the
// control socket's folder. It used to probe the log by making the file and
// removing it again when it had not existed: a `gridlet status` while
// gridlet started removed the log gridlet had just opened, whose lines then
// went to a deleted file until a SIGHUP (seen as lost "reload:" lines in
// LiveReconfiguration). Shown here without a race: a log path that is a
// link to a file not made yet (the old probe removed the link), and a
// control folder that does not exist yet (the old probe made and removed
// that very folder).
TEST(CheckRun, CheckingASiteNeverMakesOrRemovesTheLogOrTheControlFolder) {
    namespace fs = std::filesystem;
    const std::string dir = "/tmp/gridlet-it-probe-" + std::to_string(getpid());
    fs::remove_all(dir);
    fs::create_directories(dir + "/logs");
    const std::string log = dir + "/gridlet.log";
    fs::create_symlink(dir + "/logs/today.log", log);  // its target is made by the first line gridlet writes
    const std::string site = dir + "/site.toml";
    std::ofstream(site) << "[site]\nname = \"probe\"\n[kernel]\ncontrol = \"ipc://" << dir << "/run/c.sock\"\n"
                        << "[logging]\nfile = \"" << log << "\"\n";
    for (int i = 0; i < 3; ++i) {
        Result chk = run({gridlet_bin(), "check", site});
        EXPECT_EQ(chk.code, 0) << chk.out << chk.err;
        EXPECT_TRUE(fs::is_symlink(log)) << "the check removed the log's link";
        EXPECT_FALSE(fs::exists(dir + "/logs/today.log")) << "the check made the log's file";
        EXPECT_FALSE(fs::exists(dir + "/run")) << "the check left the control folder";
    }
    // No probe is left behind either.
    for (const auto& e : fs::recursive_directory_iterator(dir))
        EXPECT_EQ(e.path().filename().string().rfind(".gridlet-probe", 0), std::string::npos) << e.path();
    fs::remove_all(dir);
}

// The real `gridlet` binary: check, plugins, run (metrics, SIGHUP, SIGTERM).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/process.h"

using namespace gridlet::testing;

namespace {
std::string fixture(const std::string& name) { return build_dir() + "/tests/fixtures/" + name + ".so"; }
std::string hello() { return build_dir() + "/plugins/hello.so"; }
}  // namespace

TEST(Cli, CheckRefusesAnUnknownKeyWithFileLineAndExit2) {
    std::string site = temp_file("unknown.toml", "[site]\nname = \"x\"\ntimezon = \"UTC\"\n");
    Result r = run({gridlet_bin(), "check", site});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find(site + ":3: unknown key 'timezon' in [site] (known keys: name, timezone)"), std::string::npos)
        << r.err;
}

TEST(Cli, CheckRefusesBadTomlWithItsLine) {
    std::string site = temp_file("syntax.toml", "[site]\nname = \"x\n");
    Result r = run({gridlet_bin(), "check", site});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find(site + ":2: TOML syntax"), std::string::npos) << r.err;
}

TEST(Cli, CheckAcceptsTheDemoSite) {
    Result r = run({gridlet_bin(), "check", source_dir() + "/config/demo.toml"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find(": ok (site 'demo'"), std::string::npos) << r.out;
}

TEST(Cli, PluginsRefusesAWrongAbiNamingFileAndVersions) {
    Result r = run({gridlet_bin(), "plugins", fixture("fx_wrong_major")});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("plugin " + fixture("fx_wrong_major") + ": plugin ABI 2.0, host wants ABI 1.3"), std::string::npos)
        << r.err;
}

TEST(Cli, PluginsDescribesAPlugin) {
    Result r = run({gridlet_bin(), "plugins", hello()});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("name:        hello"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("ABI:         1.3"), std::string::npos);
    EXPECT_NE(r.out.find("interval_ms (integer, default 1000)"), std::string::npos);
}

TEST(Cli, RunServesMetricsReloadsOnSighupAndStopsOnSigterm) {
    std::string ctl = "ipc:///tmp/gridlet-it-" + std::to_string(getpid()) + ".sock";
    std::string site = temp_file("run.toml", "[site]\nname = \"it\"\n[kernel]\ncontrol = \"" + ctl +
                                                 "\"\n[[plugins]]\nname = \"h\"\nfile = \"" + hello() +
                                                 "\"\nconfig = { interval_ms = 20 }\n"
                                                 "[[devices]]\nname = \"c1\"\nplugin = \"h\"\n");
    Process p({gridlet_bin(), "run", site});
    ASSERT_TRUE(p.wait_for_err("plugin 'h' started")) << p.err();
    ASSERT_TRUE(p.wait_for_err("control socket")) << p.err();
    nlohmann::json m;
    for (int i = 0; i < 100; ++i) {
        Result r = run({gridlet_bin(), "metrics", "--control", ctl});
        ASSERT_EQ(r.code, 0) << r.err;
        m = nlohmann::json::parse(r.out);
        if (m["plugins"]["h"]["samples_out"].get<int>() >= 3) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(m["site"], "it");
    EXPECT_EQ(m["plugins"]["h"]["state"], "running");
    EXPECT_GE(m["plugins"]["h"]["samples_out"].get<int>(), 3);
    EXPECT_EQ(m["series"], 1);

    p.signal(SIGHUP);
    EXPECT_TRUE(p.wait_for_err("reloaded " + site)) << p.err();
    p.signal(SIGTERM);
    EXPECT_EQ(p.wait(), 0) << p.err();
    EXPECT_NE(p.err().find("SIGTERM: stopping"), std::string::npos);
    EXPECT_NE(p.err().find("plugin 'h' stopped"), std::string::npos);
}

TEST(Cli, MetricsWithoutARunningGridletSaysSo) {
    Result r = run({gridlet_bin(), "metrics", "--control", "ipc:///tmp/gridlet-nobody-here.sock", "--timeout-ms", "200"});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("no answer from ipc:///tmp/gridlet-nobody-here.sock within 200 ms"), std::string::npos) << r.err;
}

TEST(Cli, RunRefusesAnInvalidSiteWithExit2BeforeStartingAnything) {
    std::string site = temp_file("bad-run.toml", "[[plugins]]\nname = \"h\"\nfile = \"" + hello() +
                                                     "\"\nconfig = { interval_ms = \"fast\" }\n");
    Result r = run({gridlet_bin(), "run", site});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find(site + ":4: plugin 'h' ([plugins.config]): 'interval_ms' must be integer, not string"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(r.err.find("started"), std::string::npos);
}

// Issue 10 item 11: the log file has every line while gridlet runs (and so
// after kill -9), and SIGHUP reopens it after a rotation.
TEST(Cli, LogFileIsWrittenThroughAndReopenedOnSighup) {
    std::string log = "/tmp/gridlet-it-" + std::to_string(getpid()) + "-run.log";
    std::remove(log.c_str());
    std::remove((log + ".1").c_str());
    std::string site = temp_file("log.toml", "[site]\nname = \"log\"\n[logging]\nfile = \"" + log +
                                                 "\"\n[[plugins]]\nname = \"h\"\nfile = \"" + hello() + "\"\n");
    Process p({gridlet_bin(), "run", site});
    ASSERT_TRUE(wait_in(log, "plugin 'h' started")) << "the line is in the file while gridlet runs";
    ASSERT_EQ(std::rename(log.c_str(), (log + ".1").c_str()), 0);  // logrotate
    p.signal(SIGHUP);
    EXPECT_TRUE(wait_in(log, "reloaded")) << "SIGHUP reopened the file by name";
    p.signal(SIGKILL);
    p.wait();
    EXPECT_NE(slurp(log + ".1").find("plugin 'h' started"), std::string::npos);
    std::remove(log.c_str());
    std::remove((log + ".1").c_str());
}

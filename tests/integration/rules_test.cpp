// Rules under the real binary: a runaway rule is stopped while the others go
// on, and an edited rule reloads without a restart.
#include <gtest/gtest.h>

#include <fstream>

#include "integration/process.h"

using namespace gridlet::testing;

namespace {
std::string hello() { return build_dir() + "/plugins/hello.so"; }
}  // namespace

TEST(Rules, RunawayRuleIsStoppedOthersGoOnAndEditsReload) {
    std::string dir = "/tmp/gridlet-it-rules-" + std::to_string(getpid());
    run({"mkdir", "-p", dir});
    // counter1/count grows by 1 every 50 ms (the hello plugin).
    std::ofstream(dir + "/good.lua") << "gridlet.on('counter1/count', function(v)\n"
                                        "  if v == 5 then gridlet.log.info('good rule saw five') end\n"
                                        "end)\n";
    std::ofstream(dir + "/runaway.lua") << "gridlet.on('counter1/count', function(v)\n"
                                           "  if v >= 3 then while true do end end\n"
                                           "end)\n";
    std::string site = dir + "/site.toml";
    std::ofstream(site) << "[site]\nname = \"rules-it-" << getpid() << "\"\n"
                        << "[[plugins]]\nname = \"hello\"\nfile = \"" << hello() << "\"\nconfig = { interval_ms = 50 }\n"
                        << "[[devices]]\nname = \"counter1\"\nplugin = \"hello\"\n"
                        << "[rule_engine]\ntime_ms = 100\n"
                        << "[[rules]]\nname = \"good\"\nfile = \"good.lua\"\n"
                        << "[[rules]]\nname = \"runaway\"\nfile = \"runaway.lua\"\n";
    Process p({gridlet_bin(), "run", site});
    ASSERT_TRUE(p.wait_for_err("2 of 2 rule(s) running")) << p.err();
    // The runaway loop (JIT-able `while true do end`) is stopped by a budget...
    ASSERT_TRUE(p.wait_for_err("rule 'runaway': rule stopped")) << p.err();
    EXPECT_NE(p.err().find("other rules go on"), std::string::npos);
    // ...and the good rule still runs after it.
    ASSERT_TRUE(p.wait_for_err("good rule saw five")) << p.err();

    // Edit the good rule: it reloads (inotify) without a restart.
    std::ofstream(dir + "/good.lua") << "gridlet.on('counter1/count', function(v)\n"
                                        "  if v % 10 == 0 then gridlet.log.info('edited rule saw %d', v) end\n"
                                        "end)\n";
    ASSERT_TRUE(p.wait_for_err("edited rule saw")) << p.err();
    EXPECT_NE(p.err().find("rule 'good'"), std::string::npos);
    p.signal(SIGTERM);
    EXPECT_EQ(p.wait(), 0) << p.err();
    run({"rm", "-rf", dir});
}

TEST(Rules, PublishedSampleReachesRulesAndTheStore) {
    std::string dir = "/tmp/gridlet-it-publish-" + std::to_string(getpid());
    run({"rm", "-rf", dir});
    run({"mkdir", "-p", dir});
    std::ofstream(dir + "/manual.lua") << "gridlet.on('manual/setpoint', function(v)\n"
                                          "  gridlet.log.info('manual setpoint %g', v)\n"
                                          "end)\n";
    std::string site = dir + "/site.toml";
    std::ofstream(site) << "[site]\nname = \"publish-it-" << getpid() << "\"\n"
                        << "[store]\npath = \"db\"\n"
                        << "[[rules]]\nname = \"manual\"\nfile = \"manual.lua\"\n";
    Process p({gridlet_bin(), "run", site});
    ASSERT_TRUE(p.wait_for_err("1 of 1 rule(s) running")) << p.err();
    ASSERT_TRUE(p.wait_for_err("control socket")) << p.err();

    Result r = run({gridlet_bin(), "publish", "manual/setpoint", "42.5", "--unit", "A", "--config", site});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("published manual/setpoint = 42.5"), std::string::npos) << r.out;
    ASSERT_TRUE(p.wait_for_err("manual setpoint 42.5")) << p.err();

    Result bad = run({gridlet_bin(), "publish", "no slash", "1", "--config", site});
    EXPECT_EQ(bad.code, 2);
    EXPECT_NE(bad.err.find("'no slash' is not a series name"), std::string::npos) << bad.err;

    p.signal(SIGTERM);
    ASSERT_EQ(p.wait(), 0) << p.err();
    Result q = run({gridlet_bin(), "query", "manual/setpoint", "--from", "-10m", "--config", site});
    ASSERT_EQ(q.code, 0) << q.err;
    EXPECT_NE(q.out.find(",manual/setpoint,42.5"), std::string::npos) << q.out;
    Result s = run({gridlet_bin(), "series", "manual/*", "--config", site});
    EXPECT_NE(s.out.find("A"), std::string::npos) << s.out;
    run({"rm", "-rf", dir});
}

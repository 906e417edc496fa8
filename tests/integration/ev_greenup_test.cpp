// End to end through the real binary: the EV site simulator (plugins/sim),
// the Modbus driver with config/profiles/evse.toml and meter3ph.toml, and the
// Green'Up rule (scripts/rules/greenup.lua) managing three stations.
//
// Site: 100 A maximum, 90 A for charging, 40 A of other loads per phase.
//   +1 s ev1 (32 A, three-phase, Priority) arrives: 40 + 32 = 72 A -> 32 A.
//   +3 s ev2 (32 A, three-phase): 104 and 96 A do not fit, 88 A does -> second step, 16 A.
//   +5 s ev3 (16 A, single-phase L1): only fits if ev1 goes to its first step
//        (80 A) -> ev3 at its second step, 8 A.
//   ev3 leaves after 14 s: its session ends (ev_session), and ev2, reduced
//        first, is raised to 24 A (88 A); ev1 stays at 24 A (96 A would not fit).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <filesystem>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "integration/process.h"

using namespace gridlet::testing;

namespace {

std::string device(const std::string& name, const std::string& profile, int port, int unit) {
    return "[[devices]]\nname = \"" + name + "\"\nplugin = \"modbus\"\nprofile = \"" + profile +
           "\"\naddress = \"127.0.0.1:" + std::to_string(port) + "\"\nunit_id = " + std::to_string(unit) +
           "\npoll_ms = 500\ntimeout_ms = 300\nretries = 0\n\n";
}

std::string site(int port, const std::string& store) {
    std::ostringstream s;
    s << "[site]\nname = \"ev-it-" << getpid() << "\"\ntimezone = \"UTC\"\n\n"
      << "[store]\npath = \"" << store << "\"\n\n"
      << "[[plugins]]\nname = \"sim\"\nfile = \"sim\"\n[[plugins.config.evse]]\nname = \"evsite\"\nport = " << port
      << "\nmeter_unit = 100\nbackground = [40, 40, 40]\nresponse_ms = 1000\n"
      << "stations = [ { unit = 1, rated_current = 32, phases = 3 }, { unit = 2, rated_current = 32, phases = 3 },"
         " { unit = 3, rated_current = 16, phases = 1, phase = \"L1\" } ]\n"
      << "vehicles = [ { unit = 1, at_s = 1, max_current = 32, need_ah = 50 }, { unit = 2, at_s = 3, max_current = 32, need_ah = 50 },"
         " { unit = 3, at_s = 5, max_current = 16, need_ah = 50, stay_s = 14 } ]\n\n"
      << "[[plugins]]\nname = \"modbus\"\nfile = \"modbus\"\n\n"
      << device("main", "meter3ph", port, 100) << device("ev1", "evse", port, 1) << device("ev2", "evse", port, 2)
      << device("ev3", "evse", port, 3)
      << "[[rules]]\nname = \"greenup\"\nfile = \"" << source_dir() << "/scripts/rules/greenup.lua\"\n[rules.params]\n"
      << "total_power_consumption_meter = [\"main/current/l1\", \"main/current/l2\", \"main/current/l3\"]\n"
      << "maximum_current_available = 100\nmaximum_current_available_for_the_charging = 90\nstatus_every = 1\n"
      << "stations = [ { name = \"ev1\", rated_current = 32, priority = \"Priority\" }, { name = \"ev2\", rated_current = 32 },"
         " { name = \"ev3\", rated_current = 16, phases = 1, phase = \"L1\" } ]\n";
    return s.str();
}

// Waits until stderr has a line matching `re` (after `from`); returns its position or npos.
size_t wait_for_line(Process& p, const std::regex& re, int seconds, size_t from = 0) {
    for (int i = 0; i < seconds * 20; ++i) {
        std::string err = p.err();
        std::smatch m;
        std::string tail = err.substr(std::min(from, err.size()));
        if (std::regex_search(tail, m, re)) return from + static_cast<size_t>(m.position(0));
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return std::string::npos;
}

}  // namespace

TEST(EvGreenup, ManagesSimulatedStationsOverModbus) {
    const int port = free_port();
    const std::string store = "/tmp/gridlet-ev-it-" + std::to_string(getpid()) + "-store";
    remove_store(store);
    std::string file = temp_file("ev-site.toml", site(port, store));
    Process p({gridlet_bin(), "run", file});
    ASSERT_NE(wait_for_line(p, std::regex("rule 'greenup': loaded"), 20), std::string::npos) << p.err();

    // All three sessions managed: ev1 at its first step, ev2 at its second,
    // ev3 at its second; each station draws what it was given (read back over Modbus).
    std::regex managed("ev1 step1 24A 24\\.0A P \\| ev2 step2 16A 16\\.0A \\| ev3 step2 8A 8\\.0A");
    size_t at = wait_for_line(p, managed, 20);
    ASSERT_NE(at, std::string::npos) << p.err();

    // ev3 leaves: its session ends, ev2 (reduced first) is raised; ev1 stays.
    ASSERT_NE(wait_for_line(p, std::regex("ev3: session ended \\(vehicle_left\\)"), 25, at), std::string::npos) << p.err();
    std::regex restored("ev1 step1 24A 24\\.0A P \\| ev2 step1 24A 24\\.0A \\| ev3 free");
    ASSERT_NE(wait_for_line(p, restored, 10, at), std::string::npos) << p.err();
    EXPECT_EQ(p.err().find("rule_error"), std::string::npos) << p.err();
    p.signal(SIGINT);
    EXPECT_EQ(p.wait(), 0) << p.err();

    // The installation never went above the maximum current available: the
    // main meter as stored (every poll).
    Result q = run({gridlet_bin(), "query", "main/current/*", "--config", file, "--from", "-10m", "--format", "csv",
                    "--no-quality"});
    ASSERT_EQ(q.code, 0) << q.err;
    std::istringstream rows(q.out);
    std::string line;
    int samples = 0;
    double peak = 0;
    while (std::getline(rows, line)) {
        auto comma = line.rfind(',');
        if (line.rfind("time", 0) == 0 || comma == std::string::npos) continue;
        peak = std::max(peak, std::stod(line.substr(comma + 1)));
        ++samples;
    }
    EXPECT_GT(samples, 30);
    EXPECT_GT(peak, 80.0) << "the stations did charge";
    EXPECT_LT(peak, 100.0) << q.out;

    // The charge history: ev3's session, stored as an event and read back.
    Result ev = run({gridlet_bin(), "events", "--config", file, "--type", "ev_session", "--from", "-10m", "--format", "json"});
    ASSERT_EQ(ev.code, 0) << ev.err;
    auto history = nlohmann::json::parse(ev.out);
    ASSERT_EQ(history.size(), 1u) << ev.out;
    const auto& h = history[0];
    EXPECT_EQ(h["source"], "rule/greenup");
    EXPECT_EQ(h["body"]["station"], "ev3");
    EXPECT_EQ(h["body"]["stop_reason"], "vehicle_left");
    EXPECT_EQ(h["body"]["phases"], 1);
    EXPECT_GT(h["body"]["ah"].get<double>(), 0.0) << ev.out;
    EXPECT_DOUBLE_EQ(h["body"]["max_current"].get<double>(), 8.0) << "ev3 charged at its second step";
    EXPECT_GT(h["body"]["duration_s"].get<double>(), 5.0);
    Result csv = run({gridlet_bin(), "events", "--config", file, "--type", "ev_session", "--from", "-10m"});
    ASSERT_EQ(csv.code, 0) << csv.err;
    EXPECT_EQ(csv.out.rfind("time,source,type,severity,body\n", 0), 0u) << csv.out;
    EXPECT_NE(csv.out.find(",rule/greenup,ev_session,info,\"{\"\"ah\"\":"), std::string::npos) << csv.out;
    remove_store(store);
}

// config/ev-demo.toml runs standalone (on another port and store) and its live
// line shows the logic managing the scripted vehicles.
TEST(EvGreenup, DemoSiteRunsAndShowsTheLiveLine) {
    const int port = free_port();
    std::string text = slurp(source_dir() + "/config/ev-demo.toml");
    text = std::regex_replace(text, std::regex("15030"), std::to_string(port));
    text = std::regex_replace(text, std::regex("name = \"ev-demo\""), "name = \"ev-demo-it-" + std::to_string(getpid()) + "\"");
    const std::string store = "/tmp/gridlet-ev-demo-it-" + std::to_string(getpid());
    remove_store(store);
    text = std::regex_replace(text, std::regex("\\.\\./var/ev-demo-store"), store);
    text = std::regex_replace(text, std::regex("\\.\\./scripts/rules/greenup\\.lua"), source_dir() + "/scripts/rules/greenup.lua");
    Process p({gridlet_bin(), "run", temp_file("ev-demo.toml", text)});
    // Within ~30 s: ev1 and ev2 charging, one of them reduced, the area shown.
    std::regex live("(GREEN|YELLOW|RED) [0-9.]+ A \\(L1 .*\\| ev1 (100%|step1|step2) [0-9.]+A [0-9.]+A P \\| ev2 (step1|step2) ");
    EXPECT_NE(wait_for_line(p, live, 40), std::string::npos) << p.err();
    p.signal(SIGINT);
    EXPECT_EQ(p.wait(), 0) << p.err();
    remove_store(store);
}

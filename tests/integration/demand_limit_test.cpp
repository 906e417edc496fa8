// End to end through the real binary: the simulated building (plugins/sim,
// building_server.h) over Modbus TCP with config/profiles/building.toml, and
// the demand limit rule (scripts/rules/demand_limit.lua) switching its
// relays. Short intervals (10 s) so that a few of them pass in the test:
// every complete interval's demand, from the store's own average of the
// site power, stays under the limit, and the rule's published interval
// demand agrees with it.
#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "integration/process.h"

using namespace gridlet::testing;

namespace {

std::string site(int port, const std::string& store) {
    std::ostringstream s;
    s << "[site]\nname = \"demand-it-" << getpid() << "\"\ntimezone = \"Europe/Paris\"\n\n"
      << "[store]\npath = \"" << store << "\"\n\n"
      << "[[plugins]]\nname = \"sim\"\nfile = \"sim\"\n[[plugins.config.building]]\nname = \"bldg_sim\"\nport = " << port
      << "\nbase_kw = 15\nswing_kw = 20\nperiod_s = 30\n"
      << "loads = [ { name = \"boiler\", kw = 8 }, { name = \"hvac\", kw = 6 }, { name = \"fans\", kw = 3 } ]\n\n"
      << "[[plugins]]\nname = \"modbus\"\nfile = \"modbus\"\n\n"
      << "[[devices]]\nname = \"bldg\"\nplugin = \"modbus\"\nprofile = \"building\"\naddress = \"127.0.0.1:" << port
      << "\"\nunit_id = 1\npoll_ms = 500\ntimeout_ms = 300\nretries = 0\n\n"
      << "[[rules]]\nname = \"demand_limit\"\nfile = \"" << source_dir() << "/scripts/rules/demand_limit.lua\"\n"
      << "[rules.params]\npower = \"bldg/power\"\ninterval = \"10s\"\nlimit_kw = 40\nstep_every = 0.5\nresponse_time = 1\n"
      << "max_gap = 5\nstatus_every = 5\n"
      << "loads = [ { name = \"boiler\", priority = 1, target = \"bldg/relay1\", kw = 8 },"
         " { name = \"hvac\", priority = 2, target = \"bldg/relay2\", kw = 6 },"
         " { name = \"fans\", priority = 3, target = \"bldg/relay3\", kw = 3 } ]\n";
    return s.str();
}

// {ts_ms: value} of one series from `gridlet query --format json`.
std::map<int64_t, double> points(const std::string& json) {
    std::map<int64_t, double> out;
    const auto j = nlohmann::json::parse(json, nullptr, false);
    if (!j.is_array() || j.empty()) return out;
    for (const auto& p : j[0]["points"]) out[p["ts_ms"].get<int64_t>()] = p["value"].get<double>();
    return out;
}

}  // namespace

TEST(DemandLimit, KeepsTheSimulatedBuildingUnderItsLimitOverModbus) {
    const int port = free_port();
    const std::string store = "/tmp/gridlet-demand-it-" + std::to_string(getpid()) + "-store";
    run({"rm", "-rf", store});
    const std::string file = temp_file("demand-site.toml", site(port, store));
    Process p({gridlet_bin(), "run", file});
    ASSERT_TRUE(p.wait_for_err("rule 'demand_limit': loaded", std::chrono::seconds(20))) << p.err();
    // The building swings over its limit every 30 s: sheds and restores.
    ASSERT_TRUE(p.wait_for_err("demand_limit: shed ", std::chrono::seconds(30))) << p.err();
    ASSERT_TRUE(p.wait_for_err("demand_limit: restored ", std::chrono::seconds(40))) << p.err();
    std::this_thread::sleep_for(std::chrono::seconds(25));  // a few more intervals
    p.signal(SIGTERM);
    ASSERT_EQ(p.wait(), 0) << p.err();

    // The rule's interval demand (published at each interval's end).
    const Result q = run({gridlet_bin(), "query", "demand_limit/kw", "--from", "-10m", "--format", "json", "--config", file});
    ASSERT_EQ(q.code, 0) << q.err;
    const auto demand = points(q.out);
    ASSERT_GE(demand.size(), 4u) << q.out;
    // The same from the store: the site power's average per 10 s bucket
    // (buckets are epoch-aligned, as the intervals are in a zone at a whole
    // hour's offset), labelled with their start.
    const Result a = run({gridlet_bin(), "query", "bldg/power", "--from", "-10m", "--step", "10s", "--agg", "avg", "--format",
                          "json", "--config", file});
    ASSERT_EQ(a.code, 0) << a.err;
    const auto avg = points(a.out);
    int compared = 0;
    bool first = true;
    for (const auto& [end, kw] : demand) {
        if (first) {  // the first interval is partial (gridlet started inside it)
            first = false;
            continue;
        }
        EXPECT_LE(kw, 40.0) << "the interval ending " << end << "\n" << q.out;
        auto it = avg.find(end - 10000);
        if (it == avg.end()) continue;
        ++compared;
        // The store's mean of the samples against the rule's time-weighted
        // mean: a sample or two apart at a switch.
        EXPECT_NEAR(it->second, kw, 2.5) << "interval ending " << end;
        EXPECT_LE(it->second, 41.0) << "interval ending " << end;
    }
    EXPECT_GE(compared, 3) << a.out;
    // Each switching step is an event with the loads.
    const Result ev = run({gridlet_bin(), "events", "--type", "demand_shed", "--from", "-10m", "--format", "json", "--config", file});
    ASSERT_EQ(ev.code, 0) << ev.err;
    const auto events = nlohmann::json::parse(ev.out, nullptr, false);
    ASSERT_TRUE(events.is_array() && !events.empty()) << ev.out;
    EXPECT_EQ(events[0]["body"]["loads"][0]["load"], "boiler") << "priority 1 goes first: " << ev.out;
    run({"rm", "-rf", store});
}

// End to end through the real binary: the simulated building (plugins/sim,
// building_server.h) over Modbus TCP with config/profiles/building.toml, and
// the demand limit rule (scripts/rules/demand_limit.lua) switching its
// relays and lowering the charging limit of the Green'Up rule, which runs on
// the simulated EV site (over Modbus too). Short intervals (10 s) so that a few of them pass in the test:
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

std::string site(int port, int ev_port, const std::string& store) {
    std::ostringstream s;
    s << "[site]\nname = \"demand-it-" << getpid() << "\"\ntimezone = \"Europe/Paris\"\n\n"
      << "[store]\npath = \"" << store << "\"\n\n"
      << "[[plugins]]\nname = \"sim\"\nfile = \"sim\"\n[[plugins.config.building]]\nname = \"bldg_sim\"\nport = " << port
      << "\nbase_kw = 15\nswing_kw = 20\nperiod_s = 30\n"
      << "loads = [ { name = \"boiler\", kw = 8 }, { name = \"hvac\", kw = 6 }, { name = \"fans\", kw = 3 } ]\n"
      << "[[plugins.config.evse]]\nname = \"evsite\"\nport = " << ev_port
      << "\nmeter_unit = 100\nbackground = [40, 40, 40]\nresponse_ms = 500\n"
      << "stations = [ { unit = 1, rated_current = 32, phases = 3 } ]\n"
      << "vehicles = [ { unit = 1, at_s = 1, max_current = 32, need_ah = 500 } ]\n\n"
      << "[[plugins]]\nname = \"modbus\"\nfile = \"modbus\"\n\n"
      << "[[devices]]\nname = \"bldg\"\nplugin = \"modbus\"\nprofile = \"building\"\naddress = \"127.0.0.1:" << port
      << "\"\nunit_id = 1\npoll_ms = 500\ntimeout_ms = 300\nretries = 0\n\n"
      << "[[devices]]\nname = \"main\"\nplugin = \"modbus\"\nprofile = \"meter3ph\"\naddress = \"127.0.0.1:" << ev_port
      << "\"\nunit_id = 100\npoll_ms = 500\ntimeout_ms = 300\nretries = 0\n\n"
      << "[[devices]]\nname = \"ev1\"\nplugin = \"modbus\"\nprofile = \"evse\"\naddress = \"127.0.0.1:" << ev_port
      << "\"\nunit_id = 1\npoll_ms = 500\ntimeout_ms = 300\nretries = 0\n\n"
      << "[[rules]]\nname = \"greenup\"\nfile = \"" << source_dir() << "/scripts/rules/greenup.lua\"\n[rules.params]\n"
      << "total_power_consumption_meter = [\"main/current/l1\", \"main/current/l2\", \"main/current/l3\"]\n"
      << "maximum_current_available = 100\nmaximum_current_available_for_the_charging = 90\nstatus_every = 0\n"
      << "stations = [ { name = \"ev1\", rated_current = 32 } ]\n\n"
      << "[[rules]]\nname = \"demand_limit\"\nfile = \"" << source_dir() << "/scripts/rules/demand_limit.lua\"\n"
      << "[rules.params]\npower = \"bldg/power\"\ninterval = \"10s\"\nlimit_kw = 40\nstep_every = 0.5\nresponse_time = 1\n"
      << "max_gap = 5\nrate_window = 2\nstatus_every = 5\n"
      << "loads = [ { name = \"ev\", priority = 1, target = \"greenup/charging_limit\", publish = true, shed_value = 60, restore_value = 90, kw = 1, min_on = 2, min_off = 2 },"
         " { name = \"boiler\", priority = 1, target = \"bldg/relay1\", kw = 8, min_on = 2, min_off = 2 },"
         " { name = \"hvac\", priority = 2, target = \"bldg/relay2\", kw = 6, min_on = 2, min_off = 2 },"
         " { name = \"fans\", priority = 3, target = \"bldg/relay3\", kw = 3, min_on = 2, min_off = 2 } ]\n";
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
    const std::string file = temp_file("demand-site.toml", site(port, free_port(), store));
    Process p({gridlet_bin(), "run", file});
    ASSERT_TRUE(p.wait_for_err("rule 'demand_limit': loaded", std::chrono::seconds(20))) << p.err();
    // The building swings over its limit every 30 s: sheds and restores.
    ASSERT_TRUE(p.wait_for_err("demand_limit: shed ", std::chrono::seconds(30))) << p.err();
    ASSERT_TRUE(p.wait_for_err("demand_limit: restored ", std::chrono::seconds(40))) << p.err();
    // EV charging is a load too: its Green'Up charging limit, lowered and
    // raised through the bus, reaches the Green'Up rule.
    EXPECT_TRUE(p.wait_for_err("rule 'greenup': ", std::chrono::seconds(1)));
    EXPECT_NE(p.err().find("charging limit 60 A (configured 90 A): maximum current available 70 A"), std::string::npos)
        << p.err();
    EXPECT_TRUE(p.wait_for_err("charging limit back to the configured 90 A", std::chrono::seconds(40))) << p.err();
    std::this_thread::sleep_for(std::chrono::seconds(15));  // a few more intervals
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
    EXPECT_EQ(events[0]["body"]["loads"][0]["load"], "ev") << "priority 1, first in the list, goes first: " << ev.out;
    run({"rm", "-rf", store});
}

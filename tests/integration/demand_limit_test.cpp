// End to end through the real binary, a simulated day: the simulated
// building (plugins/sim, building_server.h) over Modbus TCP with
// config/profiles/building.toml, its office day played in 240 s (an hour
// every 10 s: night, morning ramp, midday peak, evening fall), and the
// demand limit rule (scripts/rules/demand_limit.lua) in 10 s intervals (one
// an hour of that day) switching its relays and lowering the charging limit
// of the Green'Up rule, which runs on the simulated EV site (over Modbus
// too). Every complete interval's demand of the day, from the store's own
// average of the site power, stays under the limit (unshed, the building
// peaks 13 kW over it; everything shed, 4 kW under), the rule's published
// interval demand agrees with it, and the switch operations are counted.
// Labelled slow (about 4.5 min).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "integration/process.h"

using namespace gridlet::testing;

namespace {

constexpr int kDayS = 240;  // the simulated day, played in 240 s

std::string site(int port, int ev_port, const std::string& store) {
    std::ostringstream s;
    s << "[site]\nname = \"demand-it-" << getpid() << "\"\ntimezone = \"Europe/Paris\"\n\n"
      << "[store]\npath = \"" << store << "\"\n\n"
      << "[[plugins]]\nname = \"sim\"\nfile = \"sim\"\n[[plugins.config.building]]\nname = \"bldg_sim\"\nport = " << port
      << "\nbase_kw = 12\nswing_kw = 24\nday_s = " << kDayS << "\n"
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

TEST(DemandLimit, KeepsEveryIntervalOfASimulatedDayUnderTheLimitOverModbus) {
    const int port = free_port();
    const std::string store = "/tmp/gridlet-demand-it-" + std::to_string(getpid()) + "-store";
    remove_store(store);
    const std::string file = temp_file("demand-site.toml", site(port, free_port(), store));
    const auto start = std::chrono::steady_clock::now();  // the day starts with the simulator, about now
    Process p({gridlet_bin(), "run", file});
    ASSERT_TRUE(p.wait_for_err("rule 'demand_limit': loaded", std::chrono::seconds(20))) << p.err();
    // The morning ramp takes the building over its limit: sheds (EV
    // charging first), and restores in the evening.
    ASSERT_TRUE(p.wait_for_err("demand_limit: shed ", std::chrono::seconds(kDayS))) << p.err();
    // EV charging is a load too: its Green'Up charging limit, lowered and
    // raised through the bus, reaches the Green'Up rule.
    EXPECT_TRUE(p.wait_for_err("charging limit 60 A (configured 90 A): maximum current available 70 A",
                               std::chrono::seconds(20)))
        << p.err();
    ASSERT_TRUE(p.wait_for_err("demand_limit: restored ", std::chrono::seconds(kDayS))) << p.err();
    EXPECT_TRUE(p.wait_for_err("charging limit back to the configured 90 A", std::chrono::seconds(kDayS))) << p.err();
    std::this_thread::sleep_until(start + std::chrono::seconds(kDayS + 5));  // the whole day
    p.signal(SIGTERM);
    ASSERT_EQ(p.wait(), 0) << p.err();

    // The rule's interval demand (published at each interval's end).
    const Result q = run({gridlet_bin(), "query", "demand_limit/kw", "--from", "-10m", "--format", "json", "--config", file});
    ASSERT_EQ(q.code, 0) << q.err;
    const auto demand = points(q.out);
    ASSERT_GE(demand.size(), 22u) << "an interval an hour of the day\n" << q.out;
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
    EXPECT_GE(compared, 20) << a.out;
    // Without the controller the day would have gone over the limit: the
    // building's other loads (the site power less the relayed loads that
    // were on, each sample as the store has it) reached more than the
    // limit less the 17 kW of sheddable loads.
    auto series = [&](const std::string& name) {
        const Result r = run({gridlet_bin(), "query", name, "--from", "-10m", "--format", "json", "--config", file});
        EXPECT_EQ(r.code, 0) << r.err;
        return points(r.out);
    };
    const auto power = series("bldg/power");
    const auto boiler = series("bldg/load1/kw"), hvac = series("bldg/load2/kw"), fans = series("bldg/load3/kw");
    double other_max = 0;
    for (const auto& [ts, kw] : power) {
        if (!boiler.count(ts) || !hvac.count(ts) || !fans.count(ts)) continue;  // one poll reads them all
        other_max = std::max(other_max, kw - boiler.at(ts) - hvac.at(ts) - fans.at(ts));
    }
    EXPECT_GT(other_max + 17, 40 + 8) << "the simulated day must need the controller";
    EXPECT_LT(other_max, 40) << "and must be holdable";
    // Each switching step is an event with the loads; their count is the
    // day's switch operations.
    size_t operations = 0;
    for (const char* type : {"demand_shed", "demand_restore"}) {
        const Result ev = run({gridlet_bin(), "events", "--type", type, "--from", "-10m", "--format", "json", "--config", file});
        ASSERT_EQ(ev.code, 0) << ev.err;
        const auto events = nlohmann::json::parse(ev.out, nullptr, false);
        ASSERT_TRUE(events.is_array() && !events.empty()) << type << ": " << ev.out;
        if (std::string(type) == "demand_shed") {
            EXPECT_EQ(events[0]["body"]["loads"][0]["load"], "ev") << "priority 1, first in the list, goes first: " << ev.out;
        }
        for (const auto& e : events) operations += e["body"]["loads"].size();
    }
    std::printf("simulated day: %zu intervals, %zu switch operations, other loads up to %.1f kW, limit 40 kW\n",
                demand.size(), operations, other_max);
    RecordProperty("switch_operations", static_cast<int>(operations));
    EXPECT_LT(operations, 100u) << "a few per load and day, not chatter";
    remove_store(store);
}

// A BCPM kept on the gateway's intervals over Modbus TCP (spec
// bcpm-panel-meter.md §3, "sync to comms"): the demand rule sets register 72
// to 0 through the profile's config/demand_subinterval_s, writes 26012 to
// register 295 (command demand/new_subinterval) at every 10 s boundary,
// and compares the meter's own present kW demand with its own figure for
// each interval once the meter's window is synchronised: they agree.
TEST(DemandLimit, ABcpmKeptInSyncToCommsAgreesWithTheGatewaysDemand) {
    const int port = free_port();
    const std::string store = "/tmp/gridlet-demand-sync-" + std::to_string(getpid()) + "-store";
    remove_store(store);
    std::ostringstream s;
    s << "[site]\nname = \"demand-sync-" << getpid() << "\"\ntimezone = \"Europe/Paris\"\n\n"
      << "[store]\npath = \"" << store << "\"\n\n"
      << "[[plugins]]\nname = \"sim\"\nfile = \"sim\"\n[plugins.config]\nbcpm = [ { name = \"panel_sim\", port = " << port
      << ", panels = 1, refresh_ms = 200 } ]\n\n"
      << "[[plugins]]\nname = \"modbus\"\nfile = \"modbus\"\n\n"
      << "[[devices]]\nname = \"panel\"\nplugin = \"modbus\"\nprofile = \"bcpm\"\naddress = \"127.0.0.1:" << port
      << "\"\nunit_id = 1\npoll_ms = 250\ntimeout_ms = 500\nretries = 0\n\n"
      << "[[rules]]\nname = \"demand\"\nfile = \"" << source_dir() << "/scripts/rules/demand.lua\"\n[rules.params]\n"
      << "power = \"panel/mains/kw\"\ninterval = \"10s\"\nmax_gap = 5\ndevice_demand = \"panel/mains/kw_demand\"\n"
      << "device_sync = \"panel/demand/new_subinterval\"\ndevice_tolerance = 0.1\n"
      << "device_setup = { \"panel/config/demand_subinterval_s\" = 0 }\n";
    const std::string file = temp_file("demand-sync-site.toml", s.str());
    Process p({gridlet_bin(), "run", file});
    ASSERT_TRUE(p.wait_for_err("the meter is set up: panel/config/demand_subinterval_s = 0", std::chrono::seconds(20)))
        << p.err();
    std::this_thread::sleep_for(std::chrono::seconds(45));  // four or five compared intervals
    p.signal(SIGTERM);
    ASSERT_EQ(p.wait(), 0) << p.err();
    EXPECT_EQ(p.err().find("differs from the gateway's"), std::string::npos) << p.err();
    EXPECT_EQ(p.err().find("failed"), std::string::npos) << p.err();

    const Result ev = run({gridlet_bin(), "events", "--type", "demand_cross_check", "--from", "-10m", "--format", "json",
                           "--config", file});
    ASSERT_EQ(ev.code, 0) << ev.err;
    const auto events = nlohmann::json::parse(ev.out, nullptr, false);
    ASSERT_TRUE(events.is_array()) << ev.out;
    EXPECT_GE(events.size(), 3u) << "every synchronised interval is compared\n" << ev.out;
    double worst = 0;
    for (const auto& e : events) {
        EXPECT_EQ(e["body"]["agrees"], true) << e.dump();
        EXPECT_GT(e["body"]["kw"].get<double>(), 0.5) << "a loaded panel: " << e.dump();
        worst = std::max(worst, std::abs(e["body"]["difference_kw"].get<double>()) / e["body"]["kw"].get<double>());
    }
    std::printf("BCPM in sync to comms: %zu intervals compared, the largest difference %.2f %%\n", events.size(), worst * 100);
    remove_store(store);
}

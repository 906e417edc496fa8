// `gridlet consumption` through the real binary: counters imported with
// `gridlet import` into a site's store, and the Socomec weekly table (§4.1)
// printed back with its Total and Average rows, as CSV and as JSON; a bad
// site model refused by consumption as by check (one parser).
#include <gtest/gtest.h>

#include <sstream>

#include <nlohmann/json.hpp>

#include "integration/process.h"

using namespace gridlet::testing;

namespace {

const char* kAreas[] = {"basement", "ground_floor", "1st_floor", "2nd_floor"};
const double kDays[7][4] = {{344.01, 36, 14, 10}, {320.33, 61, 32, 27}, {326.68, 61, 38, 30}, {326.79, 64, 34, 32},
                            {308.12, 59, 32, 27}, {129.25, 39, 14, 11}, {132.53, 39, 14, 10}};

std::string site(const std::string& store, const std::string& extra = "") {
    std::ostringstream s;
    s << "[site]\nname = \"consumption-it\"\ntimezone = \"Europe/Paris\"\n\n[store]\npath = \"" << store
      << "\"\nretention_raw_days = 0  # forever: the week of June 2019 is imported\nretention_1m_days = 0\n\n[model]\n";
    for (const char* a : kAreas) s << "[[model.areas]]\nname = \"" << a << "\"\nkind = \"floor\"\n";
    for (int k = 0; k < 4; ++k) s << "[[model.points]]\nname = \"m" << k << "\"\nenergy = \"m" << k << "/kwh\"\narea = \"" << kAreas[k] << "\"\n";
    s << extra;
    return s.str();
}

// The Socomec week's counters, read at each local midnight, into the site's store.
void import_week(const std::string& file) {
    std::ostringstream csv;
    csv << "time,m0/kwh,m1/kwh,m2/kwh,m3/kwh\n";
    double v[4] = {10000, 20000, 30000, 40000};
    for (int d = 0; d <= 7; ++d) {
        csv << "2019-06-" << (10 + d) << "T00:00:00";
        for (double x : v) csv << "," << std::to_string(x);
        csv << "\n";
        if (d < 7)
            for (int k = 0; k < 4; ++k) v[k] += kDays[d][k];
    }
    const std::string data = temp_file("counters.csv", csv.str());
    ASSERT_EQ(run({gridlet_bin(), "store", "init", "--config", file}).code, 0);
    const Result imp = run({gridlet_bin(), "import", "--config", file, "--kind", "counter", "--unit", "kWh", data});
    ASSERT_EQ(imp.code, 0) << imp.err;
}

}  // namespace

TEST(Consumption, TheSocomecWeeklyTableFromImportedCounters) {
    const std::string store = "/tmp/gridlet-consumption-it-" + std::to_string(getpid());
    remove_store(store);
    const std::string file = temp_file("consumption-site.toml", site(store));
    import_week(file);
    if (HasFatalFailure()) return;

    const Result t = run({gridlet_bin(), "consumption", "--config", file, "--by", "area", "--from", "2019-06-10", "--to",
                          "2019-06-17"});
    ASSERT_EQ(t.code, 0) << t.err;
    // The rows as printed, columns: Total, the four areas.
    auto row = [&](const std::string& first) {
        std::istringstream in(t.out);
        std::string line;
        while (std::getline(in, line))
            if (line.rfind(first, 0) == 0) {
                std::istringstream cells(line.substr(first.size()));
                std::vector<std::string> out;
                for (std::string c; cells >> c;) out.push_back(c);
                return out;
            }
        return std::vector<std::string>{};
    };
    EXPECT_EQ(row("Total "), (std::vector<std::string>{"2571.71", "1887.71", "359", "178", "147"})) << t.out;
    EXPECT_EQ(row("Average "), (std::vector<std::string>{"367.387", "269.672", "51.285", "25.428", "21"})) << t.out;
    EXPECT_EQ(row("Mon 2019-06-10 "), (std::vector<std::string>{"404.01", "344.01", "36", "14", "10"})) << t.out;
    EXPECT_EQ(row("Sun 2019-06-16 "), (std::vector<std::string>{"195.53", "132.53", "39", "14", "10"})) << t.out;
    EXPECT_NE(t.out.find("Consumption by area, electricity (kWh), per day"), std::string::npos) << t.out;

    const Result c = run({gridlet_bin(), "consumption", "--config", file, "--by", "area", "--from", "2019-06-10", "--to",
                          "2019-06-17", "--format", "csv"});
    ASSERT_EQ(c.code, 0) << c.err;
    EXPECT_EQ(c.out.substr(0, c.out.find('\n')), "start,total,basement,ground_floor,1st_floor,2nd_floor");
    EXPECT_NE(c.out.find("\n2019-06-15T00:00:00+02:00,193.25,129.25,39,14,11\n"), std::string::npos) << c.out;

    const Result j = run({gridlet_bin(), "consumption", "--config", file, "--by", "area", "--from", "2019-06-10", "--to",
                          "2019-06-17", "--format", "json", "--compare", "previous"});
    ASSERT_EQ(j.code, 0) << j.err;
    const auto doc = nlohmann::json::parse(j.out);
    EXPECT_EQ(doc["columns"][1]["name"], "basement");
    EXPECT_NEAR(doc["columns"][1]["average"].get<double>(), 269.672, 1e-9);
    EXPECT_EQ(doc["rows"].size(), 7u);
    EXPECT_EQ(doc["previous"]["from"], "2019-06-03T00:00:00+02:00") << "the week before";
    EXPECT_TRUE(doc["previous"]["columns"][0]["total"].is_null()) << "no data the week before";
    ASSERT_TRUE(doc["change_percent"].is_array());
    EXPECT_TRUE(doc["change_percent"][0].is_null()) << "no change against no data";
    EXPECT_EQ(doc["columns"][0]["partial"], false);
    EXPECT_EQ(doc["previous"]["columns"][0]["partial"], true);
    remove_store(store);
}

TEST(Consumption, ABadModelIsRefusedByConsumptionAsByCheck) {
    const std::string store = "/tmp/gridlet-consumption-bad-" + std::to_string(getpid());
    const std::string file =
        temp_file("consumption-bad.toml", site(store, "[[model.virtual]]\nname = \"v\"\nplus = [\"m0\", \"m9\"]\n"));
    const Result chk = run({gridlet_bin(), "check", file});
    EXPECT_EQ(chk.code, 2);
    const std::string want = file + ":";
    EXPECT_NE(chk.err.find("[[model.virtual]] 'v': 'm9' is not a point"), std::string::npos) << chk.err;
    const Result c = run({gridlet_bin(), "consumption", "--config", file});
    EXPECT_EQ(c.code, 2);
    EXPECT_NE(c.err.find(chk.err.substr(0, chk.err.find('\n'))), std::string::npos) << "the same message\n" << chk.err << "\n" << c.err;
    const Result by = run({gridlet_bin(), "consumption", "--config", temp_file("consumption-ok.toml", site(store)), "--by", "flour"});
    EXPECT_EQ(by.code, 2);
    EXPECT_NE(by.err.find("--by: 'flour' is not a breakdown"), std::string::npos) << by.err;
    remove_store(store);
}

// A rule asks gridlet.consumption for the same table and gets the same
// figures (the model's keyed JSON: values by column name); a bad request is
// a Lua error naming what is wrong.
TEST(Consumption, ARuleGetsTheSameTableAsTheCli) {
    const std::string store = "/tmp/gridlet-consumption-rule-" + std::to_string(getpid());
    remove_store(store);
    // In a callback: `gridlet check` loads a rule's top level offline, with
    // no store to read (a call there fails the load, saying so).
    const std::string rule = temp_file("consumption-rule.lua", R"(
local done = false
gridlet.every(0.2, function()
if done then return end
done = true
local t = gridlet.consumption{by = "area", period = "day", from = 1560117600000, to = 1560722400000}
gridlet.state.columns = #t.columns
gridlet.state.first = t.columns[1].name
gridlet.state.total = t.columns[1].total
gridlet.state.basement_average = t.columns[2].average
gridlet.state.monday_basement = t.rows[1].values.basement
gridlet.state.days = #t.rows
local ok, err = pcall(gridlet.consumption, {by = "flour", last = "1d"})
gridlet.state.bad_by = err
ok, err = pcall(gridlet.consumption, {by = "area", period = "15m", last = "365d"})
gridlet.state.too_many = err
ok, err = pcall(gridlet.consumption, {by = "area", last = "1d", colour = "red"})
gridlet.state.unknown = err
gridlet.log.info("report done")
end)
)");
    const std::string file = temp_file("consumption-rule.toml",
                                       site(store, "\n[[rules]]\nname = \"report\"\nfile = \"" + rule + "\"\n"));
    import_week(file);
    if (HasFatalFailure()) return;
    {
        Process p({gridlet_bin(), "run", file});
        ASSERT_TRUE(p.wait_for_err("report done", std::chrono::seconds(20))) << p.err();
        p.signal(SIGTERM);
        ASSERT_EQ(p.wait(), 0) << p.err();
    }
    const Result st = run({gridlet_bin(), "state", "show", "report", "--json", "--config", file});
    ASSERT_EQ(st.code, 0) << st.err;
    const auto state = nlohmann::json::parse(st.out);
    EXPECT_EQ(state["columns"], 5) << st.out;
    EXPECT_EQ(state["first"], "total");
    EXPECT_NEAR(state["total"].get<double>(), 2571.71, 1e-9);
    EXPECT_NEAR(state["basement_average"].get<double>(), 269.672, 1e-9);
    EXPECT_NEAR(state["monday_basement"].get<double>(), 344.01, 1e-9);
    EXPECT_EQ(state["days"], 7);
    EXPECT_NE(state["bad_by"].get<std::string>().find("gridlet.consumption: 'by': 'flour' is not a breakdown"), std::string::npos) << st.out;
    EXPECT_NE(state["too_many"].get<std::string>().find("periods; at most 5000 from a rule"), std::string::npos) << st.out;
    EXPECT_NE(state["unknown"].get<std::string>().find("'colour' is unknown"), std::string::npos) << st.out;
    remove_store(store);
}

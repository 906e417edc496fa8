// The rule tests written as data: every tests/rules/*.jsonl timeline runs
// through the offline harness (as `gridlet test-rule` does) and must meet the
// expectations in its header.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "script/harness.h"

namespace gridlet::script::test {

namespace {

std::filesystem::path source_dir() {
    if (const char* env = std::getenv("GRIDLET_SOURCE_DIR")) return env;
    return GRIDLET_SOURCE_DIR_DEFAULT;
}

std::vector<std::string> cases() {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(source_dir() / "tests" / "rules")) {
        if (e.path().extension() == ".jsonl") out.push_back(e.path().stem().string());
    }
    std::sort(out.begin(), out.end());
    return out;
}

class RuleCase : public ::testing::TestWithParam<std::string> {};

TEST_P(RuleCase, MeetsItsExpectations) {
    HarnessOptions o;
    o.timeline_file = (source_dir() / "tests" / "rules" / (GetParam() + ".jsonl")).string();
    o.lib_dirs = {(source_dir() / "scripts" / "lib").string()};
    auto report = run_rule_test(o);
    ASSERT_TRUE(report) << report.status().message();
    ASSERT_FALSE(report->expect.is_null()) << "a rule case needs \"expect\" in its header";
    auto json = report_to_json(*report);
    auto problems = check_expectations(json, report->expect);
    std::string all;
    for (const auto& p : problems) all += p + "\n";
    EXPECT_TRUE(problems.empty()) << all << "\nreport:\n" << report_to_text(*report);
    if (GetParam() == "one_day_1s") {
        EXPECT_EQ(report->samples, 86'400u);
        EXPECT_LT(report->wall_seconds, 1.0);
    }
}

INSTANTIATE_TEST_SUITE_P(Data, RuleCase, ::testing::ValuesIn(cases()));

TEST(RuleCaseHarness, ExpectationsCanFail) {
    // The checker itself: a wrong expectation is reported.
    nlohmann::json report = {{"status", "running"},
                             {"commands", {{{"target", "a/b"}, {"value", 1}}}},
                             {"state", {{"k", 1}}},
                             {"logs", nlohmann::json::array()},
                             {"errors", 2}};
    EXPECT_TRUE(check_expectations(report, {{"commands", {{{"target", "a/b"}}}}}).empty());
    EXPECT_EQ(check_expectations(report, {{"commands", {{{"target", "a/c"}}}}}).size(), 1u);
    EXPECT_EQ(check_expectations(report, {{"commands", nlohmann::json::array()}}).size(), 1u);
    EXPECT_EQ(check_expectations(report, {{"state", {{"k", 2}}}}).size(), 1u);
    EXPECT_EQ(check_expectations(report, {{"status", "stopped"}}).size(), 1u);
    EXPECT_EQ(check_expectations(report, {{"no_errors", true}}).size(), 1u);
    EXPECT_EQ(check_expectations(report, {{"logs_contain", {"x"}}}).size(), 1u);
    // meter_above: 260 A from 1 s to 4 s of a 10 s run.
    report["plant"] = {{"meter_peak_a", 260}, {"meter_trace", {{0, 200}, {1000, 260}, {4000, 240}}}, {"end_ms", 10000}};
    EXPECT_TRUE(check_expectations(report, {{"meter_above", {{"amps", 250}, {"at_most_s", 3}}}}).empty());
    auto over = check_expectations(report, {{"meter_above", {{"amps", 250}, {"at_most_s", 2.5}}}});
    ASSERT_EQ(over.size(), 1u);
    EXPECT_NE(over[0].find("meter above 250 A for 3.0 s in all (at most 2.5 s)"), std::string::npos) << over[0];
    EXPECT_EQ(check_expectations(report, {{"meter_above", {{{"amps", 230}, {"at_most_s", 8.9}}, {{"amps", 260}}}}}).size(), 1u);
    // messages: only with "notifications" in the header; nested arrays (a
    // message's changes) element by element, objects in them as subsets.
    auto no_header = check_expectations(report, {{"messages", nlohmann::json::array()}});
    ASSERT_EQ(no_header.size(), 1u);
    EXPECT_EQ(no_header[0], "messages: the timeline has no \"notifications\" in its header");
    report["messages"] = {{{"id", "site.ops.1-2"},
                           {"changes", {{{"transition", "raised"}, {"id", 1}}, {{"transition", "finished"}, {"id", 1}}}}}};
    report["notifications_pending"] = 0;
    EXPECT_TRUE(check_expectations(report, {{"messages", {{{"changes", {{{"id", 1}}, {{"transition", "finished"}}}}}}}}).empty());
    EXPECT_EQ(check_expectations(report, {{"messages", {{{"changes", {{{"id", 1}}, {{"transition", "raised"}}}}}}}}).size(), 1u);
    EXPECT_EQ(check_expectations(report, {{"messages", {{{"changes", {{{"id", 1}}}}}}}}).size(), 1u) << "one change of two";
    EXPECT_EQ(check_expectations(report, {{"messages", nlohmann::json::array()}}).size(), 1u);
    EXPECT_EQ(check_expectations(report, {{"notifications_pending", 1}}).size(), 1u);
    EXPECT_TRUE(check_expectations(report, {{"notifications_pending", 0}}).empty());
}

// "outage" lines: a notification's server away from t until `until`.
TEST(Timeline, OutageLinesAreChecked) {
    const std::pair<const char*, const char*> cases[] = {
        {R"({"t": 0, "outage": "ops"})", "x.jsonl:1: an outage needs \"until\" (when the server is back)"},
        {R"({"t": 5000, "outage": "ops", "until": 5000})", "x.jsonl:1: an outage's \"until\" must be after its \"t\""},
        {R"({"t": 0, "outage": 3, "until": 5000})", "x.jsonl:1: 'outage' must be the name of a notification"},
        {R"({"t": 0, "outage": "ops", "until": 5000, "for": "1m"})", "x.jsonl:1: unknown key 'for' in an outage line (its keys: t, outage, until)"},
    };
    for (const auto& [line, message] : cases) {
        auto t = parse_timeline(std::string(line) + "\n", "x.jsonl", "");
        ASSERT_FALSE(t) << line;
        EXPECT_EQ(t.status().message(), message);
    }
    auto ok = parse_timeline(R"({"t": 0, "outage": "ops", "until": 5000})" "\n", "x.jsonl", "");
    ASSERT_TRUE(ok) << ok.status().message();
    ASSERT_EQ(ok->items.size(), 1u);
    EXPECT_EQ(ok->items[0].kind, TimelineItem::Kind::notify_outage);
    EXPECT_EQ(ok->items[0].until_ms, 5000);
}

// The plant's lines (station, meter) are checked like the others.
TEST(Timeline, PlantLinesAreChecked) {
    const std::pair<const char*, const char*> cases[] = {
        {R"({"t": 0, "station": "ev1", "rated": 32, "respnd": "2s"})", "x.jsonl:1: unknown key 'respnd' in a station line"},
        {R"({"t": 0, "station": "ev1", "phases": 2})", "x.jsonl:1: 'phases' must be 1 or 3"},
        {R"({"t": 0, "station": "ev1", "vehicle": {"max": 32, "ah": 4}})", "x.jsonl:1: unknown key 'ah' in \"vehicle\""},
        {R"({"t": 0, "meter": "main/current", "poll": "10ms"})", "x.jsonl:1: 'poll' must be at least 100ms"},
        {R"({"t": 0, "meter": "main/current", "others": -5})", "x.jsonl:1: 'others' must be a number 0..100000"},
    };
    for (const auto& [line, message] : cases) {
        auto t = parse_timeline(std::string(line) + "\n", "x.jsonl", "");
        ASSERT_FALSE(t) << line;
        EXPECT_EQ(t.status().message().rfind(message, 0), 0u) << t.status().message();
    }
    auto ok = parse_timeline(R"({"t": 0, "station": "ev1", "rated": 16, "phases": 1, "phase": 2, "respond": "3s", "poll": "2s"})"
                             "\n" R"({"t": 5, "station": "ev1", "vehicle": null})" "\n", "x.jsonl", "");
    ASSERT_TRUE(ok) << ok.status().message();
    EXPECT_EQ(ok->items.size(), 2u);
    EXPECT_EQ(ok->items[0].plant.respond_ms, 3000);
    EXPECT_TRUE(ok->items[1].plant.vehicle_given);
    EXPECT_FALSE(ok->items[1].plant.vehicle.has_value());
}

TEST(Timeline, ErrorsNameFileAndLine) {
    auto t = parse_timeline("{\"start\": \"2024-01-01T00:00:00Z\"}\n\n{\"t\": \"+1s\", \"series\": \"a/b\"}\n", "x.jsonl", "");
    ASSERT_FALSE(t);
    EXPECT_EQ(t.status().message(), "x.jsonl:3: missing \"value\"");
    auto u = parse_timeline("{\"t\": \"nonsense\", \"series\": \"a/b\", \"value\": 1}\n", "y.jsonl", "");
    ASSERT_FALSE(u);
    EXPECT_EQ(u.status().message().rfind("y.jsonl:1: ", 0), 0u) << u.status().message();
}

// A misspelt key was ignored: the sample went in with good quality, the
// reply with its defaults. Each kind of line names its own keys.
TEST(Timeline, UnknownKeysAreRefusedNamingTheKindsKeys) {
    const std::pair<const char*, const char*> cases[] = {
        {R"({"t": 0, "series": "a/b", "value": 1, "qualty": 0})", "x.jsonl:1: unknown key 'qualty' in a sample line (its keys: t, series, value, quality)"},
        {R"({"t": 0, "series": "a/b", "every": "1s", "values": [1], "untill": "+1h"})", "x.jsonl:1: unknown key 'untill' in a run line (its keys: t, series, every, values, until, quality)"},
        {R"({"t": 0, "samples": {"a/b": 1}, "value": 2})", "x.jsonl:1: unknown key 'value' in a samples line (its keys: t, samples, quality)"},
        {R"({"t": 0, "reply": {"target": "a/b", "statu": "error"}})", "x.jsonl:1: unknown key 'statu' in \"reply\" (its keys: target, status, error, delay, count)"},
        {R"({"t": 0, "declare": "a/b", "knd": "counter"})", "x.jsonl:1: unknown key 'knd' in a declare line (its keys: t, declare, kind, unit)"},
        {R"({"t": 0, "clock_step": "1h", "series": "a/b"})", "x.jsonl:1: unknown key 'clock_step' in a sample line (its keys: t, series, value, quality)"},
    };
    for (const auto& [line, message] : cases) {
        auto t = parse_timeline(std::string(line) + "\n", "x.jsonl", "");
        ASSERT_FALSE(t) << line;
        EXPECT_EQ(t.status().message(), message);
    }
    EXPECT_TRUE(parse_timeline(R"({"t": 0, "series": "a/b", "value": 1, "quality": 0})" "\n", "x.jsonl", ""));
}

}  // namespace

// The plant runs on the run's monotonic clock: a wall clock step moves no
// vehicle and stops no poll; commands to its stations are answered as the
// station answers (an out-of-range setpoint is an error).
TEST(Plant, StationsFollowCommandsAfterTheirResponseTimeWhateverTheWallClock) {
    Plant plant;
    PlantChange meter;
    meter.what = PlantChange::What::meter;
    meter.name = "main/current";
    meter.others = 100;
    meter.poll_ms = 1000;
    ASSERT_TRUE(plant.apply(meter, 0));
    PlantChange ev;
    ev.name = "ev1";
    ev.respond_ms = 2000;
    ev.vehicle_given = true;
    ev.vehicle = std::make_pair(32.0, 40.0);
    ASSERT_TRUE(plant.apply(ev, 0));
    CommandRequest enable;
    enable.target = "ev1/enable";
    enable.value = 1;
    ASSERT_TRUE(plant.command(enable, 0));
    EXPECT_EQ(plant.command(enable, 0)->status, GL_OK);
    CommandRequest too_low = enable;
    too_low.target = "ev1/current_setpoint";
    too_low.value = 3;
    EXPECT_EQ(plant.command(too_low, 0)->status, GL_ERR);
    CommandRequest other = enable;
    other.target = "ev9/enable";
    EXPECT_FALSE(plant.command(other, 0)) << "not the plant's";
    auto value_of = [](const std::vector<std::pair<std::string, double>>& polled, const std::string& name) {
        for (const auto& [n, v] : polled)
            if (n == name) return v;
        return -1.0;
    };
    auto first = plant.take_polls(0);
    EXPECT_EQ(value_of(first, "ev1/state"), 2);
    EXPECT_EQ(value_of(first, "main/current"), 100);
    EXPECT_EQ(value_of(plant.take_polls(1000), "main/current"), 100) << "not followed yet (2 s response)";
    EXPECT_EQ(value_of(plant.take_polls(2000), "main/current"), 132);
    EXPECT_EQ(plant.next_poll_ms(), 3000);
    ASSERT_FALSE(plant.meter_trace().empty());
    EXPECT_EQ(plant.meter_trace().back(), std::make_pair(int64_t{2000}, 132.0));
}

}  // namespace gridlet::script::test

// A line timed before the clock when it comes up (before the start; after a
// clock_step back, a time the wall clock has not reached again) was applied
// at once, silently; now it is refused, naming its line.
TEST(Timeline, ALineBeforeTheStartIsRefusedWithItsLine) {
    const auto dir = std::filesystem::temp_directory_path() / ("gridlet_tl_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "r.lua") << "gridlet.on('x/a', function() end)\n";
    std::ofstream(dir / "t.jsonl") << R"({"start": "2024-06-03T08:00:00Z", "rule": "r.lua"})" "\n"
                                   << R"({"t": "+0s", "series": "x/a", "value": 1})" "\n"
                                   << R"({"t": "2024-06-03T07:02:00Z", "series": "x/a", "value": 2})" "\n";
    gridlet::script::HarnessOptions o;
    o.timeline_file = (dir / "t.jsonl").string();
    auto r = gridlet::script::run_rule_test(o);
    std::filesystem::remove_all(dir);
    ASSERT_FALSE(r);
    EXPECT_NE(r.status().message().find("t.jsonl:3: its time is 2024-06-03T07:02:00Z, before the clock at that point"),
              std::string::npos)
        << r.status().message();
}

// The header's "notifications" are checked as the site file's
// [[notifications]] are, an outage must name one of them, and the run's
// temporary outbox is removed at the end.
TEST(Timeline, NotificationsAreCheckedAndTheirOutboxIsRemoved) {
    const auto dir = std::filesystem::temp_directory_path() / ("gridlet_tn_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir / "tmp");
    const std::string alarms = R"("alarms": [{"name": "hot", "series": "room/temp", "condition": "high", "threshold": 30}])";
    const auto run = [&](const std::string& header, const std::string& lines) {
        std::ofstream(dir / "t.jsonl") << "{\"start\": \"2026-06-01T08:00:00Z\", \"until\": \"+2m\", " << alarms << header
                                       << "}\n"
                                       << R"({"t": "+1s", "series": "room/temp", "value": 31})" "\n"
                                       << lines;
        gridlet::script::HarnessOptions o;
        o.timeline_file = (dir / "t.jsonl").string();
        return gridlet::script::run_rule_test(o);
    };
    auto no_url = run(R"(, "notifications": [{"name": "ops", "kind": "webhook"}])", "");
    ASSERT_FALSE(no_url);
    EXPECT_NE(no_url.status().message().find("t.jsonl:1"), std::string::npos) << no_url.status().message();
    EXPECT_NE(no_url.status().message().find("[[notifications]] 'ops'"), std::string::npos) << no_url.status().message();
    EXPECT_NE(no_url.status().message().find("url"), std::string::npos) << no_url.status().message();
    auto bad_name = run(R"(, "notifications": [{"name": "-ops", "kind": "webhook", "url": "https://x.example/h"}])", "");
    ASSERT_FALSE(bad_name);
    EXPECT_NE(bad_name.status().message().find("'-ops'"), std::string::npos) << bad_name.status().message();
    const std::string hook = R"(, "notifications": [{"name": "ops", "kind": "webhook", "url": "https://x.example/h", "max_wait_s": 0}])";
    auto unknown = run(hook, R"({"t": "+2s", "outage": "mail", "until": "+1m"})" "\n");
    ASSERT_FALSE(unknown);
    EXPECT_NE(unknown.status().message().find("t.jsonl:3: no notification named 'mail' in the header"), std::string::npos)
        << unknown.status().message();
    auto no_header = run("", R"({"t": "+2s", "outage": "ops", "until": "+1m"})" "\n");
    ASSERT_FALSE(no_header);
    EXPECT_NE(no_header.status().message().find("t.jsonl:3: an outage needs \"notifications\" in the header"),
              std::string::npos)
        << no_header.status().message();

    // A good run, with its temporary store in a folder of this test's own.
    const char* saved = std::getenv("TMPDIR");
    const std::string saved_tmpdir = saved ? saved : "";
    setenv("TMPDIR", (dir / "tmp").c_str(), 1);
    auto ok = run(hook, "");
    // Interrupted (SIGINT in `gridlet test-rule`): stopped, its store removed too.
    gridlet::script::HarnessOptions stop;
    stop.timeline_file = (dir / "t.jsonl").string();
    stop.interrupted = [] { return true; };
    auto stopped = gridlet::script::run_rule_test(stop);
    if (saved) setenv("TMPDIR", saved_tmpdir.c_str(), 1);
    else unsetenv("TMPDIR");
    ASSERT_FALSE(stopped);
    EXPECT_EQ(stopped.status().message(), "interrupted");
    ASSERT_TRUE(ok) << ok.status().message();
    ASSERT_EQ(ok->messages.size(), 1u);
    EXPECT_EQ(ok->messages[0].batch.id, "site.ops.1-1");
    EXPECT_EQ(ok->messages[0].t_ms, ok->start_ms + 1000) << "max_wait_s 0: at once";
    EXPECT_TRUE(std::filesystem::is_empty(dir / "tmp")) << "the notifications' temporary store is removed";
    std::filesystem::remove_all(dir);
}

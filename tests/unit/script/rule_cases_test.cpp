// The rule tests written as data: every tests/rules/*.jsonl timeline runs
// through the offline harness (as `gridlet test-rule` does) and must meet the
// expectations in its header.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

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

}  // namespace gridlet::script::test

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

}  // namespace

}  // namespace gridlet::script::test

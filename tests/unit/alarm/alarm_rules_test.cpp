// [[alarms]] parsing: every malformed entry refused with file:line and what
// is wrong; good entries read with their defaults.
#include <gtest/gtest.h>

#include "alarm/alarm_rules.h"

using namespace gridlet;
using namespace gridlet::alarm;

namespace {

struct Parsed {
    std::vector<AlarmRule> rules;
    config::Diagnostics diags;
    std::string all() const {
        std::string s;
        for (const auto& d : diags) s += d.to_string() + "\n";
        return s;
    }
};

Parsed parse(const std::string& text) {
    Parsed p;
    toml::table root = toml::parse(std::string_view(text), std::string_view("site.toml"));
    p.rules = parse_alarm_rules(root, "site.toml", p.diags);
    (void)parse_alarm_settings(root, "site.toml", p.diags);
    return p;
}

}  // namespace

TEST(AlarmRules, AGoodEntryWithItsDefaults) {
    auto p = parse(R"([[alarms]]
name = "overload"
series = "panel?/branch*/current"
condition = "high"
threshold = 0.8
threshold_of = "breaker_size"
return_level = 0.75
on_delay_s = 5
criticality = "critical"
)");
    ASSERT_TRUE(p.diags.empty()) << p.all();
    ASSERT_EQ(p.rules.size(), 1u);
    const AlarmRule& r = p.rules[0];
    EXPECT_EQ(r.condition, Condition::high);
    EXPECT_EQ(r.threshold, 0.8);
    EXPECT_EQ(r.return_level, 0.75);
    EXPECT_EQ(r.on_delay_ms, 5000);
    EXPECT_EQ(r.off_delay_ms, 0);
    EXPECT_EQ(r.criticality, Criticality::critical);
    EXPECT_EQ(r.category, "measurement");
    EXPECT_FALSE(r.latching);
    EXPECT_EQ(r.line, 1u);
    EXPECT_EQ(r.worse(), 1);
}

TEST(AlarmRules, DefaultReturnLevelIsTheThreshold) {
    auto p = parse("[[alarms]]\nname = \"low_v\"\nseries = \"panel1/voltage/an\"\ncondition = \"low\"\nthreshold = 108\n");
    ASSERT_TRUE(p.diags.empty()) << p.all();
    EXPECT_EQ(p.rules[0].return_level, 108);
    EXPECT_EQ(p.rules[0].worse(), -1);
}

TEST(AlarmRules, EveryMalformedEntryIsRefusedWithItsLine) {
    struct Case {
        const char* toml;
        uint32_t line;
        const char* says;
    };
    const Case cases[] = {
        {"[[alarms]]\nname = \"a\"\nseries = \"d/p\"\n", 1, "missing required key 'condition'"},
        {"[[alarms]]\nname = \"a\"\nseries = \"d/p\"\ncondition = \"above\"\nthreshold = 1\n", 4, "above"},
        {"[[alarms]]\nname = \"a\"\nseries = \"d/p\"\ncondition = \"high\"\n", 4, "needs a threshold"},
        {"[[alarms]]\nname = \"a\"\nseries = \"d/p\"\ncondition = \"high\"\nthreshold = 10\nreturn_level = 12\n", 6,
         "return_level 12 is above the threshold 10"},
        {"[[alarms]]\nname = \"a\"\nseries = \"d/p\"\ncondition = \"low\"\nthreshold = 10\nreturn_level = 8\n", 6,
         "below the threshold"},
        {"[[alarms]]\nname = \"a\"\nseries = \"d/p\"\ncondition = \"stale\"\n", 4, "needs stale_s"},
        {"[[alarms]]\nname = \"a\"\nseries = \"d/p\"\ncondition = \"stale\"\nstale_s = 5\nthreshold = 3\n", 6,
         "does not apply to \"stale\""},
        {"[[alarms]]\nname = \"a\"\nseries = \"d/p\"\ncondition = \"high\"\nthreshold = nan\n", 5, "finite"},
        {"[[alarms]]\nname = \"a\"\nseries = \"d/p\"\ncondition = \"low\"\nthreshold = inf\n", 5, "finite"},
        {"[[alarms]]\nname = \"a\"\nseries = \"d/p\"\ncondition = \"high\"\nthreshold = 1\nthreshold_of = \"\"\n", 6,
         "threshold_of: empty"},
        {"[[alarms]]\nname = \"a\"\nseries = \"d/p\"\ncondition = \"equals\"\n", 4, "not neither"},
        {"[[alarms]]\nname = \"a\"\nseries = \"d/p\"\ncondition = \"equals\"\nthreshold = 1\nstate = \"on\"\n", 4,
         "not both"},
        {"[[alarms]]\nname = \"a\"\nseries = \"d/p\"\ncondition = \"rate\"\nthreshold = 0\n", 5, "non-zero rate"},
        {"[[alarms]]\nname = \"a\"\nseries = \"d/p\"\ncondition = \"high\"\nthreshold = 1\non_delay_s = -1\n", 6,
         "on_delay_s"},
        {"[[alarms]]\nname = \"a\"\nseries = \"d/p\"\ncondition = \"high\"\nthreshold = \"10\"\n", 5, "threshold"},
        {"[[alarms]]\nname = \"a\"\nseries = \"d/p\"\ncondition = \"high\"\nthreshold = 1\nthreshold_of = \"b\"\n"
         "threshold = 1\n",
         7, "TOML"},
        {"[[alarms]]\nname = \"a\"\nseries = \"d/p\"\ncondition = \"high\"\nthreshold = -1\nthreshold_of = \"b\"\n", 5,
         "a fraction above 0"},
        {"[[alarms]]\nname = \"a b\"\nseries = \"d/p\"\ncondition = \"high\"\nthreshold = 1\n", 2, "may use only"},
        {"[[alarms]]\nname = \"a\"\nseries = \"nodevice\"\ncondition = \"high\"\nthreshold = 1\n", 3,
         "not a series name"},
        {"[[alarms]]\nname = \"a\"\nseries = \"d/p\"\ncondition = \"high\"\nthreshold = 1\nmessage = \"{vlaue}\"\n", 6,
         "unknown placeholder {vlaue}"},
        {"[[alarms]]\nname = \"a\"\nseries = \"d/p\"\ncondition = \"high\"\nthreshold = 1\ncolour = \"red\"\n", 6,
         "colour"},
        {"[[alarms]]\nname = \"a\"\nseries = \"d/p\"\ncondition = \"high\"\nthreshold = 1\ncriticality = \"major\"\n", 6,
         "major"},
        {"[[alarms]]\nname = \"a\"\nseries = \"d/p\"\ncondition = \"high\"\nthreshold = 1\n[[alarms]]\nname = \"a\"\n"
         "series = \"d/q\"\ncondition = \"high\"\nthreshold = 2\n",
         7, "already defined"},
        {"alarms = 3\n", 1, "array of tables"},
        {"[alarm_settings]\nflood_per_minute = 0\n", 2, "flood_per_minute"},
        {"[alarm_settings]\nflood = 5\n", 2, "flood"},
        // Names (the same rule as every configured name), categories, braces.
        {"[[alarms]]\nname = \"\"\nseries = \"d/p\"\ncondition = \"high\"\nthreshold = 1\n", 2, "the name is empty"},
        {"[[alarms]]\nname = \"..\"\nseries = \"d/p\"\ncondition = \"high\"\nthreshold = 1\n", 2,
         "starts with a letter, a digit or '_'"},
        {"[[alarms]]\nname = \"-x\"\nseries = \"d/p\"\ncondition = \"high\"\nthreshold = 1\n", 2,
         "starts with a letter, a digit or '_'"},
        {"[[alarms]]\nname = \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"\n"
         "series = \"d/p\"\ncondition = \"high\"\nthreshold = 1\n",
         2, "205 bytes long (200 at most)"},
        {"[[alarms]]\nname = \"a\"\nseries = \"d/p\"\ncondition = \"high\"\nthreshold = 1\ncategory = \"\"\n", 6,
         "category"},
        {"[[alarms]]\nname = \"a\"\nseries = \"d/p\"\ncondition = \"high\"\nthreshold = 1\nmessage = \"close } only\"\n", 6,
         "a lone '}'"},
        {"[[alarms]]\nname = \"a\"\nseries = \"d/p\"\ncondition = \"high\"\nthreshold = \"x\"\n", 5, "[[alarms]] 'a'"},
    };
    for (const Case& c : cases) {
        Parsed p;
        try {
            p = parse(c.toml);
        } catch (const toml::parse_error& e) {
            // A TOML syntax error (a key given twice) is the site loader's:
            // it reports file:line before alarms are read.
            EXPECT_STREQ(c.says, "TOML") << c.toml;
            EXPECT_EQ(e.source().begin.line, c.line) << c.toml;
            continue;
        }
        ASSERT_FALSE(p.diags.empty()) << "accepted:\n" << c.toml;
        EXPECT_EQ(p.diags[0].line, c.line) << c.toml << "\n" << p.all();
        EXPECT_NE(p.all().find(c.says), std::string::npos) << c.toml << "\n" << p.all();
        EXPECT_EQ(p.diags[0].file, "site.toml");
    }
}

TEST(AlarmRules, FromJsonUsesTheSameChecks) {
    config::Diagnostics d;
    auto rules = alarm_rules_from_json(
        nlohmann::json::parse(R"([{"name": "hot", "series": "room/temp", "condition": "high", "threshold": 26,
                                    "return_level": 25, "on_delay_s": 60}])"),
        "t.jsonl", d);
    ASSERT_TRUE(d.empty());
    ASSERT_EQ(rules.size(), 1u);
    EXPECT_EQ(rules[0].on_delay_ms, 60000);
    auto bad = alarm_rules_from_json(nlohmann::json::parse(R"([{"name": "hot", "series": "room/temp",
        "condition": "high"}])"), "t.jsonl", d);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_NE(d[0].to_string().find("t.jsonl: [[alarms]] 'hot': condition \"high\" needs a threshold"),
              std::string::npos)
        << d[0].to_string();
}

TEST(AlarmRules, MessageTemplateIsFilledIn) {
    auto p = parse("[[alarms]]\nname = \"ov\"\nseries = \"d/p\"\ncondition = \"high\"\nthreshold = 1\n"
                   "message = \"{name}: {device} {point} at {value} {unit} > {threshold} (back at {return_level})\"\n");
    ASSERT_TRUE(p.diags.empty()) << p.all();
    EXPECT_EQ(expand_message(p.rules[0], "panel1/branch07/current", 21.25, 20, 19, "A"),
              "ov: panel1 branch07/current at 21.25 A > 20 (back at 19)");
    // "{{" and "}}" are braces, not placeholders.
    auto braces = parse("[[alarms]]\nname = \"ov\"\nseries = \"d/p\"\ncondition = \"high\"\nthreshold = 1\n"
                        "message = \"{{site}} {value} in {{{unit}}}\"\n");
    ASSERT_TRUE(braces.diags.empty()) << braces.all();
    EXPECT_EQ(expand_message(braces.rules[0], "d/p", 2, 1, 1, "A"), "{site} 2 in {A}");
}

#include "core/pattern.h"

#include <gtest/gtest.h>

using namespace gridlet;

TEST(Pattern, PlainPatternIsAPrefix) {
    EXPECT_TRUE(pattern_match("data/panel1/", "data/panel1/branch01/current"));
    EXPECT_FALSE(pattern_match("data/panel1/", "data/panel2/branch01/current"));
    EXPECT_TRUE(pattern_match("", "anything"));
}

TEST(Pattern, PlainNameSelectsItselfAndWhatIsBelowItOnly) {
    EXPECT_TRUE(pattern_match("panel1/mains/kw", "panel1/mains/kw"));
    EXPECT_FALSE(pattern_match("panel1/mains/kw", "panel1/mains/kwh")) << "a prefix stops at segment boundaries";
    EXPECT_TRUE(pattern_match("panel1/mains", "panel1/mains/kwh"));
    EXPECT_TRUE(pattern_match("data/panel1", "data/panel1/"));
    EXPECT_FALSE(pattern_match("data/pan", "data/panel1/"));
}

TEST(Pattern, StarStaysWithinOneSegment) {
    EXPECT_TRUE(glob_match("panel*/branch*/current", "panel1/branch07/current"));
    EXPECT_FALSE(glob_match("panel*/current", "panel1/branch07/current"));
    EXPECT_TRUE(glob_match("panel1/*", "panel1/online"));
    EXPECT_FALSE(glob_match("panel1/*", "panel1/branch01/current"));
}

TEST(Pattern, DoubleStarCrossesSegments) {
    EXPECT_TRUE(glob_match("panel1/**", "panel1/branch01/current"));
    EXPECT_TRUE(glob_match("**/current", "panel1/branch01/current"));
    EXPECT_FALSE(glob_match("**/current", "panel1/branch01/kw"));
    EXPECT_TRUE(glob_match("a/**/z", "a/b/c/d/z"));
}

TEST(Pattern, QuestionMarkIsOneCharacterButNotASlash) {
    EXPECT_TRUE(glob_match("panel?/branch?\?/kw", "panel2/branch42/kw"));
    EXPECT_FALSE(glob_match("panel?/branch?\?/kw", "panel2/branch4/kw"));
    EXPECT_FALSE(glob_match("a?b", "a/b"));
}

TEST(Pattern, PathologicalPatternIsFast) {
    // Exponential backtracking would not finish; the DP matcher is O(p*t).
    std::string text(250, 'a');
    EXPECT_FALSE(glob_match("**a**a**a**a**a**a**a**a**a**a**b", text));
}

TEST(Pattern, LiteralPrefixEndsAtTheSlashBeforeTheFirstWildcard) {
    EXPECT_EQ(literal_prefix("data/panel1/branch*/kw"), "data/panel1/");
    EXPECT_EQ(literal_prefix("data/panel?/kw"), "data/");
    EXPECT_EQ(literal_prefix("data/panel1/"), "data/panel1/");
    EXPECT_EQ(literal_prefix("*"), "");
}

TEST(Pattern, SeriesNames) {
    EXPECT_TRUE(valid_series_name("panel1/branch07/current"));
    EXPECT_TRUE(valid_series_name("ev-3/session.ah"));
    EXPECT_FALSE(valid_series_name("panel1"));
    EXPECT_FALSE(valid_series_name("panel1//x"));
    EXPECT_FALSE(valid_series_name("panel1/x/"));
    EXPECT_FALSE(valid_series_name("panel 1/x"));
    EXPECT_FALSE(valid_series_name("panel*/x"));
    EXPECT_FALSE(valid_series_name(std::string(256, 'a') + "/x"));
}

// Issue 13, the poll x response matrix: whatever the polling period (1-3 s)
// and the vehicles' response (1-5 s), a load jump keeps the site above its
// maximum for at most the response time + one poll period (+ the plant
// model's 100 ms tick), stops no more sessions than needed, and re-enables
// none. Figures: tests/bench/greenup_matrix_bench.
#include <gtest/gtest.h>

#include "support/greenup_matrix.h"

namespace {

std::string rule_file() { return std::string(GRIDLET_TEST_SOURCE_DIR) + "/scripts/rules/greenup.lua"; }

TEST(GreenupMatrix, AJumpThatNeedsOneStopGetsOneWhateverThePollAndResponse) {
    for (double poll : {1.0, 2.0, 3.0}) {
        for (double response : {1.0, 2.0, 3.0, 4.0, 5.0}) {
            SCOPED_TRACE("poll " + std::to_string(poll) + " s, response " + std::to_string(response) + " s");
            auto cell = gridlet::testing::run_greenup_cell(rule_file(), poll, response, 90);  // 228 -> 318 A
            ASSERT_EQ(cell.error, "");
            EXPECT_LE(cell.above_s, response + poll + 0.11);
            EXPECT_EQ(cell.stops, 1);  // 190 + 3 x 16 = 238 A: one stop is needed, and enough
            EXPECT_EQ(cell.reenables, 0);
            EXPECT_LE(cell.final_a, 250);
            EXPECT_GE(cell.final_a, 250 - 16) << "shed more than the last action needed";
        }
    }
}

TEST(GreenupMatrix, AJumpThatNeedsOnlyReductionsStopsNobody) {
    for (double poll : {1.0, 3.0}) {
        for (double response : {1.0, 5.0}) {
            SCOPED_TRACE("poll " + std::to_string(poll) + " s, response " + std::to_string(response) + " s");
            auto cell = gridlet::testing::run_greenup_cell(rule_file(), poll, response, 60);  // 228 -> 288 A
            ASSERT_EQ(cell.error, "");
            EXPECT_LE(cell.above_s, response + poll + 0.11);
            EXPECT_EQ(cell.stops, 0);  // 160 + 4 x 16 = 224 A at the second step
            EXPECT_EQ(cell.reenables, 0);
            EXPECT_LE(cell.final_a, 250);
            EXPECT_GE(cell.final_a, 250 - 8) << "shed more than one step needed";
        }
    }
}

}  // namespace

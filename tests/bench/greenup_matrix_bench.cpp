// Green'Up under real timing (issue 13), JSON on stdout: over polling
// periods 1-3 s x vehicle responses 1-5 s (tests/support/greenup_matrix.h),
// a jump of the other loads that needs one stop (228 -> 318 A) and one that
// needs only reductions (228 -> 288 A). Per cell: seconds above the 250 A
// maximum against the target (response + one poll), stops and re-enables
// after the jump, the site current at the end.
//
//   greenup_matrix_bench [--quick]     (--quick: polls 1 and 3 s, responses 1 and 5 s)
#include <cstdio>
#include <cstring>

#include <nlohmann/json.hpp>

#include "support/greenup_matrix.h"

int main(int argc, char** argv) {
    const bool quick = argc > 1 && !std::strcmp(argv[1], "--quick");
    const std::string rule = std::string(GRIDLET_SOURCE_DIR) + "/scripts/rules/greenup.lua";
    nlohmann::json out;
    out["benchmark"] = "greenup_matrix_bench";
    out["target"] = "above_s <= response_s + poll_s (+0.1 s model tick); stops = the minimum needed; no re-enable";
    double worst_margin = -1e9;
    int worst_extra_stops = 0, reenables = 0;
    for (double jump : {90.0, 60.0}) {
        const int needed = jump == 90.0 ? 1 : 0;
        for (double poll : quick ? std::vector<double>{1, 3} : std::vector<double>{1, 2, 3}) {
            for (double response : quick ? std::vector<double>{1, 5} : std::vector<double>{1, 2, 3, 4, 5}) {
                auto c = gridlet::testing::run_greenup_cell(rule, poll, response, jump);
                if (!c.error.empty()) {
                    std::fprintf(stderr, "poll %g s, response %g s: %s\n", poll, response, c.error.c_str());
                    return 1;
                }
                out["cells"].push_back({{"jump_a", jump}, {"poll_s", poll}, {"response_s", response},
                                        {"above_s", c.above_s}, {"target_s", poll + response}, {"stops", c.stops},
                                        {"stops_needed", needed}, {"reenables", c.reenables}, {"final_a", c.final_a}});
                worst_margin = std::max(worst_margin, c.above_s - (poll + response));
                worst_extra_stops = std::max(worst_extra_stops, c.stops - needed);
                reenables += c.reenables;
            }
        }
    }
    out["worst"] = {{"above_minus_target_s", worst_margin}, {"extra_stops", worst_extra_stops}, {"reenables", reenables}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
}

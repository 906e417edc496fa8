// The BCPM simulator read by an independent Modbus client from Debian
// (mbpoll, package "mbpoll"): register numbers, scales, float copies and
// exceptions as the point map specifies.
#include "bcpm_server.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <map>
#include <regex>
#include <string>

namespace {

bool have_mbpoll() { return std::system("command -v mbpoll >/dev/null 2>&1") == 0; }

// Runs mbpoll once; returns {reference -> text value} and the exit status.
std::map<int, std::string> mbpoll(uint16_t port, int unit, int ref, int count, const char* type, int* status = nullptr,
                                  std::string* all = nullptr) {
    std::string cmd = "mbpoll -m tcp -p " + std::to_string(port) + " -a " + std::to_string(unit) + " -r " +
                      std::to_string(ref) + " -c " + std::to_string(count) + " -t " + type +
                      " -B -1 -o 1 127.0.0.1 2>&1";
    std::map<int, std::string> out;
    FILE* f = ::popen(cmd.c_str(), "r");
    if (!f) return out;
    std::array<char, 512> line;
    std::string text;
    // mbpoll prints a register above 32767 as "65534 (-2)": take the signed value.
    std::regex re(R"(^\[(\d+)\]:\s+(\S+)(?:\s+\((-?\d+)\))?)");
    while (std::fgets(line.data(), line.size(), f)) {
        text += line.data();
        std::cmatch m;
        if (std::regex_search(line.data(), m, re)) out[std::stoi(m[1])] = m[3].matched ? m[3] : m[2];
    }
    int st = ::pclose(f);
    if (status) *status = st;
    if (all) *all = text;
    return out;
}

}  // namespace

TEST(BcpmSimWithMbpoll, IndependentClientReadsThePointMap) {
    if (!have_mbpoll()) GTEST_SKIP() << "mbpoll not installed (apt-get install -y mbpoll): independent-client test skipped";
    gridlet::sim::BcpmServerOptions o;
    o.port = 0;
    o.manual_time = true;
    gridlet::sim::BcpmServer s(o);
    ASSERT_EQ(s.start(), "");
    s.panel(0).set_noise(false);
    s.panel(0).set_load(2, 15.25, 0.875);
    s.panel(1).set_load(2, 4.5, 0.5);
    s.advance(1.8);
    // mbpoll's 1-based references are the point map's register numbers.
    auto id = mbpoll(s.port(), 1, 5, 2, "4");
    EXPECT_EQ(id[5], "15172");
    EXPECT_EQ(id[6], "0");
    auto cur = mbpoll(s.port(), 1, 1337, 1, "4");
    auto scale = mbpoll(s.port(), 1, 1001, 1, "4");
    ASSERT_FALSE(cur[1337].empty());
    EXPECT_NEAR(std::stoi(cur[1337]) * std::pow(10.0, std::stoi(scale[1001])), 15.25, 0.01);
    EXPECT_NEAR(std::stoi(mbpoll(s.port(), 1, 1295, 1, "4")[1295]) * 1e-3, 0.875, 0.001);
    // Float copy of branch 2 current at 2 x 1337 - 420 = 2254, MSW first (-B).
    auto fl = mbpoll(s.port(), 1, 2254, 1, "4:float");
    ASSERT_FALSE(fl[2254].empty());
    EXPECT_NEAR(std::stod(fl[2254]), 15.25, 0.001);
    // Unit 2 is panel 2.
    std::string t1, t2;
    auto cur2 = mbpoll(s.port(), 2, 1337, 1, "4", nullptr, &t1);
    auto scale2 = mbpoll(s.port(), 2, 1001, 1, "4", nullptr, &t2);
    ASSERT_FALSE(cur2[1337].empty()) << t1;
    ASSERT_FALSE(scale2[1001].empty()) << t2;
    EXPECT_NEAR(std::stoi(cur2[1337]) * std::pow(10.0, std::stoi(scale2[1001])), 4.5, 0.01) << t1 << t2;
    // FC04 serves the same data.
    EXPECT_EQ(mbpoll(s.port(), 1, 1337, 1, "3")[1337], cur[1337]);
    // An unmapped register gives exception 02.
    int st = 0;
    std::string text;
    auto none = mbpoll(s.port(), 1, 544, 1, "4", &st, &text);
    EXPECT_TRUE(none.empty()) << text;
    EXPECT_NE(text.find("Illegal data address"), std::string::npos) << text;
}

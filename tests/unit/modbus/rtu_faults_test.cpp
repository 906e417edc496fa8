// The driver against a fault-injecting Modbus RTU server over a pty pair
// (issue 10 item 6): the RTU side of the plugin README's "Faults" table.
// RTU has no transaction id, so a late reply is told apart only by time:
// each test asserts what a user sees (values, online state, counters,
// events), and a CheckingSink fails it if any value came from another
// request or unit. Needs socat (.ci installs it); skipped, saying so, without.
#include "fault_site.h"
#include "poller.h"
#include "register_bank.h"
#include "rtu_site.h"

#include <gtest/gtest.h>

#include <atomic>

using namespace gridlet::modbus;
using namespace gridlet::modbus::test;
using gridlet::sim::FaultAction;
using gridlet::sim::FaultRequest;
using gridlet::sim::RegisterBank;
using gridlet::sim::RtuServer;
using gridlet::sim::UnitMap;

namespace {

#define REQUIRE_SOCAT() \
    if (!have("socat")) GTEST_SKIP() << "socat is not installed (apt-get install socat): RTU fault tests skipped"

}  // namespace

// A reply 700 ms late (timeout 500, one retry): it arrives while the retry
// waits for its own reply. Neither it nor the retry's reply that follows may
// be taken for a later request's: every value stays right.
TEST(ModbusRtuFaults, LateReplyIsNeverTakenForALaterRequest) {
    REQUIRE_SOCAT();
    RtuSite site;
    site.server.faults().set_script([](const FaultRequest& r) {
        FaultAction a;
        if (r.seq == 4) a.delay_ms = 700;
        return a;
    });
    CheckingSink sink;
    Poller poller({{device("u1", site.address(), 1, 100, 500), two_blocks()}}, sink);
    poller.start();
    ASSERT_TRUE(sink.wait_for([&] { return poller.stats("u1").good_polls >= 12; }, 15s));
    poller.stop();
    EXPECT_EQ(sink.wrong(), 0) << "a value came from another request's reply";
    EXPECT_GE(poller.stats("u1").timeouts, 1u);
    EXPECT_EQ(sink.last("u1/online").value, 1);
    EXPECT_TRUE(ValueCheck{sink}.ok("u1/b", 122));
}

// One block always fails (exception 02, a bad byte count, a bad CRC): it is
// reported once, the device stays online and the other block is polled.
TEST(ModbusRtuFaults, FailingBlocksAreReportedAndTheOthersPolled) {
    REQUIRE_SOCAT();
    // Exception 02 on both transports: both_transports_test.cpp.
    for (int kind = 1; kind < 3; ++kind) {
        SCOPED_TRACE(kind == 0 ? "exception 02" : kind == 1 ? "bad byte count" : "bad CRC");
        RtuSite site;
        site.server.faults().set_script([kind](const FaultRequest& r) {
            FaultAction a;
            if (r.address != 1000) return a;
            if (kind == 0) a.exception = 2;
            if (kind == 1) a.bad_byte_count = true;
            if (kind == 2) a.raw = {1, 3, 2, 0, 122, 0x00, 0x00};  // fc 3, 2 bytes, CRC 0000
            return a;
        });
        CheckingSink sink;
        Poller poller({{device("u1", site.address(), 1, 50, 200, 0), two_blocks()}}, sink);
        poller.start();
        ASSERT_TRUE(sink.wait_for([&] { return poller.stats("u1").polls >= 6; }, 10s));
        poller.stop();
        EXPECT_EQ(sink.wrong(), 0);
        EXPECT_EQ(sink.last("u1/a").value, 111) << "the other block is read";
        EXPECT_EQ(sink.last("u1/b").quality, 255);
        if (kind < 2) {
            EXPECT_EQ(sink.last("u1/online").value, 1);
            EXPECT_EQ(poller.stats("u1").failing_points, 1u);
            int failing = 0;
            for (auto& e : sink.events()) failing += e.type == "points_failing";
            EXPECT_EQ(failing, 1) << "reported once, not every poll";
        } else {
            EXPECT_GE(poller.stats("u1").malformed + poller.stats("u1").timeouts, 5u) << "a bad CRC is counted";
        }
    }
}

// Garbage on the line (noise, a babbling device) instead of some replies:
// counted, and the requests after it are good.
TEST(ModbusRtuFaults, GarbageOnTheLineIsCountedAndTheNextRequestsAreGood) {
    REQUIRE_SOCAT();
    RtuSite site;
    site.server.faults().set_script([](const FaultRequest& r) {
        FaultAction a;
        if (r.seq % 4 == 1) a.raw = {0xFF, 0x00, 0x13, 0x37, 0x55};
        return a;
    });
    CheckingSink sink;
    Poller poller({{device("u1", site.address(), 1, 50, 200, 1), two_blocks()}}, sink);
    poller.start();
    ASSERT_TRUE(sink.wait_for([&] { return poller.stats("u1").good_polls >= 8; }, 15s));
    poller.stop();
    DeviceStats s = poller.stats("u1");
    EXPECT_EQ(sink.wrong(), 0);
    EXPECT_GE(s.malformed + s.timeouts, 2u);
    EXPECT_EQ(sink.last("u1/online").value, 1);
}

// A reply with a 200 ms silence inside it, within the 500 ms timeout, is a
// good reply (the driver allows the whole timeout_ms, not a byte timeout).
TEST(ModbusRtuFaults, ReplyWithASilenceInsideWithinTheTimeoutIsGood) {
    REQUIRE_SOCAT();
    RtuSite site;
    site.server.faults().set_script([](const FaultRequest&) {
        FaultAction a;
        a.split_at = 3;
        a.split_delay_ms = 200;
        return a;
    });
    CheckingSink sink;
    Poller poller({{device("u1", site.address(), 1, 100, 500, 0), two_blocks()}}, sink);
    poller.start();
    ASSERT_TRUE(sink.wait_for([&] { return poller.stats("u1").polls >= 3; }, 10s));
    poller.stop();
    EXPECT_EQ(poller.stats("u1").timeouts, 0u);
    EXPECT_EQ(poller.stats("u1").failed_polls, 0u);
    EXPECT_EQ(sink.wrong(), 0);
    EXPECT_EQ(sink.last("u1/b").value, 122);
}

// A dead unit on the bus goes offline and is demoted (polled every
// offline_poll_ms); the live unit keeps its period.
TEST(ModbusRtuFaults, DeadUnitOnTheBusDoesNotSlowTheLiveOne) {
    REQUIRE_SOCAT();
    RtuSite site(2);
    site.server.faults().set_script([](const FaultRequest& r) {
        FaultAction a;
        a.no_reply = r.unit == 2;
        return a;
    });
    CheckingSink sink;
    Poller poller({{device("u1", site.address(), 1, 100, 300, 0), two_blocks()},
                   {device("u2", site.address(), 2, 100, 300, 0), two_blocks()}},
                  sink);
    poller.start();
    // Offline after two failed polls (the helper's offline_after), then demoted.
    ASSERT_TRUE(sink.wait_for([&] { return poller.stats("u2").failed_polls >= 2; }, 10s));
    const int64_t from = now_us();
    std::this_thread::sleep_for(3s);
    const int64_t to = now_us();
    poller.stop();
    const int good = polls_between(sink, "u1", from, to);
    // 30 at its period; without demotion u2's timeouts (2 × 300 ms per poll) would leave about 5.
    EXPECT_GE(good, 20) << "u1's good polls in 3 s";
    EXPECT_EQ(sink.wrong(), 0);
}

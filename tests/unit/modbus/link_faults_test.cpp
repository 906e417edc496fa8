// The driver against a fault-injecting Modbus TCP server (the simulator's
// TcpServer with a per-request fault script): every fault class of the
// plugin README's "Faults" table, each asserting what a user sees (values,
// online state, counters, events). Issue 10, items 1-7.
#include "fault_site.h"
#include "poller.h"
#include "register_bank.h"
#include "tcp_server.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

using namespace gridlet::modbus;
using namespace gridlet::modbus::test;
using gridlet::sim::FaultAction;
using gridlet::sim::FaultRequest;
using gridlet::sim::RegisterBank;
using gridlet::sim::TcpServer;
using gridlet::sim::UnitMap;
using namespace std::chrono_literals;
using Table = RegisterBank::Table;

namespace {

// Units 1..n behind one server (fault_site.h), checked to have started.
struct Site : TcpSite {
    explicit Site(int n = 1) : TcpSite(n) { EXPECT_EQ(start_error, ""); }
};

}  // namespace

// Item 1: the 5th request is answered after 700 ms (timeout 500): its late
// reply is discarded by transaction id, every later value is right, the
// device stays online.
TEST(ModbusFaults, LateReplyIsDiscardedNotTakenForTheNextOne) {
    Site site;
    site.server.faults().set_script([](const FaultRequest& r) {
        FaultAction a;
        if (r.seq == 4) a.delay_ms = 700;
        return a;
    });
    CheckingSink sink;
    Poller poller({{device("u1", site.address(), 1, 100, 500), two_blocks()}}, sink);
    poller.start();
    ASSERT_TRUE(sink.wait_for([&] { return poller.stats("u1").good_polls >= 15; }, 10s));
    poller.stop();
    DeviceStats s = poller.stats("u1");
    EXPECT_EQ(sink.wrong(), 0) << "a value came from another request's reply";
    EXPECT_EQ(s.malformed, 0u);
    EXPECT_EQ(s.timeouts, 1u);
    EXPECT_GE(s.stale_replies, 1u) << "the late reply was counted as stale";
    EXPECT_EQ(s.connects, 1u) << "no reconnect was needed";
    EXPECT_EQ(sink.last("u1/online").value, 1);
    EXPECT_GE(sink.last("u1/comm/stale_replies").value, 1) << "late replies are a series";
    EXPECT_EQ(sink.count_logs("device 'u1' (unit 1): a late reply to an earlier request was discarded (first time"), 1u);
    EXPECT_EQ(sink.count_logs("no reply within 500 ms (first time; further ones are counted in comm/timeouts)"), 1u);
}

// Item 1, shared connection: unit 2's replies come late now and then; unit
// 1 never gets one of them.
TEST(ModbusFaults, LateRepliesOnASharedConnectionGoToNobody) {
    Site site(2);
    site.server.faults().set_script([](const FaultRequest& r) {
        FaultAction a;
        if (r.unit == 2 && r.seq % 5 == 0) a.delay_ms = 250;
        return a;
    });
    CheckingSink sink;
    Poller poller({{device("u1", site.address(), 1, 50, 200), two_blocks()},
                   {device("u2", site.address(), 2, 50, 200), two_blocks()}},
                  sink);
    poller.start();
    ASSERT_TRUE(sink.wait_for([&] { return poller.stats("u1").good_polls >= 30 && poller.stats("u2").stale_replies >= 2; }, 15s));
    poller.stop();
    EXPECT_EQ(sink.wrong(), 0);
    EXPECT_EQ(poller.stats("u1").malformed, 0u);
    EXPECT_EQ(poller.stats("u1").failed_polls, 0u);
    // Each device counts its own late replies, and the log names it.
    EXPECT_EQ(poller.stats("u1").stale_replies, 0u) << "u1 never answered late";
    EXPECT_EQ(sink.count_logs("device 'u2' (unit 2): a late reply to an earlier request was discarded"), 1u);
    EXPECT_EQ(sink.count_logs("device 'u1' (unit 1): a late reply"), 0u);
}

// Item 2: a device that closes the connection after every reply loses no
// block: the connection is reopened within the poll and counted.
TEST(ModbusFaults, DeviceClosingAfterEveryReplyLosesNothing) {
    Site site;
    site.server.faults().set_script([](const FaultRequest&) {
        FaultAction a;
        a.close_after = true;
        return a;
    });
    CheckingSink sink;
    Poller poller({{device("u1", site.address(), 1, 100, 500), two_blocks()}}, sink);
    poller.start();
    ASSERT_TRUE(sink.wait_for([&] { return poller.stats("u1").polls >= 10; }, 10s));
    poller.stop();
    DeviceStats s = poller.stats("u1");
    EXPECT_EQ(s.failed_polls, 0u);
    EXPECT_EQ(s.good_polls, s.polls);
    EXPECT_TRUE(ValueCheck{sink}.ok("u1/b", 122)) << "the second block is read every poll";
    EXPECT_GE(s.reopened, 10u);
    EXPECT_GE(sink.last("u1/comm/reconnects").value, 10);
    EXPECT_EQ(sink.wrong(), 0);
}

// Item 2: a device that closes idle connections (200 ms), polled every
// 300 ms: no poll is lost.
TEST(ModbusFaults, DeviceClosingIdleConnectionsLosesNoPoll) {
    Site site;
    site.server.faults().idle_close_ms = 200;
    CaptureSink sink;
    Poller poller({{device("u1", site.address(), 1, 300, 500), two_blocks()}}, sink);
    poller.start();
    ASSERT_TRUE(sink.wait_for([&] { return poller.stats("u1").polls >= 8; }, 10s));
    poller.stop();
    DeviceStats s = poller.stats("u1");
    EXPECT_EQ(s.failed_polls, 0u);
    EXPECT_EQ(s.timeouts, 0u);
    EXPECT_GE(s.connects, 5u) << "the device did close idle connections";
}

// Item 4: one block always answers with a bad byte count (exception 02 on
// both transports: both_transports_test.cpp): logged once as an event naming
// the block and its points, the device stays online, the other block is polled.
TEST(ModbusFaults, BlockWithABadByteCountIsReportedAndTheOthersPolled) {
    Site site;
    site.server.faults().set_script([](const FaultRequest& r) {
        FaultAction a;
        if (r.address == 1000) a.bad_byte_count = true;
        return a;
    });
    CaptureSink sink;
    Poller poller({{device("u1", site.address(), 1, 50, 200), two_blocks()}}, sink);
    poller.start();
    ASSERT_TRUE(sink.wait_for([&] { return poller.stats("u1").good_polls >= 5; }, 10s));
    poller.stop();
    EXPECT_EQ(sink.last("u1/online").value, 1);
    EXPECT_EQ(sink.last("u1/a").value, 111);
    EXPECT_EQ(sink.last("u1/b").quality, 255);
    EXPECT_EQ(poller.stats("u1").failing_points, 1u);
    int failing = 0;
    for (auto& e : sink.events())
        if (e.type == "points_failing") {
            failing++;
            EXPECT_NE(e.body.find("\"address\":1000"), std::string::npos) << e.body;
            EXPECT_NE(e.body.find("byte count"), std::string::npos) << e.body;
        }
    EXPECT_EQ(failing, 1) << "reported once, not every poll";
    EXPECT_EQ(poller.stats("u1").connects, 1u);
}

// Item 4: a block that recovers is reported and its points come back.
TEST(ModbusFaults, RecoveredBlockIsReported) {
    Site site;
    std::atomic<bool> failing{true};
    site.server.faults().set_script([&](const FaultRequest& r) {
        FaultAction a;
        if (r.address == 1000 && failing) a.exception = 2;
        return a;
    });
    CaptureSink sink;
    Poller poller({{device("u1", site.address(), 1, 50, 200), two_blocks()}}, sink);
    poller.start();
    ASSERT_TRUE(sink.wait_for([&] { return poller.stats("u1").failing_points == 1; }, 5s));
    failing = false;
    ASSERT_TRUE(sink.wait_for([&] { return sink.last("u1/b").value == 122; }, 5s));
    poller.stop();
    EXPECT_EQ(poller.stats("u1").failing_points, 0u);
    EXPECT_EQ(sink.events().back().type, "points_recovered");
}

// Item 5: one unit behind a gateway answers 300 ms late (timeout 200 ms):
// it goes offline and is demoted; the healthy units keep their period.
TEST(ModbusFaults, LateUnitBehindAGatewayDoesNotSlowTheOthers) {
    Site site(3);
    site.server.faults().set_script([](const FaultRequest& r) {
        FaultAction a;
        if (r.unit == 3) a.delay_ms = 300;
        return a;
    });
    CheckingSink sink;
    Poller poller({{device("u1", site.address(), 1, 100, 200), two_blocks()},
                   {device("u2", site.address(), 2, 100, 200), two_blocks()},
                   {device("u3", site.address(), 3, 100, 200), two_blocks()}},
                  sink);
    poller.start();
    ASSERT_TRUE(sink.wait_for([&] { return sink.last("u3/online").quality == GL_QUALITY_GOOD && sink.last("u3/online").value == 0; }, 10s));
    int64_t t0 = now_us();
    std::this_thread::sleep_for(4s);
    int64_t t1 = now_us();
    poller.stop();
    EXPECT_EQ(sink.wrong(), 0);
    for (const char* dev : {"u1", "u2"}) {
        int good = polls_between(sink, dev, t0, t1);
        // 40 slots of 100 ms; a demoted probe of u3 (200 ms) costs at most 2.
        // Without demotion every cycle would wait 2 x 200 ms for u3: about 10.
        // (30, not 38: a loaded CI machine delays threads; the 10 % target is
        // for the benchmark.)
        EXPECT_GE(good, 30) << dev << ": a dead unit slowed a healthy one";
    }
    EXPECT_EQ(sink.last("u1/online").value, 1);
    EXPECT_LE(polls_between(sink, "u3", t0, t1, false), 2) << "the dead unit is polled every offline_poll_ms";
}

// Item 5: exception 06 (busy) is retried after a wait, not at once; 0B
// (gateway target failed) is not retried and counts as a missing unit.
TEST(ModbusFaults, BusyIsRetriedLaterAndGatewayTargetFailedIsAMissingUnit) {
    Site site(2);
    std::mutex mu;
    std::vector<std::pair<uint64_t, int64_t>> seen;  // (seq, time) of unit 1's requests
    site.server.faults().set_script([&](const FaultRequest& r) {
        FaultAction a;
        if (r.unit == 1) {
            std::lock_guard lk(mu);
            seen.push_back({r.seq, now_us()});
            if (seen.size() == 1) a.exception = 6;
        }
        if (r.unit == 2) a.exception = 0x0B;
        return a;
    });
    CaptureSink sink;
    DeviceConfig d2 = device("u2", site.address(), 2, 100, 200, 3);
    Poller poller({{device("u1", site.address(), 1, 100, 200), two_blocks()}, {d2, two_blocks()}}, sink);
    poller.start();
    ASSERT_TRUE(sink.wait_for([&] { return poller.stats("u1").good_polls >= 2 && poller.stats("u2").failed_polls >= 2; }, 5s));
    poller.stop();
    std::lock_guard lk(mu);
    ASSERT_GE(seen.size(), 2u);
    EXPECT_GE(seen[1].second - seen[0].second, 90'000) << "busy was retried after about 100 ms";
    EXPECT_EQ(poller.stats("u1").failed_polls, 0u);
    DeviceStats s2 = poller.stats("u2");
    // (A last poll may have been cut short by the stop, after its request.)
    EXPECT_GE(s2.failed_polls, 2u);
    EXPECT_LE(s2.requests, s2.failed_polls + 1) << "0B: one request a poll, no retries (retries = 3)";
}

// Item 5: a device that accepts connections and drops them at once is
// retried with backoff, not on every poll.
TEST(ModbusFaults, AcceptedThenDroppedConnectionsBackOff) {
    Site site;
    site.server.faults().set_script([](const FaultRequest&) {
        FaultAction a;
        a.close_instead = true;
        return a;
    });
    CaptureSink sink;
    Poller poller({{device("u1", site.address(), 1, 20, 200), two_blocks()}}, sink);
    poller.start();
    std::this_thread::sleep_for(3s);
    poller.stop();
    // Backoff 100, 200, 400, 800, 1600: about 5 connections in 3 s, not 150.
    EXPECT_LE(site.server.connections_accepted(), 8u);
    EXPECT_GE(site.server.connections_accepted(), 3u);
    EXPECT_EQ(sink.last("u1/online").quality, GL_QUALITY_GOOD);
    EXPECT_EQ(sink.last("u1/online").value, 0);
}

// Item 5: "localhost:P" and "127.0.0.1:P" are one endpoint: one connection,
// and a device that takes a single connection serves both.
TEST(ModbusFaults, OneConnectionPerResolvedEndpoint) {
    Site site(2);
    site.server.faults().max_connections = 1;
    CaptureSink sink;
    Poller poller({{device("u1", site.address(), 1, 50, 200), two_blocks()},
                   {device("u2", "localhost:" + std::to_string(site.server.port()), 2, 50, 200), two_blocks()}},
                  sink);
    EXPECT_EQ(poller.worker_count(), 1u);
    poller.start();
    ASSERT_TRUE(sink.wait_for([&] { return sink.last("u1/online").value == 1 && sink.last("u2/online").value == 1; }, 5s));
    poller.stop();
    EXPECT_EQ(site.server.connections_accepted(), 1u);
}

// Item 6: a reply in two segments 300 ms apart, within the 500 ms timeout,
// is a good reply.
TEST(ModbusFaults, ReplySplitAcrossSegmentsWithinTheTimeoutIsGood) {
    Site site;
    site.server.faults().set_script([](const FaultRequest&) {
        FaultAction a;
        a.split_at = 5;
        a.split_delay_ms = 300;
        return a;
    });
    CaptureSink sink;
    Poller poller({{device("u1", site.address(), 1, 100, 500, 0), two_blocks()}}, sink);
    poller.start();
    ASSERT_TRUE(sink.wait_for([&] { return poller.stats("u1").polls >= 2; }, 10s));
    poller.stop();
    EXPECT_EQ(poller.stats("u1").timeouts, 0u);
    EXPECT_EQ(poller.stats("u1").failed_polls, 0u);
    EXPECT_EQ(sink.last("u1/b").value, 122);
}

// Item 6: a wrong MBAP length or protocol id is refused (malformed), the
// stream is reopened, and the next requests are good.
TEST(ModbusFaults, BadMbapHeaderIsRefusedAndTheStreamReopened) {
    for (int which = 0; which < 2; ++which) {
        SCOPED_TRACE(which == 0 ? "protocol id 1" : "MBAP length + 300");
        Site site;
        site.server.faults().set_script([which](const FaultRequest& r) {
            FaultAction a;
            if (r.seq == 2) {
                if (which == 0) a.protocol_id = 1;
                else a.length_delta = 300;
            }
            return a;
        });
        CheckingSink sink;
        Poller poller({{device("u1", site.address(), 1, 50, 200), two_blocks()}}, sink);
        poller.start();
        ASSERT_TRUE(sink.wait_for([&] { return poller.stats("u1").good_polls >= 5; }, 10s));
        poller.stop();
        EXPECT_EQ(poller.stats("u1").malformed, 1u);
        EXPECT_EQ(poller.stats("u1").connects, 2u) << "reconnected after the framing error";
        EXPECT_EQ(sink.wrong(), 0);
        EXPECT_EQ(poller.stats("u1").failed_polls, 0u) << "the retry on the new connection got the block";
    }
}

// Item 7: stopping with 8 silent devices takes one timeout at most, not
// one per device.
TEST(ModbusFaults, StopDoesNotGrowWithSilentDevices) {
    std::vector<std::unique_ptr<Site>> sites;
    std::vector<Poller::Device> devs;
    for (int i = 0; i < 8; ++i) {
        sites.push_back(std::make_unique<Site>());
        sites.back()->server.faults().silent = true;
        devs.push_back({device("u1x" + std::to_string(i), sites.back()->address(), 1, 100, 3000), two_blocks()});
    }
    CaptureSink sink;
    Poller poller(std::move(devs), sink);
    poller.start();
    std::this_thread::sleep_for(300ms);  // every worker now waits for a reply
    auto t0 = std::chrono::steady_clock::now();
    poller.stop();
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_LT(took, 1s) << "a stop wakes every waiting worker at once";
}

// A unit with a block that fails (always, or every other poll) on a shared
// connection, listed before a healthy unit: the healthy unit keeps its
// period. After a timeout the faulty unit is polled after the others due in
// the same slot from then on, so its timeouts fall in their idle time
// whatever the order of the site file, and however rare they are.
TEST(ModbusFaults, AFailingBlockListedFirstDoesNotShiftTheOthersPolls) {
    for (int kind : {0, 1, 2}) {
        SCOPED_TRACE(kind == 0 ? "never answers" : kind == 1 ? "answers two requests, ignores two" : "ignores one in seven");
        Site site(2);
        auto seen = std::make_shared<std::atomic<int>>(0);
        site.server.faults().set_script([kind, seen](const FaultRequest& r) {
            FaultAction a;
            if (r.unit == 2 && r.address == 1000) {
                const int n = seen->fetch_add(1);
                a.no_reply = kind == 0 || (kind == 1 && (n / 2) % 2 == 1) || (kind == 2 && n % 7 == 3);
            }
            return a;
        });
        CheckingSink sink;
        Poller poller({{device("u2", site.address(), 2, 500, 100), two_blocks()},
                       {device("u1", site.address(), 1, 500, 100), two_blocks()}},
                      sink);
        poller.start();
        // The first timeout costs u1 one shift (as detecting a dead unit does).
        ASSERT_TRUE(sink.wait_for([&] { return poller.stats("u2").timeouts >= 1; }, 10s));
        std::this_thread::sleep_for(600ms);
        const int64_t t0 = now_us();
        std::this_thread::sleep_for(3s);
        const int64_t t1 = now_us();
        poller.stop();
        EXPECT_EQ(sink.wrong(), 0);
        std::vector<int64_t> starts;
        for (auto& [t, good] : sink.polls("u1"))
            if (t >= t0 && t < t1) starts.push_back(t);
        ASSERT_GE(starts.size(), 5u);
        int64_t worst = 0;
        for (size_t i = 1; i < starts.size(); ++i) worst = std::max(worst, std::abs(starts[i] - starts[i - 1] - 500'000));
        // 10 % of the period; a loaded CI machine may add some: 80 ms, not
        // the 100 ms (two attempts of 100 ms ahead of it) without the fix.
        EXPECT_LE(worst, 80'000) << "u1's poll interval moved by " << worst / 1000 << " ms";
    }
}

// An offline unit on a shared connection is polled every offline_poll_ms,
// as its log line says (it was one poll period more).
TEST(ModbusFaults, AnOfflineUnitIsPolledEveryOfflinePollMs) {
    Site site(2);
    site.server.faults().set_script([](const FaultRequest& r) {
        FaultAction a;
        a.no_reply = r.unit == 2;
        return a;
    });
    CheckingSink sink;
    auto dead = device("u2", site.address(), 2, 250, 100);
    dead.offline_poll_ms = 1000;
    Poller poller({{dead, two_blocks()}, {device("u1", site.address(), 1, 250, 100), two_blocks()}}, sink);
    poller.start();
    ASSERT_TRUE(sink.wait_for([&] { return sink.last("u2/online").quality == GL_QUALITY_GOOD && sink.last("u2/online").value == 0; }, 10s));
    std::this_thread::sleep_for(4200ms);
    poller.stop();
    std::vector<int64_t> starts;
    for (auto& [t, good] : sink.polls("u2")) starts.push_back(t);
    ASSERT_GE(starts.size(), 5u);
    // The last four intervals, all while offline: 1,000 ms each.
    for (size_t i = starts.size() - 4; i < starts.size(); ++i)
        EXPECT_NEAR(static_cast<double>(starts[i] - starts[i - 1]), 1'000'000.0, 60'000.0) << "interval " << i;
}

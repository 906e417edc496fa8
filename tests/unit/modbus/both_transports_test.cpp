// Faults whose handling is the same on Modbus TCP and RTU, as one typed
// suite over both transports (fault_site.h's TcpSite, rtu_site.h's RtuSite):
// a reply from another unit, and a block that always gets an exception.
// Transport-specific faults stay in link_faults_test.cpp (TCP) and
// rtu_faults_test.cpp (RTU). The RTU cases need socat; skipped, saying so,
// without.
#include "fault_site.h"
#include "poller.h"
#include "rtu_site.h"

#include <gtest/gtest.h>

using namespace gridlet::modbus;
using namespace gridlet::modbus::test;
using gridlet::sim::FaultAction;
using gridlet::sim::FaultRequest;

template <class SiteT>
class BothTransports : public ::testing::Test {
protected:
    void SetUp() override {
        if (std::string(SiteT::kTransport) == "rtu" && !have("socat"))
            GTEST_SKIP() << "socat is not installed (apt-get install socat): the RTU case is skipped";
    }
};
using Transports = ::testing::Types<TcpSite, RtuSite>;
TYPED_TEST_SUITE(BothTransports, Transports);

// A reply from another unit id (a gateway answering unit 2's requests as
// unit 1): refused and counted; unit 2 never shows unit 1's values.
TYPED_TEST(BothTransports, ReplyFromAnotherUnitIsRefused) {
    TypeParam site(2);
    ASSERT_EQ(site.start_error, "");
    site.server.faults().set_script([](const FaultRequest& r) {
        FaultAction a;
        if (r.unit == 2) a.reply_unit = 1;
        return a;
    });
    CheckingSink sink;
    Poller poller({{device("u2", site.address(), 2, 50, 200, 0), two_blocks()}}, sink);
    poller.start();
    ASSERT_TRUE(sink.wait_for([&] { return poller.stats("u2").wrong_unit >= 6; }, 10s));
    poller.stop();
    EXPECT_EQ(sink.wrong(), 0) << "a value came from another unit";
    EXPECT_EQ(poller.stats("u2").good_polls, 0u);
    EXPECT_EQ(sink.last("u2/a").quality, 255) << "no value was published";
    EXPECT_GE(sink.last("u2/comm/wrong_unit").value, 6);
    EXPECT_EQ(sink.count_logs("(first time; further ones are counted in comm/wrong_unit)"), 1u)
        << "the first is logged, the rest counted";
}

// One block always answers exception 02 (illegal data address): reported
// once as an event naming the block and its points; the device stays online
// and the other block is polled.
TYPED_TEST(BothTransports, BlockWithAnExceptionIsReportedOnceAndTheOthersPolled) {
    TypeParam site;
    ASSERT_EQ(site.start_error, "");
    site.server.faults().set_script([](const FaultRequest& r) {
        FaultAction a;
        if (r.address == 1000) a.exception = 2;
        return a;
    });
    CheckingSink sink;
    Poller poller({{device("u1", site.address(), 1, 50, 200), two_blocks()}}, sink);
    poller.start();
    ASSERT_TRUE(sink.wait_for([&] { return poller.stats("u1").good_polls >= 5; }, 10s));
    poller.stop();
    EXPECT_EQ(sink.wrong(), 0);
    EXPECT_EQ(sink.last("u1/online").value, 1);
    EXPECT_EQ(sink.last("u1/a").value, 111) << "the other block is read";
    EXPECT_EQ(sink.last("u1/b").quality, 255);
    EXPECT_EQ(poller.stats("u1").failing_points, 1u);
    EXPECT_EQ(sink.last("u1/comm/failing_points").value, 1);
    int failing = 0;
    for (auto& e : sink.events())
        if (e.type == "points_failing") {
            failing++;
            EXPECT_NE(e.body.find("\"address\":1000"), std::string::npos) << e.body;
            EXPECT_NE(e.body.find("\"points\":\"b\""), std::string::npos) << e.body;
            EXPECT_NE(e.body.find("illegal data address"), std::string::npos) << e.body;
        }
    EXPECT_EQ(failing, 1) << "reported once, not every poll";
}

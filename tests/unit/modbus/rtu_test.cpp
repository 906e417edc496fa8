// Modbus RTU end to end over a pseudo-terminal pair made by socat: the BCPM
// simulator serves one end, the poller polls the other.
#include "bcpm_server.h"
#include "capture_sink.h"
#include "device_config.h"
#include "poller.h"
#include "pty_pair.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdlib>
#include <future>
#include <filesystem>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace gridlet::modbus;
using namespace std::chrono_literals;
using gridlet::modbus::test::have;
using gridlet::modbus::test::PtyPair;

TEST(ModbusRtu, PollsBothPanelsOverAPtyPair) {
    if (!have("socat")) GTEST_SKIP() << "socat is not installed (apt-get install socat): RTU test skipped";
    PtyPair pty;
    ASSERT_TRUE(std::filesystem::exists(pty.a)) << "socat did not create the pty pair";
    gridlet::sim::BcpmServerOptions o;
    o.manual_time = true;
    gridlet::sim::BcpmServer sim(o);
    sim.panel(0).set_load(3, 7.5, 0.9);
    sim.panel(1).set_load(3, 2.5, 0.9);
    sim.advance(1.8);
    gridlet::sim::SerialSettings ss;
    ss.device = pty.b;
    ss.baud = 38400;
    ss.parity = 'E';
    ASSERT_EQ(sim.start_rtu(ss), "");

    auto prof = std::make_shared<const Profile>(parse_profile(R"(
[profile]
name = "mini"
address_base = 1
[[point]]
name = "b{ch}/current"
channels = [1, 4]
address = 1336
type = "int16"
scale_register = 1000
unit = "A"
invalid = [0x8000]
[[point]]
name = "location_first"
address = 7
[[command]]
name = "reset/kwh"
address = 295
value = 10203
)", "mini.toml"));
    std::vector<Poller::Device> devs;
    for (int unit : {1, 2}) {
        nlohmann::json j = {{"name", "p" + std::to_string(unit)}, {"profile", "mini"}, {"address", "rtu:" + pty.a},
                            {"unit_id", unit}, {"baud", 38400}, {"parity", "E"}, {"poll_ms", 200},
                            {"timeout_ms", 300}, {"gap_ms", 5}, {"offline_poll_ms", 500}};
        devs.push_back({parse_device(j), prof});
    }
    EXPECT_EQ(devs[0].config.link.kind, LinkConfig::Kind::Rtu);
    gridlet::modbus::test::CaptureSink sink;
    Poller poller(std::move(devs), sink);
    EXPECT_EQ(poller.worker_count(), 1u) << "one serial bus = one worker";
    poller.start();
    ASSERT_TRUE(sink.wait_for([&] { return sink.last("p2/b3/current").quality == GL_QUALITY_GOOD; }, 5s))
        << "timeouts " << poller.stats("p2").timeouts;
    EXPECT_NEAR(sink.last("p1/b3/current").value, 7.5, 0.01);
    EXPECT_NEAR(sink.last("p2/b3/current").value, 2.5, 0.01);
    EXPECT_EQ(sink.last("p1/location_first").value, 0x4C6F);  // "Lo"
    std::promise<gl_status> done;
    poller.command("p1", "reset/kwh", 0, "", [&](gl_status s, const std::string&) { done.set_value(s); });
    EXPECT_EQ(done.get_future().get(), GL_OK);
    // A dead unit on the bus times out without stalling the live one.
    sim.rtu_faults().silent = true;
    ASSERT_TRUE(sink.wait_for([&] { return sink.last("p1/online").value == 0; }, 5s));
    sim.rtu_faults().silent = false;
    ASSERT_TRUE(sink.wait_for([&] { return sink.last("p1/online").value == 1; }, 5s));
    poller.stop();
    sim.stop();
}

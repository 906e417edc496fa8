// The BCPM simulator checked against the point map with a libmodbus client.
#include "bcpm_server.h"

#include <gtest/gtest.h>
#include <modbus/modbus.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <unistd.h>

using namespace gridlet::sim;

namespace {

struct Client {
    modbus_t* ctx;
    explicit Client(uint16_t port, int unit = 1) {
        ctx = modbus_new_tcp("127.0.0.1", port);
        modbus_set_response_timeout(ctx, 1, 0);
        EXPECT_EQ(modbus_connect(ctx), 0) << modbus_strerror(errno);
        modbus_set_slave(ctx, unit);
    }
    ~Client() {
        modbus_close(ctx);
        modbus_free(ctx);
    }
    // Reads documented register `reg` (wire reg - 1).
    uint16_t reg(int reg) {
        uint16_t v = 0;
        EXPECT_EQ(modbus_read_registers(ctx, reg - 1, 1, &v), 1) << "reg " << reg << ": " << modbus_strerror(errno);
        return v;
    }
    int16_t sreg(int r) { return static_cast<int16_t>(reg(r)); }
    float flt(int reg) {
        uint16_t v[2];
        EXPECT_EQ(modbus_read_registers(ctx, reg - 1, 2, v), 2);
        uint32_t b = (uint32_t(v[0]) << 16) | v[1];
        float f;
        std::memcpy(&f, &b, 4);
        return f;
    }
    // Returns the Modbus exception code of a failed call, 0 if it succeeded.
    int read_error(int reg, int count) {
        std::vector<uint16_t> v(count);
        if (modbus_read_registers(ctx, reg - 1, count, v.data()) == count) return 0;
        return errno > MODBUS_ENOBASE && errno <= EMBXGTAR ? errno - MODBUS_ENOBASE : -errno;
    }
    int write_error(int reg, uint16_t value) {
        if (modbus_write_register(ctx, reg - 1, value) == 1) return 0;
        return errno > MODBUS_ENOBASE && errno <= EMBXGTAR ? errno - MODBUS_ENOBASE : -errno;
    }
    // A raw request PDU; returns the response PDU (function code first).
    std::vector<uint8_t> raw(std::vector<uint8_t> pdu, int unit = 1) {
        pdu.insert(pdu.begin(), static_cast<uint8_t>(unit));
        EXPECT_GT(modbus_send_raw_request(ctx, pdu.data(), static_cast<int>(pdu.size())), 0);
        uint8_t rsp[MODBUS_TCP_MAX_ADU_LENGTH];
        int n = modbus_receive_confirmation(ctx, rsp);
        if (n < 8) return {};
        return std::vector<uint8_t>(rsp + 7, rsp + n);
    }
};

double scaled(Client& c, int reg, int scale_reg) { return c.sreg(reg) * std::pow(10.0, c.sreg(scale_reg)); }

BcpmServerOptions manual() {
    BcpmServerOptions o;
    o.port = 0;
    o.manual_time = true;
    return o;
}

}  // namespace

TEST(BcpmSim, IdentityAndConventions) {
    BcpmServer s(manual());
    ASSERT_EQ(s.start(), "");
    s.panel(0).set_noise(false);
    s.panel(0).set_load(7, 12.34, 0.9);
    s.advance(1.8);
    Client c(s.port());
    EXPECT_EQ(c.reg(5), 15172);  // PDU 4 = documented register 5 (Model A)
    EXPECT_EQ(c.reg(6), 0);
    EXPECT_EQ((uint32_t(c.reg(1)) << 16 | c.reg(2)), 0x00C0FFEEu);
    // Current of branch 7 = raw x 10^scale (scale register 1000 + 6).
    EXPECT_NEAR(scaled(c, 1336 + 6, 1000 + 6), 12.34, 0.01);
    // Float copy at 2*int - 420, MSW first, agrees within one integer LSB.
    EXPECT_NEAR(c.flt(2 * (1336 + 6) - 420), 12.34, 0.01);
    // FC04 gives the same data as FC03.
    uint16_t a[42], b[42];
    ASSERT_EQ(modbus_read_registers(c.ctx, 1335, 42, a), 42);
    ASSERT_EQ(modbus_read_input_registers(c.ctx, 1335, 42, b), 42);
    EXPECT_EQ(0, std::memcmp(a, b, sizeof a));
    // kW = V x I x PF with V A-N of phase A (odd/even: ch 7 is phase A).
    double v = scaled(c, 248, 244);
    EXPECT_NEAR(scaled(c, 1252 + 6, 1042 + 6), v * 12.34 * 0.9 / 1000, 0.02);
    EXPECT_NEAR(c.sreg(1294 + 6) * 1e-3, 0.9, 0.001);
    EXPECT_NEAR(c.sreg(245) * 0.01, 60.0, 0.1);  // frequency, fixed scale -2
    // Report server id (FC 17).
    auto r = c.raw({0x11});
    ASSERT_GT(r.size(), 4u);
    std::string text(r.begin() + 4, r.end());
    EXPECT_EQ(text, "Veris Model Exxx Branch Circuit Monitor, S/N=0x00C0FFEE, Location=\"Location\"");
}

TEST(BcpmSim, KwhIs32BitHighWordFirstAndAccumulates) {
    BcpmServer s(manual());
    ASSERT_EQ(s.start(), "");
    BcpmPanel& p = s.panel(0);
    p.set_noise(false);
    p.set_phase_voltage(0, 120);
    p.set_load(1, 50, 1.0);  // 6 kW on phase A
    for (int i = 0; i < 120; ++i) s.advance(3600);  // 120 h: 720 kWh, more than 16 bits at scale -2
    Client c(s.port());
    uint16_t w[2];
    ASSERT_EQ(modbus_read_registers(c.ctx, 1167, 2, w), 2);
    uint32_t raw = (uint32_t(w[0]) << 16) | w[1];
    double kwh = raw * std::pow(10.0, c.sreg(1084));
    EXPECT_NEAR(kwh, 6.0 * 120, 0.01 * 720);  // within 1 %
    EXPECT_GT(w[0], 0) << "value must use the high word (scale " << c.sreg(1084) << ")";
    EXPECT_NEAR(c.flt(2000), kwh, 0.05);
}

TEST(BcpmSim, ExceptionsForUnmappedBadCountsAndBadValues) {
    BcpmServer s(manual());
    ASSERT_EQ(s.start(), "");
    Client c(s.port());
    EXPECT_EQ(c.read_error(544, 1), 2);      // unmapped
    EXPECT_EQ(c.read_error(540, 10), 2);     // crosses into the hole after 543
    EXPECT_EQ(c.read_error(1660, 20), 2);    // 1672.. unmapped
    EXPECT_EQ(c.read_error(1168, 125), 0);
    // 126 registers: libmodbus refuses client-side, so send the PDU raw.
    auto r = c.raw({0x03, 0x04, 0x8F, 0x00, 0x7E});
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0], 0x83);
    EXPECT_EQ(r[1], 0x03);
    r = c.raw({0x2B, 0x0E, 0x01, 0x00});  // unsupported function
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[1], 0x01);
    // Writes: read-only and float registers -> 02; out-of-range -> 03, unchanged.
    EXPECT_EQ(c.write_error(5, 1), 2);
    EXPECT_EQ(c.write_error(2252, 1), 2);
    EXPECT_EQ(c.write_error(6, 1), 3);
    EXPECT_EQ(c.reg(6), 0);
    EXPECT_EQ(c.write_error(6, 2), 0);
    EXPECT_EQ(c.reg(6), 2);
    EXPECT_EQ(c.write_error(71, 7), 3);
    EXPECT_EQ(c.write_error(72, 5), 3);
    EXPECT_EQ(c.write_error(72, 0), 0);
    EXPECT_EQ(c.write_error(62116, 3), 3);
    EXPECT_EQ(c.write_error(295, 12345), 3);  // unknown reset code
    EXPECT_EQ(c.reg(295), 0);                 // reset registers read 0
    // Unit 3 is not served: gateway target failed (0x0B).
    modbus_set_slave(c.ctx, 3);
    EXPECT_EQ(c.read_error(5, 1), 0x0B);
}

TEST(BcpmSim, LocationStringRoundTripsIntoReportId) {
    BcpmServer s(manual());
    ASSERT_EQ(s.start(), "");
    Client c(s.port());
    // The map states "1st character in MSB"; its hex example (0x4450, ...) is
    // byte-swapped against that rule. The simulator follows the stated rule.
    uint16_t loc[3] = {0x5044, 0x5523, 0x3300};  // "PDU#3"
    ASSERT_EQ(modbus_write_registers(c.ctx, 6, 3, loc), 3);
    EXPECT_EQ(c.reg(7), 0x5044);
    auto r = c.raw({0x11});
    std::string text(r.begin() + 4, r.end());
    EXPECT_NE(text.find("Location=\"PDU#3\""), std::string::npos) << text;
}

TEST(BcpmSim, UnusedChannelsAndModelGiveInvalidMarkers) {
    BcpmServerOptions o = manual();
    o.branch_channels = 40;
    o.model = BcpmModel::B;
    BcpmServer s(o);
    ASSERT_EQ(s.start(), "");
    s.advance(1.8);
    Client c(s.port());
    EXPECT_EQ(c.reg(1336 + 40), 0x8000);  // channel 41 current
    EXPECT_TRUE(std::isnan(c.flt(2 * (1336 + 40) - 420)));
    EXPECT_NE(c.reg(1336), 0x8000);       // channel 1 current valid on model B
    EXPECT_EQ(c.reg(1252), 0x8000);       // but branch kW is not
    EXPECT_EQ(c.reg(5), 15171);
}

TEST(BcpmSim, CurrentBelow50mAReadsZero) {
    BcpmServer s(manual());
    ASSERT_EQ(s.start(), "");
    s.panel(0).set_load(2, 0.04, 0.9);
    s.advance(1.8);
    Client c(s.port());
    EXPECT_EQ(c.reg(1337), 0);
    EXPECT_EQ(c.flt(2 * 1337 - 420), 0.0f);
}

TEST(BcpmSim, BlockAndSlidingDemand) {
    BcpmServer s(manual());
    ASSERT_EQ(s.start(), "");
    BcpmPanel& p = s.panel(0);
    p.set_noise(false);
    Client c(s.port());
    ASSERT_EQ(c.write_error(72, 10), 0);
    ASSERT_EQ(c.write_error(71, 1), 0);
    ASSERT_EQ(c.write_error(295, 26013), 0);
    p.set_load(1, 10, 1.0);
    s.advance(5);
    EXPECT_EQ(c.reg(1462), 0);  // no completed interval yet
    s.advance(5);
    EXPECT_NEAR(scaled(c, 1462, 1000), 10.0, 0.01);
    // N = 3: a step from 10 A to 40 A moves in thirds per sub-interval.
    ASSERT_EQ(c.write_error(71, 3), 0);
    ASSERT_EQ(c.write_error(295, 26013), 0);
    for (int i = 0; i < 3; ++i) s.advance(10);
    EXPECT_NEAR(scaled(c, 1462, 1000), 10.0, 0.01);
    p.set_load(1, 40, 1.0);
    s.advance(10);
    EXPECT_NEAR(scaled(c, 1462, 1000), 20.0, 0.01);
    s.advance(10);
    EXPECT_NEAR(scaled(c, 1462, 1000), 30.0, 0.01);
    s.advance(10);
    EXPECT_NEAR(scaled(c, 1462, 1000), 40.0, 0.01);
    EXPECT_NEAR(scaled(c, 1504, 1000), 40.0, 0.01);  // max demand
    // Max demand only falls through 295 <- 20097.
    p.set_load(1, 5, 1.0);
    for (int i = 0; i < 3; ++i) s.advance(10);
    EXPECT_NEAR(scaled(c, 1504, 1000), 40.0, 0.01);
    ASSERT_EQ(c.write_error(295, 20097), 0);
    EXPECT_EQ(c.reg(1504), 0);
    // Sync to comms: L = 0 advances only on 26012.
    ASSERT_EQ(c.write_error(72, 0), 0);
    ASSERT_EQ(c.write_error(71, 1), 0);
    ASSERT_EQ(c.write_error(295, 26013), 0);
    p.set_load(1, 8, 1.0);
    s.advance(100);
    EXPECT_EQ(c.reg(1462), 0);
    ASSERT_EQ(c.write_error(295, 26012), 0);
    EXPECT_NEAR(scaled(c, 1462, 1000), 8.0, 0.01);
}

TEST(BcpmSim, NonLatchingAlarmWithHysteresis) {
    BcpmServer s(manual());
    ASSERT_EQ(s.start(), "");
    BcpmPanel& p = s.panel(0);
    Client c(s.port());
    // Breaker 20 A, NL high 60 % -> 12 A, hysteresis 5 % -> clears below 11.4 A.
    p.set_load(4, 12.5, 0.9);
    s.advance(1.8);
    EXPECT_TRUE(c.reg(181) & 0x100);
    EXPECT_TRUE(c.reg(225) & 0x1);
    EXPECT_EQ(c.reg(227), 4);
    p.set_load(4, 11.6, 0.9);
    s.advance(1.8);
    EXPECT_TRUE(c.reg(181) & 0x100) << "inside the hysteresis band the alarm holds";
    p.set_load(4, 11.3, 0.9);
    s.advance(1.8);
    EXPECT_FALSE(c.reg(181) & 0x100);
    // Writes to non-latching bits are ignored.
    p.set_load(4, 13, 0.9);
    s.advance(1.8);
    ASSERT_EQ(c.write_error(181, 0), 0);
    EXPECT_TRUE(c.reg(181) & 0x100);
}

TEST(BcpmSim, LatchingAlarmNeedsOnStateAndDelayThenHoldsUntilCleared) {
    BcpmServer s(manual());
    ASSERT_EQ(s.start(), "");
    BcpmPanel& p = s.panel(0);
    Client c(s.port());
    // HH = 70 % of 20 A = 14 A, delay 10 s; ON after 10 s above LL.
    p.set_load(9, 15, 0.9);
    s.advance(2);
    s.advance(2);
    EXPECT_FALSE(c.reg(186) & 0x1) << "not ON yet";
    for (int i = 0; i < 5; ++i) s.advance(2);  // ON declared at 10 s
    EXPECT_FALSE(c.reg(186) & 0x1) << "delay not elapsed";
    for (int i = 0; i < 6; ++i) s.advance(2);  // 12 s > 10 s delay
    EXPECT_TRUE(c.reg(186) & 0x1);
    EXPECT_TRUE(c.reg(186) & 0x2);  // H (60 %) as well
    EXPECT_EQ(c.reg(301 + 8), 1);   // HH counter of channel 9
    EXPECT_EQ(c.reg(296), 1);       // global HH counter
    EXPECT_TRUE(c.reg(224) & 0x1);
    EXPECT_EQ(c.reg(226), 9);
    p.set_load(9, 5, 0.9);
    s.advance(2);
    EXPECT_TRUE(c.reg(186) & 0x1) << "latched after the condition clears";
    // Writing 1 to a set bit keeps it; writing 0 clears HH only.
    ASSERT_EQ(c.write_error(186, 0xFFFE), 0);
    EXPECT_FALSE(c.reg(186) & 0x1);
    EXPECT_TRUE(c.reg(186) & 0x2);
    ASSERT_EQ(c.write_error(295, 31010), 0);
    EXPECT_EQ(c.reg(186) & 0x1F, 0);
    // Below LL (2.5 % = 0.5 A) for 30 s after ON declares OFF.
    p.set_load(9, 0.2, 0.9);
    for (int i = 0; i < 16; ++i) s.advance(2);
    EXPECT_TRUE(c.reg(186) & 0x10);
    EXPECT_EQ(c.reg(485 + 8), 1);
    // Breaker size 0 suppresses new alarms.
    ASSERT_EQ(c.write_error(119 + 9, 0), 0);
    p.set_load(10, 30, 0.9);
    for (int i = 0; i < 20; ++i) s.advance(2);
    EXPECT_EQ(c.reg(187) & 0x31F, 0);
}

TEST(BcpmSim, ResetCodesActOnTheirChannelsOnly) {
    BcpmServer s(manual());
    ASSERT_EQ(s.start(), "");
    BcpmPanel& p = s.panel(0);
    p.set_load(1, 20, 1);
    p.set_load(2, 20, 1);
    for (int i = 0; i < 100; ++i) s.advance(36);
    Client c(s.port());
    ASSERT_GT(p.energy_kwh(1), 0.5);
    ASSERT_EQ(c.write_error(1126, 10203), 0);  // branch 1 kWh
    EXPECT_EQ(p.energy_kwh(1), 0.0);
    EXPECT_GT(p.energy_kwh(2), 0.5);
    EXPECT_EQ(c.reg(1168), 0);
    EXPECT_EQ(c.reg(1169), 0);
    EXPECT_NE(c.reg(1588 + 1), 0);  // max current of branch 2
    ASSERT_EQ(c.write_error(1126 + 1, 29877), 0);
    EXPECT_EQ(c.reg(1588 + 1), 0);
    EXPECT_NE(c.reg(1588), 0);
    ASSERT_EQ(c.write_error(1127, 4), 3);
    // Global kWh clear on unit 1 leaves unit 2 alone.
    s.panel(1).set_load(1, 20, 1);
    s.advance(360);
    ASSERT_EQ(c.write_error(295, 10203), 0);
    EXPECT_EQ(p.energy_kwh(2), 0.0);
    EXPECT_GT(s.panel(1).energy_kwh(1), 0.5);
}

TEST(BcpmSim, ScalesFollowCtSize) {
    BcpmServer s(manual());
    ASSERT_EQ(s.start(), "");
    s.panel(0).set_load(5, 12, 1);
    s.advance(1.8);
    Client c(s.port());
    int16_t before = c.sreg(1004);
    ASSERT_EQ(c.write_error(73 + 4, 1000), 0);  // 1000 A CT
    int16_t after = c.sreg(1004);
    EXPECT_GT(after, before);
    EXPECT_NEAR(scaled(c, 1336 + 4, 1004), 12.0, 0.1);
}

TEST(BcpmSim, ServesSeveralClientsAndBothUnits) {
    BcpmServer s(manual());
    ASSERT_EQ(s.start(), "");
    s.panel(0).set_load(1, 3, 1);
    s.panel(1).set_load(1, 7, 1);
    s.advance(1.8);
    std::vector<std::thread> th;
    std::atomic<int> good{0};
    for (int k = 0; k < 6; ++k)
        th.emplace_back([&, k] {
            Client c(s.port(), 1 + k % 2);
            for (int i = 0; i < 50; ++i) {
                double v = scaled(c, 1336, 1000);
                if (std::fabs(v - (k % 2 ? 7 : 3)) < 0.01) good++;
            }
        });
    for (auto& t : th) t.join();
    EXPECT_EQ(good.load(), 300);
}

TEST(BcpmSim, FaultInjection) {
    BcpmServer s(manual());
    ASSERT_EQ(s.start(), "");
    Client c(s.port());
    s.faults().exception_burst = 2;
    s.faults().exception_code = 6;
    EXPECT_EQ(c.read_error(5, 1), 6);
    EXPECT_EQ(c.read_error(5, 1), 6);
    EXPECT_EQ(c.read_error(5, 1), 0);
    s.faults().latency_ms = 300;
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(c.read_error(5, 1), 0);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(290));
    s.faults().latency_ms = 0;
    s.faults().silent = true;
    modbus_set_response_timeout(c.ctx, 0, 200000);
    EXPECT_EQ(c.read_error(5, 1), -ETIMEDOUT);
    s.faults().silent = false;
    modbus_flush(c.ctx);
    s.faults().drop_connections = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    EXPECT_NE(c.read_error(5, 1), 0);
    // Single-connection device: a second client is dropped.
    s.faults().max_connections = 1;
    Client a(s.port());
    EXPECT_EQ(a.read_error(5, 1), 0);
    modbus_t* b = modbus_new_tcp("127.0.0.1", s.port());
    modbus_set_response_timeout(b, 0, 300000);
    ASSERT_EQ(modbus_connect(b), 0);
    uint16_t v;
    EXPECT_EQ(modbus_read_registers(b, 4, 1, &v), -1);
    modbus_close(b);
    modbus_free(b);
}

TEST(BcpmSim, NonVolatileStateSurvivesRestart) {
    auto path = std::filesystem::temp_directory_path() / ("bcpm_nv_" + std::to_string(::getpid()));
    std::filesystem::remove(path);
    BcpmServerOptions o = manual();
    o.state_file = path.string();
    double kwh;
    {
        BcpmServer s(o);
        ASSERT_EQ(s.start(), "");
        s.panel(0).set_load(1, 20, 1);
        for (int i = 0; i < 10; ++i) s.advance(36);
        Client c(s.port());
        ASSERT_EQ(c.write_error(72, 60), 0);
        EXPECT_EQ(c.reg(531), 1);
        kwh = s.panel(0).energy_kwh(1);
        s.stop();
    }
    BcpmServer s(o);
    ASSERT_EQ(s.start(), "");
    Client c(s.port());
    EXPECT_EQ(c.reg(72), 60);
    EXPECT_EQ(c.reg(531), 2);
    EXPECT_DOUBLE_EQ(s.panel(0).energy_kwh(1), kwh);
    EXPECT_EQ(c.reg(1462), 0);  // present demand is volatile
    std::filesystem::remove(path);
}

TEST(BcpmSim, RealtimeRefreshKeepsValuesBetweenUpdates) {
    BcpmServerOptions o;
    o.port = 0;
    o.refresh_ms = 300;
    BcpmServer s(o);
    ASSERT_EQ(s.start(), "");
    Client c(s.port());
    // Wait for a refresh, then two reads inside one period agree.
    std::this_thread::sleep_for(std::chrono::milliseconds(350));
    uint16_t a[42], b[42];
    ASSERT_EQ(modbus_read_registers(c.ctx, 1335, 42, a), 42);
    ASSERT_EQ(modbus_read_registers(c.ctx, 1335, 42, b), 42);
    int same = std::memcmp(a, b, sizeof a) == 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(650));
    ASSERT_EQ(modbus_read_registers(c.ctx, 1335, 42, b), 42);
    EXPECT_TRUE(same || std::memcmp(a, b, sizeof a) != 0);
    EXPECT_NE(std::memcmp(a, b, sizeof a), 0) << "loads follow curves with noise: values change across refreshes";
    int loaded = 0;
    for (int i = 0; i < 42; ++i) loaded += a[i] > 0;
    EXPECT_GT(loaded, 30) << "most branches carry load";
}

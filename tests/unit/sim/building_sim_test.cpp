// The simulated building of the demand limit demo (plugins/sim,
// building_server.h): its power model, its registers and relays, and the
// same over Modbus TCP through libmodbus.
#include <gtest/gtest.h>
#include <modbus.h>

#include <cmath>

#include "building_server.h"

using namespace gridlet::sim;

namespace {
BuildingServerOptions options() {
    BuildingServerOptions o;
    o.base_kw = 20;
    o.swing_kw = 10;
    o.period_s = 600;
    o.loads = {{"boiler", 8}, {"fans", 2.5}};
    return o;
}
}  // namespace

TEST(BuildingSim, PowerIsTheSwingPlusTheLoadsWhoseRelayIsClosed) {
    BuildingServer b(options());
    EXPECT_DOUBLE_EQ(b.power_kw(0), 20 + 8 + 2.5) << "starts low, every relay closed";
    EXPECT_NEAR(b.power_kw(300), 30 + 10.5, 1e-9) << "the top of the swing, half a period in";
    const uint8_t open = 0;
    EXPECT_EQ(b.write_bits(5, 0, 1, &open), kOk);
    EXPECT_FALSE(b.relay(0));
    EXPECT_DOUBLE_EQ(b.power_kw(0), 22.5);
    uint8_t bits[4] = {9, 9, 9, 9};
    ASSERT_EQ(b.read_bits(1, 0, 4, bits), kOk);
    EXPECT_EQ(bits[0], 0);
    EXPECT_EQ(bits[1], 1);
    EXPECT_EQ(bits[2], 0) << "a relay with no load reads open";
    uint16_t regs[6] = {};
    ASSERT_EQ(b.read_registers(3, 0, 6, regs), kOk);
    EXPECT_EQ((uint32_t{regs[0]} << 16) | regs[1], 22500u) << "W, high word first";
    EXPECT_EQ(regs[4], 0) << "the boiler draws nothing, its relay open";
    EXPECT_EQ(regs[5], 25) << "0.1 kW";
}

TEST(BuildingSim, AnOfficeDayPlayedInDaySSeconds) {
    EXPECT_NEAR(BuildingServer::office_day(3), 0.15, 1e-9) << "night";
    EXPECT_NEAR(BuildingServer::office_day(23.5), 0.15, 1e-9);
    EXPECT_GT(BuildingServer::office_day(13.5), 0.9) << "the early afternoon peak";
    EXPECT_LE(BuildingServer::office_day(13.5), 1.0);
    EXPECT_LT(BuildingServer::office_day(12.6), BuildingServer::office_day(11.5)) << "the lunch dip";
    double previous = 0;
    for (double h = 5; h <= 11; h += 0.25) {  // the morning ramp only rises
        EXPECT_GE(BuildingServer::office_day(h), previous) << h << " h";
        previous = BuildingServer::office_day(h);
    }
    EXPECT_LT(BuildingServer::office_day(20), 0.5) << "the evening fall";
    BuildingServerOptions o = options();
    o.day_s = 240;  // an hour every 10 s
    BuildingServer b(o);
    EXPECT_NEAR(b.other_kw(30), 20 + 10 * BuildingServer::office_day(3), 1e-9) << "30 s in: 03:00";
    EXPECT_NEAR(b.other_kw(135), 20 + 10 * BuildingServer::office_day(13.5), 1e-9);
    EXPECT_NEAR(b.other_kw(240 + 30), b.other_kw(30), 1e-9) << "and the next day again";
    EXPECT_NEAR(b.power_kw(135), b.other_kw(135) + 10.5, 1e-9) << "plus the loads on";
}

TEST(BuildingSim, RefusesWhatItDoesNotHave) {
    BuildingServer b(options());
    const uint8_t one = 1;
    uint8_t bits[70];
    uint16_t regs[2];
    EXPECT_EQ(b.write_bits(5, 2, 1, &one), kIllegalDataAddress) << "no load on relay 3";
    EXPECT_EQ(b.read_bits(1, 60, 5, bits), kIllegalDataAddress) << "64 relays at most";
    EXPECT_EQ(b.read_bits(2, 0, 1, bits), kIllegalFunction) << "no discrete inputs";
    EXPECT_EQ(b.read_registers(4, 0, 1, regs), kIllegalFunction) << "no input registers";
    EXPECT_EQ(b.read_registers(3, 68, 1, regs), kIllegalDataAddress);
    EXPECT_EQ(b.write_registers(6, 0, 1, regs), kIllegalDataAddress) << "the meter is read-only";
    EXPECT_EQ(b.unit(2), nullptr) << "one unit";
}

TEST(BuildingSim, OverModbusTcpTheRelaysSwitchAndTheEnergyCounts) {
    BuildingServerOptions o = options();
    o.tick_ms = 20;
    BuildingServer b(o);
    ASSERT_EQ(b.start(), "");
    modbus_t* ctx = modbus_new_tcp("127.0.0.1", b.port());
    ASSERT_NE(ctx, nullptr);
    ASSERT_EQ(modbus_connect(ctx), 0) << modbus_strerror(errno);
    modbus_set_slave(ctx, 1);
    ASSERT_EQ(modbus_write_bit(ctx, 1, 0), 1) << modbus_strerror(errno);
    EXPECT_FALSE(b.relay(1));
    uint8_t bits[8] = {};
    ASSERT_EQ(modbus_read_bits(ctx, 0, 8, bits), 8);
    EXPECT_EQ(bits[0], 1);
    EXPECT_EQ(bits[1], 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    uint16_t regs[4] = {};
    ASSERT_EQ(modbus_read_registers(ctx, 0, 4, regs), 4);
    const double kw = ((uint32_t{regs[0]} << 16) | regs[1]) / 1000.0;
    EXPECT_GE(kw, 28.0);  // 20 + 8 + the swing's start
    EXPECT_LT(kw, 29.0);
    EXPECT_GT((uint32_t{regs[2]} << 16) | regs[3], 0u) << "Wh accumulate";
    modbus_close(ctx);
    modbus_free(ctx);
    b.stop();
}

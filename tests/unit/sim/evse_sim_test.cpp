// The EV station model and the EV site server (plugins/sim/evse_*): vehicle
// behaviour, register map and write checks, failures, the main meter, and
// Modbus TCP through libmodbus.
#include <gtest/gtest.h>
#include <modbus.h>

#include "evse_model.h"
#include "evse_server.h"

using namespace gridlet::sim;

namespace {
uint16_t reg(EvseStation& s, uint16_t a) {
    uint16_t v = 0;
    EXPECT_EQ(s.read_registers(3, a, 1, &v), kOk);
    return v;
}
uint8_t write(EvseStation& s, uint16_t a, uint16_t v) { return s.write_registers(6, a, 1, &v); }
}  // namespace

TEST(EvseStation, VehicleChargesAtTheLowerOfSetpointAndItsMaximumAfterTheResponseTime) {
    EvseStationOptions o;
    o.rated_current = 32;
    o.response_s = 2;
    EvseStation s(o);
    EXPECT_EQ(s.state(), EvseStation::Available);
    s.arrive({16, 10, 7200});
    EXPECT_EQ(s.state(), EvseStation::Connected);  // a charge request: not enabled
    s.advance(5);
    EXPECT_EQ(s.current(), 0);
    ASSERT_EQ(write(s, 5, 1), kOk);
    EXPECT_EQ(s.state(), EvseStation::Charging);
    s.advance(1);
    EXPECT_EQ(s.current(), 0) << "follows after the response time";
    s.advance(1);
    EXPECT_EQ(s.current(), 16) << "the vehicle takes at most 16 A of the 32 A setpoint";
    ASSERT_EQ(write(s, 4, 100), kOk);  // 10.0 A
    s.advance(2);
    EXPECT_EQ(s.current(), 10);
    EXPECT_EQ(reg(s, 6), 100);
    EXPECT_EQ(reg(s, 7), 100) << "three-phase: every phase";
    // 10 Ah needed: full after about an hour at 10 A, then 0 A and "waiting".
    for (int i = 0; i < 3700 && s.state() == EvseStation::Charging; ++i) s.advance(1);
    EXPECT_EQ(s.state(), EvseStation::Waiting);
    EXPECT_EQ(s.current(), 0);
    EXPECT_NEAR(s.session_ah(), 10, 0.05);
    uint16_t ah[2];
    ASSERT_EQ(s.read_registers(3, 9, 2, ah), kOk);
    EXPECT_NEAR(((ah[0] << 16) | ah[1]) / 100.0, 10, 0.05);
    // It leaves at the end of its stay; enable goes back to 0.
    for (int i = 0; i < 7200 && s.has_vehicle(); ++i) s.advance(1);
    EXPECT_EQ(s.state(), EvseStation::Available);
    EXPECT_EQ(reg(s, 5), 0);
}

TEST(EvseStation, RefusesSetpointsOutsideSixAmperesToRatedAndFailsAsAStation) {
    EvseStationOptions o;
    o.rated_current = 16;
    o.phases = 1;
    EvseStation s(o);
    EXPECT_EQ(write(s, 4, 50), kIllegalDataValue);   // 5 A < 6 A
    EXPECT_EQ(write(s, 4, 170), kIllegalDataValue);  // 17 A > rated
    EXPECT_EQ(write(s, 4, 0), kOk);                  // 0 = pause
    EXPECT_EQ(write(s, 2, 10), kIllegalDataAddress); // rated current is read-only
    EXPECT_EQ(write(s, 5, 2), kIllegalDataValue);
    s.arrive({32, 50, 3600});
    ASSERT_EQ(write(s, 4, 160), kOk);
    ASSERT_EQ(write(s, 5, 1), kOk);
    s.advance(3);
    EXPECT_EQ(s.current(), 16);
    EXPECT_EQ(reg(s, 7), 0) << "single-phase: l1 only";
    s.set_failure(true);
    EXPECT_EQ(s.state(), EvseStation::Error);
    EXPECT_EQ(s.current(), 0);
    EXPECT_EQ(reg(s, 1), 1);
    EXPECT_EQ(write(s, 4, 100), kServerDeviceFailure);
}

TEST(EvseServer, MeterAddsStationsToTheBackgroundPerPhaseAndServesModbus) {
    EvseServerOptions o;
    o.manual_time = true;
    o.background[0] = 40;
    o.background[1] = 30;
    o.background[2] = 20;
    EvseStationOptions a, b;
    a.unit = 1;
    a.response_s = 0;
    b.unit = 2;
    b.rated_current = 16;
    b.phases = 1;
    b.phase = 2;
    b.response_s = 0;
    o.stations = {a, b};
    o.schedule = {{1, 5, {32, 40, 3600}}, {2, 5, {16, 40, 3600}}};
    EvseServer server(o);
    ASSERT_EQ(server.start(), "");
    server.advance(6);
    EXPECT_EQ(server.station_state(1), EvseStation::Connected);

    modbus_t* ctx = modbus_new_tcp("127.0.0.1", server.port());
    ASSERT_EQ(modbus_connect(ctx), 0);
    modbus_set_slave(ctx, 1);
    ASSERT_EQ(modbus_write_register(ctx, 5, 1), 1);
    modbus_set_slave(ctx, 2);
    ASSERT_EQ(modbus_write_register(ctx, 5, 1), 1);
    server.advance(1);
    modbus_set_slave(ctx, 100);
    uint16_t m[6];
    ASSERT_EQ(modbus_read_registers(ctx, 0, 6, m), 6);
    EXPECT_EQ(m[0], 720);  // 40 + 32
    EXPECT_EQ(m[1], 780);  // 30 + 32 + 16 (single-phase on L2)
    EXPECT_EQ(m[2], 520);  // 20 + 32
    // Communication loss: the unit does not answer; the others still do.
    server.set_silent(1, true);
    modbus_set_response_timeout(ctx, 0, 200000);
    modbus_set_slave(ctx, 1);
    uint16_t st;
    EXPECT_EQ(modbus_read_registers(ctx, 0, 1, &st), -1);
    modbus_close(ctx);
    ASSERT_EQ(modbus_connect(ctx), 0);
    modbus_set_slave(ctx, 2);
    ASSERT_EQ(modbus_read_registers(ctx, 0, 1, &st), 1);
    EXPECT_EQ(st, EvseStation::Charging);
    modbus_close(ctx);
    modbus_free(ctx);
    server.stop();
}

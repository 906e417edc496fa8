// Sensor profiles (plugins/mqtt/sensor_profile.h): the shipped Building-IoT
// profiles load; decode() maps payloads to values and refuses what would be
// a wrong number.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "sensor_profile.h"

using namespace gridlet::mqtt;

namespace {

std::string profile_path(const std::string& name) {
    return std::string(GRIDLET_SOURCE_DIR) + "/config/profiles/" + name + ".toml";
}

const SensorPoint* point(const SensorProfile& p, const std::string& name) {
    for (const SensorPoint& x : p.points)
        if (x.name == name) return &x;
    return nullptr;
}

double value_of(const SensorProfile& p, const Decoded& d, const std::string& name) {
    for (const DecodedValue& v : d.values)
        if (p.points[v.point].name == name) return v.value;
    return -9999;
}

std::string write_profile(const std::string& body) {
    const std::string path = ::testing::TempDir() + "/profile_" +
                             ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".toml";
    std::ofstream(path) << body;
    return path;
}

}  // namespace

TEST(SensorProfile, TheBuildingIotProfilesLoad) {
    for (const char* name : {"iot_desk_occupancy", "iot_room_occupancy", "iot_well_being", "iot_advanced_well_being",
                             "iot_gateway"}) {
        SCOPED_TRACE(name);
        const SensorProfile p = load_sensor_profile(profile_path(name));
        EXPECT_EQ(p.name, name);
        EXPECT_EQ(p.timestamp_field, "/ts");
    }
    EXPECT_EQ(load_sensor_profile(profile_path("iot_gateway")).offline_after_s, 2700) << "45 minutes (manual)";
    const SensorProfile plus = load_sensor_profile(profile_path("iot_advanced_well_being"));
    EXPECT_TRUE(point(plus, "pm2_5") && point(plus, "co2") && point(plus, "tamper") && point(plus, "link_quality"));
}

TEST(SensorProfile, DecodesOccupancyTamperAndTheInstallationQualityClasses) {
    const SensorProfile p = load_sensor_profile(profile_path("iot_desk_occupancy"));
    const Decoded d = decode(
        p, R"({"ts":1764680400000,"occupancy":"occupied","tamperDetection":true,"rssi":-75,"outputPower":8,"battery":87})", 5);
    EXPECT_TRUE(d.refused.empty()) << d.refused;
    EXPECT_TRUE(d.invalid.empty());
    EXPECT_EQ(value_of(p, d, "occupancy"), 1);
    EXPECT_EQ(value_of(p, d, "tamper"), 1);
    EXPECT_EQ(value_of(p, d, "rssi"), -75);
    EXPECT_EQ(value_of(p, d, "link_quality"), 2) << ">= -75: good";
    EXPECT_EQ(value_of(p, d, "power_class"), 1) << "8 dB: full power";
    EXPECT_EQ(d.values.front().ts_ms, 1764680400000);
    for (auto [rssi, cls] : {std::pair{-76, 1}, {-84, 1}, {-85, 0}, {-95, 0}}) {
        const Decoded x = decode(p, R"({"ts":1,"rssi":)" + std::to_string(rssi) + "}", 0);
        EXPECT_EQ(value_of(p, x, "link_quality"), cls) << rssi;
    }
    const Decoded partial = decode(p, R"({"ts":1,"occupancy":"unoccupied"})", 0);
    EXPECT_EQ(partial.values.size(), 1u) << "sensors send what changed";
}

TEST(SensorProfile, RefusesWhatWouldBeAWrongNumber) {
    const SensorProfile p = load_sensor_profile(profile_path("iot_well_being"));
    EXPECT_EQ(decode(p, "{nope", 0).refused, "not JSON");
    EXPECT_EQ(decode(p, "[1]", 0).refused, "not a JSON object");
    EXPECT_NE(decode(p, R"({"co2":500})", 0).refused.find("no timestamp at /ts"), std::string::npos);
    EXPECT_NE(decode(p, R"({"ts":"x","co2":500})", 0).refused.find("milliseconds since 1970"), std::string::npos);
    EXPECT_NE(decode(p, R"({"ts":-1000,"co2":500})", 0).refused.find("milliseconds since 1970"), std::string::npos)
        << "before 1970 is no sensor's time";
    EXPECT_NE(decode(p, std::string(70'000, ' '), 0).refused.find("larger than"), std::string::npos);
    const Decoded d = decode(p, R"({"ts":1,"co2":"high","voc":-1,"noise":true,"battery":50})", 0);
    ASSERT_EQ(d.values.size(), 1u);
    EXPECT_EQ(value_of(p, d, "battery"), 50);
    ASSERT_EQ(d.invalid.size(), 3u);
    EXPECT_NE(d.invalid[0].find("co2: string where a number is expected"), std::string::npos) << d.invalid[0];
    EXPECT_NE(d.invalid[1].find("voc: "), std::string::npos);
    EXPECT_NE(d.invalid[2].find("noise: boolean"), std::string::npos) << d.invalid[2];
}

TEST(SensorProfile, TimestampsScaleMapAndPaths) {
    const SensorProfile p = load_sensor_profile(write_profile(R"(
[sensor_profile]
name = "t"
timestamp = "meta.time"
timestamp_format = "iso8601"
quality = "meta.ok"
[[points]]
name = "temp"
field = "/data/t"
scale = 0.1
offset = -1
[[points]]
name = "mode"
field = "data.mode"
kind = "state"
map = { eco = 0, comfort = 1 }
)"));
    const Decoded d = decode(
        p, R"({"meta":{"time":"2026-12-02T10:00:00.250+01:00","ok":false},"data":{"t":215,"mode":"comfort"}})", 0);
    ASSERT_TRUE(d.refused.empty()) << d.refused;
    ASSERT_EQ(d.values.size(), 2u);
    EXPECT_EQ(d.values[0].ts_ms, 1796202000250) << "09:00:00.250 UTC";
    EXPECT_DOUBLE_EQ(d.values[0].value, 20.5);
    EXPECT_EQ(d.values[0].quality, GL_QUALITY_BAD);
    EXPECT_EQ(d.values[1].value, 1);
    EXPECT_NE(decode(p, R"({"meta":{"time":"2026-12-02T10:00:00"},"data":{"t":1}})", 0).refused.find("with its offset"),
              std::string::npos)
        << "a local time without its offset is ambiguous";
    EXPECT_EQ(field_pointer("a.b"), "/a/b");
    EXPECT_EQ(field_pointer("/a/b"), "/a/b");
}

TEST(SensorProfile, BadProfilesAreRefusedWithFileAndLine) {
    const std::string path = write_profile("[sensor_profile]\nname = \"x\"\n[[points]]\nname = \"a\"\nfield = \"a\"\n"
                                           "kind = \"weird\"\n");
    try {
        load_sensor_profile(path);
        FAIL() << "accepted";
    } catch (const std::exception& e) {
        EXPECT_NE(std::string(e.what()).find(path + ":6: kind must be gauge, counter or state"), std::string::npos)
            << e.what();
    }
    EXPECT_THROW(load_sensor_profile(write_profile("[sensor_profile]\nname = \"x\"\n")), std::runtime_error);
    // "status" is the device's own online state: a point of that name is refused.
    const std::string status = write_profile("[sensor_profile]\nname = \"x\"\n[[points]]\nname = \"status\"\nfield = \"st\"\n");
    try {
        load_sensor_profile(status);
        FAIL() << "a point named status was accepted";
    } catch (const std::exception& e) {
        EXPECT_NE(std::string(e.what()).find(status + ":4: a point cannot be named 'status'"), std::string::npos) << e.what();
    }
    const std::string range = write_profile("[sensor_profile]\nname = \"x\"\n[[points]]\nname = \"a\"\nfield = \"a\"\n"
                                            "max = 1\nmin = 2\n");
    try {
        load_sensor_profile(range);
        FAIL() << "min above max was accepted";
    } catch (const std::exception& e) {
        EXPECT_NE(std::string(e.what()).find(range + ":7: point 'a': min is above max"), std::string::npos) << e.what();
    }
    EXPECT_THROW(load_sensor_profile(write_profile("[sensor_profile]\nname = \"x\"\nbogus = 1\n[[points]]\nname=\"a\"\nfield=\"a\"\n")),
                 std::runtime_error);
}

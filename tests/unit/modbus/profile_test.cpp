// Codec, profile loading (with file:line errors) and read planning.
#include "codec.h"
#include "profile.h"
#include "register_plan.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

using namespace gridlet::modbus;

TEST(Codec, EveryTypeAndOrderRoundTrips) {
    const ValueType types[] = {ValueType::Int16, ValueType::Uint16, ValueType::Int32, ValueType::Uint32,
                               ValueType::Float32, ValueType::Int64, ValueType::Uint64};
    const double values[] = {0, 1, 1234, 32767};
    for (ValueType t : types)
        for (Order wo : {Order::Big, Order::Little})
            for (Order bo : {Order::Big, Order::Little})
                for (double v : values) {
                    auto regs = encode(v, t, wo, bo);
                    ASSERT_TRUE(regs) << value_type_name(t);
                    ASSERT_EQ(static_cast<int>(regs->size()), register_count(t));
                    EXPECT_EQ(raw_to_number(raw_bits(regs->data(), t, wo, bo), t), v) << value_type_name(t);
                }
    EXPECT_EQ(raw_to_number(raw_bits(encode(-5, ValueType::Int16, Order::Big, Order::Big)->data(), ValueType::Int16, Order::Big, Order::Big), ValueType::Int16), -5);
    EXPECT_EQ(raw_to_number(raw_bits(encode(-70000, ValueType::Int32, Order::Little, Order::Big)->data(), ValueType::Int32, Order::Little, Order::Big), ValueType::Int32), -70000);
    EXPECT_FALSE(encode(70000, ValueType::Int16, Order::Big, Order::Big));
    EXPECT_FALSE(encode(-1, ValueType::Uint32, Order::Big, Order::Big));
    EXPECT_FALSE(encode(NAN, ValueType::Float32, Order::Big, Order::Big));
}

TEST(Codec, KnownLayouts) {
    // 3.14159 as float32 MSW first = 0x4049, 0x0FD0 (the point map's example).
    auto f = encode(3.14159, ValueType::Float32, Order::Big, Order::Big);
    EXPECT_EQ((*f)[0], 0x4049);
    EXPECT_EQ((*f)[1], 0x0FD0);
    auto fl = encode(3.14159, ValueType::Float32, Order::Little, Order::Big);
    EXPECT_EQ((*fl)[0], 0x0FD0);
    auto fb = encode(3.14159, ValueType::Float32, Order::Big, Order::Little);
    EXPECT_EQ((*fb)[0], 0x4940);
    uint16_t kwh[2] = {0x1234, 0x5678};
    EXPECT_EQ(raw_bits(kwh, ValueType::Uint32, Order::Big, Order::Big), 0x12345678u);
    EXPECT_EQ(raw_bits(kwh, ValueType::Uint32, Order::Little, Order::Big), 0x56781234u);
    uint16_t q[4] = {0x0001, 0x0002, 0x0003, 0x0004};
    EXPECT_EQ(raw_bits(q, ValueType::Int64, Order::Big, Order::Big), 0x0001000200030004ull);
    EXPECT_EQ(raw_bits(q, ValueType::Int64, Order::Little, Order::Little), 0x0400030002000100ull);
}

namespace {

std::string error_of(const std::string& toml) {
    try {
        parse_profile(toml, "p.toml");
    } catch (const ProfileError& e) {
        return e.what();
    }
    return "";
}

const char* kHead = "[profile]\nname = \"t\"\naddress_base = 1\n";

}  // namespace

TEST(Profile, ErrorsNameFileAndLine) {
    EXPECT_EQ(error_of(std::string(kHead) + "[[point]]\nname = \"a\"\naddress = 1\nbogus = 2\n"),
              "p.toml:7: unknown key 'bogus' in [[point]] (allowed: name, channels, fc, address, stride, type, word_order, "
              "byte_order, bit, scale, scale_register, scale_stride, scale_fc, multiplier, unit, kind, states, invalid, "
              "description, writable, write_fc)");
    EXPECT_EQ(error_of(std::string(kHead) + "[[point]]\nname = \"a\"\naddress = 1\ntype = \"int24\"\n"),
              "p.toml:7: unknown type 'int24' (bool, int16, uint16, int32, uint32, float32, int64, uint64)");
    EXPECT_EQ(error_of(std::string(kHead) + "[[point]]\nname = \"a{ch}\"\naddress = 1\n"),
              "p.toml:4: name 'a{ch}' has a {ch} template but no 'channels = [first, last]'");
    EXPECT_EQ(error_of(std::string(kHead) + "[[point]]\nname = \"a\"\naddress = 0\n"),
              "p.toml:6: 'address' = 0 is outside the register space (1..65536)");
    EXPECT_EQ(error_of(std::string(kHead) + "[[point]]\nname = \"a\"\naddress = 1\n[[point]]\nname = \"a\"\naddress = 2\n"),
              "p.toml:7: duplicate point or command name 'a'");
    EXPECT_EQ(error_of(std::string(kHead) + "[[readable]]\nfc = 3\nfirst = 1\nlast = 10\n[[point]]\nname = \"a\"\naddress = 11\n"),
              "p.toml:8: point 'a' (fc 3, register 11) lies outside every [[readable]] range of fc 3");
    EXPECT_EQ(error_of(std::string(kHead) + "[[point]]\nname = \"a\"\nfc = 4\naddress = 1\nwritable = true\n"),
              "p.toml:4: point 'a' is writable but fc 4 is a read-only table");
    EXPECT_EQ(error_of(std::string(kHead) + "[[point]]\nname = \"a b\"\naddress = 1\n"),
              "p.toml:4: name 'a b' is not a series path (segments of A-Z a-z 0-9 _ . - separated by '/')");
    EXPECT_EQ(error_of("[profile]\nname = \"t\"\n[[point]]\nname = \"x\"\naddress = [\n"),
              error_of("[profile]\nname = \"t\"\n[[point]]\nname = \"x\"\naddress = [\n"));
    EXPECT_EQ(error_of("[profile]\nname = \"t\"\n[[point]]\nname = \"x\"\naddress = [\n").rfind("p.toml:", 0), 0u);
    EXPECT_EQ(error_of("[[point]]\nname = \"x\"\naddress = 1\n"), "p.toml:1: missing [profile] table (name, address_base, ...)");
    EXPECT_EQ(error_of(std::string(kHead) + "[[point]]\nname = \"a\"\naddress = 1\nstates = { x = \"on\" }\n"),
              "p.toml:7: state key 'x' is not an integer");
    EXPECT_EQ(error_of(std::string(kHead) + "[[command]]\nname = \"r\"\naddress = 1\n"),
              "p.toml:4: [[command]] 'r' needs a 'value' (the code to write)");
}

TEST(Profile, TemplatesStatesAndDefaults) {
    Profile p = parse_profile(std::string(kHead) +
                                  "[[point]]\nname = \"b{ch:02}/i\"\nchannels = [1, 3]\naddress = 100\ntype = \"int16\"\n"
                                  "scale_register = 50\nunit = \"A\"\n"
                                  "[[point]]\nname = \"s\"\naddress = 7\nbit = 3\n"
                                  "[[point]]\nname = \"m\"\naddress = 8\nstates = { 2 = \"b\", 0 = \"a\" }\n"
                                  "[[command]]\nname = \"c{ch}\"\nchannels = [5, 6]\naddress = 200\nvalue = 9\n",
                              "x.toml");
    ASSERT_EQ(p.points.size(), 5u);
    EXPECT_EQ(p.points[0].name, "b01/i");
    EXPECT_EQ(p.points[2].name, "b03/i");
    EXPECT_EQ(p.points[2].address, 101u);  // documented 102, wire 101
    EXPECT_EQ(p.points[2].scale_register.address, 51u);
    EXPECT_EQ(p.points[3].kind, GL_SERIES_STATE);
    EXPECT_EQ(p.points[4].states, "0=a,2=b");
    ASSERT_EQ(p.commands.size(), 2u);
    EXPECT_EQ(p.commands[1].name, "c6");
    EXPECT_EQ(p.commands[1].address, 200u);
}

TEST(Profile, BcpmProfileLoads) {
    const char* src = std::getenv("GRIDLET_SOURCE_DIR");
    std::string dir = src ? src : GRIDLET_SOURCE_DIR_FALLBACK;
    Profile p = load_profile(dir + "/config/profiles/bcpm.toml");
    EXPECT_EQ(p.name, "bcpm");
    ASSERT_NE(p.find_point("branch42/kwh"), nullptr);
    EXPECT_EQ(p.find_point("branch42/kwh")->address, 1168u + 2 * 41 - 1);
    EXPECT_EQ(p.find_point("branch42/kwh")->kind, GL_SERIES_COUNTER);
    EXPECT_EQ(p.find_point("branch07/current")->scale_register.address, 1006u - 1);
    ASSERT_NE(p.find_command("branch07/reset_kwh"), nullptr);
    EXPECT_EQ(p.find_command("branch07/reset_kwh")->address, 1131u);
    EXPECT_EQ(p.find_command("reset/latched_alarms")->words.at(0), 31010);
    RegisterPlan plan = plan_reads(p);
    for (const ReadRequest& r : plan.requests) {
        EXPECT_LE(r.count, 125);
        EXPECT_TRUE(p.readable_span(r.fc, r.address, r.address + r.count - 1));
        EXPECT_FALSE(r.address <= 293 && r.address + r.count - 1 >= 293) << "reads must skip reset register 294";
        EXPECT_FALSE(r.address <= 1125 && r.address + r.count > 1125 + 1) << "reads must skip resets 1126..1167";
    }
    EXPECT_LE(plan.requests.size(), 14u);
}

TEST(Plan, MergesWithinLimitsAndReadableRanges) {
    std::string t = std::string(kHead) +
                    "max_gap = 2\n"
                    "[[readable]]\nfc = 3\nfirst = 1\nlast = 300\n[[readable]]\nfc = 3\nfirst = 302\nlast = 400\n"
                    "[[point]]\nname = \"a{ch}\"\nchannels = [1, 200]\naddress = 1\n"
                    "[[point]]\nname = \"b\"\naddress = 203\n"   // gap of 2 after 200: merged
                    "[[point]]\nname = \"c\"\naddress = 207\n"   // gap of 3: new request
                    "[[point]]\nname = \"d\"\naddress = 300\n"
                    "[[point]]\nname = \"e\"\naddress = 302\n"   // adjacent but another readable range
                    "[[point]]\nname = \"f\"\nfc = 4\naddress = 5\ntype = \"float32\"\n";
    Profile p = parse_profile(t, "m.toml");
    RegisterPlan plan = plan_reads(p);
    ASSERT_EQ(plan.requests.size(), 6u);
    EXPECT_EQ(plan.requests[0].count, 125);
    EXPECT_EQ(plan.requests[1].address, 125);
    EXPECT_EQ(plan.requests[1].count, 78);  // 126..203
    EXPECT_EQ(plan.requests[2].address, 206);
    EXPECT_EQ(plan.requests[3].address, 299);
    EXPECT_EQ(plan.requests[4].address, 301);
    EXPECT_EQ(plan.requests[5].fc, 4);
    EXPECT_EQ(plan.requests[5].count, 2);
    EXPECT_EQ(plan.points[p.points.size() - 1].request, 5);
}

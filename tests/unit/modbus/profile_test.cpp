// Codec, profile loading (with file:line errors) and read planning.
#include "codec.h"
#include "decoder.h"
#include "profile.h"
#include "register_plan.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>

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
              "description, writable, write_fc, alarm)");
    EXPECT_EQ(error_of(std::string(kHead) + "[[point]]\nname = \"a\"\naddress = 1\nalarm = \"major\"\n"),
              "p.toml:7: 'alarm' is the criticality of the device alarm this point reports: information, non_critical "
              "or critical (got 'major')");
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

// The poll decoder (fast paths for common points, a generic one for the rest)
// against the rules restated here from the codec, for every kind of point,
// random register contents with markers, and random failed requests.
TEST(Codec, PollDecoderMatchesTheRulesForEveryKindOfPoint) {
    const char* toml = R"(
[profile]
name = "mix"
max_registers = 8
max_gap = 0
[[point]]
name = "i16_fixed"
address = 0
type = "int16"
scale = -1
multiplier = 2.5
invalid = [0x8000]
[[point]]
name = "i16_plain"
address = 1
type = "int16"
[[point]]
name = "i16_scaled"
address = 2
type = "int16"
scale_register = 30
invalid = [0x8000]
[[point]]
name = "i16_scaled_far"
address = 3
type = "int16"
scale = 2
scale_register = 40
[[point]]
name = "u16"
address = 4
type = "uint16"
scale = 1
invalid = [0xFFFF, 0x7FFF, 0x18000]
[[point]]
name = "u16_scaled"
address = 5
type = "uint16"
scale_register = 30
[[point]]
name = "u16_swapped"
address = 6
type = "uint16"
byte_order = "little"
invalid = [0x0080]
[[point]]
name = "bit3"
address = 7
type = "uint16"
bit = 3
invalid = [0xFFFF]
[[point]]
name = "bit9_scaled"
address = 7
type = "int16"
bit = 9
scale_register = 30
[[point]]
name = "u32"
address = 10
type = "uint32"
scale_register = 30
invalid = [0x80000000]
[[point]]
name = "i32_ws"
address = 12
type = "int32"
word_order = "little"
[[point]]
name = "f32"
address = 14
type = "float32"
multiplier = 0.5
[[point]]
name = "f32_bs"
address = 16
type = "float32"
byte_order = "little"
[[point]]
name = "i64_ll"
address = 20
type = "int64"
word_order = "little"
byte_order = "little"
scale = -3
[[point]]
name = "u64"
address = 24
type = "uint64"
invalid = [0x7FFFFFFFFFFFFFFF]
[[point]]
name = "coil"
fc = 1
address = 5
type = "bool"
[[point]]
name = "input"
fc = 4
address = 9
type = "int16"
invalid = [0x8000]
)";
    Profile prof = parse_profile(toml, "mix.toml");
    RegisterPlan plan = plan_reads(prof);
    ASSERT_GT(plan.requests.size(), 4u);  // several requests, so failed ones matter
    PointDecoder dec(prof, plan);
    ASSERT_EQ(dec.points(), prof.points.size());
    std::vector<uint32_t> series(prof.points.size());
    for (size_t i = 0; i < series.size(); ++i) series[i] = static_cast<uint32_t>(100 + i);

    // The rules, restated (as the poller's value_of had them).
    auto expected = [&](size_t i, const std::vector<uint16_t>& regs, const std::vector<uint8_t>& ok, double* v,
                        uint8_t* q) {
        const Point& p = prof.points[i];
        const Location& loc = plan.points[i];
        if (loc.request < 0 || !ok[loc.request]) return false;
        const uint16_t* r = regs.data() + dec.request_offset(loc.request) + loc.offset;
        uint64_t raw = p.fc <= 2 ? r[0] : raw_bits(r, p.type, p.word_order, p.byte_order);
        bool bad = false;
        for (uint64_t m : p.invalid) bad = bad || raw == m;
        int exp = p.scale;
        if (p.has_scale_register) {
            const Location& sl = plan.scales[i];
            if (sl.request < 0 || !ok[sl.request]) return false;
            uint16_t s = regs[dec.request_offset(sl.request) + sl.offset];
            if (s == 0x8000) bad = true;
            else exp += static_cast<int16_t>(s);
        }
        double x = p.bit >= 0 ? static_cast<double>((raw >> p.bit) & 1) : raw_to_number(raw, p.type);
        if (std::isnan(x) || std::isinf(x)) bad = true;
        const auto [mult, e10] = fold_multiplier(p.multiplier, exp);  // the rule: divide by powers of ten
        *v = bad ? std::numeric_limits<double>::quiet_NaN() : p.bit >= 0 ? x : scaled(x, mult, e10);
        *q = bad ? GL_QUALITY_BAD : GL_QUALITY_GOOD;
        return true;
    };

    std::mt19937 rng(7);
    const uint16_t specials[] = {0x8000, 0xFFFF, 0x7FFF, 0x0080, 0x0000, 0x0001, 0x7F80, 0xFF80};
    std::vector<uint16_t> regs(dec.buffer_size());
    std::vector<uint8_t> ok(plan.requests.size());
    std::vector<gl_sample> out(dec.points());
    for (int round = 0; round < 4000; ++round) {
        for (uint16_t& r : regs) {
            unsigned k = rng() % 16;
            r = k < 8 ? specials[k] : static_cast<uint16_t>(rng());
        }
        // Scale registers: mostly small exponents, sometimes 0x8000.
        for (size_t i = 0; i < prof.points.size(); ++i)
            if (prof.points[i].has_scale_register && plan.scales[i].request >= 0) {
                uint16_t& s = regs[dec.request_offset(plan.scales[i].request) + plan.scales[i].offset];
                s = rng() % 8 == 0 ? 0x8000 : static_cast<uint16_t>(static_cast<int16_t>(rng() % 7) - 3);
            }
        for (uint8_t& o : ok) o = round % 3 == 0 ? 1 : rng() % 4 != 0;
        size_t n = dec.decode(regs.data(), ok.data(), 1234, series.data(), out.data());
        size_t at = 0;
        for (size_t i = 0; i < prof.points.size(); ++i) {
            double v, gv;
            uint8_t q, gq;
            bool has = expected(i, regs, ok, &v, &q);
            ASSERT_EQ(dec.value(i, regs.data(), ok.data(), &gv, &gq), has) << prof.points[i].name;
            if (!has) continue;
            ASSERT_LT(at, n);
            const gl_sample& s = out[at++];
            EXPECT_EQ(s.series_id, series[i]);
            EXPECT_EQ(s.ts_ms, 1234);
            EXPECT_EQ(s.quality, q) << prof.points[i].name;
            EXPECT_EQ(gq, q) << prof.points[i].name;
            EXPECT_EQ(std::memcmp(&s.value, &v, sizeof v), 0) << prof.points[i].name << ": " << s.value << " vs " << v;
            EXPECT_EQ(std::memcmp(&gv, &v, sizeof v), 0) << prof.points[i].name;
            EXPECT_EQ(s.reserved[0] | s.reserved[1] | s.reserved[2], 0);
        }
        ASSERT_EQ(at, n);
    }
}

// Scaled values are the double nearest to the decimal value the device
// means: 2540 with scale -2 is 25.4, not 25.400000000000002 (a retest found
// 2540 × 0.01 in the store), whether the power of ten comes from `scale`,
// a scale register or a multiplier of 0.01.
TEST(Codec, ScaledValuesAreTheNearestDoubleToTheDecimalValue) {
    const Profile prof = parse_profile(R"(
[profile]
name = "dec"
address_base = 0
[[point]]
name = "kw"
address = 0
type = "int16"
scale = -2
[[point]]
name = "hz"
address = 1
type = "uint16"
multiplier = 0.01
[[point]]
name = "kwh"
address = 2
type = "uint32"
scale = -3
[[point]]
name = "a"
address = 4
type = "int16"
scale_register = 5
)", "dec.toml");
    const RegisterPlan plan = plan_reads(prof);
    PointDecoder dec(prof, plan);
    std::vector<uint16_t> regs(dec.buffer_size(), 0);
    const auto at = [&](size_t point) -> uint16_t& {
        return regs[dec.request_offset(plan.points[point].request) + plan.points[point].offset];
    };
    at(0) = 2540;
    at(1) = 5998;
    at(2) = 0;
    regs[dec.request_offset(plan.points[2].request) + plan.points[2].offset + 1] = 12345;
    at(3) = 2515;
    regs[dec.request_offset(plan.scales[3].request) + plan.scales[3].offset] = static_cast<uint16_t>(-2);
    std::vector<uint8_t> ok(plan.requests.size(), 1);
    const double want[] = {25.4, 59.98, 12.345, 25.15};
    for (size_t i = 0; i < 4; ++i) {
        double v = 0;
        uint8_t q = 0;
        ASSERT_TRUE(dec.value(i, regs.data(), ok.data(), &v, &q)) << i;
        EXPECT_EQ(v, want[i]) << prof.points[i].name;
    }
    EXPECT_EQ(scaled(2540, 1.0, -2), 25.4);
    EXPECT_EQ(scaled(25, 1.0, 2), 2500.0);
}

#include "codec.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace gridlet::modbus {
namespace {

uint16_t swap16(uint16_t v) { return static_cast<uint16_t>((v << 8) | (v >> 8)); }

}  // namespace

std::optional<ValueType> parse_value_type(const std::string& s) {
    if (s == "bool") return ValueType::Bool;
    if (s == "int16") return ValueType::Int16;
    if (s == "uint16") return ValueType::Uint16;
    if (s == "int32") return ValueType::Int32;
    if (s == "uint32") return ValueType::Uint32;
    if (s == "float32") return ValueType::Float32;
    if (s == "int64") return ValueType::Int64;
    if (s == "uint64") return ValueType::Uint64;
    return std::nullopt;
}

const char* value_type_name(ValueType t) {
    switch (t) {
    case ValueType::Bool: return "bool";
    case ValueType::Int16: return "int16";
    case ValueType::Uint16: return "uint16";
    case ValueType::Int32: return "int32";
    case ValueType::Uint32: return "uint32";
    case ValueType::Float32: return "float32";
    case ValueType::Int64: return "int64";
    case ValueType::Uint64: return "uint64";
    }
    return "?";
}

bool is_integer(ValueType t) { return t != ValueType::Float32; }

uint64_t raw_bits(const uint16_t* regs, ValueType t, Order wo, Order bo) {
    int n = register_count(t);
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) {
        uint16_t r = regs[wo == Order::Big ? i : n - 1 - i];
        if (bo == Order::Little) r = swap16(r);
        v = (v << 16) | r;
    }
    return v;
}

std::optional<std::vector<uint16_t>> encode(double value, ValueType t, Order wo, Order bo) {
    if (std::isnan(value)) return std::nullopt;
    uint64_t raw = 0;
    auto fits = [&](double lo, double hi) { return value >= lo && value <= hi; };
    double r = std::round(value);
    switch (t) {
    case ValueType::Bool:
        raw = value != 0;
        break;
    case ValueType::Int16:
        if (!fits(-32768.5, 32767.49)) return std::nullopt;
        raw = static_cast<uint16_t>(static_cast<int16_t>(r));
        break;
    case ValueType::Uint16:
        if (!fits(-0.5, 65535.49)) return std::nullopt;
        raw = static_cast<uint16_t>(r);
        break;
    case ValueType::Int32:
        if (!fits(-2147483648.5, 2147483647.49)) return std::nullopt;
        raw = static_cast<uint32_t>(static_cast<int32_t>(r));
        break;
    case ValueType::Uint32:
        if (!fits(-0.5, 4294967295.49)) return std::nullopt;
        raw = static_cast<uint32_t>(r);
        break;
    case ValueType::Float32: {
        if (std::isinf(value) || std::fabs(value) > std::numeric_limits<float>::max()) return std::nullopt;
        float f = static_cast<float>(value);
        uint32_t b;
        std::memcpy(&b, &f, 4);
        raw = b;
        break;
    }
    case ValueType::Int64:
        if (!fits(-9.2233720368547758e18, 9.2233720368547748e18)) return std::nullopt;
        raw = static_cast<uint64_t>(static_cast<int64_t>(r));
        break;
    case ValueType::Uint64:
        if (!fits(-0.5, 1.8446744073709550e19)) return std::nullopt;
        raw = static_cast<uint64_t>(r);
        break;
    }
    int n = register_count(t);
    std::vector<uint16_t> regs(n);
    for (int i = 0; i < n; ++i) {
        uint16_t w = static_cast<uint16_t>(raw >> (16 * (n - 1 - i)));  // canonical: MSW first
        if (bo == Order::Little) w = swap16(w);
        regs[wo == Order::Big ? i : n - 1 - i] = w;
    }
    return regs;
}

}  // namespace gridlet::modbus

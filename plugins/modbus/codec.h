// Register codec: Modbus registers <-> numbers for the profile value types,
// word orders and byte orders.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace gridlet::modbus {

enum class ValueType : uint8_t { Bool, Int16, Uint16, Int32, Uint32, Float32, Int64, Uint64 };
enum class Order : uint8_t { Big, Little };  // word order: Big = most significant word first

std::optional<ValueType> parse_value_type(const std::string& s);
const char* value_type_name(ValueType t);
// Registers (or bits for Bool) one value occupies.
inline int register_count(ValueType t) {
    switch (t) {
    case ValueType::Bool:
    case ValueType::Int16:
    case ValueType::Uint16: return 1;
    case ValueType::Int32:
    case ValueType::Uint32:
    case ValueType::Float32: return 2;
    case ValueType::Int64:
    case ValueType::Uint64: return 4;
    }
    return 1;
}
bool is_integer(ValueType t);

// Raw bits of a value in canonical order (most significant first), after
// undoing the word and byte order. `regs` holds register_count(t) registers.
uint64_t raw_bits(const uint16_t* regs, ValueType t, Order word_order, Order byte_order);
// The number the raw bits stand for.
// (Inline: the poll decoder calls it for every point.)
inline double raw_to_number(uint64_t raw, ValueType t) {
    switch (t) {
    case ValueType::Bool: return raw ? 1 : 0;
    case ValueType::Int16: return static_cast<int16_t>(static_cast<uint16_t>(raw));
    case ValueType::Uint16: return static_cast<uint16_t>(raw);
    case ValueType::Int32: return static_cast<int32_t>(static_cast<uint32_t>(raw));
    case ValueType::Uint32: return static_cast<uint32_t>(raw);
    case ValueType::Float32: {
        uint32_t b = static_cast<uint32_t>(raw);
        float f;
        std::memcpy(&f, &b, 4);
        return f;
    }
    case ValueType::Int64: return static_cast<double>(static_cast<int64_t>(raw));
    case ValueType::Uint64: return static_cast<double>(raw);
    }
    return 0;
}
// Registers for a number (rounded for integer types); nullopt if it does not
// fit the type.
std::optional<std::vector<uint16_t>> encode(double value, ValueType t, Order word_order, Order byte_order);

}  // namespace gridlet::modbus

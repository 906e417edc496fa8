// Register codec: Modbus registers <-> numbers for the profile value types,
// word orders and byte orders.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gridlet::modbus {

enum class ValueType : uint8_t { Bool, Int16, Uint16, Int32, Uint32, Float32, Int64, Uint64 };
enum class Order : uint8_t { Big, Little };  // word order: Big = most significant word first

std::optional<ValueType> parse_value_type(const std::string& s);
const char* value_type_name(ValueType t);
// Registers (or bits for Bool) one value occupies.
int register_count(ValueType t);
bool is_integer(ValueType t);

// Raw bits of a value in canonical order (most significant first), after
// undoing the word and byte order. `regs` holds register_count(t) registers.
uint64_t raw_bits(const uint16_t* regs, ValueType t, Order word_order, Order byte_order);
// The number the raw bits stand for.
double raw_to_number(uint64_t raw, ValueType t);
// Registers for a number (rounded for integer types); nullopt if it does not
// fit the type.
std::optional<std::vector<uint16_t>> encode(double value, ValueType t, Order word_order, Order byte_order);

}  // namespace gridlet::modbus

// Device profiles: a register map in TOML (format in plugins/modbus/README.md)
// loaded into points (channel templates expanded), readable ranges and
// commands. All addresses here are wire (PDU, 0-based) addresses.
#pragma once

#include "codec.h"

#include <gridlet/plugin.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace gridlet::modbus {

// A profile error, already formatted as "file:line: message".
class ProfileError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct ReadableRange {
    int fc;
    uint32_t first, last;  // wire addresses, inclusive
};

struct ScaleRef {
    int fc = 3;
    uint32_t address = 0;  // wire address of an int16 exponent register
};

struct Point {
    std::string name;  // "branch07/current"
    int fc = 3;        // 1..4
    uint32_t address = 0;
    ValueType type = ValueType::Uint16;
    Order word_order = Order::Big, byte_order = Order::Big;
    int bit = -1;               // >= 0: the point is this bit of the raw value (0/1)
    int scale = 0;              // fixed exponent: value = raw * multiplier * 10^(scale [+ scale register])
    double multiplier = 1.0;
    bool has_scale_register = false;
    ScaleRef scale_register;
    std::vector<uint64_t> invalid;  // raw bit patterns meaning "no data"
    std::string unit, description, states;  // states: "0=normal,1=alarm"
    // A device alarm: the criticality of the alarm the device reports while
    // this point is non-zero (tag alarm=<criticality> on its series; the
    // kernel's alarms component raises it). "" when none.
    std::string alarm;
    gl_series_kind kind = GL_SERIES_GAUGE;
    bool writable = false;
    int write_fc = 0;  // 5, 6, 15 or 16 when writable
    std::string where;  // "file:line" of its definition
};

struct Command {
    std::string name;  // "reset/demand", "branch07/reset_kwh"
    int fc = 6;        // 5, 6, 15 or 16
    uint32_t address = 0;
    std::vector<uint16_t> words;  // what is written (coils: 0/1 values)
    std::string description;
    std::string where;
};

struct Profile {
    std::string name, description, file;
    int address_base = 0;
    int max_registers = 125;  // per read request (1..125)
    int max_bits = 2000;      // per coil / discrete read (1..2000)
    int max_gap = 0;          // merge reads across up to this many unneeded readable registers
    std::vector<ReadableRange> readable;
    std::vector<Point> points;
    std::vector<Command> commands;

    const Point* find_point(const std::string& name) const;
    const Command* find_command(const std::string& name) const;
    // True if [first, last] lies in one readable range of fc (or none are declared for fc).
    bool readable_span(int fc, uint32_t first, uint32_t last) const;
};

// Loads and validates a profile. Throws ProfileError("file:line: message").
Profile load_profile(const std::string& path);
Profile parse_profile(const std::string& toml_text, const std::string& file_name);

// Point or series name check: segments of [A-Za-z0-9_.-] separated by '/'.
bool valid_series_path(const std::string& s);

}  // namespace gridlet::modbus

// A generic simulated Modbus unit: mapped ranges of coils, discrete inputs,
// input and holding registers, with values set by tests or the sim plugin.
// Reads or writes touching an unmapped address give exception 02; a
// validator can refuse values with exception 03.
//
// Thread-safety: all methods lock.
#pragma once

#include "modbus_pdu.h"

#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <vector>

namespace gridlet::sim {

class RegisterBank : public RegisterSpace {
public:
    enum class Table { Coils = 1, Discrete = 2, Holding = 3, Input = 4 };

    // Maps PDU addresses [first, first+count) of a table; holding and coils
    // are writable unless read_only.
    void map(Table t, uint16_t first, uint16_t count, bool read_only = false);
    void set(Table t, uint16_t addr, uint16_t value);
    uint16_t get(Table t, uint16_t addr) const;
    // Called before a holding-register write is applied; return 0 to accept
    // or an exception code.
    void set_validator(std::function<uint8_t(uint16_t addr, uint16_t value)> v);
    uint64_t writes() const;

    uint8_t read_registers(int fc, uint16_t addr, uint16_t count, uint16_t* out) override;
    uint8_t write_registers(int fc, uint16_t addr, uint16_t count, const uint16_t* values) override;
    uint8_t read_bits(int fc, uint16_t addr, uint16_t count, uint8_t* out) override;
    uint8_t write_bits(int fc, uint16_t addr, uint16_t count, const uint8_t* values) override;

private:
    struct Cell {
        uint16_t value = 0;
        bool read_only = false;
    };
    std::map<uint16_t, Cell>& table(Table t) { return tables_[static_cast<int>(t) - 1]; }
    mutable std::mutex mu_;
    std::map<uint16_t, Cell> tables_[4];
    std::function<uint8_t(uint16_t, uint16_t)> validator_;
    uint64_t writes_ = 0;
};

// Routes unit ids to spaces (not owned).
class UnitMap : public UnitRouter {
public:
    void add(uint8_t unit, RegisterSpace* space) { units_[unit] = space; }
    RegisterSpace* unit(uint8_t id) override {
        auto it = units_.find(id);
        return it == units_.end() ? nullptr : it->second;
    }

private:
    std::map<uint8_t, RegisterSpace*> units_;
};

}  // namespace gridlet::sim

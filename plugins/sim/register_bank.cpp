#include "register_bank.h"

namespace gridlet::sim {

void RegisterBank::map(Table t, uint16_t first, uint16_t count, bool ro) {
    std::lock_guard lk(mu_);
    for (uint32_t a = first; a < uint32_t(first) + count && a <= 0xFFFF; ++a) table(t)[static_cast<uint16_t>(a)].read_only = ro;
}

void RegisterBank::set(Table t, uint16_t addr, uint16_t v) {
    std::lock_guard lk(mu_);
    table(t)[addr].value = v;
}

uint16_t RegisterBank::get(Table t, uint16_t addr) const {
    std::lock_guard lk(mu_);
    const auto& m = tables_[static_cast<int>(t) - 1];
    auto it = m.find(addr);
    return it == m.end() ? 0 : it->second.value;
}

void RegisterBank::set_validator(std::function<uint8_t(uint16_t, uint16_t)> v) {
    std::lock_guard lk(mu_);
    validator_ = std::move(v);
}

uint64_t RegisterBank::writes() const {
    std::lock_guard lk(mu_);
    return writes_;
}

uint8_t RegisterBank::read_registers(int fc, uint16_t addr, uint16_t count, uint16_t* out) {
    std::lock_guard lk(mu_);
    auto& m = table(fc == 4 ? Table::Input : Table::Holding);
    for (int i = 0; i < count; ++i) {
        auto it = m.find(static_cast<uint16_t>(addr + i));
        if (it == m.end()) return kIllegalDataAddress;
        out[i] = it->second.value;
    }
    return kOk;
}

uint8_t RegisterBank::write_registers(int, uint16_t addr, uint16_t count, const uint16_t* v) {
    std::lock_guard lk(mu_);
    auto& m = table(Table::Holding);
    for (int i = 0; i < count; ++i) {
        auto it = m.find(static_cast<uint16_t>(addr + i));
        if (it == m.end() || it->second.read_only) return kIllegalDataAddress;
        if (validator_)
            if (uint8_t e = validator_(static_cast<uint16_t>(addr + i), v[i])) return e;
    }
    for (int i = 0; i < count; ++i) m[static_cast<uint16_t>(addr + i)].value = v[i];
    writes_++;
    return kOk;
}

uint8_t RegisterBank::read_bits(int fc, uint16_t addr, uint16_t count, uint8_t* out) {
    std::lock_guard lk(mu_);
    auto& m = table(fc == 2 ? Table::Discrete : Table::Coils);
    for (int i = 0; i < count; ++i) {
        auto it = m.find(static_cast<uint16_t>(addr + i));
        if (it == m.end()) return kIllegalDataAddress;
        out[i] = it->second.value ? 1 : 0;
    }
    return kOk;
}

uint8_t RegisterBank::write_bits(int, uint16_t addr, uint16_t count, const uint8_t* v) {
    std::lock_guard lk(mu_);
    auto& m = table(Table::Coils);
    for (int i = 0; i < count; ++i) {
        auto it = m.find(static_cast<uint16_t>(addr + i));
        if (it == m.end() || it->second.read_only) return kIllegalDataAddress;
    }
    for (int i = 0; i < count; ++i) m[static_cast<uint16_t>(addr + i)].value = v[i];
    writes_++;
    return kOk;
}

}  // namespace gridlet::sim

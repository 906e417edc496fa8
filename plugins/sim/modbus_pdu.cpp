#include "modbus_pdu.h"

namespace gridlet::sim {
namespace {

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
void put16(std::vector<uint8_t>& v, uint16_t x) {
    v.push_back(static_cast<uint8_t>(x >> 8));
    v.push_back(static_cast<uint8_t>(x & 0xFF));
}

std::vector<uint8_t> read_regs(RegisterSpace& s, uint8_t fc, const uint8_t* p, size_t len) {
    if (len != 5) return exception_pdu(fc, kIllegalDataValue);
    uint16_t addr = be16(p + 1), count = be16(p + 3);
    if (count < 1 || count > 125) return exception_pdu(fc, kIllegalDataValue);
    if (uint32_t(addr) + count > 0x10000) return exception_pdu(fc, kIllegalDataAddress);
    uint16_t regs[125];
    uint8_t ex = s.read_registers(fc, addr, count, regs);
    if (ex) return exception_pdu(fc, ex);
    std::vector<uint8_t> r{fc, static_cast<uint8_t>(count * 2)};
    r.reserve(2 + count * 2);
    for (int i = 0; i < count; ++i) put16(r, regs[i]);
    return r;
}

std::vector<uint8_t> read_bits(RegisterSpace& s, uint8_t fc, const uint8_t* p, size_t len) {
    if (len != 5) return exception_pdu(fc, kIllegalDataValue);
    uint16_t addr = be16(p + 1), count = be16(p + 3);
    if (count < 1 || count > 2000) return exception_pdu(fc, kIllegalDataValue);
    if (uint32_t(addr) + count > 0x10000) return exception_pdu(fc, kIllegalDataAddress);
    std::vector<uint8_t> bits(count);
    uint8_t ex = s.read_bits(fc, addr, count, bits.data());
    if (ex) return exception_pdu(fc, ex);
    size_t nbytes = (count + 7) / 8;
    std::vector<uint8_t> r{fc, static_cast<uint8_t>(nbytes)};
    r.resize(2 + nbytes, 0);
    for (int i = 0; i < count; ++i)
        if (bits[i]) r[2 + i / 8] |= static_cast<uint8_t>(1u << (i % 8));
    return r;
}

}  // namespace

std::vector<uint8_t> exception_pdu(uint8_t fc, uint8_t code) {
    return {static_cast<uint8_t>(fc | 0x80), code};
}

std::vector<uint8_t> handle_pdu(RegisterSpace& s, const uint8_t* p, size_t len) {
    if (len < 1) return exception_pdu(0, kIllegalFunction);
    uint8_t fc = p[0];
    switch (fc) {
    case 1:
    case 2:
        return read_bits(s, fc, p, len);
    case 3:
    case 4:
        return read_regs(s, fc, p, len);
    case 5: {
        if (len != 5) return exception_pdu(fc, kIllegalDataValue);
        uint16_t addr = be16(p + 1), v = be16(p + 3);
        if (v != 0xFF00 && v != 0x0000) return exception_pdu(fc, kIllegalDataValue);
        uint8_t bit = v == 0xFF00;
        uint8_t ex = s.write_bits(fc, addr, 1, &bit);
        if (ex) return exception_pdu(fc, ex);
        return std::vector<uint8_t>(p, p + 5);
    }
    case 6: {
        if (len != 5) return exception_pdu(fc, kIllegalDataValue);
        uint16_t addr = be16(p + 1), v = be16(p + 3);
        uint8_t ex = s.write_registers(fc, addr, 1, &v);
        if (ex) return exception_pdu(fc, ex);
        return std::vector<uint8_t>(p, p + 5);
    }
    case 15: {
        if (len < 6) return exception_pdu(fc, kIllegalDataValue);
        uint16_t addr = be16(p + 1), count = be16(p + 3);
        uint8_t nbytes = p[5];
        if (count < 1 || count > 1968 || nbytes != (count + 7) / 8 || len != size_t(6 + nbytes))
            return exception_pdu(fc, kIllegalDataValue);
        if (uint32_t(addr) + count > 0x10000) return exception_pdu(fc, kIllegalDataAddress);
        std::vector<uint8_t> bits(count);
        for (int i = 0; i < count; ++i) bits[i] = (p[6 + i / 8] >> (i % 8)) & 1;
        uint8_t ex = s.write_bits(fc, addr, count, bits.data());
        if (ex) return exception_pdu(fc, ex);
        return std::vector<uint8_t>(p, p + 5);
    }
    case 16: {
        if (len < 6) return exception_pdu(fc, kIllegalDataValue);
        uint16_t addr = be16(p + 1), count = be16(p + 3);
        uint8_t nbytes = p[5];
        if (count < 1 || count > 123 || nbytes != count * 2 || len != size_t(6 + nbytes))
            return exception_pdu(fc, kIllegalDataValue);
        if (uint32_t(addr) + count > 0x10000) return exception_pdu(fc, kIllegalDataAddress);
        uint16_t regs[123];
        for (int i = 0; i < count; ++i) regs[i] = be16(p + 6 + 2 * i);
        uint8_t ex = s.write_registers(fc, addr, count, regs);
        if (ex) return exception_pdu(fc, ex);
        return std::vector<uint8_t>(p, p + 5);
    }
    case 17: {
        if (len != 1) return exception_pdu(fc, kIllegalDataValue);
        std::string data = s.report_server_id();
        if (data.empty()) return exception_pdu(fc, kIllegalFunction);
        if (data.size() > 240) data.resize(240);
        std::vector<uint8_t> r{fc, static_cast<uint8_t>(data.size() + 2), 0x01, 0xFF};
        r.insert(r.end(), data.begin(), data.end());
        return r;
    }
    default:
        return exception_pdu(fc, kIllegalFunction);
    }
}

int rtu_request_length(const uint8_t* f, size_t have) {
    if (have < 2) return 0;
    switch (f[1]) {
    case 1: case 2: case 3: case 4: case 5: case 6:
        return 8;
    case 15: case 16:
        if (have < 7) return 0;
        return 9 + f[6];
    case 17:
        return 4;
    default:
        return -1;
    }
}

uint16_t crc16_modbus(const uint8_t* d, size_t len) {
    uint16_t crc = 0xFFFF;
    for (size_t i = 0; i < len; ++i) {
        crc ^= d[i];
        for (int b = 0; b < 8; ++b) crc = (crc & 1) ? static_cast<uint16_t>((crc >> 1) ^ 0xA001) : static_cast<uint16_t>(crc >> 1);
    }
    return crc;
}

}  // namespace gridlet::sim

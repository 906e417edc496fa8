// Modbus PDU handling for the simulators: decodes one request PDU, calls a
// RegisterSpace (one unit id), and encodes the response PDU or exception.
// Transport-neutral: TcpServer and RtuServer frame what this returns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gridlet::sim {

// Modbus exception codes (0 = success).
enum ExceptionCode : uint8_t {
    kOk = 0,
    kIllegalFunction = 0x01,
    kIllegalDataAddress = 0x02,
    kIllegalDataValue = 0x03,
    kServerDeviceFailure = 0x04,
    kServerDeviceBusy = 0x06,
    kGatewayTargetFailed = 0x0B,
};

// One Modbus unit (unit id). Addresses are PDU (wire, 0-based) addresses.
// Implementations lock internally: the servers call them from their thread.
class RegisterSpace {
public:
    virtual ~RegisterSpace() = default;
    // fc 3 or 4; count already checked to be 1..125.
    virtual uint8_t read_registers(int fc, uint16_t addr, uint16_t count, uint16_t* out) = 0;
    // fc 6 or 16; count 1..123. All-or-nothing: on error nothing changes.
    virtual uint8_t write_registers(int fc, uint16_t addr, uint16_t count, const uint16_t* values) = 0;
    // fc 1 or 2; count 1..2000. out[i] is 0 or 1.
    virtual uint8_t read_bits(int /*fc*/, uint16_t, uint16_t, uint8_t*) { return kIllegalFunction; }
    // fc 5 or 15; count 1..1968.
    virtual uint8_t write_bits(int /*fc*/, uint16_t, uint16_t, const uint8_t*) { return kIllegalFunction; }
    // fc 17 "additional data"; empty = function not supported.
    virtual std::string report_server_id() { return {}; }
};

// Maps unit ids to spaces. nullptr = unit not served.
class UnitRouter {
public:
    virtual ~UnitRouter() = default;
    virtual RegisterSpace* unit(uint8_t unit_id) = 0;
    // What to do for an unknown unit: true = exception 0x0B, false = no reply.
    virtual bool answer_unknown_unit() const { return true; }
};

// Handles one request PDU (function code first). Returns the response PDU;
// a malformed request gets an exception reply, never a crash.
std::vector<uint8_t> handle_pdu(RegisterSpace& space, const uint8_t* pdu, size_t len);

// An exception response PDU for function `fc`.
std::vector<uint8_t> exception_pdu(uint8_t fc, uint8_t code);

// Length in bytes of an RTU request frame (address..CRC) judged from its
// first bytes, or 0 if more bytes are needed to tell, or -1 if the function
// code is unknown (then the frame ends at the inter-frame silence).
int rtu_request_length(const uint8_t* frame, size_t have);

uint16_t crc16_modbus(const uint8_t* data, size_t len);

}  // namespace gridlet::sim

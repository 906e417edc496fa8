// Modbus request PDUs and the checks of their replies, for the client side
// (the TCP link frames them; the fuzz target feeds decode_reply raw bytes).
// Source: Modbus Application Protocol Specification V1.1b3, 6.1-6.12 (function
// codes 1-6, 15, 16) and 7 (exception responses).
//
// Pure functions; any thread.
#pragma once

#include "link.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace gridlet::modbus {

// What was asked: a read (fc 1-4, `count` registers or bits) or a write
// (fc 5, 6, 15, 16 with `words`: one 0/1 per coil for 5/15).
struct Request {
    int fc = 3;
    uint16_t address = 0;
    uint16_t count = 0;                    // reads
    const std::vector<uint16_t>* words = nullptr;  // writes
};

// The request PDU (function code first), appended to `out`. Empty when the
// request itself is invalid (count out of 1..125 / 1..2000, unknown fc).
void encode_request(const Request& rq, std::vector<uint8_t>& out);

// Checks a reply PDU (function code first) against its request and, for
// reads, unpacks it into `out` (registers, or one 0/1 per uint16 for bits).
// Outcome Ok, Exception (with its code), or Malformed with what is wrong.
Result decode_reply(const Request& rq, const uint8_t* pdu, size_t len, uint16_t* out);

}  // namespace gridlet::modbus

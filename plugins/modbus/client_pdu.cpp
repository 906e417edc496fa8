#include "client_pdu.h"

#include <algorithm>
#include <string>

namespace gridlet::modbus {
namespace {

void put16(std::vector<uint8_t>& v, uint16_t x) {
    v.push_back(static_cast<uint8_t>(x >> 8));
    v.push_back(static_cast<uint8_t>(x & 0xFF));
}
uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

Result malformed(std::string what) { return {Outcome::Malformed, 0, "malformed reply (" + std::move(what) + ")"}; }

}  // namespace

void encode_request(const Request& rq, std::vector<uint8_t>& out) {
    const size_t start = out.size();
    auto fail = [&] { out.resize(start); };
    out.push_back(static_cast<uint8_t>(rq.fc));
    switch (rq.fc) {
    case 1:
    case 2:
    case 3:
    case 4: {
        const int max = rq.fc <= 2 ? 2000 : 125;
        if (rq.count < 1 || rq.count > max || uint32_t(rq.address) + rq.count > 0x10000) return fail();
        put16(out, rq.address);
        put16(out, rq.count);
        return;
    }
    case 5:
    case 6:
        if (!rq.words || rq.words->size() != 1) return fail();
        put16(out, rq.address);
        put16(out, rq.fc == 5 ? ((*rq.words)[0] ? 0xFF00 : 0x0000) : (*rq.words)[0]);
        return;
    case 15: {
        const size_t n = rq.words ? rq.words->size() : 0;
        if (n < 1 || n > 1968) return fail();
        put16(out, rq.address);
        put16(out, static_cast<uint16_t>(n));
        out.push_back(static_cast<uint8_t>((n + 7) / 8));
        for (size_t byte = 0; byte < (n + 7) / 8; ++byte) {
            uint8_t b = 0;
            for (size_t bit = 0; bit < 8 && byte * 8 + bit < n; ++bit)
                if ((*rq.words)[byte * 8 + bit]) b |= static_cast<uint8_t>(1u << bit);
            out.push_back(b);
        }
        return;
    }
    case 16: {
        const size_t n = rq.words ? rq.words->size() : 0;
        if (n < 1 || n > 123) return fail();
        put16(out, rq.address);
        put16(out, static_cast<uint16_t>(n));
        out.push_back(static_cast<uint8_t>(n * 2));
        for (uint16_t w : *rq.words) put16(out, w);
        return;
    }
    default: return fail();
    }
}

Result decode_reply(const Request& rq, const uint8_t* pdu, size_t len, uint16_t* out) {
    if (len < 1) return malformed("empty PDU");
    if (pdu[0] == (rq.fc | 0x80)) {
        if (len != 2) return malformed("exception reply of " + std::to_string(len) + " bytes");
        Result r{Outcome::Exception, pdu[1], ""};
        r.error = "Modbus exception " + exception_text(pdu[1]);
        return r;
    }
    if (pdu[0] != rq.fc)
        return malformed("function code " + std::to_string(pdu[0]) + " in reply to function " + std::to_string(rq.fc));
    switch (rq.fc) {
    case 1:
    case 2:
    case 3:
    case 4: {
        const size_t want = rq.fc <= 2 ? (rq.count + 7u) / 8u : rq.count * 2u;
        if (len < 2 || pdu[1] != want || len != 2 + want)
            return malformed("byte count " + std::to_string(len < 2 ? 0 : pdu[1]) + " for " + std::to_string(rq.count) +
                             (rq.fc <= 2 ? " bits" : " registers"));
        if (rq.fc <= 2)
            for (int i = 0; i < rq.count; ++i) out[i] = (pdu[2 + i / 8] >> (i % 8)) & 1;
        else
            for (int i = 0; i < rq.count; ++i) out[i] = be16(pdu + 2 + 2 * i);
        return {};
    }
    case 5:
    case 6: {
        std::vector<uint8_t> sent;
        encode_request(rq, sent);
        if (len != 5 || !std::equal(sent.begin(), sent.end(), pdu)) return malformed("write not echoed");
        return {};
    }
    case 15:
    case 16: {
        if (len != 5 || be16(pdu + 1) != rq.address || !rq.words || be16(pdu + 3) != rq.words->size())
            return malformed("write not confirmed");
        return {};
    }
    default: return malformed("unsupported function " + std::to_string(rq.fc));
    }
}

}  // namespace gridlet::modbus

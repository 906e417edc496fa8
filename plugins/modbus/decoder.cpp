#include "decoder.h"

#include <tuple>

#include <limits>

namespace gridlet::modbus {

PointDecoder::PointDecoder(const Profile& profile, const RegisterPlan& plan) {
    req_offset_.reserve(plan.requests.size() + 1);
    size_t at = 0;
    for (const ReadRequest& r : plan.requests) {
        req_offset_.push_back(at);
        at += r.count;
    }
    req_offset_.push_back(at);
    entries_.reserve(profile.points.size());
    for (size_t i = 0; i < profile.points.size(); ++i) {
        const Point& p = profile.points[i];
        const Location& loc = plan.points[i];
        Entry e{};
        e.multiplier = p.multiplier;
        e.req = loc.request;
        e.offset = loc.request >= 0 ? static_cast<uint32_t>(req_offset_[loc.request] + loc.offset) : 0;
        e.scale_req = -1;
        if (p.has_scale_register) {
            const Location& sl = plan.scales[i];
            // A scale register outside the plan: the point is never decodable.
            if (sl.request < 0) e.req = -1;
            e.scale_req = sl.request;
            e.scale_offset = sl.request >= 0 ? static_cast<uint32_t>(req_offset_[sl.request] + sl.offset) : 0;
        }
        std::tie(e.multiplier, e.scale) = fold_multiplier(p.multiplier, p.scale);
        e.bit = static_cast<int8_t>(p.bit);
        e.invalid_count = static_cast<uint32_t>(p.invalid.size());
        e.invalid0 = p.invalid.empty() ? 0 : p.invalid[0];
        e.invalid_begin = static_cast<uint32_t>(invalid_.size());
        if (p.invalid.size() > 1) invalid_.insert(invalid_.end(), p.invalid.begin() + 1, p.invalid.end());
        e.type = p.type;
        // fc 1/2 values are one bit per uint16, taken as is.
        int words = p.fc <= 2 ? 1 : register_count(p.type);
        e.word_order = p.fc <= 2 ? Order::Big : p.word_order;
        e.byte_order = p.fc <= 2 ? Order::Big : p.byte_order;
        if (words == 1) e.shape = e.byte_order == Order::Big ? Shape::One : Shape::OneSwapped;
        else if (words == 2 && e.byte_order == Order::Big) e.shape = e.word_order == Order::Big ? Shape::TwoBig : Shape::TwoWordSwapped;
        else e.shape = Shape::Other;

        e.kind = Kind::Generic;
        if (e.req >= 0 && e.shape == Shape::One && e.invalid_count <= 1 && p.fc >= 3 &&
            (p.type == ValueType::Int16 || p.type == ValueType::Uint16)) {
            if (e.bit >= 0 && e.scale_req < 0) e.kind = Kind::Bit;
            else if (e.bit < 0 && p.type == ValueType::Int16) e.kind = e.scale_req >= 0 ? Kind::Int16Scaled : Kind::Int16;
            else if (e.bit < 0 && e.scale_req < 0) e.kind = Kind::Uint16;
            // A raw register never equals ~0: "no marker" without a test.
            if (e.kind != Kind::Generic && e.invalid_count == 0) e.invalid0 = ~uint64_t{0};
        }
        entries_.push_back(e);
    }
}

bool PointDecoder::decode_generic(const Entry& e, const uint16_t* regs, const uint8_t* ok, double* out,
                                  uint8_t* quality) const {
    if (e.req < 0 || !ok[e.req]) return false;
    const uint16_t* r = regs + e.offset;
    uint64_t raw;
    switch (e.shape) {
    case Shape::One: raw = r[0]; break;
    case Shape::OneSwapped: raw = static_cast<uint16_t>((r[0] << 8) | (r[0] >> 8)); break;
    case Shape::TwoBig: raw = (uint64_t{r[0]} << 16) | r[1]; break;
    case Shape::TwoWordSwapped: raw = (uint64_t{r[1]} << 16) | r[0]; break;
    default: raw = raw_bits(r, e.type, e.word_order, e.byte_order); break;
    }
    bool bad = e.invalid_count > 0 && raw == e.invalid0;
    if (e.invalid_count > 1) {
        const uint64_t* inv = invalid_.data() + e.invalid_begin;
        for (unsigned k = 0; k + 1 < e.invalid_count; ++k) bad |= raw == inv[k];
    }
    int exp = e.scale;
    if (e.scale_req >= 0) {
        if (!ok[e.scale_req]) return false;
        uint16_t s = regs[e.scale_offset];
        if (s == 0x8000) bad = true;
        else exp += static_cast<int16_t>(s);
    }
    double v = e.bit >= 0 ? static_cast<double>((raw >> e.bit) & 1) : raw_to_number(raw, e.type);
    if (bad || !std::isfinite(v)) {
        *out = std::numeric_limits<double>::quiet_NaN();
        *quality = GL_QUALITY_BAD;
    } else {
        *out = e.bit >= 0 ? v : scaled(v, e.multiplier, exp);
        *quality = GL_QUALITY_GOOD;
    }
    return true;
}

size_t PointDecoder::decode(const uint16_t* regs, const uint8_t* ok, int64_t ts, const uint32_t* series,
                            gl_sample* out) const {
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    gl_sample* o = out;
    for (size_t i = 0; i < entries_.size(); ++i) {
        const Entry& e = entries_[i];
        double v;
        bool bad;
        // The fast kinds give exactly what decode_generic gives for them.
        switch (e.kind) {
        case Kind::Bit: {
            if (!ok[e.req]) continue;
            uint16_t raw = regs[e.offset];
            bad = raw == e.invalid0;
            v = static_cast<double>((raw >> e.bit) & 1);
            break;
        }
        case Kind::Int16: {
            if (!ok[e.req]) continue;
            uint16_t raw = regs[e.offset];
            bad = raw == e.invalid0;
            v = scaled(static_cast<double>(static_cast<int16_t>(raw)), e.multiplier, e.scale);
            break;
        }
        case Kind::Uint16: {
            if (!ok[e.req]) continue;
            uint16_t raw = regs[e.offset];
            bad = raw == e.invalid0;
            v = scaled(static_cast<double>(raw), e.multiplier, e.scale);
            break;
        }
        case Kind::Int16Scaled: {
            if (!ok[e.req] || !ok[e.scale_req]) continue;
            uint16_t raw = regs[e.offset];
            uint16_t s = regs[e.scale_offset];
            bad = raw == e.invalid0 || s == 0x8000;
            int exp = s == 0x8000 ? e.scale : e.scale + static_cast<int16_t>(s);
            v = scaled(static_cast<double>(static_cast<int16_t>(raw)), e.multiplier, exp);
            break;
        }
        default: {
            uint8_t q;
            if (!decode_generic(e, regs, ok, &v, &q)) continue;
            bad = q != GL_QUALITY_GOOD;
            break;
        }
        }
        o->ts_ms = ts;
        o->value = bad ? nan : v;
        o->series_id = series[i];
        o->quality = bad ? GL_QUALITY_BAD : GL_QUALITY_GOOD;
        o->reserved[0] = o->reserved[1] = o->reserved[2] = 0;
        ++o;
    }
    return static_cast<size_t>(o - out);
}

bool PointDecoder::value(size_t point, const uint16_t* regs, const uint8_t* ok, double* v, uint8_t* q) const {
    return point < entries_.size() && decode_generic(entries_[point], regs, ok, v, q);
}

}  // namespace gridlet::modbus

#include "payload.h"

#include <gridlet/json_text.hpp>

#include <charconv>
#include <cmath>

namespace gridlet::mqtt {

namespace {

using json_text::append_double;
using json_text::append_int;
using json_text::severity_name;

void append_json_value(std::string& out, double v) {
    if (std::isfinite(v)) append_double(out, v);
    else out += "null";
}
// Line protocol tag values: escape comma, equals and space.
void append_tag(std::string& out, std::string_view v) {
    for (char c : v) {
        if (c == ',' || c == '=' || c == ' ') out += '\\';
        if (c == '\n' || c == '\r') c = ' ';
        out += c;
    }
}
void append_sample_fields(std::string& out, const SampleView& s) {
    out += "\"ts\":";
    append_int(out, s.ts_ms);
    out += ",\"value\":";
    append_json_value(out, s.value);
    if (!s.unit.empty()) {
        out += ",\"unit\":\"";
        append_json_escaped(out, s.unit);
        out += '"';
    }
    if (s.kind) {
        out += ",\"kind\":\"";
        out += s.kind;
        out += '"';
    }
    if (!s.states.empty()) {
        out += ",\"states\":\"";
        append_json_escaped(out, s.states);
        out += '"';
    }
    out += ",\"quality\":";
    append_int(out, s.quality);
}

}  // namespace

void append_json_escaped(std::string& out, std::string_view text) { json_text::append_escaped(out, text); }

void append_json_sample(std::string& out, const SampleView& s, bool resent) {
    out += '{';
    append_sample_fields(out, s);
    out += resent ? ",\"resent\":true}" : ",\"resent\":false}";
}

void append_json_batch(std::string& out, std::string_view device, std::span<const SampleView> samples, bool resent) {
    if (!device.empty()) {
        out += "{\"device\":\"";
        append_json_escaped(out, device);
        out += resent ? "\",\"resent\":true,\"samples\":[" : "\",\"resent\":false,\"samples\":[";
    } else {
        out += resent ? "{\"resent\":true,\"samples\":[" : "{\"resent\":false,\"samples\":[";
    }
    const char* key = device.empty() ? "{\"series\":\"" : "{\"point\":\"";
    bool first = true;
    for (const SampleView& s : samples) {
        if (!first) out += ',';
        out += key;
        first = false;
        append_json_escaped(out, s.point);
        out += "\",";
        append_sample_fields(out, s);
        out += '}';
    }
    out += "]}";
}

void append_line_protocol(std::string& out, std::string_view measurement, std::string_view site,
                          std::string_view device, std::span<const SampleView> samples, bool resent) {
    for (const SampleView& s : samples) {
        append_tag(out, measurement);
        out += ",site=";
        append_tag(out, site);
        out += ",device=";
        append_tag(out, device);
        out += ",point=";
        append_tag(out, s.point);
        if (!s.unit.empty()) {
            out += ",unit=";
            append_tag(out, s.unit);
        }
        out += ' ';
        if (std::isfinite(s.value)) {
            out += "value=";
            append_double(out, s.value);
            out += ',';
        }
        out += "quality=";
        append_int(out, s.quality);
        out += 'i';
        if (resent) out += ",resent=true";
        out += ' ';
        append_int(out, s.ts_ms);
        out += "000000\n";
    }
}

void append_json_event(std::string& out, const gl_event& e, bool resent) {
    out += "{\"ts\":";
    append_int(out, e.ts_ms);
    out += ",\"source\":\"";
    append_json_escaped(out, e.source ? e.source : "");
    out += "\",\"type\":\"";
    append_json_escaped(out, e.type ? e.type : "");
    out += "\",\"severity\":\"";
    out += severity_name(e.severity);
    out += "\",\"body\":";
    // The body is a JSON object (the bus checks it); an empty one is {}.
    if (e.body_json && e.body_len) out.append(e.body_json, e.body_len);
    else out += "{}";
    out += resent ? ",\"resent\":true}" : ",\"resent\":false}";
}

}  // namespace gridlet::mqtt

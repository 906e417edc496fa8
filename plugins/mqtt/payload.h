// MQTT payloads of the north side: JSON (one sample, or a batch of one
// device's samples), InfluxDB line protocol, and events as JSON. Pure
// functions appending to a caller's buffer (no allocation per sample on the
// hot path); any thread.
//
// Shapes (times are UTC ms since 1970; quality as OPC: 192 good, 0 bad; a
// NaN or infinite value is written as null, or left out of a line):
//   json:       {"ts":1764680400000,"value":12.5,"unit":"A","quality":192,"resent":false}
//               ("kind":"counter" or "state" after "unit" for those series, a gauge says nothing;
//                a state series then names its labels: "states":"0=unknown,1=online,2=offline")
//   json_batch: {"device":"panel1","resent":false,"samples":[
//                  {"point":"branch07/current","ts":1764680400000,"value":12.5,"unit":"A","quality":192}, ...]}
//               or, for a topic without {device} (one batch of every device):
//               {"resent":false,"samples":[{"series":"panel1/branch07/current","ts":...}, ...]}
//   line:       gridlet,site=demo,device=panel1,point=branch07/current,unit=A value=12.5,quality=192i 1764680400000000000
//               (",resent=true" added to the fields of a re-sent line; InfluxDB line protocol 2.x, ns precision)
//   event:      {"ts":...,"source":"kernel","type":"alarm","severity":"warning","body":{...},"resent":false}
// "resent" is true for what left from the backlog: data stored while the
// broker was away, or sent before and not acknowledged (a duplicate is then
// possible; the subscriber can drop it by series and ts).
#pragma once

#include <gridlet/plugin.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace gridlet::mqtt {

struct SampleView {
    std::string_view point;  // the series name without its device segment (the
                             // whole name in a batch of every device)
    std::string_view unit;   // may be empty
    int64_t ts_ms = 0;
    double value = 0;
    uint8_t quality = GL_QUALITY_GOOD;
    const char* kind = nullptr;  // "counter" or "state"; null for a gauge (not written)
    std::string_view states{};   // a state series' labels, "0=off,1=on" (written when not empty)
};

void append_json_sample(std::string& out, const SampleView& s, bool resent);
void append_json_batch(std::string& out, std::string_view device, std::span<const SampleView> samples, bool resent);
void append_line_protocol(std::string& out, std::string_view measurement, std::string_view site,
                          std::string_view device, std::span<const SampleView> samples, bool resent);
void append_json_event(std::string& out, const gl_event& e, bool resent);

// JSON string body (quotes not included): ", \ and control characters escaped.
void append_json_escaped(std::string& out, std::string_view text);

}  // namespace gridlet::mqtt

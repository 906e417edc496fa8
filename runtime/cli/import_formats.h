// What `gridlet import` reads besides its own CSV: InfluxDB line protocol
// (https://docs.influxdata.com/influxdb/v2/reference/syntax/line-protocol/)
// and the Socomec WEBVIEW data files (the manual's Annex I CSV and Annex II
// EMS: runtime/export/socomec_files.h writes them), and how their names
// become series names. Pure functions; CLI thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gridlet::cli {

// One field of a line: a number (floats, 12i, 12u, booleans as 1/0) or a
// string (not a sample).
struct LineField {
    std::string key;
    double number = 0;
    bool is_string = false;
};

struct LinePoint {
    std::string measurement;
    std::vector<std::pair<std::string, std::string>> tags;  // in the line's order, unescaped
    std::vector<LineField> fields;
    std::optional<int64_t> timestamp;  // in the line's precision
};

// Parses one line (not empty, not a # comment). Errors say what and at
// which character: "field 'x': '1.2.3' is not a number (column 17)".
bool parse_line_protocol(std::string_view line, LinePoint& out, std::string& error);

// A series name of `segments`, each made of the characters a segment takes
// (letters, digits, '_', '-', '.'): '+' becomes "plus", every other
// character '_' (runs of them one), empty segments dropped. "" when fewer
// than two segments remain.
std::string series_name_of(const std::vector<std::string>& segments);

// The series a line's numeric field goes to, and the quality and unit it
// carries:
//   - gridlet's own lines (the MQTT plugin's `line` format: tags device and
//     point, fields value and quality): <device>/<point>, its quality, its
//     unit tag; other fields are not samples;
//   - any other line: <measurement>/<tag values in key order>/<field>.
// `skip` true for a field that is not a sample (gridlet's quality, resent).
struct LineSample {
    std::string series;
    std::string unit;
    int quality = 192;
    bool skip = false;
};
LineSample line_sample(const LinePoint& p, const LineField& f);

// The Socomec EMS variable name "<quantity> of <circuit> of <device>" as
// <device>/<circuit>/<quantity> (other shapes: the name's words joined by
// '_' under "socomec/"), as series_name_of makes it.
std::string socomec_ems_series(const std::string& name);
// A Socomec CSV column: <device>/<load>/<measured value>.
std::string socomec_csv_series(const std::string& device, const std::string& load, const std::string& measured);

}  // namespace gridlet::cli

// Sensor profiles of the mqtt plugin's south side: how the JSON payloads of
// one kind of sensor map to series, in a TOML file like the Modbus profiles
// (config/profiles/<name>.toml with a [sensor_profile] table). Format and
// every key: plugins/mqtt/README.md, "South".
//
// decode() is a pure function of (profile, payload, arrival time): what the
// plugin stores, or why nothing is stored. A payload never yields a wrong
// number: a value of the wrong type (a boolean is 0/1 only for a state
// point or through `map`), outside [min, max], or not in `map`
// makes that point invalid (counted, said), and a payload that is not a
// JSON object, is too large, or has an unreadable timestamp yields nothing.
// Any thread.
#pragma once

#include <gridlet/plugin.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gridlet::mqtt {

enum class TimeFormat { epoch_ms, epoch_s, iso8601 };

struct SensorPoint {
    std::string name;       // the point: series "<device>/<name>"
    std::string field;      // JSON pointer ("/a/b"); dotted paths are turned into one
    std::string unit;
    gl_series_kind kind = GL_SERIES_GAUGE;
    std::string states;     // "0=unoccupied,1=occupied" for state points
    std::string description;
    double scale = 1, offset = 0;               // value = raw * scale + offset
    std::optional<double> min, max;             // plausible range of the value
    std::map<std::string, double> map;          // string values to numbers ("true"/"false" for booleans)
    std::vector<double> thresholds;             // value = how many it reaches (>=), ascending
};

struct SensorProfile {
    std::string name, file, description;
    std::string timestamp_field;                // "" = arrival time
    TimeFormat timestamp_format = TimeFormat::epoch_ms;
    std::string quality_field;                  // "" = good; else true/"good"/192 = good
    int64_t offline_after_s = 90'000;           // no message for this long: offline
    std::vector<SensorPoint> points;
};

// Loads and checks a profile file. Throws std::runtime_error "file:line: what".
SensorProfile load_sensor_profile(const std::string& path);

struct DecodedValue {
    size_t point = 0;  // index into profile.points
    int64_t ts_ms = 0;
    double value = 0;
    uint8_t quality = GL_QUALITY_GOOD;
};

struct Decoded {
    std::vector<DecodedValue> values;
    std::vector<std::string> invalid;  // "co2: a string where a number is expected", one per refused point
    std::string refused;               // the whole payload refused: why ("" when not)
};

constexpr size_t kMaxPayloadBytes = 65'536;

Decoded decode(const SensorProfile& profile, std::string_view payload, int64_t arrival_ms);

// "a.b" -> "/a/b"; "/a/b" stays; "" stays "".
std::string field_pointer(std::string_view field);

}  // namespace gridlet::mqtt

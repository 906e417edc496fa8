#include "cli/import_formats.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace gridlet::cli {

namespace {

// Reads up to an unescaped character of `stops` (or the end); "\x" gives x
// for the escapable ones (',', ' ', '=', '\\', '"'). `at` moves past it.
std::string take_until(std::string_view s, size_t& at, std::string_view stops) {
    std::string out;
    while (at < s.size() && stops.find(s[at]) == std::string_view::npos) {
        if (s[at] == '\\' && at + 1 < s.size() && std::string_view(", =\\\"").find(s[at + 1]) != std::string_view::npos) {
            out.push_back(s[at + 1]);
            at += 2;
            continue;
        }
        out.push_back(s[at++]);
    }
    return out;
}

bool number_of(std::string_view text, double& out) {
    if (text.empty()) return false;
    const char* end = text.data() + text.size();
    auto [p, ec] = std::from_chars(text.data(), end, out);
    return ec == std::errc() && p == end && std::isfinite(out);
}

std::string column(size_t at) { return " (column " + std::to_string(at + 1) + ")"; }

}  // namespace

bool parse_line_protocol(std::string_view line, LinePoint& out, std::string& error) {
    out = {};
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t at = 0;
    out.measurement = take_until(line, at, ", ");
    if (out.measurement.empty()) return error = "no measurement" + column(at), false;
    while (at < line.size() && line[at] == ',') {
        ++at;
        const size_t start = at;
        std::string key = take_until(line, at, "=, ");
        if (at >= line.size() || line[at] != '=' || key.empty())
            return error = "tag '" + key + "' has no value" + column(start), false;
        ++at;
        std::string value = take_until(line, at, ", ");
        if (value.empty()) return error = "tag '" + key + "' is empty" + column(start), false;
        out.tags.emplace_back(std::move(key), std::move(value));
    }
    if (at >= line.size() || line[at] != ' ') return error = "no fields after the measurement and tags" + column(at), false;
    while (at < line.size() && line[at] == ' ') ++at;
    // Fields: key=value, separated by commas, up to the space before the timestamp.
    for (;;) {
        const size_t start = at;
        std::string key = take_until(line, at, "=, ");
        if (key.empty() || at >= line.size() || line[at] != '=')
            return error = "field '" + key + "' has no value" + column(start), false;
        ++at;
        LineField f;
        f.key = std::move(key);
        if (at < line.size() && line[at] == '"') {  // a string: to the closing quote
            ++at;
            bool closed = false;
            while (at < line.size()) {
                if (line[at] == '\\' && at + 1 < line.size()) {
                    at += 2;
                    continue;
                }
                if (line[at++] == '"') {
                    closed = true;
                    break;
                }
            }
            if (!closed) return error = "field '" + f.key + "': a string with no closing quote" + column(start), false;
            f.is_string = true;
        } else {
            const size_t vstart = at;
            while (at < line.size() && line[at] != ',' && line[at] != ' ') ++at;
            std::string_view v = line.substr(vstart, at - vstart);
            if (v == "t" || v == "T" || v == "true" || v == "True" || v == "TRUE") f.number = 1;
            else if (v == "f" || v == "F" || v == "false" || v == "False" || v == "FALSE") f.number = 0;
            else if (!v.empty() && (v.back() == 'i' || v.back() == 'u')) {
                int64_t n = 0;
                const char* end = v.data() + v.size() - 1;
                auto [p, ec] = std::from_chars(v.data(), end, n);
                if (ec != std::errc() || p != end || (v.back() == 'u' && n < 0))
                    return error = "field '" + f.key + "': '" + std::string(v) + "' is not an integer" + column(vstart), false;
                f.number = static_cast<double>(n);
            } else if (!number_of(v, f.number)) {
                return error = "field '" + f.key + "': '" + std::string(v) + "' is not a number" + column(vstart), false;
            }
        }
        out.fields.push_back(std::move(f));
        if (at < line.size() && line[at] == ',') {
            ++at;
            continue;
        }
        break;
    }
    while (at < line.size() && line[at] == ' ') ++at;
    if (at < line.size()) {
        const size_t start = at;
        int64_t ts = 0;
        const char* end = line.data() + line.size();
        auto [p, ec] = std::from_chars(line.data() + at, end, ts);
        if (ec != std::errc() || p != end)
            return error = "timestamp '" + std::string(line.substr(start)) + "' is not an integer" + column(start), false;
        out.timestamp = ts;
    }
    return true;
}

std::string series_name_of(const std::vector<std::string>& segments) {
    std::string name;
    size_t kept = 0;
    for (const std::string& seg : segments) {
        std::string clean;
        for (char c : seg) {
            const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                            c == '-' || c == '.';
            if (ok) clean.push_back(c);
            else if (c == '+') clean += clean.empty() || clean.back() == '_' ? "plus" : "_plus";
            else if (!clean.empty() && clean.back() != '_') clean.push_back('_');
        }
        while (!clean.empty() && clean.back() == '_') clean.pop_back();
        if (clean.empty() || clean == "." || clean == "..") continue;
        if (kept++) name.push_back('/');
        name += clean;
    }
    return kept >= 2 ? name : "";
}

LineSample line_sample(const LinePoint& p, const LineField& f) {
    LineSample s;
    const std::string* device = nullptr;
    const std::string* point = nullptr;
    for (const auto& [k, v] : p.tags) {
        if (k == "device") device = &v;
        else if (k == "point") point = &v;
        else if (k == "unit") s.unit = v;
    }
    if (device && point) {  // gridlet's own line
        s.skip = f.key != "value";
        if (!s.skip) {
            s.series = *device + "/" + *point;
            for (const LineField& q : p.fields)
                if (q.key == "quality" && !q.is_string) s.quality = static_cast<int>(q.number);
        }
        return s;
    }
    s.unit.clear();
    std::vector<std::pair<std::string, std::string>> tags = p.tags;
    std::sort(tags.begin(), tags.end());
    std::vector<std::string> segments{p.measurement};
    for (const auto& t : tags) segments.push_back(t.second);
    segments.push_back(f.key);
    s.series = series_name_of(segments);
    return s;
}

std::string socomec_ems_series(const std::string& name) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (;;) {
        const size_t of = name.find(" of ", start);
        parts.push_back(name.substr(start, of == std::string::npos ? std::string::npos : of - start));
        if (of == std::string::npos) break;
        start = of + 4;
    }
    if (parts.size() >= 2) {
        std::reverse(parts.begin(), parts.end());
        return series_name_of(parts);
    }
    return series_name_of({"socomec", name});
}

std::string socomec_csv_series(const std::string& device, const std::string& load, const std::string& measured) {
    return series_name_of({device, load, measured});
}

}  // namespace gridlet::cli

#include "export/socomec_files.h"

#include <charconv>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <numeric>
#include <unordered_map>

namespace gridlet::exporter::socomec {

const char* ems_name(DataType t) {
    switch (t) {
        case DataType::avg: return "Avg";
        case DataType::load_curve: return "LoadCurve";
        case DataType::index: return "Index";
    }
    return "?";
}

Expected<DataType> parse_data_type(std::string_view text) {
    if (text == "avg" || text == "Avg") return DataType::avg;
    if (text == "load_curve" || text == "LoadCurve") return DataType::load_curve;
    if (text == "index" || text == "Index") return DataType::index;
    return Status::invalid("data_type '" + std::string(text) + "': avg, load_curve or index");
}

std::string local_timestamp(int64_t utc_ms, const TimeZone& tz) {
    const CivilTime c = tz.to_local(utc_ms);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", c.year, c.month, c.day, c.hour, c.minute, c.second);
    return buf;
}

namespace {
std::string integer(double v) {
    if (std::fabs(v) < 9e15) return std::to_string(static_cast<int64_t>(v));  // v is whole (rounded)
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
}
std::string integer(int64_t v) { return std::to_string(v); }

// An average carries the noise of its sum (3.1234559999999996 for samples
// of 3.123456): 9 decimals are far below any meter's resolution.
double nine_decimals(double v) {
    if (!std::isfinite(v) || std::fabs(v) >= 1e9) return v;
    const double r = std::round(v * 1e9) / 1e9;
    return r == 0 ? 0.0 : r;
}

// local_timestamp() of the same instants over and over (every variable of
// a file has the same steps): each converted once.
class TimestampCache {
public:
    explicit TimestampCache(const TimeZone& tz) : tz_(tz) {}
    const std::string& operator()(int64_t utc_ms) {
        auto [it, fresh] = cache_.try_emplace(utc_ms);
        if (fresh) it->second = local_timestamp(utc_ms, tz_);
        return it->second;
    }

private:
    const TimeZone& tz_;
    std::unordered_map<int64_t, std::string> cache_;
};
}  // namespace

std::string ems_key(const EmsHeader& h, const EmsVariable& v) {
    return h.site + " " + h.server + " " + integer(v.device_id) + " " + integer(v.index) + " " + v.type + " " +
           integer(v.data_id);
}

void ems_rows(RowSink& out, const EmsHeader& h, const std::vector<EmsVariable>& variables,
              const std::vector<std::vector<Reading>>& readings, const TimeZone& tz) {
    out.row({"Data Type", "TimeZone", "Datation", "Transfer Cycle (sec)", "Pooling Time", "Version", "Site name",
             "Server name"});
    out.row({ems_name(h.type), h.time_zone, "Local", integer(h.transfer_cycle_s), "N/A", "1", h.site, h.server});
    out.row({});
    out.row({"Index Key", "Key", "Type", "Name", "Fluid", "Use", "Coef", "Unit", "Path", "Device Id", "Index",
             "Data Id"});
    for (size_t i = 0; i < variables.size(); ++i) {
        const EmsVariable& v = variables[i];
        out.row({std::to_string(i), ems_key(h, v), v.type, v.name, v.fluid, v.use, integer(v.coef), v.unit, v.path,
                 integer(v.device_id), integer(v.index), integer(v.data_id)});
    }
    out.row({});
    out.row({"Index Key", "Date", "Value", "Quality"});
    TimestampCache when(tz);
    std::vector<size_t> order;
    std::string value, quality;
    for (size_t i = 0; i < variables.size() && i < readings.size(); ++i) {
        // Newest first: readings come oldest first (then reversed, no sort);
        // otherwise sorted, equal times kept in their order.
        const auto& rs = readings[i];
        order.resize(rs.size());
        const bool ascending = std::is_sorted(rs.begin(), rs.end(), [](const Reading& a, const Reading& b) { return a.ts_ms < b.ts_ms; });
        if (ascending) {
            // Reversed, but a run of equal times keeps its order.
            size_t n = 0;
            for (size_t end = rs.size(); end > 0;) {
                size_t start = end - 1;
                while (start > 0 && rs[start - 1].ts_ms == rs[end - 1].ts_ms) --start;
                for (size_t k = start; k < end; ++k) order[n++] = k;
                end = start;
            }
        } else {
            std::iota(order.begin(), order.end(), size_t{0});
            std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return rs[a].ts_ms > rs[b].ts_ms; });
        }
        const std::string key = std::to_string(i);
        int last_quality = -1;
        for (size_t k : order) {
            const Reading& r = rs[k];
            const double raw = std::round(r.value * variables[i].coef);
            value.clear();
            if (std::isfinite(raw)) {
                if (std::fabs(raw) < 9e15) {
                    char b[24];
                    value.append(b, std::to_chars(b, b + sizeof b, static_cast<int64_t>(raw)).ptr);
                } else {
                    value = integer(raw);
                }
            }
            if (r.quality != last_quality) {
                quality = std::to_string(r.quality);
                last_quality = r.quality;
            }
            out.row({key, when(r.ts_ms), value, quality});
        }
    }
}

CellMatrix ems_matrix(const EmsHeader& h, const std::vector<EmsVariable>& variables,
                      const std::vector<std::vector<Reading>>& readings, const TimeZone& tz) {
    MatrixSink m;
    ems_rows(m, h, variables, readings, tz);
    return std::move(m.matrix);
}

std::string file_name_field(const std::string& name) {
    std::string out = name;
    for (char& c : out)
        if (std::strchr("_/\\<>:\"|?*", c) != nullptr || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '-';
    if (out.empty() || out == "." || out == "..") out = "-";
    return out;
}

std::string ems_file_name(const std::string& site, const std::string& server, const std::string& device,
                          DataType type, int64_t export_ms, const TimeZone& tz) {
    const CivilTime c = tz.to_local(export_ms);
    char when[32];
    std::snprintf(when, sizeof when, "%04d-%02d-%02d_%02d-%02d-%02d", c.year, c.month, c.day, c.hour, c.minute, c.second);
    // The second pass of a local time repeated when DST ends: the time read
    // back names the first one, so this name gets "_2" (never overwriting it).
    auto first = tz.from_local(c);
    const char* again = first && *first != export_ms - c.millisecond ? "_2" : "";
    return file_name_field(site) + "_" + file_name_field(server) + "_" + file_name_field(device) + "_" + ems_name(type) +
           "_" + when + again + ".csv";
}

void csv_rows(RowSink& out, const CsvDevice& device, const std::vector<CsvColumn>& columns, std::vector<CsvLine> lines,
              const TimeZone& tz, const CsvDialect& dialect) {
    out.row({"Device name", "IP Address", "Modbus Address", "Begin date", "End date"});
    out.row({device.name, device.ip, device.modbus_address, local_timestamp(device.begin_ms, tz),
             local_timestamp(device.end_ms, tz)});
    std::vector<std::string> cells;
    std::vector<std::string_view> views;
    auto descriptor = [&](const char* label, const std::function<std::string(const CsvColumn&)>& of) {
        cells.assign(1, label);
        for (const CsvColumn& c : columns) cells.push_back(of(c));
        views.assign(cells.begin(), cells.end());
        out.row(std::span<const std::string_view>(views));
    };
    descriptor("Load Name", [](const CsvColumn& c) { return c.load; });
    descriptor("Usage", [](const CsvColumn& c) { return c.usage; });
    descriptor("Nature", [](const CsvColumn& c) { return c.nature; });
    descriptor("Measured value", [](const CsvColumn& c) { return c.measured_value; });
    descriptor("Unit", [](const CsvColumn& c) { return c.unit; });
    descriptor("Scale", [&](const CsvColumn& c) { return format_fixed(c.scale, 7, dialect); });
    std::stable_sort(lines.begin(), lines.end(), [](const CsvLine& a, const CsvLine& b) { return a.ts_ms > b.ts_ms; });
    // Each line's cells in one buffer (no string per cell), then views into it.
    std::string buffer;
    std::vector<size_t> ends(columns.size() + 1);
    for (const CsvLine& l : lines) {
        buffer = local_timestamp(l.ts_ms, tz);
        ends[0] = buffer.size();
        for (size_t i = 0; i < columns.size(); ++i) {
            const std::optional<double> v = i < l.values.size() ? l.values[i] : std::nullopt;
            if (v) append_number(buffer, nine_decimals(*v / columns[i].scale), dialect);
            ends[i + 1] = buffer.size();
        }
        views.clear();
        for (size_t i = 0, from = 0; i < ends.size(); from = ends[i], ++i) views.emplace_back(buffer.data() + from, ends[i] - from);
        out.row(std::span<const std::string_view>(views));
    }
}

CellMatrix csv_matrix(const CsvDevice& device, const std::vector<CsvColumn>& columns, std::vector<CsvLine> lines,
                      const TimeZone& tz, const CsvDialect& dialect) {
    MatrixSink m;
    csv_rows(m, device, columns, std::move(lines), tz, dialect);
    return std::move(m.matrix);
}

}  // namespace gridlet::exporter::socomec

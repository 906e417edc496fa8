#include "export/socomec_files.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

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
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v == 0 ? 0.0 : v);
    return buf;
}
std::string integer(int64_t v) { return std::to_string(v); }
}  // namespace

std::string ems_key(const EmsHeader& h, const EmsVariable& v) {
    return h.site + " " + h.server + " " + integer(v.device_id) + " " + integer(v.index) + " " + v.type + " " +
           integer(v.data_id);
}

CellMatrix ems_matrix(const EmsHeader& h, const std::vector<EmsVariable>& variables,
                      const std::vector<std::vector<Reading>>& readings, const TimeZone& tz) {
    CellMatrix m;
    m.push_back({"Data Type", "TimeZone", "Datation", "Transfer Cycle (sec)", "Pooling Time", "Version", "Site name",
                 "Server name"});
    m.push_back({ems_name(h.type), h.time_zone, "Local", integer(h.transfer_cycle_s), "N/A", "1", h.site, h.server});
    m.emplace_back();
    m.push_back({"Index Key", "Key", "Type", "Name", "Fluid", "Use", "Coef", "Unit", "Path", "Device Id", "Index",
                 "Data Id"});
    for (size_t i = 0; i < variables.size(); ++i) {
        const EmsVariable& v = variables[i];
        m.push_back({std::to_string(i), ems_key(h, v), v.type, v.name, v.fluid, v.use, integer(v.coef), v.unit, v.path,
                     integer(v.device_id), integer(v.index), integer(v.data_id)});
    }
    m.emplace_back();
    m.push_back({"Index Key", "Date", "Value", "Quality"});
    for (size_t i = 0; i < variables.size() && i < readings.size(); ++i) {
        std::vector<size_t> order(readings[i].size());
        std::iota(order.begin(), order.end(), size_t{0});
        std::stable_sort(order.begin(), order.end(),
                         [&](size_t a, size_t b) { return readings[i][a].ts_ms > readings[i][b].ts_ms; });
        for (size_t k : order) {
            const Reading& r = readings[i][k];
            m.push_back({std::to_string(i), local_timestamp(r.ts_ms, tz), integer(std::round(r.value * variables[i].coef)),
                         std::to_string(r.quality)});
        }
    }
    return m;
}

std::string file_name_field(const std::string& name) {
    std::string out = name;
    for (char& c : out)
        if (c == '_' || c == '/' || c == '\\' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '-';
    if (out.empty() || out == "." || out == "..") out = "-";
    return out;
}

std::string ems_file_name(const std::string& site, const std::string& server, const std::string& device,
                          DataType type, int64_t export_ms, const TimeZone& tz) {
    const CivilTime c = tz.to_local(export_ms);
    char when[32];
    std::snprintf(when, sizeof when, "%04d-%02d-%02d_%02d-%02d-%02d", c.year, c.month, c.day, c.hour, c.minute, c.second);
    return file_name_field(site) + "_" + file_name_field(server) + "_" + file_name_field(device) + "_" + ems_name(type) +
           "_" + when + ".csv";
}

CellMatrix csv_matrix(const CsvDevice& device, const std::vector<CsvColumn>& columns, std::vector<CsvLine> lines,
                      const TimeZone& tz, const CsvDialect& dialect) {
    CellMatrix m;
    m.push_back({"Device name", "IP Address", "Modbus Address", "Begin date", "End date"});
    m.push_back({device.name, device.ip, device.modbus_address, local_timestamp(device.begin_ms, tz),
                 local_timestamp(device.end_ms, tz)});
    CsvRow load{"Load Name"}, usage{"Usage"}, nature{"Nature"}, measured{"Measured value"}, unit{"Unit"}, scale{"Scale"};
    for (const CsvColumn& c : columns) {
        load.push_back(c.load);
        usage.push_back(c.usage);
        nature.push_back(c.nature);
        measured.push_back(c.measured_value);
        unit.push_back(c.unit);
        scale.push_back(format_fixed(c.scale, 7, dialect));
    }
    for (CsvRow* r : {&load, &usage, &nature, &measured, &unit, &scale}) m.push_back(std::move(*r));
    std::stable_sort(lines.begin(), lines.end(), [](const CsvLine& a, const CsvLine& b) { return a.ts_ms > b.ts_ms; });
    for (const CsvLine& l : lines) {
        CsvRow row{local_timestamp(l.ts_ms, tz)};
        for (size_t i = 0; i < columns.size(); ++i) {
            const std::optional<double> v = i < l.values.size() ? l.values[i] : std::nullopt;
            row.push_back(v ? format_number(*v / columns[i].scale, dialect) : std::string());
        }
        m.push_back(std::move(row));
    }
    return m;
}

}  // namespace gridlet::exporter::socomec

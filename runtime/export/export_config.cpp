#include "export/export_config.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <functional>
#include <set>

#include "core/pattern.h"
#include "store/time_spec.h"

namespace gridlet::exporter {

using config::KeySpec;
using config::ValueType;

const char* format_name(Format f) {
    switch (f) {
    case Format::socomec_ems: return "socomec_ems";
    case Format::socomec_csv: return "socomec_csv";
    case Format::legrand_report: return "legrand_report";
    }
    return "?";
}

namespace {

const std::vector<KeySpec>& export_keys() {
    static const std::vector<KeySpec> keys = [] {
        std::vector<KeySpec> k;
        k.push_back(config::required_key("name", ValueType::string, "Unique name (letters, digits, _ - .)"));
        KeySpec format = config::required_key("format", ValueType::string, "socomec_ems or socomec_csv");
        format.one_of = {"socomec_ems", "socomec_csv"};
        k.push_back(format);
        KeySpec type = config::key("data_type", ValueType::string, "\"avg\"", "avg, load_curve or index");
        type.one_of = {"avg", "load_curve", "index"};
        k.push_back(type);
        k.push_back(config::key("step", ValueType::string, "\"1m\"", "One row per step: 1m, 10m, 15m, 1h, ..."));
        k.push_back(config::key("every", ValueType::string, "\"10m\"", "The export period: one file per period"));
        k.push_back(config::key("device", ValueType::string, std::nullopt, "The device name written in the file"));
        k.push_back(config::key("device_id", ValueType::integer, "0", "EMS: the gateway's number for the device", 0,
                                2147483647));
        k.push_back(config::key("modbus_address", ValueType::string, "\"\"", "CSV: the device's Modbus address"));
        k.push_back(config::key("ip", ValueType::string, "\"0.0.0.0\"", "CSV: the device's IP address"));
        k.push_back(config::key("site_name", ValueType::string, std::nullopt, "Default: [site] name"));
        k.push_back(config::key("server_name", ValueType::string, std::nullopt, "Default: the host name"));
        k.push_back(config::key("dir", ValueType::string, std::nullopt,
                                "Folder the files are written to on schedule (relative to the site file)"));
        k.push_back(config::key("targets", ValueType::array, std::nullopt,
                                "[[export_targets]] names: the servers the files are pushed to"));
        k.push_back(config::key("delay", ValueType::string, "\"30s\"", "A period is written this long after its end"));
        k.push_back(config::key("at", ValueType::string, std::nullopt,
                                "Write at this local time: \"00:30\" (daily) or \"mon 06:00\" (weekly)"));
        k.push_back(config::key("catch_up", ValueType::string, "\"7d\"",
                                "After downtime, missed periods are written this far back"));
        k.push_back(config::key("delimiter", ValueType::string, "\";\"", "\";\", \",\", \"tab\" or \"|\""));
        k.push_back(config::key("decimal", ValueType::string, "\".\"", "\".\" or \",\""));
        k.push_back(config::key("line_end", ValueType::string, "\"crlf\"", "crlf or lf"));
        k.push_back(config::key("variables", ValueType::array, std::nullopt, "[[exports.variables]]: what is exported"));
        return k;
    }();
    return keys;
}

const std::vector<KeySpec>& variable_keys() {
    static const std::vector<KeySpec> keys = [] {
        std::vector<KeySpec> k;
        k.push_back(config::required_key("series", ValueType::string, "The store series exported"));
        k.push_back(config::key("name", ValueType::string, std::nullopt, "EMS Name"));
        k.push_back(config::key("point", ValueType::string, std::nullopt, "A [model] point: load, usage, fluid"));
        k.push_back(config::key("quantity", ValueType::string, std::nullopt, "CSV Measured value (EA+, ...)"));
        k.push_back(config::key("unit", ValueType::string, "\"\"", "The unit written"));
        k.push_back(config::key("coef", ValueType::number, "1", "EMS: written = round(value x coef)", 1e-9, 1e12));
        k.push_back(config::key("scale", ValueType::number, "1", "CSV: written x scale = value", 1e-12, 1e12));
        k.push_back(config::key("data_id", ValueType::integer, std::nullopt, "EMS Data Id", 0, 2147483647));
        k.push_back(config::key("index", ValueType::integer, "1", "EMS Index: the load's number", 0, 2147483647));
        k.push_back(config::key("use", ValueType::string, std::nullopt, "EMS Use"));
        k.push_back(config::key("type", ValueType::string, "\"ANA\"", "EMS Type"));
        return k;
    }();
    return keys;
}

std::string host_name() {
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == 0) return "gridlet";
    return buf;
}

using BadKey = std::function<void(const toml::table&, const char*, const std::string&)>;

// dir, targets, at, delay and catch_up: where and when an export's (a
// report's) files go.
void parse_delivery(const toml::table& t, const nlohmann::json& j, const std::string& file,
                    const std::vector<TargetConfig>& targets, ExportConfig& c, const BadKey& bad,
                    const char* default_delay, const char* default_catch_up, int64_t max_catch_up_ms) {
    if (j.contains("dir")) {
        const std::string d = j.value("dir", "");
        if (d.empty()) bad(t, "dir", "dir is empty (leave it out for an export written on demand only)");
        else {
            c.dir = std::filesystem::absolute(std::filesystem::path(file).parent_path() / d).lexically_normal().string();
            while (c.dir.size() > 1 && c.dir.back() == '/') c.dir.pop_back();  // "rep/" is "rep"
        }
    }
    if (const toml::node* tn = t.get("targets")) {
        std::set<std::string> seen;
        for (const toml::node& x : *tn->as_array()) {
            const auto* name = x.as_string();
            if (!name) {
                bad(t, "targets", "targets: a list of [[export_targets]] names");
                break;
            }
            const std::string v = name->get();
            if (std::none_of(targets.begin(), targets.end(), [&](const TargetConfig& g) { return g.name == v; }))
                bad(t, "targets", "targets: '" + v + "' is not an [[export_targets]] name" +
                                      (targets.empty() ? " (the site defines none)" : ""));
            else if (!seen.insert(v).second)
                bad(t, "targets", "targets: '" + v + "' is named twice");
            else
                c.targets.push_back(v);
        }
    }
    if (j.contains("at")) {
        if (auto at = parse_at(j.value("at", "")); at) {
            c.at_weekday = at->first;
            c.at_minute = at->second;
        } else {
            bad(t, "at", at.status().message());
        }
    }
    for (const char* key : {"delay", "catch_up"}) {
        const bool is_delay = std::string(key) == "delay";
        const std::string text = j.value(key, is_delay ? default_delay : default_catch_up);
        auto ms = store::parse_duration_ms(text);
        if (!ms || *ms < 0 || (is_delay && *ms > 86'400'000) || (!is_delay && *ms > max_catch_up_ms)) {
            bad(t, key, std::string(key) + ": '" + text + "': a duration such as \"" +
                            (is_delay ? default_delay : default_catch_up) + "\" (0 to " +
                            (is_delay ? std::string("1d") : std::to_string(max_catch_up_ms / 86'400'000) + "d") + ")");
            continue;
        }
        (is_delay ? c.delay_ms : c.catch_up_ms) = *ms;
    }
}

}  // namespace

Expected<std::pair<int, int>> parse_at(const std::string& text) {
    static const char* days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
    int weekday = -1;
    std::string time = text;
    if (const size_t sp = text.find(' '); sp != std::string::npos) {
        std::string day = text.substr(0, sp);
        for (char& ch : day) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        for (int i = 0; i < 7; ++i)
            if (day == days[i]) weekday = i;
        time = text.substr(sp + 1);
        if (weekday < 0) return Status::invalid("at: '" + text + "': the day is mon, tue, wed, thu, fri, sat or sun");
    }
    if (time.size() != 5 || time[2] != ':' || !std::isdigit(static_cast<unsigned char>(time[0])) ||
        !std::isdigit(static_cast<unsigned char>(time[1])) || !std::isdigit(static_cast<unsigned char>(time[3])) ||
        !std::isdigit(static_cast<unsigned char>(time[4])))
        return Status::invalid("at: '" + text + "': a local time HH:MM (\"00:30\") or a day and a time (\"mon 06:00\")");
    const int h = (time[0] - '0') * 10 + (time[1] - '0'), m = (time[3] - '0') * 10 + (time[4] - '0');
    if (h > 23 || m > 59) return Status::invalid("at: '" + text + "': hours 00-23, minutes 00-59");
    return std::pair<int, int>{weekday, h * 60 + m};
}

bool same_report_names(const ExportConfig& a, const ExportConfig& b) {
    return a.format == Format::legrand_report && b.format == Format::legrand_report && a.report.type == b.report.type &&
           a.report.period == b.report.period && a.report.format == b.report.format;
}

std::string site_name_problem(const ExportConfig& e) {
    if (e.format != Format::socomec_ems) return "";
    std::string upper = e.site_name;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (upper == "SITE")
        return "the site name is still \"" + e.site_name +
               "\", the factory name: EMS import keys would collide with every other gateway's (Socomec manual §9.9); "
               "set [site] name or site_name";
    if (e.site_name.empty()) return "the site name is empty: set [site] name or site_name";
    return "";
}

namespace {

void parse_socomec_exports(const toml::table& root, const std::string& file, const std::string& site_name,
                           const model::SiteModel& model, config::Diagnostics& diags,
                           const std::vector<TargetConfig>& targets, std::set<std::string>& names,
                           std::vector<ExportConfig>& out) {
    const toml::node* n = root.get("exports");
    if (!n) return;
    if (!n->is_array()) {
        diags.push_back({file, config::line_of(*n), "'exports' must be an array of tables: [[exports]]"});
        return;
    }
    size_t number = 0;
    for (const toml::node& e : *n->as_array()) {
        ++number;
        if (!e.is_table()) {
            diags.push_back({file, config::line_of(e), "each [[exports]] entry must be a table"});
            continue;
        }
        const toml::table& t = *e.as_table();
        const size_t before = diags.size();
        const toml::node* named = t.get("name");
        const std::string label = named && named->is_string() && !named->as_string()->get().empty()
                                      ? "[[exports]] '" + named->as_string()->get() + "'"
                                      : "[[exports]] #" + std::to_string(number);
        // (The variables are checked below, each with its own lines.)
        nlohmann::json j = config::validate_table(t, export_keys(), file, label, diags, config::line_of(t));
        if (diags.size() != before) continue;
        ExportConfig c;
        c.line = config::line_of(t);
        c.name = j.value("name", "");
        const std::string where = "[[exports]] '" + c.name + "'";
        const auto bad = [&](const toml::table& in, const char* key, const std::string& what) {
            diags.push_back({file, config::key_line(in, key), where + ": " + what});
        };
        if (const std::string why = config_name_problem(c.name); !why.empty()) bad(t, "name", why);
        if (!names.insert(c.name).second) bad(t, "name", "an export named '" + c.name + "' is already defined");
        c.format = j.value("format", "") == "socomec_csv" ? Format::socomec_csv : Format::socomec_ems;
        c.data_type = *socomec::parse_data_type(j.value("data_type", "avg"));
        for (const char* key : {"step", "every"}) {
            auto ms = store::parse_duration_ms(j.value(key, ""));
            if (!ms || *ms < 1000 || *ms > 86'400'000 || *ms % 1000 != 0) {
                bad(t, key, std::string(key) + ": '" + j.value(key, "") +
                                "': a whole number of seconds from 1s to 1d, such as \"1m\", \"10m\", \"1h\"");
                continue;
            }
            (std::string(key) == "step" ? c.step_ms : c.every_ms) = *ms;
        }
        if (c.every_ms % c.step_ms != 0)
            bad(t, "every", "every (" + j.value("every", "") + ") must be a whole number of steps (" +
                                j.value("step", "") + "): a file holds whole rows");
        else if (c.every_ms / c.step_ms > 100'000)
            bad(t, "every", "every holds more than 100,000 steps: a larger step or a shorter period");
        parse_delivery(t, j, file, targets, c, bad, "30s", "7d", 366LL * 86'400'000);
        c.device = j.value("device", "");
        c.device_id = j.value("device_id", int64_t{0});
        c.modbus_address = j.value("modbus_address", "");
        c.ip = j.value("ip", "0.0.0.0");
        c.site_name = j.contains("site_name") ? j.value("site_name", "") : site_name;
        c.server_name = j.contains("server_name") ? j.value("server_name", "") : host_name();
        if (c.server_name.empty()) bad(t, "server_name", "server_name is empty");
        // The EMS import key joins site and server with spaces: a space inside
        // either would make two gateways' keys alike ("a b"+"c", "a"+"b c").
        if (c.format == Format::socomec_ems)
            for (const auto& [key, value] : {std::pair<const char*, const std::string*>{"site_name", &c.site_name},
                                             {"server_name", &c.server_name}})
                if (value->find_first_of(" \t") != std::string::npos)
                    bad(t, t.contains(key) ? key : "name",
                        std::string(key) + " '" + *value +
                            "' has a space: the EMS import key joins the names with spaces (Annex II), so two "
                            "gateways' keys could be alike; set " + key + " without spaces");
        if (const std::string why = site_name_problem(c); !why.empty())
            bad(t, t.contains("site_name") ? "site_name" : "name", why);
        if (auto d = make_dialect(j.value("delimiter", ";"), j.value("decimal", "."), j.value("line_end", "crlf")); d)
            c.dialect = *d;
        else
            bad(t, t.contains("decimal") ? "decimal" : t.contains("delimiter") ? "delimiter" : "line_end",
                d.status().message());

        const toml::node* vars = t.get("variables");
        const toml::array* list = vars ? vars->as_array() : nullptr;
        if (!list || list->empty()) {
            bad(t, "variables",
                "no variables: add [[exports.variables]] with series = \"device/point\" (what the file holds)");
            continue;
        }
        std::set<int64_t> data_ids;
        size_t vi = 0;
        for (const toml::node& vn : *list) {
            ++vi;
            if (!vn.is_table()) {
                diags.push_back({file, config::line_of(vn), where + ": each [[exports.variables]] entry must be a table"});
                continue;
            }
            const toml::table& vt = *vn.as_table();
            const size_t vbefore = diags.size();
            nlohmann::json v = config::validate_table(vt, variable_keys(), file, where + " variable #" + std::to_string(vi),
                                                      diags, config::line_of(vt));
            if (diags.size() != vbefore) continue;
            static const char* ems_only[] = {"coef", "data_id", "index", "use", "type", "name"};
            if (c.format == Format::socomec_csv) {
                for (const char* key : ems_only)
                    if (vt.contains(key))
                        bad(vt, key, "variable #" + std::to_string(vi) + ": " + key +
                                         " is for socomec_ems files (a CSV column takes series, point, quantity, "
                                         "unit, scale)");
            } else if (vt.contains("scale")) {
                bad(vt, "scale", "variable #" + std::to_string(vi) +
                                     ": scale is for socomec_csv files (EMS values are written x coef)");
            }
            ExportVariable x;
            x.line = config::line_of(vt);
            x.series = v.value("series", "");
            if (x.series.empty() || x.series.find_first_of("*?") != std::string::npos)
                bad(vt, "series", "variable #" + std::to_string(vi) + ": series '" + x.series +
                                      "': one series by its full name (no pattern)");
            x.point = v.value("point", "");
            x.quantity = v.value("quantity", "");
            x.unit = v.value("unit", "");
            x.coef = v.value("coef", 1.0);
            x.scale = v.value("scale", 1.0);
            x.index = v.value("index", int64_t{1});
            x.data_id = v.value("data_id", static_cast<int64_t>(vi));
            x.type = v.value("type", "ANA");
            if (!data_ids.insert(x.data_id).second)
                bad(vt, v.contains("data_id") ? "data_id" : "series",
                    "variable #" + std::to_string(vi) + ": data_id " + std::to_string(x.data_id) +
                        " is already used in this export (EMS keys must be unique)");
            std::string use;
            if (!x.point.empty()) {
                const model::Point* p = model.point(x.point);
                if (!p) {
                    bad(vt, "point", "variable #" + std::to_string(vi) + ": point '" + x.point +
                                         "' is not a [model] point");
                    continue;
                }
                x.load_name = p->name;
                for (const model::Category& u : model.usages)
                    if (u.name == p->usage) {
                        x.usage_name = u.label.empty() ? u.name : u.label;
                        use = u.external_key.empty() ? u.name : u.external_key;
                    }
                if (const model::Fluid* f = model.fluid(p->fluid)) {
                    x.csv_nature = f->csv_code;
                    x.ems_fluid = f->ems_code;
                }
            }
            x.use = v.value("use", use);
            x.name = v.value("name", "");
            c.variables.push_back(std::move(x));
        }
        if (c.device.empty() && !c.variables.empty()) {
            const std::string& s = c.variables.front().series;
            c.device = s.substr(0, s.find('/'));
        }
        // Defaults that need the device: "<quantity> of <point> of <device>"
        // (the annex's names); a CSV column without a point is its series.
        for (ExportVariable& x : c.variables) {
            if (x.quantity.empty()) x.quantity = x.series.substr(x.series.find('/') + 1);
            if (x.name.empty())
                x.name = x.point.empty() ? x.quantity + " of " + c.device
                                         : x.quantity + " of " + x.point + " of " + c.device;
            if (x.load_name.empty()) x.load_name = x.series;
        }
        if (86'400'000 % c.every_ms != 0)
            bad(t, "every", "every (" + j.value("every", "") +
                                ") must divide a day (1m, 5m, 10m, 15m, 30m, 1h, 2h, ... 1d): periods start at local "
                                "midnight");
        // Two exports whose files share a name would overwrite each other
        // (in a dir, and in the one folder of `gridlet export --out`).
        for (const ExportConfig& o : out)
            if (socomec::file_name_field(o.site_name) == socomec::file_name_field(c.site_name) &&
                socomec::file_name_field(o.server_name) == socomec::file_name_field(c.server_name) &&
                socomec::file_name_field(o.device) == socomec::file_name_field(c.device) && o.data_type == c.data_type) {
                bad(t, "name", "its files would be named like those of export '" + o.name + "' (line " +
                                   std::to_string(o.line) + ": the same site, server, device and data type, " +
                                   socomec::ems_name(c.data_type) +
                                   "), and overwrite them; give one a different device (or data_type)");
                break;
            }
        out.push_back(std::move(c));
    }
}

const std::vector<KeySpec>& report_keys() {
    static const std::vector<KeySpec> keys = [] {
        std::vector<KeySpec> k;
        k.push_back(config::required_key("name", ValueType::string, "Unique name among exports and reports"));
        KeySpec type = config::required_key("type", ValueType::string, "summary or detailed");
        type.one_of = {"summary", "detailed"};
        k.push_back(type);
        KeySpec period = config::key("period", ValueType::string, "\"monthly\"", "monthly or yearly");
        period.one_of = {"monthly", "yearly"};
        k.push_back(period);
        KeySpec format = config::key("format", ValueType::string, "\"pdf\"", "pdf or csv");
        format.one_of = {"pdf", "csv"};
        k.push_back(format);
        KeySpec by = config::key("by", ValueType::string, "\"point\"", "detailed: point, group or load");
        by.one_of = {"point", "group", "load"};
        k.push_back(by);
        k.push_back(config::key("items", ValueType::array, std::nullopt, "detailed: the points (groups, loads); default all"));
        k.push_back(config::key("dir", ValueType::string, std::nullopt,
                                "Folder the reports are written to (relative to the site file)"));
        k.push_back(config::key("targets", ValueType::array, std::nullopt,
                                "[[export_targets]] names: e-mail or file servers the reports go to"));
        k.push_back(config::key("delay", ValueType::string, "\"1h\"", "A report is sent this long after its period"));
        k.push_back(config::key("at", ValueType::string, std::nullopt,
                                "Send at this local time after the period: \"06:00\" or \"mon 06:00\""));
        k.push_back(config::key("catch_up", ValueType::string, "\"400d\"",
                                "After downtime, closed periods are reported this far back"));
        k.push_back(config::key("delimiter", ValueType::string, "\";\"", "csv: \";\", \",\", \"tab\" or \"|\""));
        k.push_back(config::key("decimal", ValueType::string, "\",\"", "csv: \",\" or \".\""));
        k.push_back(config::key("line_end", ValueType::string, "\"crlf\"", "csv: crlf or lf"));
        return k;
    }();
    return keys;
}

void parse_reports(const toml::table& root, const std::string& file, const std::string& site_name,
                   const model::SiteModel& model, config::Diagnostics& diags, const std::vector<TargetConfig>& targets,
                   std::set<std::string>& names, std::vector<ExportConfig>& out) {
    const toml::node* n = root.get("reports");
    if (!n) return;
    if (!n->is_array()) {
        diags.push_back({file, config::line_of(*n), "'reports' must be an array of tables: [[reports]]"});
        return;
    }
    size_t number = 0;
    for (const toml::node& e : *n->as_array()) {
        ++number;
        if (!e.is_table()) {
            diags.push_back({file, config::line_of(e), "each [[reports]] entry must be a table"});
            continue;
        }
        const toml::table& t = *e.as_table();
        const size_t before = diags.size();
        const toml::node* named = t.get("name");
        const std::string label = named && named->is_string() && !named->as_string()->get().empty()
                                      ? "[[reports]] '" + named->as_string()->get() + "'"
                                      : "[[reports]] #" + std::to_string(number);
        nlohmann::json j = config::validate_table(t, report_keys(), file, label, diags, config::line_of(t));
        if (diags.size() != before) continue;
        ExportConfig c;
        c.line = config::line_of(t);
        c.name = j.value("name", "");
        c.format = Format::legrand_report;
        c.site_name = site_name;
        const std::string where = "[[reports]] '" + c.name + "'";
        const auto bad = [&](const toml::table& in, const char* key, const std::string& what) {
            diags.push_back({file, config::key_line(in, key), where + ": " + what});
        };
        if (const std::string why = config_name_problem(c.name); !why.empty()) bad(t, "name", why);
        if (!names.insert(c.name).second)
            bad(t, "name", "an export or report named '" + c.name + "' is already defined");
        ReportSpec& r = c.report;
        r.type = j.value("type", "") == "detailed" ? ReportType::detailed : ReportType::summary;
        r.period = j.value("period", "monthly") == "yearly" ? ReportPeriod::yearly : ReportPeriod::monthly;
        r.format = j.value("format", "pdf") == "csv" ? ReportFormat::csv : ReportFormat::pdf;
        c.calendar = r.period == ReportPeriod::monthly ? CalendarUnit::month : CalendarUnit::year;
        c.every_ms = 0;
        const std::string by = j.value("by", "point");
        r.by = by == "group" ? model::Breakdown::group : by == "load" ? model::Breakdown::load : model::Breakdown::point;
        if (r.type == ReportType::summary)
            for (const char* key : {"by", "items"})
                if (t.contains(key))
                    bad(t, key, std::string(key) + " is for detailed reports (a summary report holds each fluid's total)");
        if (const toml::node* in = t.get("items"); in && in->as_array() && in->as_array()->empty())
            bad(t, "items", "items is empty: leave it out for all " + by + "s");
        if (const toml::node* in = t.get("items")) {
            std::set<std::string> seen;
            for (const toml::node& x : *in->as_array()) {
                const auto* s = x.as_string();
                if (!s) {
                    bad(t, "items", "items: a list of " + by + " names");
                    break;
                }
                const std::string v = s->get();
                bool known = false;
                if (r.by == model::Breakdown::point) known = model.point(v) != nullptr;
                const auto in_list = [&](const std::vector<model::Category>& list) {
                    return std::any_of(list.begin(), list.end(), [&](const model::Category& k) { return k.name == v; });
                };
                if (r.by == model::Breakdown::group) known = in_list(model.groups);
                if (r.by == model::Breakdown::load) known = in_list(model.loads) || v == "others";
                if (!known) {
                    std::string names;
                    size_t shown = 0;
                    const auto add = [&](const std::string& n) {
                        if (shown++ < 12) names += (names.empty() ? "" : ", ") + n;
                    };
                    if (r.by == model::Breakdown::point)
                        for (const model::Point& p : model.points) add(p.name);
                    for (const model::Category& k : r.by == model::Breakdown::group  ? model.groups
                                                    : r.by == model::Breakdown::load ? model.loads
                                                                                     : std::vector<model::Category>{})
                        add(k.name);
                    if (r.by == model::Breakdown::load) add("others");
                    bad(t, "items", "items: '" + v + "' is not a " + by + " of the [model]" +
                                        (names.empty() ? "" : " (" + names + (shown > 12 ? ", ..." : "") + ")"));
                }
                else if (!seen.insert(v).second) bad(t, "items", "items: '" + v + "' is named twice");
                else r.items.push_back(v);
            }
        }
        if (model.points.empty())
            bad(t, "name", "a report needs [model] points: it reports their consumption");
        if (r.format == ReportFormat::pdf)
            for (const char* key : {"delimiter", "decimal", "line_end"})
                if (t.contains(key)) bad(t, key, std::string(key) + " is for csv reports (format = \"csv\")");
        parse_delivery(t, j, file, targets, c, bad, "1h", "400d", 800LL * 86'400'000);
        if (auto d = make_dialect(j.value("delimiter", ";"), j.value("decimal", ","), j.value("line_end", "crlf")); d)
            c.dialect = *d;
        else
            bad(t, t.contains("decimal") ? "decimal" : t.contains("delimiter") ? "delimiter" : "line_end",
                d.status().message());
        // Two reports of one type and period write the same file name.
        for (const ExportConfig& o : out)
            if (same_report_names(o, c) && !c.dir.empty() && o.dir == c.dir) {
                bad(t, "dir", "its files would be named like those of report '" + o.name + "' (line " +
                                  std::to_string(o.line) + ") in the same folder, and overwrite them; give it another dir");
                break;
            }
        out.push_back(std::move(c));
    }
}

}  // namespace

std::vector<ExportConfig> parse_exports(const toml::table& root, const std::string& file, const std::string& site_name,
                                        const model::SiteModel& model, config::Diagnostics& diags,
                                        const std::vector<TargetConfig>& targets) {
    std::vector<ExportConfig> out;
    std::set<std::string> names;
    parse_socomec_exports(root, file, site_name, model, diags, targets, names, out);
    parse_reports(root, file, site_name, model, diags, targets, names, out);
    return out;
}

}  // namespace gridlet::exporter

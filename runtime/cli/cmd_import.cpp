// `gridlet import FILE...`: loads historic samples from CSV into a store
// that no gridlet has open: the tidy CSV `gridlet query` writes
// (time,series,value[,quality]) or the wide one `query --wide` writes
// (time,<series>[,<series>:quality]...). Every row of every file is checked
// first; a file with any bad row writes nothing. CLI thread.
#include <CLI/CLI.hpp>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <unordered_map>

#include "cli/commands.h"
#include "cli/csv_reader.h"
#include "cli/import_formats.h"
#include "cli/store_access.h"
#include "core/clock.h"
#include "core/pattern.h"
#include "store/site_file.h"

namespace gridlet::cli {

namespace {

constexpr const char* kCommand = "import";
constexpr size_t kMaxErrorsShown = 10;
constexpr size_t kBatch = 8192;

struct ImportArgs {
    std::vector<std::string> files;
    std::string db, config, tz, kind, unit, series_file, format = "auto", precision = "ns", rejects;
    bool dry_run = false, keep_going = false;
};

// The formats a file may be in; `auto` looks at its first line.
enum class Format { csv, line, socomec_ems, socomec_csv };
const char* format_name(Format f) {
    switch (f) {
        case Format::csv: return "csv";
        case Format::line: return "line protocol";
        case Format::socomec_ems: return "Socomec EMS";
        case Format::socomec_csv: return "Socomec CSV";
    }
    return "?";
}

// A line that was not imported, for --rejects.
struct Reject {
    std::string file;
    int line = 0;
    std::string why, text;
};

// What a column of the header holds.
struct Column {
    enum What { time, series_name, value, quality, series_values, series_quality } what = value;
    int series = -1;  // series_values / series_quality: index into Importer::names_
};

struct Sample {
    int series;
    int64_t ts;
    double value;
    uint8_t quality;
};

bool parse_value(const std::string& s, double& out) {
    if (s == "nan" || s == "NaN") return out = std::nan(""), true;
    if (s == "inf" || s == "Infinity") return out = HUGE_VAL, true;
    if (s == "-inf" || s == "-Infinity") return out = -HUGE_VAL, true;
    const char* end = s.data() + s.size();
    auto [p, ec] = std::from_chars(s.data(), end, out);
    return ec == std::errc() && p == end && !s.empty();
}

bool parse_quality(const std::string& s, uint8_t& out) {
    int q = -1;
    const char* end = s.data() + s.size();
    auto [p, ec] = std::from_chars(s.data(), end, q);
    if (ec != std::errc() || p != end || q < 0 || q > 255) return false;
    out = static_cast<uint8_t>(q);
    return true;
}

class Importer {
public:
    // `raw_ms`: the site's raw retention (0: forever or not known).
    // `format`: "auto", "csv", "line", "socomec_ems", "socomec_csv";
    // `line_divisor`: line protocol timestamps per ms (ns: 1e6, us: 1e3,
    // ms: 1), or -1 for seconds.
    Importer(const TimeZone& tz, store::Store& store, int64_t raw_ms, std::string format = "auto",
             int64_t line_divisor = 1'000'000, bool keep_rejects = false)
        : tz_(tz), store_(store), format_(std::move(format)), line_divisor_(line_divisor), keep_rejects_(keep_rejects) {
        if (raw_ms > 0) {
            raw_cutoff_ = SystemClock::instance().now_ms() - raw_ms;
            raw_days_ = raw_ms / 86'400'000;
        }
    }

    // The format of `file`: --format, or from its first line.
    Format format_of(const std::string& first_line) const {
        if (format_ == "csv") return Format::csv;
        if (format_ == "line") return Format::line;
        if (format_ == "socomec_ems") return Format::socomec_ems;
        if (format_ == "socomec_csv") return Format::socomec_csv;
        std::string l = first_line;
        if (l.size() >= 3 && static_cast<unsigned char>(l[0]) == 0xEF && static_cast<unsigned char>(l[1]) == 0xBB &&
            static_cast<unsigned char>(l[2]) == 0xBF)
            l.erase(0, 3);
        if (l.rfind("Data Type;", 0) == 0 || l.rfind("Data Type\t", 0) == 0) return Format::socomec_ems;
        if (l.rfind("Device name;", 0) == 0 || l.rfind("Device name\t", 0) == 0) return Format::socomec_csv;
        if (l.rfind("time,", 0) == 0 || l == "time" || l.rfind("time\r", 0) == 0 || l.rfind("\"time\"", 0) == 0)
            return Format::csv;
        if (l.find(' ') != std::string::npos && l.find('=') != std::string::npos) return Format::line;
        return Format::csv;  // its header check says what is wrong
    }

    // Reads `file`, calling `sink` for each sample; problems go to errors_
    // as "file:line: what". Returns false when the file cannot be read on.
    template <class Sink>
    bool read(const std::string& file, Sink&& sink) {
        std::error_code ec;
        if (std::filesystem::is_directory(file, ec)) return error(file, 0, "is a folder, not a file to import"), false;
        std::ifstream in(file, std::ios::binary);
        if (!in) return error(file, 0, "cannot be opened"), false;
        file_bytes_ = std::filesystem::file_size(file, ec);
        // The first line that says something (line protocol files may start
        // with # comments or blank lines).
        std::string first;
        for (int n = 0; n < 1000 && std::getline(in, first); ++n) {
            const size_t at = first.find_first_not_of(" \t\r");
            if (at != std::string::npos && first[at] != '#') break;
            first.clear();
        }
        in.clear();
        in.seekg(0);
        file_tz_ = nullptr;
        const Format format = format_of(first);
        formats_.emplace_back(file, format);
        switch (format) {
            case Format::line: return read_line_protocol(file, in, sink);
            case Format::socomec_ems: return read_socomec_ems(file, in, sink);
            case Format::socomec_csv: return read_socomec_csv(file, in, sink);
            case Format::csv: break;
        }
        CsvReader csv(in);
        std::vector<std::string> f;
        if (!csv.next(f)) return error(file, 1, csv.error().empty() ? "is empty (no header)" : csv.error()), false;
        std::vector<Column> cols;
        if (!header(file, f, cols)) return false;
        while (csv.next(f)) {
            if (f.size() == 1 && f[0].empty()) continue;  // a blank line
            text_of(f, ',');
            progress(in);
            if (f.size() != cols.size()) {
                error(file, csv.line(), std::to_string(f.size()) + " fields, the header has " + std::to_string(cols.size()));
                continue;
            }
            row(file, csv.line(), f, cols, sink);
        }
        if (!csv.error().empty()) return error(file, csv.line(), csv.error()), false;
        if (in.bad()) return error(file, csv.line(), "read error"), false;
        return true;
    }

    // Line protocol string fields met (not samples).
    size_t strings_skipped() const { return strings_skipped_; }
    // Each file read and its format.
    const std::vector<std::pair<std::string, Format>>& formats() const { return formats_; }
    // Every rejected line (with --rejects), in the order found.
    const std::vector<Reject>& rejects() const { return rejects_; }
    // The unit a file gave a series (line protocol's unit tag, Socomec's Unit).
    const std::map<std::string, std::string>& units() const { return units_; }
    // Problems of a whole file (a header, an unreadable file): --keep-going
    // cannot go on past them.
    size_t file_error_count() const { return file_errors_; }
    // Progress lines on stderr every 2 s while a big file is read.
    void show_progress(const char* what) { progress_what_ = what; }
    const std::vector<std::string>& names() const { return names_; }
    const std::vector<std::string>& errors() const { return errors_; }
    size_t error_count() const { return error_count_; }

private:
    void error(const std::string& file, int line, const std::string& what) {
        ++error_count_;
        if (errors_.size() < kMaxErrorsShown)
            errors_.push_back(file + (line > 0 ? ":" + std::to_string(line) : "") + ": " + what);
        if (keep_rejects_) rejects_.push_back({file, line, what, text_});
    }
    // A problem of the whole file (header, structure): nothing of it can be read.
    bool file_error(const std::string& file, int line, const std::string& what) {
        ++file_errors_;
        text_.clear();
        error(file, line, what);
        return false;
    }
    void text_of(const std::vector<std::string>& f, char delimiter) {
        text_.clear();
        for (size_t i = 0; i < f.size(); ++i) {
            if (i) text_.push_back(delimiter);
            text_ += f[i];
        }
    }
    void progress(std::istream& in) {
        if (!progress_what_ || ++rows_seen_ % 4096 != 0) return;
        const auto now = std::chrono::steady_clock::now();
        if (now < next_progress_) return;
        next_progress_ = now + std::chrono::seconds(2);
        const auto at = in.tellg();
        if (at > 0 && file_bytes_ > 0)
            std::fprintf(stderr, "%s: %.0f %% of the file\n", progress_what_,
                         100.0 * static_cast<double>(at) / static_cast<double>(file_bytes_));
    }
    const TimeZone& zone() const { return file_tz_ ? *file_tz_ : tz_; }

    // InfluxDB line protocol: one sample per numeric field (line_sample()).
    template <class Sink>
    bool read_line_protocol(const std::string& file, std::istream& in, Sink& sink) {
        std::string line;
        int n = 0;
        LinePoint p;
        std::string why;
        while (std::getline(in, line)) {
            ++n;
            if (!line.empty() && line.back() == '\r') line.pop_back();
            const size_t first = line.find_first_not_of(" \t");
            if (first == std::string::npos || line[first] == '#') continue;
            text_ = line;
            progress(in);
            if (!parse_line_protocol(line, p, why)) {
                error(file, n, why);
                continue;
            }
            if (!p.timestamp) {
                error(file, n, "no timestamp (an import needs the time of each line)");
                continue;
            }
            // To ms: floor division (ns, us), or seconds × 1000 (line_divisor_ -1).
            int64_t ts = 0;
            if (line_divisor_ < 0) {
                if (*p.timestamp > INT64_MAX / 1000 || *p.timestamp < INT64_MIN / 1000) {
                    error(file, n, "timestamp " + std::to_string(*p.timestamp) + " s is out of range");
                    continue;
                }
                ts = *p.timestamp * 1000;
            } else {
                ts = *p.timestamp / line_divisor_;
                if (*p.timestamp % line_divisor_ != 0 && *p.timestamp < 0) --ts;
            }
            if (!in_window(file, n, ts,
                           std::to_string(*p.timestamp) +
                               (ts < 946'684'800'000 && ts > -946'684'800'000 ? " (given in s, ms or us? say so with --precision)" : "")))
                continue;
            std::vector<Sample> samples;
            std::string bad;
            for (const LineField& f : p.fields) {
                LineSample ls = line_sample(p, f);
                if (ls.skip) continue;
                if (f.is_string) {  // not a sample: the line's numbers are imported, the string counted
                    ++strings_skipped_;
                    continue;
                }
                if (ls.series.empty() || !valid_series_name(ls.series)) {
                    bad = "field '" + f.key + "' gives no series name (" + (ls.series.empty() ? "empty" : ls.series) + ")";
                    break;
                }
                if (ls.quality < 0 || ls.quality > 255) {
                    bad = "quality " + std::to_string(ls.quality) + " is not 0..255";
                    break;
                }
                if (!ls.unit.empty()) {
                    auto [u, added] = units_.emplace(ls.series, ls.unit);
                    if (!added && u->second != ls.unit) {
                        bad = "unit '" + ls.unit + "' of " + ls.series + " differs from '" + u->second +
                              "', given earlier (a series has one unit)";
                        break;
                    }
                }
                samples.push_back({series_index(ls.series), ts, f.number, static_cast<uint8_t>(ls.quality)});
            }
            if (!bad.empty()) {
                error(file, n, bad);
                continue;
            }
            if (samples.empty()) {
                error(file, n, "no number among the fields (string fields are not samples)");
                continue;
            }
            for (const Sample& s : samples) sink(s);
        }
        if (in.bad()) return file_error(file, n, "read error");
        return true;
    }

    // Reads a Socomec file's records (';' or tab, found from the first line).
    static char socomec_delimiter(std::istream& in) {
        std::string first;
        std::getline(in, first);
        in.clear();
        in.seekg(0);
        return first.find('\t') != std::string::npos && first.find(';') == std::string::npos ? '\t' : ';';
    }

    // Annex II: header rows 1-2 (the zone in "TimeZone"), a blank row, the
    // variable table (Index Key;Key;Type;Name;Fluid;Use;Coef;Unit;...), a
    // blank row, the data (Index Key;Date;Value;Quality), value = Value / Coef.
    template <class Sink>
    bool read_socomec_ems(const std::string& file, std::istream& in, Sink& sink) {
        const char d = socomec_delimiter(in);
        CsvReader csv(in, d);
        std::vector<std::string> f, head;
        if (!csv.next(head) || !csv.next(f) || head.size() < 2 || head[1] != "TimeZone" || f.size() < 2)
            return file_error(file, csv.line(), "not a Socomec EMS file: rows 1-2 must be its header (Data Type;TimeZone;...)");
        auto zone = TimeZone::load(f[1]);
        if (!zone) return file_error(file, 2, "TimeZone '" + f[1] + "': " + zone.status().message());
        ems_zone_ = *zone;
        file_tz_ = &ems_zone_;
        while (csv.next(f) && f.size() == 1 && f[0].empty()) {}
        if (f.size() < 8 || f[0] != "Index Key" || f[3] != "Name" || f[6] != "Coef" || f[7] != "Unit")
            return file_error(file, csv.line(), "not a Socomec EMS variable table (Index Key;Key;Type;Name;Fluid;Use;Coef;Unit;...)");
        struct Variable {
            int series = -1;
            double coef = 1;
        };
        std::map<std::string, Variable> vars;
        ems_taken_.clear();
        while (csv.next(f) && !(f.size() == 1 && f[0].empty())) {
            text_of(f, d);
            if (f.size() < 8) {
                file_error(file, csv.line(), "a variable row has " + std::to_string(f.size()) + " cells, not 8 or more");
                return false;
            }
            Variable v;
            if (!parse_value(f[6], v.coef) || v.coef == 0 || !std::isfinite(v.coef))
                return file_error(file, csv.line(), "Coef '" + f[6] + "' is not a number other than 0");
            const std::string name = socomec_ems_series(f[3]);
            if (name.empty() || !valid_series_name(name))
                return file_error(file, csv.line(), "Name '" + f[3] + "' gives no series name");
            if (auto used = index_.find(name); used != index_.end() && ems_taken_.count(used->second))
                return file_error(file, csv.line(), "Name '" + f[3] + "' becomes series " + name +
                                                        ", as another variable of this file does");
            v.series = series_index(name);
            ems_taken_.insert(v.series);
            if (!f[7].empty()) units_.emplace(name, f[7]);
            if (!vars.emplace(f[0], v).second)
                return file_error(file, csv.line(), "Index Key " + f[0] + " is in the variable table twice");
        }
        while (csv.next(f) && f.size() == 1 && f[0].empty()) {}
        if (f.size() != 4 || f[0] != "Index Key" || f[1] != "Date")
            return file_error(file, csv.line(), "no data block (Index Key;Date;Value;Quality) after the variable table");
        while (csv.next(f)) {
            if (f.size() == 1 && f[0].empty()) continue;
            text_of(f, d);
            progress(in);
            if (f.size() != 4) {
                error(file, csv.line(), std::to_string(f.size()) + " cells, a data row has 4");
                continue;
            }
            auto v = vars.find(f[0]);
            if (v == vars.end()) {
                error(file, csv.line(), "Index Key " + f[0] + " is not in the variable table");
                continue;
            }
            int64_t ts = 0;
            if (!time_of(file, csv.line(), f[1], ts, &f[0])) continue;
            Sample s{v->second.series, ts, 0, GL_QUALITY_GOOD};
            if (!parse_value(f[2], s.value)) {
                error(file, csv.line(), "Value '" + f[2] + "' is not a number");
                continue;
            }
            s.value /= v->second.coef;
            if (!parse_quality(f[3], s.quality)) {
                error(file, csv.line(), "Quality '" + f[3] + "' is not 0..255");
                continue;
            }
            sink(s);
        }
        if (!csv.error().empty()) return file_error(file, csv.line(), csv.error());
        return true;
    }

    // Annex I: the device rows (Device name;...), the six descriptor rows
    // (Load Name, Usage, Nature, Measured value, Unit, Scale), then one row per
    // step: date;value;...; value = cell × Scale; an empty cell has no sample.
    template <class Sink>
    bool read_socomec_csv(const std::string& file, std::istream& in, Sink& sink) {
        const char d = socomec_delimiter(in);
        CsvReader csv(in, d);
        std::vector<std::string> f, dev;
        if (!csv.next(f) || f.empty() || f[0] != "Device name" || !csv.next(dev) || dev.empty())
            return file_error(file, csv.line(), "not a Socomec CSV file: rows 1-2 must be its device header (Device name;...)");
        const char* labels[] = {"Load Name", "Usage", "Nature", "Measured value", "Unit", "Scale"};
        std::vector<std::vector<std::string>> desc;
        for (const char* label : labels) {
            if (!csv.next(f) || f.empty() || f[0] != label)
                return file_error(file, csv.line(), std::string("row ") + std::to_string(desc.size() + 3) + " must be '" +
                                                        label + "' (the six descriptor rows)");
            desc.push_back(f);
        }
        const size_t columns = desc[0].size();
        for (const auto& r : desc)
            if (r.size() != columns)
                return file_error(file, csv.line(), "the descriptor rows have different numbers of cells");
        std::vector<int> series(columns, -1);
        std::vector<double> scale(columns, 1);
        for (size_t c = 1; c < columns; ++c) {
            const std::string name = socomec_csv_series(dev[0], desc[0][c], desc[3][c]);
            if (name.empty() || !valid_series_name(name))
                return file_error(file, 3, "column " + std::to_string(c + 1) + " gives no series name");
            if (!parse_value(desc[5][c], scale[c]) || !std::isfinite(scale[c]))
                return file_error(file, 8, "Scale '" + desc[5][c] + "' of column " + std::to_string(c + 1) + " is not a number");
            for (size_t e = 1; e < c; ++e)
                if (series[e] >= 0 && names_[static_cast<size_t>(series[e])] == name)
                    return file_error(file, 3, "columns " + std::to_string(e + 1) + " and " + std::to_string(c + 1) +
                                                   " both become series " + name);
            series[c] = series_index(name);
            if (!desc[4][c].empty()) units_.emplace(name, desc[4][c]);
        }
        while (csv.next(f)) {
            if (f.size() == 1 && f[0].empty()) continue;
            text_of(f, d);
            progress(in);
            if (f.size() != columns) {
                error(file, csv.line(), std::to_string(f.size()) + " cells, the descriptor rows have " + std::to_string(columns));
                continue;
            }
            int64_t ts = 0;
            static const std::string kRow = "row";
            if (!time_of(file, csv.line(), f[0], ts, &kRow)) continue;
            std::vector<Sample> row_samples;
            bool bad = false;
            for (size_t c = 1; c < columns && !bad; ++c) {
                if (f[c].empty()) continue;
                Sample s{series[c], ts, 0, GL_QUALITY_GOOD};
                if (!parse_value(f[c], s.value)) {
                    error(file, csv.line(), "'" + f[c] + "' (column " + std::to_string(c + 1) + ") is not a number");
                    bad = true;
                    break;
                }
                s.value *= scale[c];
                row_samples.push_back(s);
            }
            if (!bad)
                for (const Sample& s : row_samples) sink(s);
        }
        if (!csv.error().empty()) return file_error(file, csv.line(), csv.error());
        return true;
    }

    int series_index(const std::string& name) {
        auto [it, added] = index_.try_emplace(name, static_cast<int>(names_.size()));
        if (added) names_.push_back(name);
        return it->second;
    }

    bool header(const std::string& file, const std::vector<std::string>& f, std::vector<Column>& cols) {
        const size_t before = error_count_;
        const bool ok = header_columns(file, f, cols);
        if (!ok) file_errors_ += error_count_ - before;
        return ok;
    }
    bool header_columns(const std::string& file, const std::vector<std::string>& f, std::vector<Column>& cols) {
        if (f.empty() || f[0] != "time") {
            error(file, 1, "the header must start with 'time' (tidy: time,series,value[,quality]; wide: "
                           "time,<series>[,<series>:quality]...), not '" + (f.empty() ? "" : f[0]) + "'");
            return false;
        }
        cols.push_back({Column::time, -1});
        const bool tidy = f.size() >= 3 && f[1] == "series" && f[2] == "value";
        if (tidy) {
            cols.push_back({Column::series_name, -1});
            cols.push_back({Column::value, -1});
            if (f.size() == 4 && f[3] == "quality") cols.push_back({Column::quality, -1});
            if (cols.size() != f.size()) {
                error(file, 1, "a tidy header is time,series,value[,quality]");
                return false;
            }
            return true;
        }
        if (f.size() < 2) {
            error(file, 1, "no series columns after 'time'");
            return false;
        }
        std::unordered_map<std::string, size_t> seen;  // column header -> column number
        for (size_t i = 1; i < f.size(); ++i) {
            if (auto [it, added] = seen.emplace(f[i], i + 1); !added) {
                error(file, 1, "column " + std::to_string(i + 1) + " '" + f[i] + "' is column " +
                                   std::to_string(it->second) + " too");
                return false;
            }
            std::string name = f[i];
            const bool is_quality = name.size() > 8 && name.compare(name.size() - 8, 8, ":quality") == 0;
            if (is_quality) name.resize(name.size() - 8);
            if (!valid_series_name(name)) {
                error(file, 1, "column " + std::to_string(i + 1) + " '" + f[i] +
                                   "' is not a series name (device/point, segments of letters, digits, '_', '-', '.')");
                return false;
            }
            cols.push_back({is_quality ? Column::series_quality : Column::series_values, series_index(name)});
        }
        for (size_t i = 1; i < f.size(); ++i)
            if (cols[i].what == Column::series_quality && !seen.count(names_[static_cast<size_t>(cols[i].series)])) {
                error(file, 1, "column " + std::to_string(i + 1) + " '" + f[i] + "' has no column '" +
                                   names_[static_cast<size_t>(cols[i].series)] + "' for its values");
                return false;
            }
        return true;
    }

    // A local time (no offset) that does not exist (clocks set forward) or
    // exists twice (set back) in the zone: "" when it is one instant.
    // `twice`: set to the two instants when the time occurs twice.
    std::string local_time_problem(const std::string& text, int64_t ts,
                                   std::pair<int64_t, int64_t>* twice = nullptr) const {
        const size_t sep = text.find_first_of("T ", 8);
        const std::string clock = sep == std::string::npos ? "" : text.substr(sep + 1);
        if (clock.find_first_of("Zz+-") != std::string::npos) return "";  // has an offset
        auto wall = TimeZone::utc().parse_iso(text);                      // the wall clock, as if UTC
        if (!wall) return "";
        const TimeZone& z = zone();
        if (ts + z.utc_offset_ms(ts) != *wall)
            return "local time " + text + " does not exist in " + z.name() +
                   " (clocks were set forward then): give it with an offset";
        for (int64_t probe : {ts - 6 * 3'600'000LL, ts + 6 * 3'600'000LL}) {
            const int64_t other = *wall - z.utc_offset_ms(probe);
            if (other != ts && other + z.utc_offset_ms(other) == *wall) {
                if (twice) *twice = {std::min(ts, other), std::max(ts, other)};
                return "local time " + text + " occurs twice in " + z.name() + " (" + z.format_iso(std::min(ts, other)) +
                       " and " + z.format_iso(std::max(ts, other)) + "): give it with an offset";
            }
        }
        return "";
    }

    // `repeat_key`: for the Socomec files, whose rows go newest first with
    // local times without an offset: a time that occurs twice (clocks set
    // back) is the later instant the first time this key meets it, the
    // earlier one the second time.
    bool time_of(const std::string& file, int line, const std::string& text, int64_t& ts,
                 const std::string* repeat_key = nullptr) {
        if (!text.empty() && text[0] == '@') {
            const char* end = text.data() + text.size();
            auto [p, ec] = std::from_chars(text.data() + 1, end, ts);
            if (ec != std::errc() || p != end) return error(file, line, "bad time '" + text + "' (@ then epoch ms)"), false;
        } else {
            auto t = zone().parse_iso(text);
            if (!t) return error(file, line, t.status().message()), false;
            ts = *t;
            std::pair<int64_t, int64_t> twice{0, 0};
            if (std::string why = local_time_problem(text, ts, &twice); !why.empty()) {
                if (!repeat_key || twice.first == twice.second) return error(file, line, why), false;
                const std::string key = file + '\x1f' + *repeat_key + '\x1f' + text;
                ts = repeats_seen_.insert(key).second ? twice.second : twice.first;
            }
        }
        return in_window(file, line, ts, text);
    }

    // The store takes `ts` (retention, accept window); else the reason.
    bool in_window(const std::string& file, int line, int64_t ts, const std::string& text) {
        if (raw_cutoff_ > INT64_MIN && ts < raw_cutoff_)
            return error(file, line, "time " + text + " is older than [store] retention_raw_days (" +
                                         std::to_string(raw_days_) +
                                         " days): raw samples there are gone, so the rollups cannot take it; raise "
                                         "retention_raw_days (and give --config) to import it"),
                   false;
        if (!store_.accept_window_holds(ts)) {
            const auto [lo, hi] = store_.accept_window();
            return error(file, line, "time " + text + " is outside what the store accepts (" +
                                         TimeZone::utc().format_iso(lo) + " to " + TimeZone::utc().format_iso(hi) +
                                         ": [store] accept_from_year, accept_ahead_hours)"),
                   false;
        }
        return true;
    }

    template <class Sink>
    void row(const std::string& file, int line, const std::vector<std::string>& f, const std::vector<Column>& cols,
             Sink& sink) {
        int64_t ts = 0;
        if (!time_of(file, line, f[0], ts)) return;
        if (cols[1].what == Column::series_name) {  // tidy
            if (!valid_series_name(f[1])) return error(file, line, "'" + f[1] + "' is not a series name");
            Sample s{series_index(f[1]), ts, 0, GL_QUALITY_GOOD};
            if (!parse_value(f[2], s.value)) return error(file, line, "value '" + f[2] + "' is not a number");
            if (cols.size() == 4 && !parse_quality(f[3], s.quality))
                return error(file, line, "quality '" + f[3] + "' is not 0..255");
            sink(s);
            return;
        }
        // Wide: one sample per non-empty value column, its quality from the
        // matching :quality column (good when there is none).
        std::unordered_map<int, uint8_t> quality;
        for (size_t i = 1; i < cols.size(); ++i) {
            if (cols[i].what != Column::series_quality || f[i].empty()) continue;
            uint8_t q = 0;
            if (!parse_quality(f[i], q)) return error(file, line, "quality '" + f[i] + "' is not 0..255");
            quality[cols[i].series] = q;
        }
        for (size_t i = 1; i < cols.size(); ++i) {
            if (cols[i].what != Column::series_values || f[i].empty()) continue;
            Sample s{cols[i].series, ts, 0, GL_QUALITY_GOOD};
            if (!parse_value(f[i], s.value))
                return error(file, line, "value '" + f[i] + "' (" + names_[s.series] + ") is not a number");
            if (auto q = quality.find(s.series); q != quality.end()) s.quality = q->second;
            sink(s);
        }
    }

    const TimeZone& tz_;
    store::Store& store_;
    std::string format_;
    int64_t line_divisor_ = 1'000'000;
    bool keep_rejects_ = false;
    const TimeZone* file_tz_ = nullptr;  // a Socomec EMS file's own zone
    TimeZone ems_zone_;
    std::string text_;                   // the line being read (for --rejects)
    std::vector<Reject> rejects_;
    std::vector<std::pair<std::string, Format>> formats_;
    std::set<int> ems_taken_;    // series of this EMS file's variables
    std::set<std::string> repeats_seen_;  // Socomec: file, key and local time of a repeated hour met once
    size_t strings_skipped_ = 0; // line protocol string fields (not samples)
    std::map<std::string, std::string> units_;
    size_t file_errors_ = 0;
    const char* progress_what_ = nullptr;
    size_t rows_seen_ = 0;
    uintmax_t file_bytes_ = 0;
    std::chrono::steady_clock::time_point next_progress_ = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    std::vector<std::string> names_;
    std::unordered_map<std::string, int> index_;
    std::vector<std::string> errors_;
    size_t error_count_ = 0;
    int64_t raw_cutoff_ = INT64_MIN;  // samples before it: refused (retention)
    int64_t raw_days_ = 0;
};

// --series FILE: what `gridlet series --format csv` writes (columns name,
// kind, unit, tags "k=v;k=v", description, states "0=off,1=on"; others ignored), the metadata of
// the series the import creates. Problems go to `problems`.
std::map<std::string, SeriesMeta> read_series_file(const std::string& file, std::vector<std::string>& problems) {
    std::map<std::string, SeriesMeta> out;
    std::ifstream in(file, std::ios::binary);
    if (!in) return problems.push_back(file + ": cannot be opened"), out;
    CsvReader csv(in);
    std::vector<std::string> f;
    if (!csv.next(f)) return problems.push_back(file + ":1: no header"), out;
    std::map<std::string, size_t> col;
    for (size_t i = 0; i < f.size(); ++i) col[f[i]] = i;
    if (!col.count("name")) return problems.push_back(file + ":1: no 'name' column (gridlet series --format csv)"), out;
    const auto field = [&](const std::vector<std::string>& r, const char* name) -> std::string {
        auto it = col.find(name);
        return it != col.end() && it->second < r.size() ? r[it->second] : "";
    };
    while (csv.next(f)) {
        if (f.size() == 1 && f[0].empty()) continue;
        const std::string where = file + ":" + std::to_string(csv.line()) + ": ";
        if (f.size() != col.size()) {
            problems.push_back(where + std::to_string(f.size()) + " fields, the header has " + std::to_string(col.size()));
            continue;
        }
        SeriesMeta m;
        m.name = field(f, "name");
        if (!valid_series_name(m.name)) {
            problems.push_back(where + "'" + m.name + "' is not a series name");
            continue;
        }
        if (std::string k = field(f, "kind"); !k.empty()) {
            auto kind = parse_series_kind(k);
            if (!kind) {
                problems.push_back(where + "kind '" + k + "' is not gauge, counter or state");
                continue;
            }
            m.kind = *kind;
        }
        m.unit = field(f, "unit");
        m.description = field(f, "description");
        if (std::string states = field(f, "states"); !states.empty()) {
            auto parsed = parse_states(states);
            if (!parsed) {
                problems.push_back(where + "states: " + parsed.status().message());
                continue;
            }
            m.states = std::move(*parsed);
        }
        const std::string tags = field(f, "tags");
        for (size_t pos = 0; pos < tags.size();) {
            size_t end = tags.find(';', pos);
            if (end == std::string::npos) end = tags.size();
            const std::string item = tags.substr(pos, end - pos);
            const size_t eq = item.find('=');
            if (eq == std::string::npos || eq == 0) {
                problems.push_back(where + "tag '" + item + "' is not key=value");
                break;
            }
            m.tags[item.substr(0, eq)] = item.substr(eq + 1);
            pos = end + 1;
        }
        out[m.name] = std::move(m);
    }
    if (!csv.error().empty()) problems.push_back(file + ":" + std::to_string(csv.line()) + ": " + csv.error());
    return out;
}

void run_import(const ImportArgs& a) {
    if (a.db.empty() == a.config.empty()) fail(kCommand, 2, "give exactly one of --db <path> or --config <site.toml>");
    store::StoreOptions o;
    std::string zone = "UTC";
    if (!a.config.empty()) {
        auto site = store::read_site_store(a.config);
        if (!site) fail(kCommand, 2, site.status().message());
        o = site->options;
        zone = site->timezone;
        o.day_zone = zone;
    } else {
        o.path = a.db;
        o.apply_retention = false;  // the site's retention is not known: nothing expires meanwhile
    }
    o.create_if_missing = false;  // an import never makes a store: `gridlet store init`
    if (!a.tz.empty()) zone = a.tz;
    auto tz = TimeZone::load(zone);
    if (!tz) fail(kCommand, 2, "--tz: " + tz.status().message());
    std::optional<SeriesKind> kind;
    if (!a.kind.empty()) kind = parse_series_kind(a.kind);

    std::error_code ec;
    if (!std::filesystem::exists(o.path / "CURRENT", ec) && !std::filesystem::exists(store::creation_record(o.path), ec))
        fail(kCommand, 2, "store " + o.path.string() + " does not exist; an import never creates one: `gridlet store init " +
                              (a.config.empty() ? "--db " + o.path.string() : "--config " + a.config) +
                              "` creates an empty store");
    KeepOwner keep(o.path);  // root importing into the service's store: its files stay the service's
    // A dry run writes nothing: it reads the store as `gridlet query` does,
    // also while gridlet runs on it.
    std::unique_ptr<store::Store> opened;
    if (a.dry_run) {
        opened = open_store_read_only(kCommand, o.path);
    } else {
        auto writable = store::Store::open(o);
        if (!writable)
            fail(kCommand, writable.status().code() == StatusCode::not_found ? 2 : 1, writable.status().message());
        opened = std::move(*writable);
    }
    store::Store& store = *opened;

    // Pass 1: check every row of every file; nothing is written yet.
    // The raw retention is the site's ([store] retention_raw_days): known
    // with --config only (a store folder does not record it).
    const int64_t raw_ms = a.config.empty() ? 0 : o.retention.raw_ms;
    if (a.config.empty())
        std::fprintf(stderr, "note: with --db the site's retention is not known: nothing expires during the import, but "
                             "samples older than its retention_raw_days would not be rolled up correctly; --config "
                             "checks them\n");
    int64_t divisor = 1'000'000;
    if (a.precision == "us") divisor = 1'000;
    else if (a.precision == "ms") divisor = 1;
    else if (a.precision == "s") divisor = -1;  // seconds: multiplied, below
    Importer check(*tz, store, raw_ms, a.format, divisor, !a.rejects.empty());
    check.show_progress("checking");
    size_t rows = 0;
    std::vector<size_t> per_series;
    int64_t first = INT64_MAX, last = INT64_MIN;
    for (const std::string& file : a.files)
        check.read(file, [&](const Sample& s) {
            ++rows;
            if (per_series.size() <= static_cast<size_t>(s.series)) per_series.resize(static_cast<size_t>(s.series) + 1);
            ++per_series[static_cast<size_t>(s.series)];
            first = std::min(first, s.ts);
            last = std::max(last, s.ts);
        });
    per_series.resize(check.names().size());
    // --rejects: every line not imported, as CSV (file,line,reason,text).
    if (!a.rejects.empty()) {
        std::ofstream out(a.rejects, std::ios::binary | std::ios::trunc);
        if (!out) fail(kCommand, 2, "--rejects: " + a.rejects + " cannot be written");
        auto cell = [](const std::string& v) {
            if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
            std::string q = "\"";
            for (char c : v) q += c == '"' ? std::string("\"\"") : std::string(1, c);
            return q + "\"";
        };
        out << "file,line,reason,text\n";
        for (const Reject& r : check.rejects())
            out << cell(r.file) << ',' << r.line << ',' << cell(r.why) << ',' << cell(r.text) << '\n';
        if (!out.flush()) fail(kCommand, 1, "--rejects: writing " + a.rejects + " failed");
    }
    for (const auto& [file, format] : check.formats()) std::printf("%s: %s\n", file.c_str(), format_name(format));
    if (check.strings_skipped())
        std::printf("%zu string field%s left out (a sample is a number)\n", check.strings_skipped(),
                    check.strings_skipped() == 1 ? "" : "s");
    std::fflush(stdout);
    const bool going_on = a.keep_going && check.file_error_count() == 0 && check.error_count() > 0;
    std::vector<std::string> problems = going_on ? std::vector<std::string>{} : check.errors();
    if (going_on) {
        for (const std::string& p : check.errors()) std::fprintf(stderr, "rejected: %s\n", p.c_str());
        const size_t more = check.error_count() - check.errors().size();
        if (more) std::fprintf(stderr, "rejected: ... and %zu more\n", more);
        std::fprintf(stderr, "%zu line%s rejected%s; --keep-going: the others are imported\n", check.error_count(),
                     check.error_count() == 1 ? "" : "s", a.rejects.empty() ? "" : (" (every one in " + a.rejects + ")").c_str());
    }
    std::map<std::string, SeriesMeta> described;
    if (!a.series_file.empty()) described = read_series_file(a.series_file, problems);
    // What a new series is made with: its line in --series, else --kind and --unit.
    const auto new_meta = [&](const std::string& name) {
        if (auto it = described.find(name); it != described.end()) return it->second;
        SeriesMeta m;
        m.name = name;
        m.unit = a.unit;
        if (auto u = check.units().find(name); a.unit.empty() && u != check.units().end()) m.unit = u->second;
        if (kind) m.kind = *kind;
        return m;
    };
    // Series: an existing one keeps its kind and unit.
    for (const std::string& name : check.names()) {
        auto id = store.registry().find(name);
        if (!id) continue;
        const SeriesMeta m = *store.registry().get(*id);
        const bool from_file = described.count(name) > 0;
        const SeriesMeta want = new_meta(name);
        const std::string by = from_file ? a.series_file : !a.unit.empty() || kind ? std::string("--kind/--unit") : std::string("the file");
        if ((from_file || kind) && want.kind != m.kind)
            problems.push_back("series " + name + " exists as a " + series_kind_name(m.kind) + "; " + by + " says " +
                               series_kind_name(want.kind) + " (kind and unit are for new series)");
        if ((from_file || !a.unit.empty() || check.units().count(name)) && want.unit != m.unit)
            problems.push_back("series " + name + " exists with unit '" + m.unit + "'; " + by + " says '" + want.unit +
                               "' (kind and unit are for new series)");
    }
    if (!problems.empty()) {
        for (const std::string& p : problems) std::fprintf(stderr, "%s\n", p.c_str());
        const size_t more = check.error_count() > check.errors().size() ? check.error_count() - check.errors().size() : 0;
        if (more) std::fprintf(stderr, "... and %zu more\n", more);
        fail(kCommand, 2,
             std::string("nothing was written") +
                 (check.file_error_count() == 0 && check.error_count() > 0 && !a.keep_going
                      ? " (--keep-going imports the other lines" + std::string(a.rejects.empty() ? "; --rejects FILE lists every rejected one)" : ")")
                      : ""));
    }
    if (rows == 0) fail(kCommand, 2, "no samples in the files");

    std::printf("%zu samples of %zu series, %s to %s\n", rows, check.names().size(),
                tz->format_iso(first, true).c_str(), tz->format_iso(last, true).c_str());
    if (a.dry_run) {
        std::printf("--dry-run: nothing written\n");
        return;
    }

    // Pass 2: register the new series, write the samples.
    std::vector<uint32_t> ids;
    size_t created = 0, used = 0;
    for (size_t i = 0; i < check.names().size(); ++i) {
        const std::string& name = check.names()[i];
        if (per_series[i] == 0) {  // only on rejected lines: not made
            ids.push_back(0);
            continue;
        }
        ++used;
        if (auto id = store.registry().find(name)) {
            ids.push_back(*id);
            continue;
        }
        SeriesMeta m = new_meta(name);
        if (!m.tags.count("device")) m.tags["device"] = std::string(m.device());
        auto id = store.registry().intern(m);
        if (!id) fail(kCommand, 1, id.status().message());
        ids.push_back(*id);
        ++created;
    }
    Importer write(*tz, store, raw_ms, a.format, divisor);
    write.show_progress("writing");
    std::vector<gl_sample> batch;
    size_t written = 0;
    auto next_progress = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    auto flush = [&] {
        if (batch.empty()) return;
        if (Status st = store.append(batch); !st)
            fail(kCommand, 1, st.message() + " (" + std::to_string(written) + " of " + std::to_string(rows) +
                                  " samples written before this)");
        written += batch.size();
        batch.clear();
        if (std::chrono::steady_clock::now() >= next_progress) {
            std::fprintf(stderr, "imported %zu of %zu samples\n", written, rows);
            next_progress = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        }
    };
    // The second reader sees the same names in the same order (same files).
    for (const std::string& file : a.files) {
        bool ok = write.read(file, [&](const Sample& s) {
            batch.push_back(gl_sample{s.ts, s.value, ids[static_cast<size_t>(s.series)], s.quality, {0, 0, 0}});
            if (batch.size() >= kBatch) flush();
        });
        if (!ok || write.file_error_count()) fail(kCommand, 1, file + " changed while it was imported");
    }
    if (write.error_count() != check.error_count()) fail(kCommand, 1, "the files changed while they were imported");
    {
    }
    flush();
    if (Status st = store.sync(); !st) fail(kCommand, 1, st.message());
    std::printf("imported %zu rows into %zu series (%zu new; a row at a time already stored, or given twice, replaces "
                "the earlier sample)\n",
                written, used, created);
    auto rolled = store.roll_up_now();
    if (!rolled) fail(kCommand, 1, "samples imported, but the rollups were not updated: " + rolled.status().message() +
                                       " (gridlet run updates them)");
}

}  // namespace

void register_import_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("import", "Load historic samples (CSV, InfluxDB line protocol, Socomec exports) into a store no gridlet has open");
    auto a = std::make_shared<ImportArgs>();
    cmd->add_option("files", a->files,
                    "Files: CSV (time,series,value[,quality] or time,<series>...[,<series>:quality]), InfluxDB line "
                    "protocol, Socomec EMS or CSV exports")
        ->required();
    cmd->add_option("--format", a->format, "The files' format (default auto: from each file's first line)")
        ->check(CLI::IsMember({"auto", "csv", "line", "socomec_ems", "socomec_csv"}));
    cmd->add_option("--precision", a->precision, "Line protocol timestamps: ns (default, as InfluxDB), us, ms or s")
        ->check(CLI::IsMember({"ns", "us", "ms", "s"}));
    cmd->add_option("--rejects", a->rejects, "Write every rejected line here, as CSV: file,line,reason,text");
    cmd->add_flag("--keep-going", a->keep_going,
                  "Import the good lines when some are rejected (default: a rejected line, and nothing is written)");
    add_store_options(cmd, a->db, a->config);
    cmd->add_option("--tz", a->tz, "IANA time zone of times without an offset (default: the site's, else UTC)");
    cmd->add_option("--kind", a->kind, "Kind of new series (default gauge)")
        ->check(CLI::IsMember({"gauge", "counter", "state"}));
    cmd->add_option("--unit", a->unit, "Unit of new series");
    cmd->add_option("--series", a->series_file,
                    "Kind, unit, tags and description of new series: what `gridlet series --format csv` writes");
    cmd->add_flag("--dry-run", a->dry_run,
                  "Check the files and say what would be imported; write nothing (also while gridlet runs on the store)");
    cmd->footer(
        "Reads what `gridlet query` writes (with or without --wide). Times: ISO-8601 (local in --tz without an\n"
        "offset) or @epoch_ms. Values: numbers, nan, inf, -inf (stored as bad data). Quality: 0..255 (default\n"
        "192, good). Line protocol: gridlet's own lines (tags device, point) go to <device>/<point>; others to\n"
        "<measurement>/<tag values in key order>/<field>. Socomec EMS: <device>/<circuit>/<quantity> from each\n"
        "variable's Name, value = Value / Coef, in the file's TimeZone; Socomec CSV: <device>/<load>/<measured\n"
        "value>, value = cell x Scale, local times in --tz. Every line is checked first: a rejected line, and\n"
        "nothing is written, unless --keep-going. A sample at a time that is already stored replaces it, so\n"
        "importing a file twice changes nothing. The store must not be open by a running gridlet (stop it first).\n"
        "Exit status: 0 imported; 1 the store failed; 2 bad arguments or a rejected line (nothing written).");
    on_run(cmd, "import", [a] { run_import(*a); });
}

}  // namespace gridlet::cli

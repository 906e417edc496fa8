// The files `gridlet import` reads, checked line by line: the tidy and
// wide CSV `gridlet query` writes, InfluxDB line protocol (import_formats.h
// parses a line) and the Socomec EMS and CSV export files. Importer reads a
// file, calls a sink for each sample, and keeps the problems as
// "file:line: what" and the rejected lines (for --rejects). The command
// itself (the store, the two passes, the report) is cmd_import.cpp.
// CLI thread.
#pragma once

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "cli/csv_reader.h"
#include "cli/import_formats.h"
#include "core/clock.h"
#include "core/pattern.h"
#include "core/timezone.h"
#include "store/store.h"

namespace gridlet::cli {

constexpr size_t kMaxImportErrorsShown = 10;  // problems kept as text; the others are counted

// The formats a file may be in; `auto` looks at its first line.
enum class Format { csv, line, socomec_ems, socomec_csv };
inline const char* format_name(Format f) {
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

inline bool parse_value(const std::string& s, double& out) {
    if (s == "nan" || s == "NaN") return out = std::nan(""), true;
    if (s == "inf" || s == "Infinity") return out = HUGE_VAL, true;
    if (s == "-inf" || s == "-Infinity") return out = -HUGE_VAL, true;
    const char* end = s.data() + s.size();
    auto [p, ec] = std::from_chars(s.data(), end, out);
    return ec == std::errc() && p == end && !s.empty();
}

inline bool parse_quality(const std::string& s, uint8_t& out) {
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
        if (errors_.size() < kMaxImportErrorsShown)
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

}  // namespace gridlet::cli

#include "export/csv_writer.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace gridlet::exporter {

Expected<CsvDialect> make_dialect(std::string_view delimiter, std::string_view decimal, std::string_view line_end) {
    CsvDialect d;
    if (delimiter == ";" || delimiter == "," || delimiter == "|") d.delimiter = delimiter[0];
    else if (delimiter == "tab" || delimiter == "\t") d.delimiter = '\t';
    else return Status::invalid("delimiter '" + std::string(delimiter) + "': one of \";\", \",\", \"tab\", \"|\"");
    if (decimal == "." || decimal == ",") d.decimal = decimal[0];
    else return Status::invalid("decimal '" + std::string(decimal) + "': \".\" or \",\"");
    if (d.decimal == d.delimiter)
        return Status::invalid("decimal '" + std::string(decimal) + "' is also the delimiter: numbers would split; use delimiter = \";\"");
    if (line_end == "crlf") d.line_end = "\r\n";
    else if (line_end == "lf") d.line_end = "\n";
    else return Status::invalid("line_end '" + std::string(line_end) + "': \"crlf\" or \"lf\"");
    return d;
}

namespace {
void put_cell(std::string& out, std::string_view cell, char delimiter) {
    bool quote = false;
    for (char c : cell) quote |= c == delimiter || c == '"' || c == '\r' || c == '\n';
    if (!quote) {
        out += cell;
        return;
    }
    out += '"';
    for (char c : cell) {
        if (c == '"') out += '"';
        out += c;
    }
    out += '"';
}
}  // namespace

void MatrixSink::row(std::span<const std::string_view> cells) {
    matrix.emplace_back(cells.begin(), cells.end());
}

void TextSink::row(std::span<const std::string_view> cells) {
    for (size_t i = 0; i < cells.size(); ++i) {
        if (i) text += d_.delimiter;
        put_cell(text, cells[i], d_.delimiter);
    }
    text += d_.line_end;
}

std::string write_csv(const CellMatrix& m, const CsvDialect& d) {
    TextSink sink(d);
    std::vector<std::string_view> cells;
    for (const CsvRow& row : m) {
        cells.assign(row.begin(), row.end());
        sink.row(std::span<const std::string_view>(cells));
    }
    return std::move(sink.text);
}

Expected<CellMatrix> read_csv(std::string_view text, char delimiter) {
    CellMatrix m;
    CsvRow row;
    std::string cell;
    bool quoted = false, in_row = false;
    size_t line = 1;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (quoted) {
            if (c == '"') {
                if (i + 1 < text.size() && text[i + 1] == '"') {
                    cell += '"';
                    ++i;
                } else {
                    quoted = false;
                }
            } else {
                if (c == '\n') ++line;
                cell += c;
            }
            continue;
        }
        if (c == '"' && cell.empty()) {
            quoted = in_row = true;
        } else if (c == delimiter) {
            row.push_back(std::move(cell));
            cell.clear();
            in_row = true;
        } else if (c == '\r' || c == '\n') {
            if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
            if (in_row || !cell.empty()) row.push_back(std::move(cell));
            cell.clear();
            m.push_back(std::move(row));
            row.clear();
            in_row = false;
            ++line;
        } else {
            cell += c;
            in_row = true;
        }
    }
    if (quoted) return Status::invalid("CSV line " + std::to_string(line) + ": a quoted cell is not closed");
    if (in_row || !cell.empty()) {
        row.push_back(std::move(cell));
        m.push_back(std::move(row));
    }
    return m;
}

namespace {
std::string with_decimal(std::string s, const CsvDialect& d) {
    if (d.decimal != '.')
        for (char& c : s)
            if (c == '.') c = d.decimal;
    return s;
}
}  // namespace

std::string format_fixed(double v, int decimals, const CsvDialect& d) {
    char buf[64];
    const double scale = std::pow(10.0, decimals);
    const double r = std::round(v * scale) / scale;  // half away from zero, not printf's half-even
    std::snprintf(buf, sizeof buf, "%.*f", decimals, r == 0 ? 0.0 : r);
    return with_decimal(buf, d);
}

void append_number(std::string& out, double v, const CsvDialect& d) {
    if (!std::isfinite(v)) {
        out += std::isnan(v) ? "NaN" : (v > 0 ? "Infinity" : "-Infinity");
        return;
    }
    char buf[64];
    char* end;
    if (v == std::trunc(v) && std::fabs(v) < 9007199254740992.0) {
        end = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(v)).ptr;  // -0 is 0
    } else {
        end = std::to_chars(buf, buf + sizeof buf, v).ptr;
        if (d.decimal != '.')
            for (char* c = buf; c != end; ++c)
                if (*c == '.') *c = d.decimal;
    }
    out.append(buf, end);
}

std::string format_number(double v, const CsvDialect& d) {
    std::string out;
    append_number(out, v, d);
    return out;
}

}  // namespace gridlet::exporter

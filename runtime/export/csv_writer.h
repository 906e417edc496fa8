// CSV writing for the export files: a file is built as a cell matrix (rows of
// text cells, what golden tests compare) and written in a CSV dialect (what
// the byte-level golden tests compare). RFC 4180 quoting: a cell holding the
// delimiter, a double quote, CR or LF is written between double quotes, its
// quotes doubled, so a load named "Heating; floor 2" stays one cell.
//
// The Socomec annexes (../shared/spec/socomec-webview.md §7.2) give neither
// delimiter, decimal separator nor line ending; the defaults here are the
// ones French spreadsheet software reads as is: ';', '.', CRLF.
//
// Pure functions; any thread.
#pragma once

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace gridlet::exporter {

using CsvRow = std::vector<std::string>;
using CellMatrix = std::vector<CsvRow>;

struct CsvDialect {
    char delimiter = ';';
    char decimal = '.';        // in numbers written with format_number / format_fixed
    std::string line_end = "\r\n";
};

// Reads the dialect keys of an export: delimiter ";", ",", "tab" or "|";
// decimal "." or ","; line_end "crlf" or "lf". A decimal separator equal to
// the delimiter is refused (the numbers would split).
Expected<CsvDialect> make_dialect(std::string_view delimiter, std::string_view decimal, std::string_view line_end);

// Where the rows of a file go, from the one code that lays the file out: a
// cell matrix (what tests compare) or the file's bytes in a dialect (what is
// written, without a matrix in between: a day of 100 variables is 144,000
// rows).
class RowSink {
public:
    virtual ~RowSink() = default;
    virtual void row(std::span<const std::string_view> cells) = 0;
    void row(std::initializer_list<std::string_view> cells) { row(std::span(cells.begin(), cells.size())); }
};

class MatrixSink final : public RowSink {
public:
    using RowSink::row;
    void row(std::span<const std::string_view> cells) override;
    CellMatrix matrix;
};

// Each row's cells joined by the delimiter (an empty row is an empty line),
// quoted as needed, every row ended by line_end.
class TextSink final : public RowSink {
public:
    explicit TextSink(const CsvDialect& d) : d_(d) {}
    using RowSink::row;
    void row(std::span<const std::string_view> cells) override;
    std::string text;

private:
    CsvDialect d_;
};

// The bytes of `m` (TextSink).
std::string write_csv(const CellMatrix& m, const CsvDialect& d);

// Reads `text` back into cells (the inverse of write_csv, for tests and for
// checking what was written): quoted cells, doubled quotes, CRLF or LF.
Expected<CellMatrix> read_csv(std::string_view text, char delimiter);

// `v` with exactly `decimals` decimals (rounded half away from zero), with
// the dialect's decimal separator: format_fixed(1, 7, d) = "1.0000000".
std::string format_fixed(double v, int decimals, const CsvDialect& d);
// `v` as an integer when it is one (up to 2^53), else the shortest text that
// reads back to the same double, with the dialect's decimal separator.
std::string format_number(double v, const CsvDialect& d);
// format_number(v) appended to `out` (no string of its own: the export loops).
void append_number(std::string& out, double v, const CsvDialect& d);

}  // namespace gridlet::exporter

// A small RFC 4180 CSV reader for `gridlet import`: one record at a time
// from a stream, fields in double quotes may hold commas, quotes ("") and
// line breaks; CRLF and a UTF-8 byte order mark are accepted. CLI thread.
#pragma once

#include <istream>
#include <string>
#include <vector>

namespace gridlet::cli {

class CsvReader {
public:
    // `delimiter`: ',' (RFC 4180), ';' or '\t' (the Socomec files).
    explicit CsvReader(std::istream& in, char delimiter = ',') : in_(in), delimiter_(delimiter) {}

    // The next record into `fields`; false at the end of the input or on an
    // error (error() is then not empty: an unterminated quote). `line()` is
    // the 1-based line the record started on.
    bool next(std::vector<std::string>& fields);
    int line() const { return line_; }
    const std::string& error() const { return error_; }

private:
    std::istream& in_;
    char delimiter_ = ',';
    int line_ = 0;       // the line the last record started on
    int next_line_ = 1;  // the line the next record starts on
    bool first_ = true;
    std::string error_;
};

}  // namespace gridlet::cli

#include "cli/csv_reader.h"

namespace gridlet::cli {

bool CsvReader::next(std::vector<std::string>& fields) {
    fields.clear();
    error_.clear();
    line_ = next_line_;
    int c = in_.get();
    if (c == EOF) return false;
    if (first_) {
        first_ = false;
        if (c == 0xEF && in_.peek() == 0xBB) {  // UTF-8 byte order mark
            in_.get();
            if (in_.get() != 0xBF) {
                error_ = "the file starts with bytes that are not UTF-8 text";
                return false;
            }
            c = in_.get();
            if (c == EOF) return false;
        }
    }
    std::string field;
    bool quoted = false, was_quoted = false;
    for (;; c = in_.get()) {
        if (quoted) {
            if (c == EOF) {
                error_ = "a quoted field is not closed";
                return false;
            }
            if (c == '"') {
                if (in_.peek() == '"') {
                    in_.get();
                    field.push_back('"');
                } else {
                    quoted = false;
                }
                continue;
            }
            if (c == '\n') ++next_line_;
            field.push_back(static_cast<char>(c));
            continue;
        }
        if (c == EOF || c == '\n') {
            if (c == '\n') ++next_line_;
            if (!was_quoted && !field.empty() && field.back() == '\r') field.pop_back();
            fields.push_back(std::move(field));
            return true;
        }
        if (c == '\r' && in_.peek() == '\n') continue;
        if (c == delimiter_) {
            fields.push_back(std::move(field));
            field.clear();
            was_quoted = false;
            continue;
        }
        if (c == '"' && field.empty() && !was_quoted) {
            quoted = was_quoted = true;
            continue;
        }
        field.push_back(static_cast<char>(c));
    }
}

}  // namespace gridlet::cli

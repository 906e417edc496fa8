// Numbers and fields as text, the same in the CLI and the HTTP API. Pure
// functions; any thread.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace gridlet::answers {

// A value as CSV text: the shortest decimal that reads back as the same
// double; "nan", "inf", "-inf" (pandas.read_csv reads all of them as floats).
std::string format_number(double v);
// `v` rounded to `decimals` places (0..15) for display: the double nearest to
// the rounded decimal, so format_number() prints it short (0.09000000000000002
// with 2 -> 0.09). decimals < 0, or |v| >= 1e15: v itself. -0 becomes 0.
double round_decimals(double v, int decimals);
// A CSV field (RFC 4180): quoted when it holds a comma, quote or newline,
// quotes doubled.
std::string csv_field(const std::string& s);
// A value as JSON: a number, or the strings "NaN", "Infinity", "-Infinity"
// (JSON has no non-finite numbers; null would hide which it was).
nlohmann::json json_number(double v);

}  // namespace gridlet::answers

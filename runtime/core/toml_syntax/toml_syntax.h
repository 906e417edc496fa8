// toml_syntax_message(): a TOML parse error in the words of a site file's
// author. toml++ reports what its parser expected ("expected 'false', saw
// 'fo'" for `name = foo`); this keeps that text and adds what the author most
// likely wrote wrong and how TOML wants it (TOML 1.0, toml.io/en/v1.0.0).
// Header-only (the Modbus plugin uses it for profiles, the kernel for site
// files); pure function, any thread.
#pragma once

#include <string>
#include <string_view>

namespace gridlet {

inline std::string toml_syntax_message(std::string_view description) {
    std::string msg(description);
    const auto has = [&](std::string_view s) { return description.find(s) != std::string_view::npos; };
    const char* hint = nullptr;
    if (has("parsing boolean") || has("parsing value") || has("parsing infinity") || has("parsing nan")) {
        hint = "a value is \"text in quotes\", a number, true or false, a date, [a, list] or { key = value }: "
               "text needs quotes (name = \"panel1\")";
    } else if (has("parsing string") || has("parsing literal string")) {
        hint = "the string is not closed on this line (a closing quote is missing; \"\"\"...\"\"\" spans lines)";
    } else if (has("parsing floating-point") || has("parsing integer") || has("parsing hexadecimal") ||
               has("parsing octal") || has("parsing binary")) {
        hint = "not a number: write text in quotes (version = \"1.2.3\")";
    } else if (has("parsing date") || has("parsing time")) {
        hint = "dates are 2024-03-31, times 14:30:00, both 2024-03-31T14:30:00+02:00";
    } else if (has("parsing table header") || has("parsing array-of-tables header")) {
        hint = "a table header is [name] or [[name]], alone on its line";
    } else if (has("redefine")) {
        hint = "a key or table may be defined only once";
    } else if (has("parsing array")) {
        hint = "an array is [a, b, c], closed by ]";
    } else if (has("parsing inline table")) {
        hint = "an inline table is { a = 1, b = \"x\" }, on one line, closed by }";
    } else if (has("parsing key")) {
        hint = "a line is key = value; keys are letters, digits, _ and -, or \"quoted\"";
    }
    if (hint) msg += " (" + std::string(hint) + ")";
    return msg;
}

}  // namespace gridlet

// Helpers of the API's route handlers (api_request.h).
#include "http/api_request.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <charconv>
#include <set>

namespace gridlet::http {

const char* http_reason_code(int status) {
    switch (status) {
        case 400: return "invalid_request";
        case 401: return "unauthorized";
        case 403: return "forbidden";
        case 404: return "not_found";
        case 405: return "method_not_allowed";
        case 409: return "conflict";
        case 413: return "too_large";
        case 429: return "account_locked";
        case 503: return "unavailable";
        default: return status >= 500 ? "internal" : "invalid_request";
    }
}

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
    res.status = status;
    res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n", "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& code, const std::string& message) {
    send_json(res, status, {{"error", {{"code", code}, {"message", message}}}});
}

int status_of(const Status& st) {
    switch (st.code()) {
        case StatusCode::invalid_argument: return 400;
        case StatusCode::not_found: return 404;
        case StatusCode::already_exists: return 409;
        case StatusCode::unavailable: return 503;
        default: return 500;
    }
}

// Text from a client as it may go into a log line: control characters
// escaped (no forged lines, no terminal escapes), at most 200 bytes.
std::string printable(const std::string& s) {
    static const char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : s.substr(0, 200)) {
        if (c < 0x20 || c == 0x7f) {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    return s.size() > 200 ? out + "..." : out;
}

// A failure inside gridlet is logged in full and answered without detail
// (a path or a file's contents is not the client's business).
void send_status(httplib::Response& res, const Status& st) {
    const int code = status_of(st);
    if (code >= 500 && code != 503) {
        spdlog::error("http: {}", st.message());
        return send_error(res, code, "internal", "the request failed inside gridlet (logged)");
    }
    send_error(res, code, code == 409 ? "conflict" : http_reason_code(code), st.message());
}

// The JSON object of a request body, or an answer saying why not.
std::optional<nlohmann::json> json_body(const httplib::Request& req, httplib::Response& res) {
    // No body (Content-Length: 0) is the empty object: nothing to say.
    if (req.body.find_first_not_of(" \t\r\n") == std::string::npos) return nlohmann::json::object();
    // A name twice in one object is refused: which one would count is
    // anybody's guess (RFC 8259 §4 leaves it open).
    std::vector<std::set<std::string>> names;
    std::string twice;
    const auto watch = [&](int, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
        using E = nlohmann::json::parse_event_t;
        if (ev == E::object_start) names.emplace_back();
        else if (ev == E::object_end && !names.empty()) names.pop_back();
        else if (ev == E::key && !names.empty() && !names.back().insert(parsed.get<std::string>()).second && twice.empty())
            twice = parsed.get<std::string>();
        return true;
    };
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(req.body, watch);
    } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range (1e999)
        // "[json.exception.parse_error.101] parse error at line 1, column 9: ..." without the bracket.
        std::string why = e.what();
        if (const size_t at = why.find("] "); at != std::string::npos) why = why.substr(at + 2);
        send_error(res, 400, "invalid_request", "the body is not JSON: " + printable(why));
        return std::nullopt;
    }
    if (!j.is_object()) {
        send_error(res, 400, "invalid_request", "the body must be a JSON object ({...})");
        return std::nullopt;
    }
    if (!twice.empty()) {
        send_error(res, 400, "invalid_request", "the body names '" + printable(twice) + "' twice");
        return std::nullopt;
    }
    return j;
}

// A string member of `j` (required or not); answers 400 naming it.
bool string_field(const nlohmann::json& j, const char* key, std::string& out, httplib::Response& res, bool required) {
    if (!j.contains(key)) {
        if (required) send_error(res, 400, "invalid_request", std::string("'") + key + "' is missing");
        return !required;
    }
    if (!j[key].is_string()) {
        send_error(res, 400, "invalid_request", std::string("'") + key + "' must be a string");
        return false;
    }
    out = j[key].get<std::string>();
    return true;
}

bool only_fields(const nlohmann::json& j, std::initializer_list<const char*> known, httplib::Response& res) {
    std::vector<std::string> names;
    for (const auto& [k, v] : j.items()) names.push_back(k);
    return only_known(names, known, "field", res);
}

void send_unknown_name(httplib::Response& res, const std::string& name, std::initializer_list<const char*> known,
                       const char* what) {
    std::string list;
    for (const char* x : known) list += (list.empty() ? "" : ", ") + std::string(x);
    send_error(res, 400, "invalid_request",
               "unknown " + std::string(what) + " '" + name + "' (" +
                   (list.empty() ? "this route takes none" : "known: " + list) + ")");
}

std::string url_decode(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out += ' ';
        } else if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
                   std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
            out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

// The parameters of `req`, each one of `known` at most once; else answers 400.
std::optional<QueryParams> params_of(const httplib::Request& req, httplib::Response& res,
                                     std::initializer_list<const char*> known) {
    QueryParams p;
    const size_t q = req.target.find('?');
    std::vector<std::string> names;
    if (q != std::string::npos) {
        std::string_view rest = std::string_view(req.target).substr(q + 1);
        while (!rest.empty()) {
            const size_t amp = rest.find('&');
            const std::string_view part = rest.substr(0, amp);
            rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
            if (part.empty()) continue;
            const size_t eq = part.find('=');
            const std::string name = url_decode(part.substr(0, eq));
            if (p.values.count(name)) {
                send_error(res, 400, "invalid_request", "parameter '" + name + "' is given twice");
                return std::nullopt;
            }
            p.values[name] = eq == std::string_view::npos ? std::string() : url_decode(part.substr(eq + 1));
            names.push_back(name);
        }
    }
    if (!only_known(names, known, "parameter", res)) return std::nullopt;
    return p;
}

std::string cookie_value(const httplib::Request& req, const std::string& name) {
    const std::string header = req.get_header_value("Cookie");
    size_t pos = 0;
    while (pos < header.size()) {
        size_t end = header.find(';', pos);
        if (end == std::string::npos) end = header.size();
        std::string part = header.substr(pos, end - pos);
        const size_t start = part.find_first_not_of(' ');
        part = start == std::string::npos ? "" : part.substr(start);
        if (part.rfind(name + "=", 0) == 0) return part.substr(name.size() + 1);
        pos = end + 1;
    }
    return "";
}

std::vector<std::string> split_list(const std::string& text) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= text.size() && !text.empty()) {
        const size_t end = std::min(text.find(',', start), text.size());
        if (end > start) out.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

std::optional<size_t> count_param(const QueryParams& p, const char* name, size_t fallback, size_t max,
                                  httplib::Response& res) {
    if (!p.has(name)) return fallback;
    const std::string v = p.get(name);
    size_t n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || end != v.data() + v.size() || n == 0 || n > max) {
        send_error(res, 400, "invalid_request", std::string(name) + ": must be 1.." + std::to_string(max));
        return std::nullopt;
    }
    return n;
}

}  // namespace gridlet::http

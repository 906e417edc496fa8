// Helpers of the API's route handlers: JSON answers and errors (the stable
// codes of api_server.h), request bodies and URL parameters read strictly
// (an unknown name or a wrong type is refused by name), and client text made
// safe for a log line. Any thread (pure functions of their arguments).
#pragma once

#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace gridlet::http {

// The stable error code of an HTTP status (400 invalid_request, ...).
const char* http_reason_code(int status);
// A JSON answer; an error {"error":{"code","message"}}.
void send_json(httplib::Response& res, int status, const nlohmann::json& body);
void send_error(httplib::Response& res, int status, const std::string& code, const std::string& message);
// The HTTP status of a gridlet Status (invalid_argument 400, not_found 404,
// already_exists 409, unavailable 503, else 500).
int status_of(const Status& st);
// A failed Status as an answer: 4xx and 503 with its message; other 5xx
// logged in full and answered without detail.
void send_status(httplib::Response& res, const Status& st);
// Client text as it may go into a log line: control characters escaped, at
// most 200 bytes.
std::string printable(const std::string& s);

// The JSON object of the request body, or nullopt after answering 400.
std::optional<nlohmann::json> json_body(const httplib::Request& req, httplib::Response& res);
// A string member of `j`; answers 400 naming it when missing (if required)
// or not a string.
bool string_field(const nlohmann::json& j, const char* key, std::string& out, httplib::Response& res,
                  bool required = true);
void send_unknown_name(httplib::Response& res, const std::string& name, std::initializer_list<const char*> known,
                       const char* what);
// Refuses names other than `known` (a typo must not pass silently); `what`
// is "field" (of a JSON body) or "parameter" (of the URL).
template <class Names>
bool only_known(const Names& given, std::initializer_list<const char*> known, const char* what, httplib::Response& res) {
    for (const std::string& k : given) {
        bool ok = false;
        for (const char* x : known) ok = ok || k == x;
        if (ok) continue;
        send_unknown_name(res, k, known, what);
        return false;
    }
    return true;
}
// Refuses a JSON body's members other than `known`.
bool only_fields(const nlohmann::json& j, std::initializer_list<const char*> known, httplib::Response& res);

// The URL's parameters, read from the request target itself: a value may
// hold '=' (tags=device=panel1), '+' is a space, %XX is decoded; a name
// given twice is refused rather than half ignored.
struct QueryParams {
    std::map<std::string, std::string> values;
    bool has(const std::string& k) const { return values.count(k) > 0; }
    std::string get(const std::string& k) const {
        auto it = values.find(k);
        return it == values.end() ? std::string() : it->second;
    }
};

std::string url_decode(std::string_view s);
// The parameters of `req`, each one of `known` at most once; else nullopt
// after answering 400.
std::optional<QueryParams> params_of(const httplib::Request& req, httplib::Response& res,
                                     std::initializer_list<const char*> known);
// The value of cookie `name` ("" when absent).
std::string cookie_value(const httplib::Request& req, const std::string& name);
// "a,b,,c" -> {"a","b","c"}.
std::vector<std::string> split_list(const std::string& text);
// Parameter `name` as a count 1..max (`fallback` when absent); nullopt after
// answering 400.
std::optional<size_t> count_param(const QueryParams& p, const char* name, size_t fallback, size_t max,
                                  httplib::Response& res);

}  // namespace gridlet::http

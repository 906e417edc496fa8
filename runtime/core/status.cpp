#include "core/status.h"

namespace gridlet {

const char* status_code_name(StatusCode code) noexcept {
    switch (code) {
        case StatusCode::ok: return "ok";
        case StatusCode::invalid_argument: return "invalid_argument";
        case StatusCode::not_found: return "not_found";
        case StatusCode::already_exists: return "already_exists";
        case StatusCode::io_error: return "io_error";
        case StatusCode::corruption: return "corruption";
        case StatusCode::timeout: return "timeout";
        case StatusCode::unavailable: return "unavailable";
        case StatusCode::unsupported: return "unsupported";
        case StatusCode::internal: return "internal";
    }
    return "unknown";
}

std::string Status::to_string() const {
    if (is_ok()) return "ok";
    return std::string(status_code_name(code_)) + ": " + message_;
}

}  // namespace gridlet

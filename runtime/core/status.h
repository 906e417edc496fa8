// Status and Expected<T>: how fallible functions in the runtime report errors.
// A Status is OK or carries a code and a message that says what failed and
// where ("store: open /var/lib/gridlet/db: IO error: ..."). Value types;
// any thread.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace gridlet {

enum class StatusCode {
    ok = 0,
    invalid_argument,  // bad input from a user: config, request, Lua
    not_found,
    already_exists,
    io_error,
    corruption,        // bytes that do not decode
    timeout,
    unavailable,       // device, broker or queue not reachable / full
    unsupported,
    internal,
};

const char* status_code_name(StatusCode code) noexcept;

class [[nodiscard]] Status {
public:
    Status() = default;
    Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

    static Status ok() { return {}; }
    static Status invalid(std::string m) { return {StatusCode::invalid_argument, std::move(m)}; }
    static Status not_found(std::string m) { return {StatusCode::not_found, std::move(m)}; }
    static Status io_error(std::string m) { return {StatusCode::io_error, std::move(m)}; }
    static Status corruption(std::string m) { return {StatusCode::corruption, std::move(m)}; }
    static Status timeout(std::string m) { return {StatusCode::timeout, std::move(m)}; }
    static Status unavailable(std::string m) { return {StatusCode::unavailable, std::move(m)}; }
    static Status unsupported(std::string m) { return {StatusCode::unsupported, std::move(m)}; }
    static Status internal(std::string m) { return {StatusCode::internal, std::move(m)}; }

    bool is_ok() const noexcept { return code_ == StatusCode::ok; }
    explicit operator bool() const noexcept { return is_ok(); }
    StatusCode code() const noexcept { return code_; }
    const std::string& message() const noexcept { return message_; }
    // "invalid_argument: <message>" (or "ok").
    std::string to_string() const;

    // Prefix the message with context: "loading site.toml: " + message.
    Status with_context(const std::string& context) const {
        if (is_ok()) return *this;
        return {code_, context + ": " + message_};
    }

private:
    StatusCode code_ = StatusCode::ok;
    std::string message_;
};

// A value or the Status saying why there is none.
template <class T>
class [[nodiscard]] Expected {
public:
    Expected(T value) : v_(std::move(value)) {}
    Expected(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).is_ok()); }

    bool has_value() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const Status& status() const {
        static const Status ok_status;
        return has_value() ? ok_status : std::get<1>(v_);
    }

private:
    std::variant<T, Status> v_;
};

}  // namespace gridlet

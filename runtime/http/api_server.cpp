#include "http/api_server.h"

#include <gridlet/glob.hpp>
#include <httplib.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <filesystem>
#include <string_view>
#include <chrono>
#include <map>
#include <optional>
#include <thread>

#include "alarm/alarm_table.h"
#include "answers/query_answer.h"
#include "answers/series_answer.h"
#include "http/api_request.h"
#include "http/openapi_document.h"
#include "http/prometheus.h"
#include "http/tls_identity.h"
#include "store/store.h"

namespace gridlet::http {

namespace {
// Whether this process may bind `port` (below 1024): CAP_NET_BIND_SERVICE
// (bit 10) in its effective set (/proc/self/status "CapEff"), or the system
// lets anyone from that port up (net.ipv4.ip_unprivileged_port_start).
bool can_bind_port(int port) {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("CapEff:", 0) == 0) {
            const unsigned long long caps = std::strtoull(line.c_str() + 7, nullptr, 16);
            if (caps & (1ull << 10)) return true;
        }
    std::ifstream start("/proc/sys/net/ipv4/ip_unprivileged_port_start");
    int first = 1024;
    return (start >> first) && first <= port;
}
}  // namespace

ApiServer::ApiServer(HttpConfig config, ApiContext ctx)
    : config_(std::move(config)), ctx_(std::move(ctx)),
      users_(config_.data_dir, PasswordPolicy{config_.password_min_length},
             Lockout{config_.lockout_after, int64_t{config_.lockout_minutes} * 60'000}),
      sessions_(int64_t{config_.session_idle_minutes} * 60'000, int64_t{config_.session_max_hours} * 3'600'000),
      floor_plans_(config_.data_dir) {}

ApiServer::~ApiServer() { stop(); }

std::string ApiServer::url() const {
    const std::string host = config_.listen.find(':') != std::string::npos ? "[" + config_.listen + "]" : config_.listen;
    return std::string(config_.tls ? "https://" : "http://") + host + ":" + std::to_string(port_);
}

void ApiServer::audit(const httplib::Request& req, const std::string& user, const std::string& action, bool ok,
                      const nlohmann::json& detail) {
    nlohmann::json body = {{"action", action}, {"user", user}, {"from", req.remote_addr}, {"ok", ok}};
    if (!detail.empty()) body["detail"] = detail;
    if (ctx_.emit) ctx_.emit("audit", ok ? 1 : 2, body);
    spdlog::info("http: audit {} by '{}' from {}: {}", action, printable(user), req.remote_addr, ok ? "ok" : "refused");
}

Status ApiServer::start() {
    {
        std::error_code ec;
        std::filesystem::create_directories(config_.data_dir, ec);
        if (Status st = sessions_.persist(config_.data_dir + "/sessions.json", ctx_.now_ms()); !st)
            spdlog::warn("http: {}", st.message());
    }
    if (config_.tls) {
        char host[256] = {};
        ::gethostname(host, sizeof host - 1);
        std::vector<std::string> names = {"localhost", "127.0.0.1", "::1"};
        if (host[0]) names.push_back(host);
        if (!is_loopback(config_.listen)) names.push_back(config_.listen);
        auto id = tls_identity(config_.cert_file, config_.key_file, config_.data_dir, names);
        if (!id) return id.status().with_context("[http] certificate");
        fingerprint_ = id->fingerprint;
        if (id->generated) spdlog::info("http: made a self-signed certificate in {}", id->cert_file);
        const std::string cert = id->cert_file, key = id->key_file;
        Status loaded = Status::internal("cpp-httplib made no TLS context");
        auto ssl = std::make_unique<httplib::SSLServer>([&loaded, cert, key](SSL_CTX& c) {
            loaded = configure_server_tls(c, cert, key);
            return bool(loaded);
        });
        if (!ssl->is_valid())
            return (loaded ? Status::internal("OpenSSL could not make a TLS context") : loaded).with_context("[http] certificate");
        server_ = std::move(ssl);
    } else {
        server_ = std::make_unique<httplib::Server>();
    }
    const int threads = config_.threads + (ctx_.live ? config_.max_live_clients : 0);
    server_->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
    server_->set_read_timeout(10, 0);
    server_->set_write_timeout(10, 0);
    server_->set_keep_alive_timeout(5);
    // Headers and body go in separate writes: without TCP_NODELAY, Nagle and
    // the client's delayed ACK add 40 ms to every keep-alive answer.
    server_->set_tcp_nodelay(true);
    server_->set_keep_alive_max_count(100);
    server_->set_payload_max_length(static_cast<size_t>(config_.max_body_bytes));
    // SO_REUSEADDR only: cpp-httplib's default adds SO_REUSEPORT, with which
    // a second gridlet on the same port would silently share the connections.
    server_->set_socket_options([](int sock) {
        int yes = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    if (config_.dashboard) {
        if (Status st = web_.load(config_.web_dir); !st)
            spdlog::warn("http: {}; the API is served without it", st.message());
    }
    routes();
    port_ = config_.port;
    if (!server_->bind_to_port(config_.listen, config_.port)) {
        // A port below 1024 needs CAP_NET_BIND_SERVICE, which the packaged
        // service does not have unless a drop-in gives it.
        const bool privileged = config_.port < 1024 && !can_bind_port(config_.port);
        return Status::unavailable(
            "[http] cannot listen on " + config_.listen + ":" + std::to_string(config_.port) +
            (privileged ? " (a port below 1024 needs the capability CAP_NET_BIND_SERVICE: under systemd, `systemctl "
                          "edit gridlet` and add AmbientCapabilities=CAP_NET_BIND_SERVICE and "
                          "CapabilityBoundingSet=CAP_NET_BIND_SERVICE under [Service]; or choose a port of 1024 or more)"
                        : " (in use, or not an address of this machine)"));
    }
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    spdlog::info("http: API on {}{}", url(), fingerprint_.empty() ? "" : " (certificate SHA-256 " + fingerprint_ + ")");
    if (web_.loaded()) spdlog::info("http: dashboard on {}/ (from {})", url(), web_.dir());
    auto users = users_.users();
    if (users && users->empty())
        spdlog::warn("http: no user yet: make the first admin on this machine with "
                     "`gridlet user add <name> --role admin --config <site.toml>`");
    return Status::ok();
}

void ApiServer::stop() {
    if (ctx_.live) ctx_.live->close_all();
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
    sessions_.flush();
}

void ApiServer::routes() {
    httplib::Server& s = *server_;
    const bool tls = config_.tls;

    httplib::Headers headers = {{"X-Content-Type-Options", "nosniff"},
                                {"X-Frame-Options", "DENY"},
                                {"Referrer-Policy", "no-referrer"},
                                {"Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'"},
                                {"Cache-Control", "no-store"}};
    if (tls) headers.emplace("Strict-Transport-Security", "max-age=31536000");
    s.set_default_headers(std::move(headers));

    // Before any byte of a body is read: a body must say its length (a
    // chunked one could be of any size), and a length over the limit is
    // refused at once.
    const size_t max_body = static_cast<size_t>(config_.max_body_bytes);
    s.set_pre_routing_handler([max_body](const httplib::Request& req, httplib::Response& res) {
        const std::string te = req.get_header_value("Transfer-Encoding");
        if (!te.empty()) {
            res.set_header("Connection", "close");
            send_error(res, 411, "invalid_request",
                       "a request body must be sent with Content-Length (Transfer-Encoding is not accepted)");
            return httplib::Server::HandlerResponse::Handled;
        }
        const std::string length = req.get_header_value("Content-Length");
        if (length.empty() && (req.method == "POST" || req.method == "PUT" || req.method == "PATCH")) {
            res.set_header("Connection", "close");
            send_error(res, 411, "invalid_request", "send Content-Length (0 for an empty body)");
            return httplib::Server::HandlerResponse::Handled;
        }
        size_t n = 0;
        if (!length.empty() &&
            (std::from_chars(length.data(), length.data() + length.size(), n).ec != std::errc() || n > max_body)) {
            res.set_header("Connection", "close");
            send_error(res, 413, "too_large",
                       "the request body is over " + std::to_string(max_body / 1024) + " KB (max_body_kb)");
            return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
    });

    s.set_exception_handler([this](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown error";
        try {
            if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
        }
        spdlog::error("http: {} {}: {}", printable(req.method), printable(req.path), what);
        send_error(res, 500, "internal", "the request failed inside gridlet (logged)");
    });
    s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return;  // a handler's own error
        if (res.status == 404) send_error(res, 404, "not_found", "no route " + req.method + " " + req.path);
        else if (res.status == 413) send_error(res, 413, "too_large", "the request body is too large");
        else if (res.status == 414) send_error(res, 414, "too_large", "the URL is too long");
        else if (res.status == 431) send_error(res, 431, "too_large", "the request's headers are too large");
        else if (res.status == 405) send_error(res, 405, "method_not_allowed", "the method " + req.method + " is not served");
        else if (res.status == 400 && !req.method.empty() &&
                 std::string_view("GET HEAD POST PUT DELETE OPTIONS PATCH").find(req.method) == std::string_view::npos) {
            res.set_header("Allow", "GET, POST, PUT, DELETE");
            send_error(res, 405, "method_not_allowed", "the method " + printable(req.method) + " is not served");
        } else if (res.status == 400)
            send_error(res, 400, "invalid_request",
                       "the request could not be read: its request line, a header or its body is malformed or too "
                       "long (a URL's parameter values are percent-encoded: '?' as %3F, '&' as %26)");
        else send_error(res, res.status, http_reason_code(res.status), "the request was refused");
    });
    s.set_logger([this](const httplib::Request&, const httplib::Response& res) {
        ++counters_.requests;
        if (res.status >= 500) ++counters_.server_errors;
        else if (res.status >= 400) ++counters_.client_errors;
    });


    s.Get("/api/v1/openapi.json", [](const httplib::Request&, httplib::Response& res) {
        res.set_content(openapi_document(), "application/json");
    });
    s.Get("/api/v1/health", [](const httplib::Request& req, httplib::Response& res) {
        if (!params_of(req, res, {})) return;
        send_json(res, 200, {{"status", "ok"}});
    });
    account_routes();
    data_routes();
    live_routes();
    device_routes();
    rule_routes();
    admin_routes();
    floorplan_routes();
    web_routes();
}

std::optional<ApiServer::Caller> ApiServer::authorize(const httplib::Request& req, httplib::Response& res, Right right,
                                                      bool allow_pending_password) {
    const int64_t now = ctx_.now_ms();
    Caller c;
    const std::string auth = req.get_header_value("Authorization");
    std::string scheme = auth.substr(0, 7);
    for (char& ch : scheme) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (scheme == "bearer ") {  // the scheme's case does not matter (RFC 7235)
        auto t = users_.check_token(auth.substr(7), now);
        if (!t) {
            ++counters_.denied;
            res.set_header("WWW-Authenticate", "Bearer realm=\"gridlet\", error=\"invalid_token\"");
            send_error(res, 401, "unauthorized", "the token is unknown, revoked or expired");
            return std::nullopt;
        }
        // A token of a disabled owner does not work (a removed owner's
        // tokens are gone with it).
        auto owner = users_.user(t->owner);
        if (!owner || !*owner || (*owner)->disabled) {
            ++counters_.denied;
            send_error(res, 401, "unauthorized", "the token's owner is disabled");
            return std::nullopt;
        }
        if ((*owner)->must_change_password) {
            ++counters_.denied;
            send_error(res, 403, "password_change_required",
                       "the token's owner must change the password first (log in)");
            return std::nullopt;
        }
        c.user = t->owner;
        c.role = t->role;
        c.token_id = t->id;
    } else {
        const std::string secret = cookie_value(req, kCookie);
        auto session = sessions_.use(secret, now);
        if (!session) {
            ++counters_.denied;
            res.set_header("WWW-Authenticate", "Bearer realm=\"gridlet\"");
            send_error(res, 401, "unauthorized",
                       secret.empty() ? "log in first (POST /api/v1/login) or send Authorization: Bearer <token>"
                                      : "the session is over: log in again");
            return std::nullopt;
        }
        // Changes made on the gateway (gridlet user ...) apply at once:
        // a removed or disabled user, or a new password, ends the
        // session; a new role applies to it.
        auto user = users_.user(session->user);
        if (!user || !*user || (*user)->disabled || (*user)->hash != session->password_hash) {
            sessions_.close(secret);
            ++counters_.denied;
            send_error(res, 401, "unauthorized", "the session is over (the account changed): log in again");
            return std::nullopt;
        }
        c.user = session->user;
        c.role = (*user)->role;
        c.by_session = true;
        c.session_secret = secret;
        c.csrf = session->csrf;
        if (req.method != "GET" && req.method != "HEAD" && req.get_header_value("X-CSRF-Token") != session->csrf) {
            ++counters_.denied;
            send_error(res, 403, "csrf_failed",
                       req.has_header("X-CSRF-Token")
                           ? "the X-CSRF-Token is not this session's (take it from the login answer)"
                           : "a request that changes something needs the header X-CSRF-Token (from the login answer)");
            return std::nullopt;
        }
        if (session->must_change_password && !allow_pending_password) {
            ++counters_.denied;
            send_error(res, 403, "password_change_required",
                       "change the password first (POST /api/v1/password)");
            return std::nullopt;
        }
    }
    if (!may(c.role, right)) {
        ++counters_.denied;
        // Reading is every role's; a refused change or a look at accounts
        // or security is an audit event (who tried what, from where).
        if (right != Right::read)
            audit(req, c.user, "denied", false,
                  {{"method", req.method}, {"path", req.path}, {"right", right_name(right)}, {"role", role_name(c.role)}});
        send_error(res, 403, "forbidden", std::string("the role ") + role_name(c.role) + " may not do this");
        return std::nullopt;
    }
    return c;
}

}  // namespace gridlet::http
#include "http/api_server.h"

#include <gridlet/glob.hpp>
#include <httplib.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <map>
#include <optional>
#include <thread>

#include "alarm/alarm_table.h"
#include "answers/query_answer.h"
#include "answers/series_answer.h"
#include "http/openapi_document.h"
#include "http/prometheus.h"
#include "http/tls_identity.h"
#include "store/store.h"

namespace gridlet::http {

namespace {

constexpr const char* kCookie = "gridlet_session";

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
    nlohmann::json j = nlohmann::json::parse(req.body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        send_error(res, 400, "invalid_request", "the body must be a JSON object");
        return std::nullopt;
    }
    return j;
}

// A string member of `j` (required or not); answers 400 naming it.
bool string_field(const nlohmann::json& j, const char* key, std::string& out, httplib::Response& res,
                  bool required = true) {
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

// Refuses names other than `known` (a typo must not pass silently); `what`
// is "field" (of a JSON body) or "parameter" (of the URL).
template <class Names>
bool only_known(const Names& given, std::initializer_list<const char*> known, const char* what, httplib::Response& res) {
    for (const std::string& k : given) {
        bool ok = false;
        for (const char* x : known) ok = ok || k == x;
        if (ok) continue;
        std::string list;
        for (const char* x : known) list += (list.empty() ? "" : ", ") + std::string(x);
        send_error(res, 400, "invalid_request",
                   "unknown " + std::string(what) + " '" + k + "' (" + (list.empty() ? "this route takes none" : "known: " + list) + ")");
        return false;
    }
    return true;
}
bool only_fields(const nlohmann::json& j, std::initializer_list<const char*> known, httplib::Response& res) {
    std::vector<std::string> names;
    for (const auto& [k, v] : j.items()) names.push_back(k);
    return only_known(names, known, "field", res);
}
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

}  // namespace

// Who calls: a session (cookie) or a token.
struct ApiServer::Caller {
    std::string user;
    Role role = Role::viewer;
    bool by_session = false;
    std::string session_secret;
    std::string token_id;
};

ApiServer::ApiServer(HttpConfig config, ApiContext ctx)
    : config_(std::move(config)), ctx_(std::move(ctx)),
      users_(config_.data_dir, PasswordPolicy{config_.password_min_length},
             Lockout{config_.lockout_after, int64_t{config_.lockout_minutes} * 60'000}),
      sessions_(int64_t{config_.session_idle_minutes} * 60'000, int64_t{config_.session_max_hours} * 3'600'000) {}

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
        auto ssl = std::make_unique<httplib::SSLServer>([cert, key](SSL_CTX& c) {
            SSL_CTX_set_min_proto_version(&c, TLS1_2_VERSION);
            SSL_CTX_set_options(&c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
            return SSL_CTX_use_certificate_chain_file(&c, cert.c_str()) == 1 &&
                   SSL_CTX_use_PrivateKey_file(&c, key.c_str(), SSL_FILETYPE_PEM) == 1 &&
                   SSL_CTX_check_private_key(&c) == 1;
        });
        if (!ssl->is_valid()) return Status::invalid("[http] the certificate and key do not load into TLS");
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
    routes();
    port_ = config_.port;
    if (!server_->bind_to_port(config_.listen, config_.port))
        return Status::unavailable("[http] cannot listen on " + config_.listen + ":" + std::to_string(config_.port) +
                                   " (in use, or not an address of this machine)");
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    spdlog::info("http: API on {}{}", url(), fingerprint_.empty() ? "" : " (certificate SHA-256 " + fingerprint_ + ")");
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
        else if (res.status == 400)
            send_error(res, 400, "invalid_request",
                       "the request could not be read (its request line, headers or body); in the URL, a '?' inside "
                       "a parameter is sent as %3F");
        else send_error(res, res.status, http_reason_code(res.status), "the request was refused");
    });
    s.set_logger([this](const httplib::Request&, const httplib::Response& res) {
        ++counters_.requests;
        if (res.status >= 500) ++counters_.server_errors;
        else if (res.status >= 400) ++counters_.client_errors;
    });

    // Authentication and rights; answers the refusal itself.
    auto caller = [this](const httplib::Request& req, httplib::Response& res, Right right,
                         bool allow_pending_password = false) -> std::optional<Caller> {
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
            send_error(res, 403, "forbidden", std::string("the role ") + role_name(c.role) + " may not do this");
            return std::nullopt;
        }
        return c;
    };

    s.Get("/api/v1/openapi.json", [](const httplib::Request&, httplib::Response& res) {
        res.set_content(openapi_document(), "application/json");
    });
    s.Get("/api/v1/health", [](const httplib::Request&, httplib::Response& res) {
        send_json(res, 200, {{"status", "ok"}});
    });

    s.Get("/api/v1/metrics/prometheus", [this, caller](const httplib::Request& req, httplib::Response& res) {
        if (!caller(req, res, Right::read) || !params_of(req, res, {})) return;
        const nlohmann::json m = ctx_.metrics ? ctx_.metrics() : nlohmann::json::object();
        std::string text = prometheus_text(m, &counters_, sessions_.size());
        if (ctx_.live)
            text += "# HELP gridlet_http_live_clients live (server-sent events) clients\n# TYPE gridlet_http_live_clients gauge\n"
                    "gridlet_http_live_clients " + std::to_string(ctx_.live->clients()) +
                    "\n# HELP gridlet_http_live_dropped_clients_total live clients dropped for reading too slowly\n"
                    "# TYPE gridlet_http_live_dropped_clients_total counter\ngridlet_http_live_dropped_clients_total " +
                    std::to_string(ctx_.live->dropped_clients()) +
                    "\n# HELP gridlet_http_live_items_total samples and events queued for live clients\n"
                    "# TYPE gridlet_http_live_items_total counter\ngridlet_http_live_items_total " +
                    std::to_string(ctx_.live->sent_items()) + "\n";
        res.set_content(text, "text/plain; version=0.0.4; charset=utf-8");
    });
    s.Get("/api/v1/metrics", [this, caller](const httplib::Request& req, httplib::Response& res) {
        if (!caller(req, res, Right::read) || !params_of(req, res, {})) return;
        nlohmann::json m = ctx_.metrics ? ctx_.metrics() : nlohmann::json::object();
        m["http"] = {{"requests", counters_.requests.load()},   {"client_errors", counters_.client_errors.load()},
                     {"server_errors", counters_.server_errors.load()}, {"logins", counters_.logins.load()},
                     {"login_failures", counters_.login_failures.load()}, {"lockouts", counters_.lockouts.load()},
                     {"denied", counters_.denied.load()},       {"sessions", sessions_.size()}};
        if (ctx_.live)
            m["http"]["live"] = {{"clients", ctx_.live->clients()},
                                 {"dropped_clients", ctx_.live->dropped_clients()},
                                 {"items", ctx_.live->sent_items()}};
        send_json(res, 200, m);
    });

    s.Get("/api/v1/live", [this, caller](const httplib::Request& req, httplib::Response& res) {
        if (!caller(req, res, Right::read)) return;
        const auto p = params_of(req, res, {"series", "events"});
        if (!p) return;
        if (!ctx_.live) return send_error(res, 503, "unavailable", "live data is not served by this server");
        auto split = [](const std::string& text) {
            std::vector<std::string> out;
            size_t start = 0;
            while (start <= text.size() && !text.empty()) {
                const size_t end = std::min(text.find(',', start), text.size());
                if (end > start) out.push_back(text.substr(start, end - start));
                start = end + 1;
            }
            return out;
        };
        std::vector<std::string> series = split(p->get("series")), events = split(p->get("events"));
        if (series.empty() && events.empty())
            return send_error(res, 400, "invalid_request",
                              "give series=<globs> and/or events=<source/type globs>, comma-separated "
                              "(e.g. series=panel1/mains/*&events=*/alarm*)");
        for (const std::string& p : series)
            if (!plausible_series_pattern(p))
                return send_error(res, 400, "invalid_request", "series: '" + p + "' can never match: " + kSeriesPatternRule);
        for (const std::string& p : events)
            if (!plausible_series_pattern(p) || (p.find('/') == std::string::npos && p.find("**") == std::string::npos))
                return send_error(res, 400, "invalid_request", "events: '" + p + "' is not a \"source/type\" pattern");
        if (ctx_.live->clients() >= static_cast<size_t>(config_.max_live_clients))
            return send_error(res, 503, "unavailable",
                              "already " + std::to_string(config_.max_live_clients) + " live clients (max_live_clients)");
        auto client = ctx_.live->add(std::move(series), std::move(events), static_cast<size_t>(config_.live_queue_bytes));
        LiveHub* hub = ctx_.live;
        res.set_header("X-Accel-Buffering", "no");
        res.set_chunked_content_provider(
            "text/event-stream",
            [client](size_t, httplib::DataSink& sink) {
                std::string text;
                // ": keepalive" after 15 s of silence; the client's end (a
                // failed write) or its drop ends the stream. At most 10
                // writes a second: what comes meanwhile goes in the next one
                // (one TLS record and one syscall for many samples).
                while (client->next(text, 15'000)) {
                    if (text.empty()) text = ": keepalive\n\n";
                    if (!sink.write(text.data(), text.size())) return false;
                    std::this_thread::sleep_for(std::chrono::milliseconds(100));
                }
                if (client->dropped()) {
                    nlohmann::json why = {{"reason", client->drop_reason()}};
                    const std::string last = "event: dropped\ndata: " + why.dump() + "\n\n";
                    sink.write(last.data(), last.size());
                }
                sink.done();
                return true;
            },
            [hub, client](bool) { hub->remove(client); });
    });

    s.Post("/api/v1/login", [this, tls](const httplib::Request& req, httplib::Response& res) {
        auto body = json_body(req, res);
        std::string name, password;
        if (!body || !only_fields(*body, {"user", "password"}, res) || !string_field(*body, "user", name, res) ||
            !string_field(*body, "password", password, res))
            return;
        const int64_t now = ctx_.now_ms();
        auto login = users_.login(name, password, now);
        if (!login) return send_status(res, login.status());
        switch (login->result) {
            case UserStore::LoginResult::ok: break;
            case UserStore::LoginResult::locked: {
                ++counters_.lockouts;
                audit(req, name, "login", false, {{"reason", "locked"}});
                const int64_t wait_s = std::max<int64_t>(1, (login->locked_until_ms - now + 999) / 1000);
                res.set_header("Retry-After", std::to_string(wait_s));
                return send_error(res, 429, "account_locked",
                                  "too many failed logins: the account is locked for " + std::to_string(wait_s) + " s");
            }
            case UserStore::LoginResult::disabled:
            case UserStore::LoginResult::wrong:
                ++counters_.login_failures;
                audit(req, name, "login", false, {{"reason", "wrong name or password"}});
                return send_error(res, 401, "unauthorized", "wrong user name or password");
        }
        ++counters_.logins;
        Session session;
        const std::string secret = sessions_.open(login->user, now, &session);
        audit(req, name, "login", true);
        res.set_header("Set-Cookie", std::string(kCookie) + "=" + secret + "; Path=/; HttpOnly; SameSite=Strict" +
                                         (tls ? "; Secure" : "") + "; Max-Age=" + std::to_string(sessions_.max_ms() / 1000));
        send_json(res, 200,
                  {{"user", session.user},
                   {"role", role_name(session.role)},
                   {"must_change_password", session.must_change_password},
                   {"csrf_token", session.csrf},
                   {"expires_ms", now + sessions_.max_ms()}});
    });

    s.Post("/api/v1/logout", [this, caller, tls](const httplib::Request& req, httplib::Response& res) {
        auto c = caller(req, res, Right::read, true);
        if (!c) return;
        if (!c->by_session)
            return send_error(res, 400, "invalid_request",
                              "a token has no session to end: revoke it with DELETE /api/v1/tokens/" + c->token_id);
        sessions_.close(c->session_secret);
        audit(req, c->user, "logout", true);
        res.set_header("Set-Cookie", std::string(kCookie) + "=; Path=/; HttpOnly; SameSite=Strict" +
                                         (tls ? "; Secure" : "") + "; Max-Age=0");
        send_json(res, 200, {{"ok", true}});
    });

    s.Get("/api/v1/me", [this, caller](const httplib::Request& req, httplib::Response& res) {
        auto c = caller(req, res, Right::read, true);
        if (!c) return;
        auto u = users_.user(c->user);
        send_json(res, 200,
                  {{"user", c->user},
                   {"role", role_name(c->role)},
                   {"via", c->by_session ? "session" : "token"},
                   {"token", c->token_id.empty() ? nlohmann::json() : nlohmann::json(c->token_id)},
                   {"must_change_password", u && *u && (*u)->must_change_password}});
    });

    s.Post("/api/v1/password", [this, caller, tls](const httplib::Request& req, httplib::Response& res) {
        auto c = caller(req, res, Right::read, true);
        if (!c) return;
        if (!c->by_session)
            return send_error(res, 403, "forbidden", "a password is changed in a session (log in), not with a token");
        auto body = json_body(req, res);
        std::string current, next;
        if (!body || !only_fields(*body, {"current_password", "new_password"}, res) ||
            !string_field(*body, "current_password", current, res) || !string_field(*body, "new_password", next, res))
            return;
        auto u = users_.user(c->user);
        if (!u || !*u || !verify_password((*u)->hash, current)) {
            audit(req, c->user, "password_change", false, {{"reason", "wrong current password"}});
            return send_error(res, 403, "forbidden", "the current password is wrong");
        }
        if (next == current) return send_error(res, 400, "invalid_request", "the new password must differ from the current one");
        if (Status st = users_.set_password(c->user, next, false); !st) return send_status(res, st);
        // Every session of the user ends; this one goes on as a new session.
        sessions_.close_user(c->user);
        auto fresh = users_.user(c->user);
        Session session;
        const std::string secret = sessions_.open(**fresh, ctx_.now_ms(), &session);
        audit(req, c->user, "password_change", true);
        res.set_header("Set-Cookie", std::string(kCookie) + "=" + secret + "; Path=/; HttpOnly; SameSite=Strict" +
                                         (tls ? "; Secure" : "") + "; Max-Age=" + std::to_string(sessions_.max_ms() / 1000));
        send_json(res, 200, {{"ok", true}, {"csrf_token", session.csrf}});
    });

    s.Get("/api/v1/site", [this, caller](const httplib::Request& req, httplib::Response& res) {
        if (!caller(req, res, Right::read)) return;
        nlohmann::json devices = nlohmann::json::array(), plugins = nlohmann::json::array();
        for (const DeviceEntry& d : ctx_.site->devices) devices.push_back({{"name", d.name}, {"plugin", d.plugin}});
        for (const PluginEntry& p : ctx_.site->plugins)
            plugins.push_back({{"name", p.name}, {"file", p.file}, {"enabled", p.enabled}});
        send_json(res, 200,
                  {{"name", ctx_.site->site_name},
                   {"timezone", ctx_.site->timezone},
                   {"version", ctx_.version},
                   {"store", ctx_.store != nullptr},
                   {"plugins", plugins},
                   {"devices", devices}});
    });

    s.Get("/api/v1/series", [this, caller](const httplib::Request& req, httplib::Response& res) {
        if (!caller(req, res, Right::read)) return;
        const auto p = params_of(req, res, {"pattern", "tags"});
        if (!p) return;
        if (!ctx_.store) return send_error(res, 503, "unavailable", "the site has no [store]");
        auto sel = ctx_.store->registry().select(p->get("pattern"), p->get("tags"));
        if (!sel) return send_status(res, sel.status());
        nlohmann::json out = nlohmann::json::array();
        for (const SeriesMeta& m : *sel) {
            auto last = ctx_.store->query().last(m.id);
            out.push_back(answers::series_json(m, last && *last ? std::optional<store::Sample>(**last) : std::nullopt));
        }
        send_json(res, 200, out);
    });

    s.Get("/api/v1/query", [this, caller](const httplib::Request& req, httplib::Response& res) {
        if (!caller(req, res, Right::read)) return;
        if (!ctx_.store) return send_error(res, 503, "unavailable", "the site has no [store]");
        const auto p = params_of(req, res, {"pattern", "tags", "from", "to", "step", "agg", "format", "tz", "wide", "quality", "digits"});
        if (!p) return;
        answers::QueryRequest q;
        q.pattern = p->get("pattern");
        q.tags = p->get("tags");
        if (p->has("from")) q.from = p->get("from");
        if (p->has("to")) q.to = p->get("to");
        q.step = p->get("step");
        q.agg = p->get("agg");
        if (p->has("format")) q.format = p->get("format");
        q.tz = p->get("tz");
        for (const char* flag : {"wide", "quality"}) {
            if (!p->has(flag)) continue;
            const std::string v = p->get(flag);
            if (v != "true" && v != "false")
                return send_error(res, 400, "invalid_request", std::string(flag) + ": must be true or false");
            if (flag[0] == 'w') q.wide = v == "true";
            else q.no_quality = v == "false";
        }
        if (p->has("digits")) {
            const std::string v = p->get("digits");
            int d = -1;
            auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
            if (ec != std::errc() || end != v.data() + v.size() || d < 0 || d > 15)
                return send_error(res, 400, "invalid_request", "digits: must be 0..15");
            q.digits = d;
        }
        auto plan = answers::plan_query(q, ctx_.site->timezone, ctx_.now_ms(), "");
        if (!plan) return send_status(res, plan.status());
        auto points = answers::read_query(ctx_.store->query(), *plan, static_cast<size_t>(config_.max_query_rows));
        if (!points) return send_status(res, points.status());
        if (points->empty())
            return send_error(res, 404, "not_found",
                              "no series match '" + q.pattern + "'" + (q.tags.empty() ? "" : " with tags " + q.tags));
        // Written while sent, in chunks: the text of a large answer is never
        // held whole.
        const char* type = plan->json ? "application/json" : "text/csv; charset=utf-8";
        auto held = std::make_shared<std::vector<store::SeriesPoints>>(std::move(*points));
        auto shape = std::make_shared<answers::QueryPlan>(std::move(*plan));
        res.set_chunked_content_provider(type,
                                         [held, shape](size_t, httplib::DataSink& sink) {
                                             answers::write_query_points(*held, *shape, [&](std::string_view text) {
                                                 return sink.write(text.data(), text.size());
                                             });
                                             sink.done();
                                             return true;
                                         });
    });

    s.Get("/api/v1/alarms", [this, caller](const httplib::Request& req, httplib::Response& res) {
        if (!caller(req, res, Right::read)) return;
        const auto p = params_of(req, res, {"status", "source", "limit"});
        if (!p) return;
        if (!ctx_.alarms) return send_json(res, 200, nlohmann::json::array());
        alarm::AlarmFilter f;
        if (Status st = alarm::apply_status_filter(p->has("status") ? p->get("status") : "open", f); !st)
            return send_status(res, st);
        f.source_pattern = p->get("source");
        if (p->has("limit")) {
            const std::string v = p->get("limit");
            size_t n = 0;
            auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
            if (ec != std::errc() || end != v.data() + v.size() || n == 0 || n > 100000)
                return send_error(res, 400, "invalid_request", "limit: must be 1..100000");
            f.limit = n;
        } else {
            f.limit = 1000;
        }
        auto list = ctx_.alarms->list(f);
        if (!list) return send_status(res, list.status());
        nlohmann::json out = nlohmann::json::array();
        for (const alarm::Alarm& a : *list) out.push_back(alarm::to_json(a));
        send_json(res, 200, out);
    });

    s.Post(R"(/api/v1/alarms/(\d+)/acknowledge)", [this, caller](const httplib::Request& req, httplib::Response& res) {
        auto c = caller(req, res, Right::operate);
        if (!c) return;
        if (!ctx_.alarms) return send_error(res, 404, "not_found", "the site has no alarms");
        auto body = json_body(req, res);
        std::string comment;
        if (!body || !only_fields(*body, {"comment"}, res) || !string_field(*body, "comment", comment, res, false)) return;
        if (comment.size() > 1000) return send_error(res, 400, "invalid_request", "comment: at most 1000 characters");
        uint64_t id = 0;
        const std::string m = req.matches[1];
        auto [end, ec] = std::from_chars(m.data(), m.data() + m.size(), id);
        if (ec != std::errc()) return send_error(res, 404, "not_found", "no alarm " + m);
        auto a = ctx_.alarms->acknowledge(id, c->user, comment, ctx_.now_ms());
        audit(req, c->user, "alarm_acknowledge", bool(a), {{"alarm", id}});
        if (!a) return send_status(res, a.status());
        send_json(res, 200, alarm::to_json(*a));
    });

    // Users (manage_users): list, add (with a password to change at first
    // login), remove; and unlock.
    s.Get("/api/v1/users", [this, caller](const httplib::Request& req, httplib::Response& res) {
        if (!caller(req, res, Right::manage_users)) return;
        auto list = users_.users();
        if (!list) return send_status(res, list.status());
        const int64_t now = ctx_.now_ms();
        nlohmann::json out = nlohmann::json::array();
        for (const User& u : *list)
            out.push_back({{"name", u.name},
                           {"role", role_name(u.role)},
                           {"must_change_password", u.must_change_password},
                           {"disabled", u.disabled},
                           {"locked", u.locked_until_ms > now},
                           {"created_ms", u.created_ms}});
        send_json(res, 200, out);
    });
    s.Post("/api/v1/users", [this, caller](const httplib::Request& req, httplib::Response& res) {
        auto c = caller(req, res, Right::manage_users);
        if (!c) return;
        auto body = json_body(req, res);
        std::string name, role_text, password;
        if (!body || !only_fields(*body, {"name", "role", "password"}, res) || !string_field(*body, "name", name, res) ||
            !string_field(*body, "role", role_text, res) || !string_field(*body, "password", password, res))
            return;
        const auto role = parse_role(role_text);
        if (!role)
            return send_error(res, 400, "invalid_request",
                              "role: '" + role_text + "' is not viewer, operator, admin or security_officer");
        if (!may_manage(c->role, *role))
            return send_error(res, 403, "forbidden",
                              std::string("the role ") + role_name(c->role) + " may not make a " + role_text);
        Status st = users_.add_user(name, *role, password, true, ctx_.now_ms());
        audit(req, c->user, "user_add", bool(st), {{"name", name}, {"role", role_text}});
        if (!st) return send_status(res, st);
        send_json(res, 201, {{"name", name}, {"role", role_text}, {"must_change_password", true}});
    });
    s.Delete(R"(/api/v1/users/([^/]+))", [this, caller](const httplib::Request& req, httplib::Response& res) {
        auto c = caller(req, res, Right::manage_users);
        if (!c) return;
        const std::string name = req.matches[1];
        auto u = users_.user(name);
        if (!u) return send_status(res, u.status());
        if (!*u) return send_error(res, 404, "not_found", "no user '" + name + "'");
        if (!may_manage(c->role, (*u)->role))
            return send_error(res, 403, "forbidden", std::string("the role ") + role_name(c->role) + " may not remove a " +
                                                         role_name((*u)->role));
        if (name == c->user) return send_error(res, 400, "invalid_request", "you cannot remove yourself");
        Status st = users_.remove_user(name);
        sessions_.close_user(name);
        audit(req, c->user, "user_remove", bool(st), {{"name", name}});
        if (!st) return send_status(res, st);
        send_json(res, 200, {{"ok", true}});
    });

    // Tokens: each user's own; manage_users also those of the users it may
    // manage (an admin: not a security officer's).
    auto may_touch = [this](const Caller& c, const ApiToken& t) {
        if (t.owner == c.user) return true;
        if (!may(c.role, Right::manage_users)) return false;
        auto owner = users_.user(t.owner);
        return owner && *owner && may_manage(c.role, (*owner)->role);
    };
    s.Get("/api/v1/tokens", [this, caller, may_touch](const httplib::Request& req, httplib::Response& res) {
        auto c = caller(req, res, Right::read);
        if (!c || !params_of(req, res, {})) return;
        auto list = users_.tokens();
        if (!list) return send_status(res, list.status());
        nlohmann::json out = nlohmann::json::array();
        for (const ApiToken& t : *list)
            if (may_touch(*c, t))
                out.push_back({{"id", t.id},
                               {"name", t.name},
                               {"role", role_name(t.role)},
                               {"owner", t.owner},
                               {"created_ms", t.created_ms},
                               {"expires_ms", t.expires_ms ? nlohmann::json(t.expires_ms) : nlohmann::json()}});
        send_json(res, 200, out);
    });
    s.Post("/api/v1/tokens", [this, caller](const httplib::Request& req, httplib::Response& res) {
        auto c = caller(req, res, Right::read);
        if (!c) return;
        if (!c->by_session) return send_error(res, 403, "forbidden", "tokens are made in a session (log in), not with a token");
        auto body = json_body(req, res);
        std::string name, role_text = role_name(c->role);
        if (!body || !only_fields(*body, {"name", "role", "expires_days"}, res) || !string_field(*body, "name", name, res) ||
            !string_field(*body, "role", role_text, res, false))
            return;
        const auto role = parse_role(role_text);
        if (!role) return send_error(res, 400, "invalid_request", "role: '" + role_text + "' is not a role");
        if (*role != c->role && !(*role == Role::viewer || (*role == Role::operator_role && c->role == Role::admin)))
            return send_error(res, 403, "forbidden",
                              std::string("a token cannot have more rights than its owner (") + role_name(c->role) + ")");
        int64_t expires = 0;
        if (body->contains("expires_days")) {
            const auto& d = (*body)["expires_days"];
            if (!d.is_number_integer() || d.get<int64_t>() < 1 || d.get<int64_t>() > 3650)
                return send_error(res, 400, "invalid_request", "expires_days: must be an integer 1..3650");
            expires = ctx_.now_ms() + d.get<int64_t>() * 86'400'000;
        }
        auto t = users_.add_token(name, *role, c->user, expires, ctx_.now_ms());
        audit(req, c->user, "token_add", bool(t), {{"name", name}, {"role", role_text}});
        if (!t) return send_status(res, t.status());
        send_json(res, 201,
                  {{"id", t->second.id},
                   {"token", t->first},
                   {"name", name},
                   {"role", role_text},
                   {"expires_ms", expires ? nlohmann::json(expires) : nlohmann::json()}});
    });
    s.Delete(R"(/api/v1/tokens/([^/]+))", [this, caller, may_touch](const httplib::Request& req, httplib::Response& res) {
        auto c = caller(req, res, Right::read);
        if (!c) return;
        const std::string id = req.matches[1];
        auto list = users_.tokens();
        if (!list) return send_status(res, list.status());
        const ApiToken* t = nullptr;
        for (const ApiToken& x : *list)
            if (x.id == id) t = &x;
        if (!t || !may_touch(*c, *t)) return send_error(res, 404, "not_found", "no token '" + id + "' you may revoke");
        Status st = users_.remove_token(id);
        audit(req, c->user, "token_remove", bool(st), {{"id", id}});
        if (!st) return send_status(res, st);
        send_json(res, 200, {{"ok", true}});
    });
}

}  // namespace gridlet::http

// ApiServer: the HTTP(S) API of a running gridlet (README "HTTP API";
// the routes and shapes in openapi.json, served at /api/v1/openapi.json).
//
// Built on cpp-httplib (Debian's libcpp-httplib, linked with OpenSSL 3):
// a thread pool of `threads` serves the connections; a request reads the
// store (thread-safe) and the alarm table (thread-safe) directly and never
// touches the bus or the store writer, so a slow or hostile client holds up
// one pool thread and nothing of the kernel. What needs the running kernel
// goes through ApiContext's functions, each bounded in time: the rules'
// state is taken on the rules' thread (3 s at most), a command is sent from
// the http component's thread and waits for the device (command_timeout_ms),
// overrides and reloads are control requests served by the main thread.
//
// The routes are grouped by file: api_account_routes.cpp, api_data_routes.cpp,
// api_device_routes.cpp, api_rule_routes.cpp, api_admin_routes.cpp,
// api_live_routes.cpp (README.md, "Routes").
//
// Live: GET /api/v1/live?series=<globs>&events=<globs> streams server-sent
// events from the LiveHub (live_hub.h); each client holds a pool thread (the
// pool has threads + max_live_clients), and one that reads too slowly is
// dropped and counted.
//
// Metrics: GET /api/v1/metrics/prometheus is the Prometheus text format
// (prometheus.h), GET /api/v1/metrics the JSON of `gridlet metrics` with the
// API's counters; both need the read right (a viewer token for a scraper).
//
// Security (defaults, all on):
// - HTTPS with the configured or a generated certificate (tls_identity.h),
//   TLS 1.2 at least; plain HTTP only on loopback unless allowed.
// - Every route but /api/v1/openapi.json, /api/v1/health and
//   /api/v1/login needs a session cookie or an API token
//   (Authorization: Bearer glt_...); the role decides (roles.h).
// - Cookie sessions: HttpOnly, SameSite=Strict, Secure over HTTPS; every
//   request that changes something also needs X-CSRF-Token.
// - A session whose password must change may only change it (403
//   password_change_required).
// - Security headers on every answer; request bodies over max_body_bytes
//   refused (413); read and write timeouts of 10 s.
// - Logins, failures, lockouts, password and user changes, tokens,
//   acknowledgements, overrides, commands, reloads, backups and certificate
//   installs are audit events ("audit" on the bus, kept in the store's
//   events), each with who and from where.
//
// Errors are JSON with a stable code: {"error":{"code":"...","message":"..."}}
// (codes: invalid_request, invalid_config, unauthorized, forbidden,
// csrf_failed, password_change_required, account_locked, not_found, conflict,
// too_large, command_failed, unavailable, internal).
//
// Threads: start() and stop() from one thread (the http component's);
// handlers run on the pool; counters() from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/site_config.h"
#include "core/snapshot.h"
#include "core/status.h"
#include "core/timezone.h"
#include "http/floor_plans.h"
#include "http/http_config.h"
#include "http/live_hub.h"
#include "http/roles.h"
#include "http/sessions.h"
#include "http/users.h"
#include "http/web_files.h"

namespace gridlet::alarm {
class AlarmTable;
}
namespace gridlet::exporter {
struct TargetConfig;
}
namespace gridlet::model {
struct SiteModel;
}
namespace gridlet::store {
class Store;
}
namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace gridlet::http {

struct QueryParams;

// What the API reads; borrowed, outlives the server.
struct ApiContext {
    // The site as last applied (a reload replaces it): take it once per
    // request (site->get()) and read that copy.
    const Snapshot<SiteConfig>* site = nullptr;
    store::Store* store = nullptr;           // null: no [store] (reads answer 503)
    const TimeZone* zone = nullptr;          // the site's
    alarm::AlarmTable* alarms = nullptr;     // null: none
    // Emits an event of the API (any thread): type "audit" and others.
    std::function<void(const std::string& type, int severity, const nlohmann::json& body)> emit;
    std::function<int64_t()> now_ms;         // UTC ms
    std::function<nlohmann::json()> metrics; // the kernel's (gridlet metrics); null: none
    LiveHub* live = nullptr;                 // the bus's samples and events for /live; null: none
    std::string version;
    // The running kernel (any thread; each null when not served: 503).
    // A control request ({"publish":..}, {"reload":{}}): its answer.
    std::function<Expected<nlohmann::json>(const nlohmann::json& request)> kernel;
    // The rules and their status documents ("" every rule, else that one).
    std::function<Expected<nlohmann::json>(const std::string& rule)> rules;
    // Sends a command to a device point and waits for its reply (at most
    // timeout_ms): ok, or the device's or the bus's refusal.
    std::function<Status(const std::string& target, double value, const std::string& text, int timeout_ms)> command;
    // The site's [[export_targets]] (for the outboxes); null: none.
    const std::vector<exporter::TargetConfig>* export_targets = nullptr;
    // The devices left out of this run: name -> why (a reload replaces it).
    const Snapshot<std::map<std::string, std::string>>* refused_devices = nullptr;
    // The site model's consumption engine reads; null: no [model].
    const model::SiteModel* model = nullptr;
};

struct ApiCounters {
    std::atomic<uint64_t> requests{0}, client_errors{0}, server_errors{0}, logins{0}, login_failures{0}, lockouts{0},
        denied{0};
};

class ApiServer {
public:
    ApiServer(HttpConfig config, ApiContext ctx);
    ~ApiServer();
    ApiServer(const ApiServer&) = delete;
    ApiServer& operator=(const ApiServer&) = delete;

    // Makes or loads the certificate, binds and starts serving. Errors: the
    // certificate (invalid_argument, io_error), the port (unavailable: in use).
    Status start();
    void stop();

    int port() const { return port_; }
    std::string url() const;
    const std::string& fingerprint() const { return fingerprint_; }
    const ApiCounters& counters() const { return counters_; }
    UserStore& users() { return users_; }

private:
    // Who calls: a session (cookie) or a token.
    struct Caller {
        std::string user;
        Role role = Role::viewer;
        bool by_session = false;
        std::string session_secret;
        std::string csrf;  // the session's X-CSRF-Token
        std::string token_id;
    };
    static constexpr const char* kCookie = "gridlet_session";
    // Authentication and rights: the caller, or nullopt after answering the
    // refusal (401, 403). A session whose password must change passes only
    // with allow_pending_password.
    std::optional<Caller> authorize(const httplib::Request& req, httplib::Response& res, Right right,
                                    bool allow_pending_password = false);
    // The site's devices (`only`: that one), as GET /api/v1/devices says
    // them; `full` adds each one's newest sample time (api_device_routes.cpp).
    nlohmann::json devices_json(const std::string& only, bool full);
    // The events the parameters select (GET /events; `type` fixed for
    // /ev/sessions), answered in `res` (api_data_routes.cpp); the audit
    // events only when `may_read_audit`.
    void events_answer(const QueryParams& p, const std::string& type, bool may_read_audit, httplib::Response& res);
    void routes();           // api_server.cpp: headers, limits, errors; then the groups:
    void account_routes();   // api_account_routes.cpp
    void data_routes();      // api_data_routes.cpp
    void live_routes();      // api_live_routes.cpp
    void device_routes();    // api_device_routes.cpp: devices, commands
    void rule_routes();      // api_rule_routes.cpp: rules, reload, EV charging, demand
    void admin_routes();     // api_admin_routes.cpp: exports, backup, security
    void floorplan_routes(); // api_floorplan_routes.cpp: floor plans and their images
    void web_routes();       // api_web_routes.cpp: the dashboard's files, outside /api/ (last)
    void audit(const httplib::Request& req, const std::string& user, const std::string& action, bool ok,
               const nlohmann::json& detail = nlohmann::json::object());

    HttpConfig config_;
    ApiContext ctx_;
    UserStore users_;
    SessionTable sessions_;
    ApiCounters counters_;
    std::unique_ptr<httplib::Server> server_;
    std::thread thread_;
    int port_ = 0;
    std::string fingerprint_;
    WebFiles web_;  // loaded in start(), read-only after
    FloorPlans floor_plans_;
};

}  // namespace gridlet::http

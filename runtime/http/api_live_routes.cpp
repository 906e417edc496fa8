// The API's live and metrics routes: server-sent events (live_hub.h), the
// Prometheus text format (prometheus.h) and the JSON metrics. Handlers run
// on the server's pool; a live client holds one pool thread while it reads.
#include <gridlet/glob.hpp>
#include <httplib.h>

#include <charconv>

#include "http/api_request.h"
#include "http/api_server.h"
#include "answers/outbox_answer.h"
#include "http/prometheus.h"

#include <chrono>
#include <thread>

namespace gridlet::http {

void ApiServer::live_routes() {
    httplib::Server& s = *server_;

    s.Get("/api/v1/metrics/prometheus", [this](const httplib::Request& req, httplib::Response& res) {
        if (!authorize(req, res, Right::read) || !params_of(req, res, {})) return;
        const nlohmann::json m = ctx_.metrics ? ctx_.metrics() : nlohmann::json::object();
        // What the API reads of the running site: devices, rules, outboxes.
        nlohmann::json site = {{"devices", devices_json("", false)}};
        if (ctx_.rules)
            if (auto r = ctx_.rules(""); r) site["rules"] = *r;
        if (ctx_.store && ctx_.export_targets)
            if (auto o = answers::read_outboxes(*ctx_.store, *ctx_.export_targets, ""); o)
                site["outboxes"] = answers::outbox_json(*o, *ctx_.zone);
        std::string text = prometheus_text(m, &counters_, sessions_.size(), site);
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
    s.Get("/api/v1/metrics", [this](const httplib::Request& req, httplib::Response& res) {
        if (!authorize(req, res, Right::read) || !params_of(req, res, {})) return;
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

    s.Get("/api/v1/live", [this](const httplib::Request& req, httplib::Response& res) {
        auto caller = authorize(req, res, Right::read);
        if (!caller) return;
        const auto p = params_of(req, res, {"series", "events"});
        if (!p) return;
        if (!ctx_.live) return send_error(res, 503, "unavailable", "live data is not served by this server");
        std::vector<std::string> series = split_list(p->get("series")), events = split_list(p->get("events"));
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
        auto client = ctx_.live->add(std::move(series), std::move(events), static_cast<size_t>(config_.live_queue_bytes),
                                     may(caller->role, Right::manage_users) || may(caller->role, Right::security));
        LiveHub* hub = ctx_.live;
        // The stream lasts as long as what let it in: a logout, a revoked
        // token, a disabled or removed user or a new password ends it within
        // 2 s, as they end every other request at once.
        const std::string auth = req.get_header_value("Authorization");
        const std::string secret = caller->by_session ? caller->session_secret : std::string();
        const std::string hash = [&] {
            auto u = users_.user(caller->user);
            return u && *u ? (*u)->hash : std::string();
        }();
        auto still_allowed = [this, auth, secret, hash, by_session = caller->by_session]() {
            const int64_t now = ctx_.now_ms();
            std::string user;
            if (by_session) {
                auto session = sessions_.use(secret, now);
                if (!session) return false;
                user = session->user;
            } else {
                auto t = users_.check_token(auth.size() > 7 ? auth.substr(7) : std::string(), now);
                if (!t) return false;
                user = t->owner;
            }
            auto u = users_.user(user);
            return u && *u && !(*u)->disabled && (!by_session || (*u)->hash == hash);
        };
        res.set_header("X-Accel-Buffering", "no");
        res.set_chunked_content_provider(
            "text/event-stream",
            [client, still_allowed](size_t, httplib::DataSink& sink) {
                std::string text;
                // ": keepalive" after 15 s of silence; the client's end (a
                // failed write), its drop or the end of its right ends the
                // stream. At most 10 writes a second: what comes meanwhile
                // goes in the next one (one TLS record and one syscall for
                // many samples).
                auto last_write = std::chrono::steady_clock::now();
                auto last_check = last_write;
                bool allowed = true;
                while (client->next(text, 2'000)) {
                    const auto now = std::chrono::steady_clock::now();
                    if (now - last_check >= std::chrono::seconds(2)) {
                        last_check = now;
                        if (!(allowed = still_allowed())) break;
                    }
                    if (text.empty()) {
                        if (now - last_write < std::chrono::seconds(15)) continue;
                        text = ": keepalive\n\n";
                    }
                    if (!sink.write(text.data(), text.size())) return false;
                    last_write = now;
                    std::this_thread::sleep_for(std::chrono::milliseconds(100));
                }
                std::string last;
                if (!allowed)
                    last = "event: ended\ndata: {\"reason\":\"the session or token is no longer valid: log in again\"}\n\n";
                else if (client->dropped())
                    last = "event: dropped\ndata: " + nlohmann::json{{"reason", client->drop_reason()}}.dump() + "\n\n";
                if (!last.empty()) sink.write(last.data(), last.size());
                sink.done();
                return true;
            },
            [hub, client](bool) { hub->remove(client); });
    });
}

}  // namespace gridlet::http

// The API's rule routes: the rules (state, errors, status documents), the
// reload of the site (as SIGHUP), Green'Up EV charging (the status document
// of each rule whose kind is "greenup", its sessions, run-time overrides and
// charging limit) and the demand limits (kind "demand_limit"). Handlers run
// on the server's pool; the rules are read on their own thread
// (ApiContext::rules), overrides and reloads go through the kernel's main
// thread (ApiContext::kernel), as `gridlet publish` and SIGHUP do.
#include <httplib.h>

#include <algorithm>
#include <cmath>

#include "http/api_request.h"
#include "http/api_server.h"
#include "store/store.h"

namespace gridlet::http {

namespace {

// The rules' documents of one kind ("greenup", "demand_limit"):
// [{rule, ...document}].
nlohmann::json documents_of_kind(const nlohmann::json& rules, const std::string& kind) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : rules) {
        const nlohmann::json& doc = r["document"];
        if (!doc.is_object() || doc.value("kind", "") != kind) continue;
        nlohmann::json item = {{"rule", r["name"]}, {"rule_status", r["status"]}};
        item.update(doc);
        out.push_back(std::move(item));
    }
    return out;
}

}  // namespace

void ApiServer::rule_routes() {
    httplib::Server& s = *server_;

    // The rules (every one, or one), answered or refused in `res`.
    auto read_rules = [this](const std::string& only, httplib::Response& res) -> std::optional<nlohmann::json> {
        if (!ctx_.rules) {
            if (only.empty()) return nlohmann::json::array();
            send_error(res, 404, "not_found", "the site has no rules");
            return std::nullopt;
        }
        auto r = ctx_.rules(only);
        if (!r) {
            send_status(res, r.status());
            return std::nullopt;
        }
        return *r;
    };

    s.Get("/api/v1/rules", [this, read_rules](const httplib::Request& req, httplib::Response& res) {
        if (!authorize(req, res, Right::read) || !params_of(req, res, {})) return;
        if (auto r = read_rules("", res)) send_json(res, 200, *r);
    });
    s.Get(R"(/api/v1/rules/([^/]+))", [this, read_rules](const httplib::Request& req, httplib::Response& res) {
        if (!authorize(req, res, Right::read) || !params_of(req, res, {})) return;
        if (auto r = read_rules(req.matches[1], res)) send_json(res, 200, (*r)[0]);
    });

    // The site file read again and applied as SIGHUP would (rules, log
    // level; failed plugins started again); a file with errors is refused
    // and the running configuration kept.
    s.Post("/api/v1/reload", [this](const httplib::Request& req, httplib::Response& res) {
        auto c = authorize(req, res, Right::configure);
        if (!c || !params_of(req, res, {})) return;
        if (!req.body.empty()) {
            auto body = json_body(req, res);
            if (!body || !only_fields(*body, {}, res)) return;
        }
        if (!ctx_.kernel) return send_error(res, 503, "unavailable", "reload is not served by this server");
        auto answer = ctx_.kernel({{"reload", nlohmann::json::object()}});
        if (!answer) {
            audit(req, c->user, "reload", false, {{"error", answer.status().message()}});
            return send_status(res, answer.status());
        }
        const bool ok = answer->value("ok", false);
        audit(req, c->user, "reload", ok);
        if (!ok)
            return send_json(res, 400,
                             {{"error",
                               {{"code", "invalid_config"},
                                {"message", answer->value("error", std::string("the site file has errors"))},
                                {"errors", answer->value("errors", nlohmann::json::array())}}}});
        answer->erase("ok");
        send_json(res, 200, *answer);
    });

    s.Get("/api/v1/ev", [this, read_rules](const httplib::Request& req, httplib::Response& res) {
        if (!authorize(req, res, Right::read) || !params_of(req, res, {})) return;
        if (auto r = read_rules("", res)) send_json(res, 200, documents_of_kind(*r, "greenup"));
    });

    // The charging sessions (ev_session events, manual 7.12.5's history).
    s.Get("/api/v1/ev/sessions", [this](const httplib::Request& req, httplib::Response& res) {
        if (!authorize(req, res, Right::read)) return;
        const auto p = params_of(req, res, {"from", "to", "format", "limit", "tz"});
        if (!p) return;
        if (!ctx_.store) return send_error(res, 503, "unavailable", "the site has no [store]");
        events_answer(*p, "ev_session", false, res);
    });

    // Run-time overrides of a station's session (manual 8.3.2): Start/Wait
    // and Normal/Priority; and the charging limit of a Green'Up rule.
    auto greenup_of = [this, read_rules](const std::string& rule, httplib::Response& res) -> std::optional<nlohmann::json> {
        auto r = read_rules(rule, res);
        if (!r) return std::nullopt;
        const nlohmann::json doc = documents_of_kind(*r, "greenup");
        if (doc.empty()) {
            send_error(res, 404, "not_found", "rule '" + printable(rule) + "' is not a running Green'Up rule");
            return std::nullopt;
        }
        return doc[0];
    };
    auto publish = [this](const std::string& series, double value, const char* unit) -> Status {
        if (!ctx_.kernel) return Status::unavailable("overrides are not served by this server");
        nlohmann::json p = {{"series", series}, {"value", value}};
        if (unit) p["unit"] = unit;
        auto answer = ctx_.kernel({{"publish", p}});
        if (!answer) return answer.status();
        if (!answer->value("ok", false)) return Status::invalid(answer->value("error", std::string("refused")));
        return Status::ok();
    };
    s.Post(R"(/api/v1/ev/([^/]+)/stations/([^/]+)/override)",
           [this, greenup_of, publish](const httplib::Request& req, httplib::Response& res) {
               auto c = authorize(req, res, Right::operate);
               if (!c) return;
               auto body = json_body(req, res);
               std::string start_wait, priority;
               if (!body || !only_fields(*body, {"start_wait", "priority"}, res) ||
                   !string_field(*body, "start_wait", start_wait, res, false) ||
                   !string_field(*body, "priority", priority, res, false))
                   return;
               if (start_wait.empty() && priority.empty())
                   return send_error(res, 400, "invalid_request", "give start_wait (Start or Wait) and/or priority (Normal or Priority)");
               auto lower = [](std::string t) {
                   for (char& ch : t) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
                   return t;
               };
               start_wait = lower(start_wait);
               priority = lower(priority);
               if (!start_wait.empty() && start_wait != "start" && start_wait != "wait")
                   return send_error(res, 400, "invalid_request", "start_wait: Start or Wait");
               if (!priority.empty() && priority != "normal" && priority != "priority")
                   return send_error(res, 400, "invalid_request", "priority: Normal or Priority");
               const std::string rule = req.matches[1], station = req.matches[2];
               auto g = greenup_of(rule, res);
               if (!g) return;
               nlohmann::json found;
               for (const auto& st : (*g)["stations"])
                   if (st.value("name", "") == station) found = st;
               if (found.is_null())
                   return send_error(res, 404, "not_found",
                                     "rule '" + printable(rule) + "' has no station '" + printable(station) + "'");
               if (!found["session"].is_object())
                   return send_error(res, 409, "conflict",
                                     "station '" + printable(station) + "' has no charging session: an override is for "
                                     "the present session only");
               const std::string prefix = (*g).value("override_prefix", std::string("greenup")) + "/" + station + "/";
               nlohmann::json detail = {{"rule", rule}, {"station", station}};
               Status st = Status::ok();
               if (!start_wait.empty()) {
                   st = publish(prefix + "start_wait", start_wait == "start" ? 1 : 0, nullptr);
                   detail["start_wait"] = start_wait == "start" ? "Start" : "Wait";
               }
               if (st && !priority.empty()) {
                   st = publish(prefix + "priority", priority == "priority" ? 1 : 0, nullptr);
                   detail["priority"] = priority == "priority" ? "Priority" : "Normal";
               }
               if (!st) detail["error"] = st.message();
               audit(req, c->user, "ev_override", bool(st), detail);
               if (!st) return send_status(res, st);
               send_json(res, 202, {{"ok", true},
                                    {"applied", "at the rule's next control step (GET /api/v1/ev shows it)"},
                                    {"override", detail}});
           });
    s.Post(R"(/api/v1/ev/([^/]+)/charging_limit)", [this, greenup_of, publish](const httplib::Request& req,
                                                                                 httplib::Response& res) {
        auto c = authorize(req, res, Right::operate);
        if (!c) return;
        auto body = json_body(req, res);
        if (!body || !only_fields(*body, {"amperes"}, res)) return;
        if (!body->contains("amperes") || !(*body)["amperes"].is_number() || !std::isfinite((*body)["amperes"].get<double>()) ||
            (*body)["amperes"].get<double>() < 0)
            return send_error(res, 400, "invalid_request", "'amperes' must be a number >= 0 (the configured value or more: "
                                                           "back to the configured limit)");
        const std::string rule = req.matches[1];
        auto g = greenup_of(rule, res);
        if (!g) return;
        const double amps = (*body)["amperes"].get<double>();
        Status st = publish((*g).value("override_prefix", std::string("greenup")) + "/charging_limit", amps, "A");
        nlohmann::json detail = {{"rule", rule}, {"amperes", amps}};
        if (!st) detail["error"] = st.message();
        audit(req, c->user, "ev_charging_limit", bool(st), detail);
        if (!st) return send_status(res, st);
        // The rule never goes over its configured limit: what it will use.
        const nlohmann::json configured = (*g)["configured_charging_limit"];
        const nlohmann::json effective =
            configured.is_number() ? nlohmann::json(std::min(amps, configured.get<double>())) : nlohmann::json(amps);
        send_json(res, 202, {{"ok", true},
                             {"rule", rule},
                             {"amperes", amps},
                             {"configured", configured},
                             {"effective", effective},
                             {"applied", "at the rule's next control step (GET /api/v1/ev shows it)"}});
    });

    s.Get("/api/v1/demand", [this, read_rules](const httplib::Request& req, httplib::Response& res) {
        if (!authorize(req, res, Right::read) || !params_of(req, res, {})) return;
        if (auto r = read_rules("", res)) send_json(res, 200, documents_of_kind(*r, "demand_limit"));
    });
}

}  // namespace gridlet::http

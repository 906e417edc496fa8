// The API's device routes: each device's state, last poll and errors (from
// the store: the driver's <device>/online or <device>/status series, its
// <device>/comm/* counters and its offline events), and commands to the
// device points [http] commands allows. Handlers run on the server's pool;
// a command is sent from the http component's thread (ApiContext::command).
#include <gridlet/glob.hpp>
#include <httplib.h>

#include <cmath>

#include "answers/device_answer.h"
#include "http/api_request.h"
#include "http/api_server.h"
#include "store/store.h"

namespace gridlet::http {

nlohmann::json ApiServer::devices_json(const std::string& only, bool full) {
    const nlohmann::json m = ctx_.metrics ? ctx_.metrics() : nlohmann::json::object();
    const std::shared_ptr<const SiteConfig> site = ctx_.site->get();
    const std::shared_ptr<const std::map<std::string, std::string>> refused = ctx_.refused_devices->get();
    return answers::devices_status(ctx_.store, site->devices, *refused,
                                   m.value("plugins", nlohmann::json::object()), ctx_.now_ms(), only, full);
}

void ApiServer::device_routes() {
    httplib::Server& s = *server_;

    s.Get("/api/v1/devices", [this](const httplib::Request& req, httplib::Response& res) {
        if (!authorize(req, res, Right::read) || !params_of(req, res, {})) return;
        send_json(res, 200, devices_json("", false));
    });

    s.Get(R"(/api/v1/devices/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
        if (!authorize(req, res, Right::read) || !params_of(req, res, {})) return;
        const std::string name = req.matches[1];
        nlohmann::json one = devices_json(name, true);
        if (one.empty()) return send_error(res, 404, "not_found", "no device '" + printable(name) + "' in the site");
        send_json(res, 200, one[0]);
    });

    // A command to a device point: operators, and only the points [http]
    // commands allows. Audited whether it went through or not.
    s.Post("/api/v1/commands", [this](const httplib::Request& req, httplib::Response& res) {
        auto c = authorize(req, res, Right::operate);
        if (!c) return;
        auto body = json_body(req, res);
        std::string target;
        if (!body || !only_fields(*body, {"target", "value"}, res) || !string_field(*body, "target", target, res)) return;
        if (!body->contains("value") || !((*body)["value"].is_number() || (*body)["value"].is_boolean() ||
                                          (*body)["value"].is_string()))
            return send_error(res, 400, "invalid_request", "'value' must be a number, true/false or a text");
        const nlohmann::json& v = (*body)["value"];
        double value = 0;
        std::string text;
        if (v.is_boolean()) value = v.get<bool>() ? 1 : 0;
        else if (v.is_number()) value = v.get<double>();
        else text = v.get<std::string>();
        if (!std::isfinite(value)) return send_error(res, 400, "invalid_request", "'value' must be a finite number");
        if (text.size() > 4096) return send_error(res, 400, "invalid_request", "'value': a text of at most 4096 bytes");
        const size_t slash = target.find('/');
        if (slash == std::string::npos || slash == 0 || slash + 1 == target.size() || target.size() > 255)
            return send_error(res, 400, "invalid_request", "'target' must be \"device/point\"");
        bool allowed = false;
        for (const std::string& pattern : config_.commands) allowed = allowed || glob_match(pattern, target);
        if (!allowed) {
            audit(req, c->user, "command", false, {{"target", target}, {"reason", "not allowed"}});
            return send_error(res, 403, "forbidden",
                              "'" + printable(target) + "' is not among the points the API may command ([http] commands" +
                                  (config_.commands.empty() ? ": none by default" : "") + ")");
        }
        if (!ctx_.command) return send_error(res, 503, "unavailable", "commands are not served by this server");
        Status st = ctx_.command(target, value, text, config_.command_timeout_ms);
        nlohmann::json detail = {{"target", target}, {"value", v}};
        if (!st) detail["error"] = st.message();
        audit(req, c->user, "command", bool(st), detail);
        if (!st)
            return send_error(res, st.code() == StatusCode::invalid_argument ? 400 : 502, "command_failed",
                              "'" + printable(target) + "': " + st.message());
        send_json(res, 200, {{"ok", true}, {"target", target}, {"value", v}});
    });
}

}  // namespace gridlet::http

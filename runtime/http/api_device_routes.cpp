// The API's device routes: each device's state, last poll and errors (from
// the store: the driver's <device>/online or <device>/status series, its
// <device>/comm/* counters and its offline events), and commands to the
// device points [http] commands allows. Handlers run on the server's pool;
// a command is sent from the http component's thread (ApiContext::command).
#include <gridlet/glob.hpp>
#include <httplib.h>

#include <cmath>

#include "http/api_request.h"
#include "http/api_server.h"
#include "store/store.h"

namespace gridlet::http {

namespace {

constexpr int64_t kErrorLookbackMs = 7 * 86'400'000LL;  // the last error shown: within a week

struct DeviceErrors {
    std::string text;
    int64_t ts = 0;
};

// The latest offline event of each device within the lookback (one scan).
std::map<std::string, DeviceErrors> last_errors(store::Store& st, int64_t now) {
    std::map<std::string, DeviceErrors> out;
    store::EventFilter f;
    f.from = now - kErrorLookbackMs;
    f.type = "offline";
    auto events = st.events().query(f);
    if (!events) return out;
    for (const store::Event& e : *events) {
        auto body = nlohmann::json::parse(e.body, nullptr, false);
        const std::string device =
            body.is_object() && body.contains("device") && body["device"].is_string() ? body["device"].get<std::string>()
                                                                                       : e.source;
        std::string text = body.is_object() && body.contains("error") && body["error"].is_string()
                               ? body["error"].get<std::string>()
                               : "offline";
        out[device] = {std::move(text), e.ts};
    }
    return out;
}

std::optional<store::Sample> last_of(store::Store& st, const std::string& name) {
    auto id = st.registry().find(name);
    if (!id) return std::nullopt;
    auto last = st.query().last(*id);
    if (!last || !*last) return std::nullopt;
    return **last;
}

}  // namespace

nlohmann::json ApiServer::devices_json(const std::string& only, bool full) {
    auto device_json = [this](const DeviceEntry& d, const nlohmann::json& plugins,
                              const std::map<std::string, DeviceErrors>& errors, bool with_newest) {
        nlohmann::json j = {{"name", d.name}, {"plugin", d.plugin}};
        const nlohmann::json* p = plugins.contains(d.plugin) ? &plugins[d.plugin] : nullptr;
        j["plugin_state"] = p && p->contains("state") ? (*p)["state"] : nlohmann::json("unknown");
        if (auto it = ctx_.refused_devices.find(d.name); it != ctx_.refused_devices.end()) {
            j["state"] = "left_out";
            j["last_error"] = it->second;
            return j;
        }
        std::string state = "unknown";
        int64_t last_poll = 0;
        nlohmann::json comm = nlohmann::json::object();
        if (ctx_.store) {
            store::Store& st = *ctx_.store;
            if (auto online = last_of(st, d.name + "/online")) state = online->value >= 0.5 ? "online" : "offline";
            else if (auto status = last_of(st, d.name + "/status"))
                state = status->value == 1 ? "online" : status->value == 2 ? "offline" : "unknown";
            for (const char* c : {"requests", "timeouts", "exceptions", "malformed", "failed_polls", "reconnects",
                                  "wrong_unit", "failing_points", "stale_replies"}) {
                auto v = last_of(st, d.name + "/comm/" + c);
                if (!v) continue;
                comm[c] = static_cast<uint64_t>(std::max(0.0, v->value));
                if (std::string_view(c) == "requests") last_poll = v->ts;
            }
            if (with_newest) {
                int64_t newest = 0;
                if (auto sel = st.registry().select(d.name + "/"); sel)
                    for (const SeriesMeta& m : *sel)
                        if (auto last = st.query().last(m.id); last && *last) newest = std::max(newest, (*last)->ts);
                j["last_data_ms"] = newest ? nlohmann::json(newest) : nlohmann::json();
            }
        }
        if (p && p->value("state", "") != "running") state = "stopped";
        j["state"] = state;
        j["last_poll_ms"] = last_poll ? nlohmann::json(last_poll) : nlohmann::json();
        uint64_t errs = 0;
        for (const char* c : {"timeouts", "exceptions", "malformed", "wrong_unit"})
            if (comm.contains(c)) errs += comm[c].get<uint64_t>();
        j["errors"] = comm.empty() ? nlohmann::json() : nlohmann::json(errs);
        j["comm"] = comm;
        if (auto it = errors.find(d.name); it != errors.end()) {
            j["last_error"] = it->second.text;
            j["last_error_ms"] = it->second.ts;
        } else {
            j["last_error"] = nullptr;
            j["last_error_ms"] = nullptr;
        }
        return j;
    };

    const nlohmann::json m = ctx_.metrics ? ctx_.metrics() : nlohmann::json::object();
    const nlohmann::json plugins = m.value("plugins", nlohmann::json::object());
    const auto errors = ctx_.store ? last_errors(*ctx_.store, ctx_.now_ms()) : std::map<std::string, DeviceErrors>{};
    nlohmann::json out = nlohmann::json::array();
    for (const DeviceEntry& d : ctx_.site->devices)
        if (only.empty() || d.name == only) out.push_back(device_json(d, plugins, errors, full));
    return out;
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

// The API's floor plan routes (floor_plans.h): read by every role; made,
// changed and removed by the roles that configure (admin), each change an
// audit event. Handlers run on the server's pool.
#include <httplib.h>

#include <algorithm>

#include "http/api_request.h"
#include "http/api_server.h"
#include "store/store.h"

namespace gridlet::http {

void ApiServer::floorplan_routes() {
    httplib::Server& s = *server_;
    s.Get("/api/v1/floorplans", [this](const httplib::Request& req, httplib::Response& res) {
        if (!authorize(req, res, Right::read) || !params_of(req, res, {})) return;
        auto list = floor_plans_.list();
        if (!list) return send_status(res, list.status());
        send_json(res, 200, *list);
    });
    s.Post("/api/v1/floorplans", [this](const httplib::Request& req, httplib::Response& res) {
        auto c = authorize(req, res, Right::configure);
        if (!c) return;
        auto body = json_body(req, res);
        std::string name;
        if (!body || !only_fields(*body, {"name"}, res) || !string_field(*body, "name", name, res)) return;
        auto plan = floor_plans_.add(name, ctx_.now_ms());
        audit(req, c->user, "floorplan_add", bool(plan), {{"name", name}});
        if (!plan) return send_status(res, plan.status());
        send_json(res, 201, *plan);
    });
    s.Put(R"(/api/v1/floorplans/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
        auto c = authorize(req, res, Right::configure);
        if (!c) return;
        auto body = json_body(req, res);
        if (!body) return;
        const std::string id = req.matches[1];
        // An item must show something of this site: a series the store
        // knows, a device of the site file.
        if (body->contains("items") && (*body)["items"].is_array()) {
            const nlohmann::json& items = (*body)["items"];
            for (size_t i = 0; i < items.size(); ++i) {
                const nlohmann::json& it = items[i];
                if (!it.is_object()) continue;  // said by update()
                const std::string at = "items[" + std::to_string(i) + "]";
                if (it.contains("series") && it["series"].is_string() && ctx_.store &&
                    !ctx_.store->registry().find(it["series"].get<std::string>()))
                    return send_error(res, 400, "invalid_request",
                                      at + ".series: no series '" + printable(it["series"].get<std::string>()) +
                                          "' in the store (GET /api/v1/series lists them)");
                if (it.value("kind", std::string()) == "device" && it.contains("device") && it["device"].is_string()) {
                    const std::string d = it["device"].get<std::string>();
                    const std::shared_ptr<const SiteConfig> site = ctx_.site->get();
                    const bool known = std::any_of(site->devices.begin(), site->devices.end(),
                                                   [&](const DeviceEntry& e) { return e.name == d; });
                    if (!known)
                        return send_error(res, 400, "invalid_request",
                                          at + ".device: no device '" + printable(d) + "' on this site");
                }
            }
        }
        auto plan = floor_plans_.update(id, *body, ctx_.now_ms());
        audit(req, c->user, "floorplan_change", bool(plan), {{"id", id}});
        if (!plan) return send_status(res, plan.status());
        send_json(res, 200, *plan);
    });
    s.Delete(R"(/api/v1/floorplans/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
        auto c = authorize(req, res, Right::configure);
        if (!c) return;
        const std::string id = req.matches[1];
        Status st = floor_plans_.remove(id);
        audit(req, c->user, "floorplan_remove", bool(st), {{"id", id}});
        if (!st) return send_status(res, st);
        send_json(res, 200, {{"ok", true}});
    });
    // The picture: the request's body as it is (PNG, JPEG or WebP), at most max_body_kb.
    s.Put(R"(/api/v1/floorplans/([^/]+)/image)", [this](const httplib::Request& req, httplib::Response& res) {
        auto c = authorize(req, res, Right::configure);
        if (!c) return;
        const std::string id = req.matches[1];
        Status st = floor_plans_.set_image(id, req.body, ctx_.now_ms());
        audit(req, c->user, "floorplan_image", bool(st), {{"id", id}, {"bytes", req.body.size()}});
        if (!st) return send_status(res, st);
        send_json(res, 200, {{"ok", true}, {"bytes", req.body.size()}});
    });
    s.Get(R"(/api/v1/floorplans/([^/]+)/image)", [this](const httplib::Request& req, httplib::Response& res) {
        if (!authorize(req, res, Right::read) || !params_of(req, res, {"v"})) return;
        auto image = floor_plans_.image(req.matches[1]);
        if (!image) return send_status(res, image.status());
        res.set_content(image->first, image->second);
    });
}

}  // namespace gridlet::http

// The API's floor plan routes (floor_plans.h): read by every role; made,
// changed and removed by the roles that configure (admin), each change an
// audit event. Handlers run on the server's pool.
#include <httplib.h>

#include "http/api_request.h"
#include "http/api_server.h"

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

// The API's account routes: login, logout, me, password, users, tokens
// (api_server.h). Handlers run on the server's pool.
#include <httplib.h>

#include <algorithm>
#include <charconv>

#include "http/api_request.h"
#include "http/api_server.h"

namespace gridlet::http {

void ApiServer::account_routes() {
    httplib::Server& s = *server_;
    const bool tls = config_.tls;

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

    s.Post("/api/v1/logout", [this, tls](const httplib::Request& req, httplib::Response& res) {
        auto c = authorize(req, res, Right::read, true);
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

    s.Get("/api/v1/me", [this](const httplib::Request& req, httplib::Response& res) {
        auto c = authorize(req, res, Right::read, true);
        if (!c || !params_of(req, res, {})) return;
        auto u = users_.user(c->user);
        send_json(res, 200,
                  {{"user", c->user},
                   {"role", role_name(c->role)},
                   {"via", c->by_session ? "session" : "token"},
                   // A page reloaded in the browser has its cookie but not the token it needs for changes.
                   {"csrf_token", c->by_session ? nlohmann::json(c->csrf) : nlohmann::json()},
                   {"token", c->token_id.empty() ? nlohmann::json() : nlohmann::json(c->token_id)},
                   {"must_change_password", u && *u && (*u)->must_change_password}});
    });

    s.Post("/api/v1/password", [this, tls](const httplib::Request& req, httplib::Response& res) {
        auto c = authorize(req, res, Right::read, true);
        if (!c) return;
        if (!c->by_session)
            return send_error(res, 403, "forbidden", "a password is changed in a session (log in), not with a token");
        auto body = json_body(req, res);
        std::string current, next;
        if (!body || !only_fields(*body, {"current_password", "new_password"}, res) ||
            !string_field(*body, "current_password", current, res) || !string_field(*body, "new_password", next, res))
            return;
        // The current password is checked as a login is: a wrong one counts
        // toward the lockout, so a stolen session cannot guess it; a lockout
        // ends the user's sessions.
        auto check = users_.login(c->user, current, ctx_.now_ms());
        if (!check) return send_status(res, check.status());
        if (check->result == UserStore::LoginResult::locked) {
            sessions_.close_user(c->user);
            audit(req, c->user, "password_change", false, {{"reason", "locked"}});
            res.set_header("Retry-After", std::to_string(std::max<int64_t>(1, (check->locked_until_ms - ctx_.now_ms()) / 1000)));
            return send_error(res, 429, "account_locked", "too many wrong passwords: the account is locked; log in again later");
        }
        if (check->result != UserStore::LoginResult::ok) {
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
    // Users (manage_users): list, add (with a password to change at first
    // login), remove; and unlock.
    s.Get("/api/v1/users", [this](const httplib::Request& req, httplib::Response& res) {
        if (!authorize(req, res, Right::manage_users) || !params_of(req, res, {})) return;
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
    s.Post("/api/v1/users", [this](const httplib::Request& req, httplib::Response& res) {
        auto c = authorize(req, res, Right::manage_users);
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
        if (!may_manage(c->role, *role)) {
            audit(req, c->user, "user_add", false, {{"name", name}, {"role", role_text}, {"error", "role"}});
            return send_error(res, 403, "forbidden",
                              std::string("the role ") + role_name(c->role) + " may not make a " + role_text);
        }
        Status st = users_.add_user(name, *role, password, true, ctx_.now_ms());
        audit(req, c->user, "user_add", bool(st), {{"name", name}, {"role", role_text}});
        if (!st) return send_status(res, st);
        send_json(res, 201, {{"name", name}, {"role", role_text}, {"must_change_password", true}});
    });
    s.Delete(R"(/api/v1/users/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
        auto c = authorize(req, res, Right::manage_users);
        if (!c) return;
        const std::string name = req.matches[1];
        auto u = users_.user(name);
        if (!u) return send_status(res, u.status());
        if (!*u) return send_error(res, 404, "not_found", "no user '" + name + "'");
        if (!may_manage(c->role, (*u)->role)) {
            audit(req, c->user, "user_remove", false, {{"name", name}, {"error", "role"}});
            return send_error(res, 403, "forbidden", std::string("the role ") + role_name(c->role) + " may not remove a " +
                                                         role_name((*u)->role));
        }
        const std::string canonical = (*u)->name;  // as it was made, whatever the case asked
        if (canonical == c->user) return send_error(res, 400, "invalid_request", "you cannot remove yourself");
        // The API never leaves the site without an admin who can log in
        // (on the gateway, `gridlet user add` can always make one).
        if ((*u)->role == Role::admin && !(*u)->disabled) {
            auto all = users_.users();
            if (!all) return send_status(res, all.status());
            const bool another = std::any_of(all->begin(), all->end(), [&](const User& x) {
                return x.name != (*u)->name && x.role == Role::admin && !x.disabled;
            });
            if (!another)
                return send_error(res, 409, "conflict",
                                  "'" + name + "' is the last enabled admin: make another admin first");
        }
        Status st = users_.remove_user(canonical);
        sessions_.close_user(canonical);
        audit(req, c->user, "user_remove", bool(st), {{"name", canonical}});
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
    s.Get("/api/v1/tokens", [this, may_touch](const httplib::Request& req, httplib::Response& res) {
        auto c = authorize(req, res, Right::read);
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
    s.Post("/api/v1/tokens", [this](const httplib::Request& req, httplib::Response& res) {
        auto c = authorize(req, res, Right::read);
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
    s.Delete(R"(/api/v1/tokens/([^/]+))", [this, may_touch](const httplib::Request& req, httplib::Response& res) {
        auto c = authorize(req, res, Right::read);
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

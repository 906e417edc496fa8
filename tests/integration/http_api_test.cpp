// The HTTP API against the real binary on a free loopback port, over HTTPS
// with the certificate gridlet generates (verified by the client with that
// certificate as its only CA): the first admin made with `gridlet user add`,
// every route with each role allowed and denied, lockout, the forced
// password change, CSRF, tokens (made, tampered, revoked), the query
// answering what `gridlet query` prints (CSV byte for byte), and bad input
// (malformed and huge bodies, unknown fields, wrong types, path traversal,
// too large answers, slow clients) that never stalls the kernel.
#include <gtest/gtest.h>
#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "integration/http_api_fixture.h"
#include "integration/process.h"

using namespace gridlet::testing;
namespace fs = std::filesystem;

using namespace gridlet::testing::http_api;

namespace {

TEST_F(HttpApi, TheFirstAdminHttpsWithTheGeneratedCertificateAndSecurityHeaders) {
    write();
    ASSERT_EQ(run({gridlet_bin(), "check", site}).code, 0);
    const Result added = user_add("alice", "admin", kAdminPassword);
    ASSERT_EQ(added.code, 0) << added.err;
    // A weak password is refused with the rule.
    const Result weak = user_add("bob", "viewer", "short");
    EXPECT_EQ(weak.code, 2);
    EXPECT_NE(weak.err.find("at least 12 characters"), std::string::npos) << weak.err;
    start();
    // The key is private; the fingerprint logged is the certificate's.
    struct stat st {};
    ASSERT_EQ(::stat((dir + "/http/tls/key.pem").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    const Result fp = run({"openssl", "x509", "-in", cert(), "-noout", "-fingerprint", "-sha256"});
    ASSERT_EQ(fp.code, 0);
    const std::string fingerprint = fp.out.substr(fp.out.find('=') + 1, 95);
    EXPECT_NE(gw->err().find(fingerprint), std::string::npos) << fp.out << gw->err();

    Api api(port, cert());
    auto health = api.get("/api/v1/health");
    ASSERT_TRUE(health) << httplib::to_string(health.error());
    EXPECT_EQ(health->status, 200);
    for (const char* h : {"X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy", "Strict-Transport-Security"})
        EXPECT_TRUE(health->has_header(h)) << h;
    // Nothing without a login; errors are JSON with a stable code.
    auto site_anon = api.get("/api/v1/site");
    EXPECT_EQ(site_anon->status, 401);
    EXPECT_EQ(error_code(site_anon), "unauthorized");
    EXPECT_EQ(api.login("alice", "wrong password!!"), 401);
    ASSERT_EQ(api.login("alice", kAdminPassword), 200);
    auto s = api.get("/api/v1/site");
    ASSERT_EQ(s->status, 200) << s->body;
    EXPECT_EQ(nlohmann::json::parse(s->body)["devices"][0]["name"], "d1");
    EXPECT_NE(api.cookie.find("gridlet_session="), std::string::npos);
    // The cookie's flags.
    auto login = api.cli.Post("/api/v1/login", nlohmann::json({{"user", "alice"}, {"password", kAdminPassword}}).dump(),
                              "application/json");
    const std::string set_cookie = login->get_header_value("Set-Cookie");
    for (const char* flag : {"HttpOnly", "SameSite=Strict", "Secure"})
        EXPECT_NE(set_cookie.find(flag), std::string::npos) << set_cookie;
    // The OpenAPI document and an unknown route.
    auto doc = api.get("/api/v1/openapi.json");
    ASSERT_EQ(doc->status, 200);
    EXPECT_EQ(nlohmann::json::parse(doc->body)["openapi"], "3.0.3");
    EXPECT_EQ(error_code(api.get("/api/v1/nope")), "not_found");
    // Plain HTTP on the HTTPS port gets no answer.
    httplib::Client plain("127.0.0.1", port);
    plain.set_read_timeout(3, 0);
    auto p = plain.Get("/api/v1/health");
    EXPECT_TRUE(!p || p->status == 400) << (p ? p->body : "");
}

// Every route with each role: allowed (any answer but 401/403) or denied (403).
TEST_F(HttpApi, EachRoleIsAllowedAndDeniedWhatTheTableSays) {
    write("commands = [\"d1/count\"]\n");
    ASSERT_EQ(user_add("alice", "admin", kAdminPassword).code, 0);
    ASSERT_EQ(user_add("sec", "security_officer", "security pass 42").code, 0);
    start();
    Api admin(port, cert());
    ASSERT_EQ(admin.login("alice", kAdminPassword), 200);
    // An admin makes a viewer and an operator; their passwords must change.
    for (const char* role : {"viewer", "operator"}) {
        auto r = admin.post("/api/v1/users", {{"name", std::string(role) + "1"}, {"role", role}, {"password", "temporary pass 1"}});
        ASSERT_EQ(r->status, 201) << r->body;
        Api u(port, cert());
        ASSERT_EQ(u.login(std::string(role) + "1", "temporary pass 1"), 200);
        EXPECT_EQ(error_code(u.get("/api/v1/site")), "password_change_required");
        auto ch = u.post("/api/v1/password", {{"current_password", "temporary pass 1"}, {"new_password", std::string(role) + " pass 42"}});
        ASSERT_EQ(ch->status, 200) << ch->body;
    }
    // An admin may not make a security officer.
    auto so = admin.post("/api/v1/users", {{"name", "so2"}, {"role", "security_officer"}, {"password", "temporary pass 1"}});
    EXPECT_EQ(so->status, 403) << so->body;

    struct Route {
        std::string method, path;
        nlohmann::json body;
        std::map<std::string, bool> allowed;  // by role
    };
    const std::vector<Route> routes = {
        {"GET", "/api/v1/site", {}, {{"viewer", true}, {"operator", true}, {"admin", true}, {"security_officer", true}}},
        {"GET", "/api/v1/series", {}, {{"viewer", true}, {"operator", true}, {"admin", true}, {"security_officer", true}}},
        {"GET", "/api/v1/query?pattern=d1/**&from=-1m", {}, {{"viewer", true}, {"operator", true}, {"admin", true}, {"security_officer", true}}},
        {"GET", "/api/v1/alarms", {}, {{"viewer", true}, {"operator", true}, {"admin", true}, {"security_officer", true}}},
        {"POST", "/api/v1/alarms/999/acknowledge", nlohmann::json::object(),
         {{"viewer", false}, {"operator", true}, {"admin", true}, {"security_officer", false}}},
        {"GET", "/api/v1/users", {}, {{"viewer", false}, {"operator", false}, {"admin", true}, {"security_officer", true}}},
        {"POST", "/api/v1/users", {{"name", "x"}, {"role", "nope"}, {"password", "p"}},
         {{"viewer", false}, {"operator", false}, {"admin", true}, {"security_officer", true}}},
        {"DELETE", "/api/v1/users/nobody", {}, {{"viewer", false}, {"operator", false}, {"admin", true}, {"security_officer", true}}},
        {"GET", "/api/v1/tokens", {}, {{"viewer", true}, {"operator", true}, {"admin", true}, {"security_officer", true}}},
        {"GET", "/api/v1/me", {}, {{"viewer", true}, {"operator", true}, {"admin", true}, {"security_officer", true}}},
        {"GET", "/api/v1/metrics", {}, {{"viewer", true}, {"operator", true}, {"admin", true}, {"security_officer", true}}},
        {"GET", "/api/v1/metrics/prometheus", {}, {{"viewer", true}, {"operator", true}, {"admin", true}, {"security_officer", true}}},
        {"GET", "/api/v1/devices", {}, {{"viewer", true}, {"operator", true}, {"admin", true}, {"security_officer", true}}},
        {"GET", "/api/v1/devices/d1", {}, {{"viewer", true}, {"operator", true}, {"admin", true}, {"security_officer", true}}},
        {"GET", "/api/v1/events?from=-1h", {}, {{"viewer", true}, {"operator", true}, {"admin", true}, {"security_officer", true}}},
        {"GET", "/api/v1/consumption", {}, {{"viewer", true}, {"operator", true}, {"admin", true}, {"security_officer", true}}},
        {"GET", "/api/v1/model", {}, {{"viewer", true}, {"operator", true}, {"admin", true}, {"security_officer", true}}},
        {"GET", "/api/v1/floorplans", {}, {{"viewer", true}, {"operator", true}, {"admin", true}, {"security_officer", true}}},
        {"POST", "/api/v1/floorplans", {{"name", ""}}, {{"viewer", false}, {"operator", false}, {"admin", true}, {"security_officer", false}}},
        {"PUT", "/api/v1/floorplans/fp_00", {{"name", "x"}}, {{"viewer", false}, {"operator", false}, {"admin", true}, {"security_officer", false}}},
        {"DELETE", "/api/v1/floorplans/fp_00", {}, {{"viewer", false}, {"operator", false}, {"admin", true}, {"security_officer", false}}},
        {"GET", "/api/v1/rules", {}, {{"viewer", true}, {"operator", true}, {"admin", true}, {"security_officer", true}}},
        {"GET", "/api/v1/ev", {}, {{"viewer", true}, {"operator", true}, {"admin", true}, {"security_officer", true}}},
        {"GET", "/api/v1/ev/sessions", {}, {{"viewer", true}, {"operator", true}, {"admin", true}, {"security_officer", true}}},
        {"GET", "/api/v1/demand", {}, {{"viewer", true}, {"operator", true}, {"admin", true}, {"security_officer", true}}},
        {"GET", "/api/v1/exports", {}, {{"viewer", true}, {"operator", true}, {"admin", true}, {"security_officer", true}}},
        {"POST", "/api/v1/commands", {{"target", "d1/count"}, {"value", 7}}, {{"viewer", false}, {"operator", true}, {"admin", true}, {"security_officer", false}}},
        {"POST", "/api/v1/ev/greenup/stations/ev1/override", {{"start_wait", "Wait"}}, {{"viewer", false}, {"operator", true}, {"admin", true}, {"security_officer", false}}},
        {"POST", "/api/v1/ev/greenup/charging_limit", {{"amperes", 10}}, {{"viewer", false}, {"operator", true}, {"admin", true}, {"security_officer", false}}},
        {"POST", "/api/v1/reload", nlohmann::json::object(), {{"viewer", false}, {"operator", false}, {"admin", true}, {"security_officer", false}}},
        {"POST", "/api/v1/backup", nlohmann::json::object(), {{"viewer", false}, {"operator", false}, {"admin", true}, {"security_officer", false}}},
        {"GET", "/api/v1/security", {}, {{"viewer", false}, {"operator", false}, {"admin", true}, {"security_officer", true}}},
        {"PUT", "/api/v1/security/certificate", {{"certificate", "x"}, {"key", "y"}}, {{"viewer", false}, {"operator", false}, {"admin", false}, {"security_officer", true}}},
    };
    const std::map<std::string, std::pair<std::string, std::string>> accounts = {
        {"viewer", {"viewer1", "viewer pass 42"}},
        {"operator", {"operator1", "operator pass 42"}},
        {"admin", {"alice", kAdminPassword}},
        {"security_officer", {"sec", "security pass 42"}}};
    int refusals = 0;
    for (const Route& r : routes)
        for (const auto& [role, ok] : r.allowed) refusals += ok ? 0 : 1;
    for (const auto& [role, account] : accounts) {
        Api u(port, cert());
        ASSERT_EQ(u.login(account.first, account.second), 200) << role;
        for (const Route& r : routes) {
            httplib::Result res = r.method == "GET"    ? u.get(r.path)
                                  : r.method == "POST" ? u.post(r.path, r.body)
                                  : r.method == "PUT"  ? u.put(r.path, r.body)
                                                       : u.del(r.path);
            ASSERT_TRUE(res) << r.method << " " << r.path;
            const bool allowed = r.allowed.at(role);
            if (allowed) EXPECT_TRUE(res->status != 401 && res->status != 403) << role << " " << r.method << " " << r.path << ": " << res->body;
            else {
                EXPECT_EQ(res->status, 403) << role << " " << r.method << " " << r.path << ": " << res->body;
                EXPECT_EQ(error_code(res), "forbidden");
            }
        }
    }
    // The last enabled admin cannot be removed through the API.
    Api officer(port, cert());
    ASSERT_EQ(officer.login("sec", "security pass 42"), 200);
    auto last = officer.del("/api/v1/users/alice");
    EXPECT_EQ(last->status, 409) << last->body;
    EXPECT_NE(last->body.find("the last enabled admin"), std::string::npos) << last->body;
    // The audit events name who did what from where.
    gw->signal(SIGTERM);
    ASSERT_EQ(gw->wait(std::chrono::seconds(20)), 0) << gw->err();
    gw.reset();
    const Result ev = run({gridlet_bin(), "events", "--type", "audit", "--from", "-1h", "--format", "json", "--config", site});
    ASSERT_EQ(ev.code, 0) << ev.err;
    std::map<std::string, int> actions;
    for (const auto& e : nlohmann::json::parse(ev.out)) {
        EXPECT_EQ(e["body"]["from"], "127.0.0.1");
        ++actions[e["body"]["action"].get<std::string>() + (e["body"]["ok"].get<bool>() ? "" : " refused")];
        if (e["body"]["action"] == "user_add" && e["body"]["ok"] == true) {
            EXPECT_EQ(e["body"]["user"], "alice");
        }
    }
    EXPECT_EQ(actions["user_add"], 2) << ev.out.substr(0, 3000);
    EXPECT_EQ(actions["password_change"], 2);
    EXPECT_EQ(actions["denied refused"], refusals) << "each refusal by role";
    EXPECT_EQ(actions["user_add refused"], 1) << "the admin's try at a security officer";
    EXPECT_EQ(actions["login"], 1 + 2 + 4 + 1) << "the admin, the first logins of viewer1 and operator1, each role, the officer";
}

// /api/v1/metrics/prometheus is read by Prometheus' own parser (Debian's
// python3-prometheus-client); /api/v1/metrics is the JSON of gridlet metrics.
TEST_F(HttpApi, MetricsInThePrometheusTextFormat) {
    write();
    ASSERT_EQ(user_add("alice", "admin", kAdminPassword).code, 0);
    const Result token = run({gridlet_bin(), "token", "add", "prometheus", "--user", "alice", "--role", "viewer", "--config", site});
    ASSERT_EQ(token.code, 0) << token.err;
    start();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    Api scraper(port, cert());
    scraper.bearer = token.out.substr(0, token.out.find('\n'));
    EXPECT_EQ(scraper.get("/api/v1/metrics/prometheus?x=1")->status, 400) << "this route takes no parameter";
    auto r = scraper.get("/api/v1/metrics/prometheus");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_NE(r->get_header_value("Content-Type").find("text/plain; version=0.0.4"), std::string::npos);
    const std::string text_file = dir + "/metrics.txt";
    std::ofstream(text_file) << r->body;
    const Result parsed = run({"/usr/bin/python3", "-c",
                               "import sys\n"
                               "from prometheus_client.parser import text_string_to_metric_families\n"
                               "fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}\n"
                               "hello = [s for s in fams['gridlet_plugin_samples_out'].samples if s.labels['instance'] == 'hello']\n"
                               "assert hello and hello[0].value > 0, hello\n"
                               "assert fams['gridlet_plugin_samples_out'].type == 'counter'\n"
                               "assert fams['gridlet_store_samples_written'].samples[0].value > 0\n"
                               "assert fams['gridlet_http_requests'].type == 'counter'\n"
                               "assert fams['gridlet_up'].samples[0].labels['site'].startswith('http-')\n"
                               "assert fams['gridlet_device_up'].samples[0].labels == {'device': 'd1', 'plugin': 'hello'}\n"
                               "assert fams['gridlet_store_budget_over'].samples[0].value == 0\n"
                               "assert fams['gridlet_store_budget_raw_steps'].type == 'counter'\n"

                               "print(len(fams), 'families')\n",
                               text_file});
    EXPECT_EQ(parsed.code, 0) << parsed.out << parsed.err << r->body.substr(0, 3000);
    EXPECT_NE(parsed.out.find("families"), std::string::npos);
    auto j = scraper.get("/api/v1/metrics");
    ASSERT_EQ(j->status, 200);
    const auto m = nlohmann::json::parse(j->body);
    EXPECT_GT(m["plugins"]["hello"]["samples_out"].get<int>(), 0);
    EXPECT_GE(m["http"]["requests"].get<int>(), 2);
    EXPECT_EQ(Api(port, cert()).get("/api/v1/metrics/prometheus")->status, 401) << "not without credentials";
}

// Live samples and events as server-sent events, in order and complete; a
// client that stops reading holds up nobody.
TEST_F(HttpApi, LiveSamplesAndEventsAndASlowClientHoldsUpNoOne) {
    write("", 10, 10);
    ASSERT_EQ(user_add("alice", "admin", kAdminPassword).code, 0);
    // An admin's token: the audit events are for admins and security officers.
    const Result token = run({gridlet_bin(), "token", "add", "live", "--user", "alice", "--role", "admin", "--config", site});
    ASSERT_EQ(token.code, 0) << token.err;
    const std::string bearer = token.out.substr(0, token.out.find('\n'));
    start();
    Api bad(port, cert());
    bad.bearer = bearer;
    EXPECT_EQ(error_code(bad.get("/api/v1/live")), "invalid_request") << "no pattern";
    EXPECT_EQ(error_code(bad.get("/api/v1/live?events=alarm")), "invalid_request") << "not source/type";

    // A fast client: d1/count only, and the audit events.
    std::string stream;
    std::atomic<bool> got_audit{false};
    std::thread reader([&] {
        Api live(port, cert());
        live.bearer = bearer;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
        live.cli.Get("/api/v1/live?series=d1/count&events=http/*", live.headers(), [&](const char* data, size_t n) {
            stream.append(data, n);
            got_audit = stream.find("\"type\":\"audit\"") != std::string::npos;
            size_t samples = 0;
            for (size_t at = stream.find("event: sample"); at != std::string::npos; at = stream.find("event: sample", at + 1))
                ++samples;
            return !(got_audit && samples >= 30) && std::chrono::steady_clock::now() < deadline;
        });
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    Api someone(port, cert());
    ASSERT_EQ(someone.login("alice", kAdminPassword), 200);  // an audit event
    reader.join();
    EXPECT_TRUE(got_audit) << stream.substr(0, 2000);
    std::vector<double> values;
    for (size_t at = stream.find("data: {\"series\""); at != std::string::npos; at = stream.find("data: {\"series\"", at + 1)) {
        const auto line = stream.substr(at + 6, stream.find('\n', at) - at - 6);
        const auto j = nlohmann::json::parse(line);
        EXPECT_EQ(j["series"], "d1/count") << line;
        values.push_back(j["value"].get<double>());
    }
    ASSERT_GE(values.size(), 30u);
    for (size_t i = 1; i < values.size(); ++i) EXPECT_EQ(values[i], values[i - 1] + 1) << "in order, none missing";

    // A client that stops reading holds its own thread and queue only (the
    // drop itself, once the queue is full, is tested on LiveHub: here the
    // sockets' buffers take megabytes first): the kernel keeps storing and
    // the API keeps answering.
    std::thread slow([&] {
        Api live(port, cert());
        live.bearer = bearer;
        bool first = true;
        live.cli.Get("/api/v1/live?series=**", live.headers(), [&](const char*, size_t) {
            if (first) std::this_thread::sleep_for(std::chrono::seconds(3));
            first = false;
            return false;
        });
    });
    Api watcher(port, cert());
    watcher.bearer = bearer;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const auto t0 = std::chrono::steady_clock::now();
    const double before = nlohmann::json::parse(watcher.get("/api/v1/series?pattern=d1/count")->body)[0]["last_value"];
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const double after = nlohmann::json::parse(watcher.get("/api/v1/series?pattern=d1/count")->body)[0]["last_value"];
    EXPECT_GT(after, before + 10);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
    auto m = watcher.get("/api/v1/metrics");
    ASSERT_TRUE(m);
    EXPECT_EQ(nlohmann::json::parse(m->body)["http"]["live"]["clients"], 1);
    slow.join();
}

// The dashboard's files on every path outside /api/: index.html for the
// application's pages, the hashed assets cached for a year, compressed once
// for a client that accepts it; nothing else of the folder.
TEST_F(HttpApi, TheDashboardIsServedOutsideTheApi) {
    ASSERT_TRUE(fs::exists(build_dir() + "/web/index.html")) << "the web target builds the dashboard (npm ci --prefix web)";
    write();
    start();
    Api api(port, cert());
    auto index = api.get("/");
    ASSERT_EQ(index->status, 200);
    EXPECT_EQ(index->get_header_value("Content-Type"), "text/html; charset=utf-8");
    EXPECT_EQ(index->get_header_value("Cache-Control"), "no-cache");
    EXPECT_EQ(index->get_header_value_count("Cache-Control"), 1u);
    EXPECT_EQ(api.get("/alarms")->body, index->body) << "a page of the application";
    const size_t at = index->body.find("src=\"/app-");
    ASSERT_NE(at, std::string::npos) << index->body;
    const std::string js = index->body.substr(at + 5, index->body.find('"', at + 5) - at - 5);
    httplib::Headers gzip = {{"Accept-Encoding", "gzip"}};
    auto asset = api.cli.Get(js.c_str(), gzip);  // httplib's client undoes one gzip layer
    ASSERT_EQ(asset->status, 200) << js;
    EXPECT_EQ(asset->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
    EXPECT_EQ(asset->get_header_value("Cache-Control"), "public, max-age=31536000, immutable");
    EXPECT_LE(asset->get_header_value_count("Content-Encoding"), 1u);
    EXPECT_EQ(asset->body, slurp(build_dir() + "/web" + js)) << "compressed once";
    EXPECT_EQ(api.get("/nothing.js")->status, 404);
    EXPECT_EQ(api.get("/CMakeFiles/progress.marks")->status, 404);
    EXPECT_EQ(api.get("/../site.toml")->status, 404);
    EXPECT_EQ(error_code(api.get("/api/v1/nothing")), "not_found");
    EXPECT_EQ(index->get_header_value("Content-Security-Policy").find("default-src 'self'"), 0u);
}

// Floor plans: made by an admin, an image (PNG, JPEG or WebP by its first
// bytes; SVG refused), items checked with the item named; read by all.
TEST_F(HttpApi, FloorPlansWithAnImageAndCheckedItems) {
    write();
    ASSERT_EQ(user_add("alice", "admin", kAdminPassword).code, 0);
    ASSERT_EQ(user_add("vera", "viewer", "viewer password 42").code, 0);
    start();
    Api admin(port, cert()), viewer(port, cert());
    ASSERT_EQ(admin.login("alice", kAdminPassword), 200);
    ASSERT_EQ(viewer.login("vera", "viewer password 42"), 200);
    auto made = admin.post("/api/v1/floorplans", {{"name", "Ground floor"}});
    ASSERT_EQ(made->status, 201) << made->body;
    const std::string id = nlohmann::json::parse(made->body)["id"];
    const std::string base = "/api/v1/floorplans/" + id;
    EXPECT_EQ(error_code(viewer.get(base + "/image")), "not_found") << "no image yet";
    const std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + std::string(100, 'x');
    auto put_image = [&](const std::string& bytes, const char* type) {
        httplib::Headers h = admin.headers();
        return admin.cli.Put((base + "/image").c_str(), h, bytes, type);
    };
    EXPECT_EQ(put_image("<svg onload='alert(1)'/>", "image/svg+xml")->status, 400) << "SVG can carry scripts";
    ASSERT_EQ(put_image(png, "image/png")->status, 200);
    auto image = viewer.get(base + "/image");
    ASSERT_EQ(image->status, 200);
    EXPECT_EQ(image->get_header_value("Content-Type"), "image/png");
    EXPECT_EQ(image->body, png);
    // Items: checked, each problem naming its item.
    for (const auto& [items, needle] : std::vector<std::pair<nlohmann::json, std::string>>{
             {{{{"x", 1.5}, {"y", 0.5}, {"kind", "value"}, {"series", "d1/count"}}}, "items[0].x: must be a number from 0 to 1"},
             {{{{"x", 0.1}, {"y", 0.5}, {"kind", "lamp"}}}, "items[0].kind: value, device or sensor"},
             {{{{"x", 0.1}, {"y", 0.5}, {"kind", "value"}, {"series", "d1/count"}}, {{"x", 0.2}, {"y", 0.2}, {"kind", "value"}}},
              "items[1].series"},
             {{{{"x", 0.1}, {"y", 0.5}, {"kind", "device"}, {"device", "d1"}, {"colour", "red"}}}, "unknown field 'colour'"},
             {{{{"x", 0.1}, {"y", 0.5}, {"kind", "value"}, {"series", "no/such"}}}, "items[0].series: no series 'no/such'"},
             {{{{"x", 0.1}, {"y", 0.5}, {"kind", "device"}, {"device", "nodev"}}}, "items[0].device: no device 'nodev'"}}) {
        auto r = admin.put(base, {{"items", items}});
        EXPECT_EQ(r->status, 400) << r->body;
        EXPECT_NE(r->body.find(needle), std::string::npos) << r->body;
    }
    const nlohmann::json items = {{{"x", 0.25}, {"y", 0.5}, {"kind", "value"}, {"series", "d1/count"}, {"label", "Counter"}},
                                  {{"x", 0.75}, {"y", 0.5}, {"kind", "device"}, {"device", "d1"}}};
    ASSERT_EQ(admin.put(base, {{"items", items}, {"name", "Ground floor (east)"}})->status, 200);
    EXPECT_EQ(viewer.put(base, {{"items", nlohmann::json::array()}})->status, 403);
    auto list = nlohmann::json::parse(viewer.get("/api/v1/floorplans")->body);
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0]["name"], "Ground floor (east)");
    EXPECT_EQ(list[0]["image_type"], "image/png");
    EXPECT_EQ(list[0]["items"], items);
    // Kept across a restart, in the accounts folder (so in backups).
    gw->signal(SIGTERM);
    ASSERT_EQ(gw->wait(std::chrono::seconds(20)), 0) << gw->err();
    start();
    EXPECT_EQ(nlohmann::json::parse(viewer.get("/api/v1/floorplans")->body)[0]["items"], items);
    ASSERT_EQ(admin.del(base)->status, 200);
    EXPECT_EQ(viewer.get("/api/v1/floorplans")->body, "[]\n");
    EXPECT_EQ(error_code(viewer.get(base + "/image")), "not_found");
}

// A live stream lasts as long as what let it in: a revoked token or a
// logout ends it within seconds, with a last "ended" event.
TEST_F(HttpApi, ALiveStreamEndsWithItsTokenOrSession) {
    write("", 50);
    ASSERT_EQ(user_add("alice", "admin", kAdminPassword).code, 0);
    const Result token = run({gridlet_bin(), "token", "add", "live", "--user", "alice", "--role", "viewer", "--config", site});
    ASSERT_EQ(token.code, 0) << token.err;
    const std::string bearer = token.out.substr(0, token.out.find('\n'));
    start();
    for (const bool by_session : {false, true}) {
        Api live(port, cert());
        if (by_session) ASSERT_EQ(live.login("alice", kAdminPassword), 200);
        else live.bearer = bearer;
        std::string stream;
        std::atomic<bool> reading{true};
        std::thread reader([&] {
            live.cli.Get("/api/v1/live?series=d1/count", live.headers(), [&](const char* data, size_t n) {
                stream.append(data, n);
                return true;
            });
            reading = false;
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(800));
        if (by_session) {
            Api same(port, cert());  // the same session on another connection
            same.cookie = live.cookie;
            same.csrf = live.csrf;
            ASSERT_EQ(same.post("/api/v1/logout", nlohmann::json::object())->status, 200);
        } else {
            Api admin(port, cert());
            ASSERT_EQ(admin.login("alice", kAdminPassword), 200);
            std::string id;
            for (const auto& t : nlohmann::json::parse(admin.get("/api/v1/tokens")->body))
                if (t["name"] == "live") id = t["id"];
            ASSERT_EQ(admin.del("/api/v1/tokens/" + id)->status, 200);
        }
        const auto t0 = std::chrono::steady_clock::now();
        while (reading && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(8))
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        EXPECT_FALSE(reading) << (by_session ? "session" : "token") << ": the stream went on";
        if (reading) live.cli.stop();
        reader.join();
        EXPECT_NE(stream.find("event: sample"), std::string::npos);
        EXPECT_NE(stream.find("event: ended"), std::string::npos) << stream.substr(stream.size() > 500 ? stream.size() - 500 : 0);
    }
}

TEST_F(HttpApi, LockoutAfterFailedLoginsAndUnlockOnTheGateway) {
    write("lockout_after = 3\nlockout_minutes = 10\n");
    ASSERT_EQ(user_add("alice", "admin", kAdminPassword).code, 0);
    start();
    Api api(port, cert());
    for (int i = 0; i < 2; ++i) EXPECT_EQ(api.login("alice", "not the password"), 401);
    auto third = api.cli.Post("/api/v1/login", R"({"user":"alice","password":"not the password"})", "application/json");
    EXPECT_EQ(third->status, 429);
    EXPECT_EQ(error_code(third), "account_locked");
    EXPECT_FALSE(third->get_header_value("Retry-After").empty());
    // Locked: the right password does not open it either.
    EXPECT_EQ(api.login("alice", kAdminPassword), 429);
    const Result listed = run({gridlet_bin(), "user", "list", "--config", site});
    EXPECT_NE(listed.out.find("locked until"), std::string::npos) << listed.out;
    ASSERT_EQ(run({gridlet_bin(), "user", "unlock", "alice", "--config", site}).code, 0);
    EXPECT_EQ(api.login("alice", kAdminPassword), 200);
    // An unknown user: the same answers as a known one, locking included.
    auto unknown = api.cli.Post("/api/v1/login", R"({"user":"mallory","password":"whatever it is"})", "application/json");
    EXPECT_EQ(unknown->status, 401);
    EXPECT_EQ(nlohmann::json::parse(unknown->body)["error"]["message"], "wrong user name or password");
    EXPECT_EQ(api.login("mallory", "whatever it is"), 401);
    EXPECT_EQ(api.login("mallory", "whatever it is"), 429) << "unknown names lock too: no way to tell them apart";
    // A name with a line break is escaped in the log (no forged lines).
    EXPECT_EQ(api.login("evil\nforged audit line", "whatever it is"), 401);
    EXPECT_NE(gw->err().find("evil\\x0aforged audit line"), std::string::npos) << gw->err();
    EXPECT_EQ(gw->err().find("\nforged audit line"), std::string::npos);
    // A session's guesses of the current password (POST /password) count
    // too: the third locks the account and ends the session.
    for (int i = 0; i < 2; ++i)
        EXPECT_EQ(api.post("/api/v1/password", {{"current_password", "guess"}, {"new_password", "a new password 42"}})->status,
                  403);
    auto locked = api.post("/api/v1/password", {{"current_password", "guess"}, {"new_password", "a new password 42"}});
    EXPECT_EQ(locked->status, 429) << locked->body;
    EXPECT_EQ(error_code(locked), "account_locked");
    EXPECT_EQ(api.get("/api/v1/me")->status, 401) << "the session ended with the lockout";
}

TEST_F(HttpApi, CsrfTamperedSessionsAndTokens) {
    write();
    ASSERT_EQ(user_add("alice", "admin", kAdminPassword).code, 0);
    start();
    Api api(port, cert());
    ASSERT_EQ(api.login("alice", kAdminPassword), 200);
    // A change without the CSRF header is refused.
    auto no_csrf = api.post("/api/v1/tokens", {{"name", "x"}}, false);
    EXPECT_EQ(no_csrf->status, 403);
    EXPECT_EQ(error_code(no_csrf), "csrf_failed");
    // A viewer token for a script.
    auto made = api.post("/api/v1/tokens", {{"name", "pandas"}, {"role", "viewer"}, {"expires_days", 30}});
    ASSERT_EQ(made->status, 201) << made->body;
    const std::string secret = nlohmann::json::parse(made->body)["token"];
    const std::string id = nlohmann::json::parse(made->body)["id"];
    Api machine(port, cert());
    machine.bearer = secret;
    auto me = machine.get("/api/v1/me");
    ASSERT_EQ(me->status, 200) << me->body;
    EXPECT_EQ(nlohmann::json::parse(me->body)["role"], "viewer");
    EXPECT_EQ(machine.get("/api/v1/users")->status, 403) << "a viewer token cannot list users";
    EXPECT_EQ(machine.post("/api/v1/tokens", {{"name", "more"}})->status, 403) << "tokens do not make tokens";
    // A token with more rights than its owner's is refused.
    EXPECT_EQ(error_code(api.post("/api/v1/tokens", {{"name", "so"}, {"role", "security_officer"}})), "forbidden");
    EXPECT_EQ(error_code(machine.post("/api/v1/logout", nlohmann::json::object())), "invalid_request")
        << "a token is revoked, not logged out";
    // An admin neither sees nor revokes a security officer's tokens.
    ASSERT_EQ(user_add("sec", "security_officer", "security pass 42").code, 0);
    const Result so_token = run({gridlet_bin(), "token", "add", "so-script", "--user", "sec", "--config", site});
    ASSERT_EQ(so_token.code, 0) << so_token.err;
    const std::string so_id = so_token.err.substr(so_token.err.find("tk_"), 11);
    EXPECT_EQ(api.get("/api/v1/tokens")->body.find(so_id), std::string::npos);
    EXPECT_EQ(api.del("/api/v1/tokens/" + so_id)->status, 404);
    // Tampered token and session: 401.
    Api tampered(port, cert());
    tampered.bearer = secret.substr(0, secret.size() - 1) + (secret.back() == 'A' ? "B" : "A");
    EXPECT_EQ(tampered.get("/api/v1/site")->status, 401);
    Api forged(port, cert());
    forged.cookie = api.cookie.substr(0, api.cookie.size() - 1) + (api.cookie.back() == 'A' ? "B" : "A");
    EXPECT_EQ(error_code(forged.get("/api/v1/site")), "unauthorized");
    // Revoked on the gateway: refused at once.
    const Result listed = run({gridlet_bin(), "token", "list", "--config", site});
    EXPECT_NE(listed.out.find(id), std::string::npos) << listed.out;
    EXPECT_EQ(listed.out.find(secret), std::string::npos) << "the secret is never listed";
    ASSERT_EQ(run({gridlet_bin(), "token", "remove", id, "--config", site}).code, 0);
    EXPECT_EQ(machine.get("/api/v1/site")->status, 401);
    // Logout ends the session.
    ASSERT_EQ(api.post("/api/v1/logout", nlohmann::json::object())->status, 200);
    EXPECT_EQ(api.get("/api/v1/site")->status, 401);
}

// `gridlet user ...` on the gateway applies to a running server at once.
TEST_F(HttpApi, ChangesMadeOnTheGatewayApplyAtOnce) {
    write();
    ASSERT_EQ(user_add("alice", "admin", kAdminPassword).code, 0);
    ASSERT_EQ(user_add("bob", "operator", "operator pass 42").code, 0);
    start();
    Api alice(port, cert()), bob(port, cert());
    ASSERT_EQ(alice.login("alice", kAdminPassword), 200);
    ASSERT_EQ(bob.login("bob", "operator pass 42"), 200);
    auto made = bob.post("/api/v1/tokens", {{"name", "bob's script"}});
    ASSERT_EQ(made->status, 201) << made->body;
    Api script(port, cert());
    script.bearer = nlohmann::json::parse(made->body)["token"];
    ASSERT_EQ(script.get("/api/v1/site")->status, 200);
    // Disabled: its session and its tokens stop.
    ASSERT_EQ(run({gridlet_bin(), "user", "disable", "bob", "--config", site}).code, 0);
    EXPECT_EQ(bob.get("/api/v1/site")->status, 401);
    EXPECT_EQ(script.get("/api/v1/site")->status, 401);
    EXPECT_EQ(bob.login("bob", "operator pass 42"), 401);
    ASSERT_EQ(run({gridlet_bin(), "user", "enable", "bob", "--config", site}).code, 0);
    EXPECT_EQ(script.get("/api/v1/site")->status, 200) << "enabled again: its tokens work again";
    // A password set on the gateway ends the user's sessions.
    const Result pw = run({"/bin/sh", "-c", "printf 'a brand new password\\n' | " + gridlet_bin() +
                                              " user passwd alice --password-stdin --config " + site});
    ASSERT_EQ(pw.code, 0) << pw.err;
    EXPECT_EQ(alice.get("/api/v1/site")->status, 401);
    EXPECT_EQ(alice.login("alice", "a brand new password"), 200);
    // A value may hold '='; a name given twice is refused.
    auto by_tag = alice.get("/api/v1/series?tags=device=d1");
    ASSERT_EQ(by_tag->status, 200) << by_tag->body;
    EXPECT_NE(by_tag->body.find("d1/count"), std::string::npos);
    EXPECT_NE(alice.get("/api/v1/series?pattern=a&pattern=b")->body.find("parameter 'pattern' is given twice"),
              std::string::npos);
    EXPECT_EQ(alice.get("/api/v1/alarms")->status, 200) << "status defaults to open";
    // Unknown URL parameters are said, not ignored.
    auto typo = alice.get("/api/v1/series?patern=d1/count");
    EXPECT_EQ(typo->status, 400);
    EXPECT_NE(typo->body.find("unknown parameter 'patern' (known: pattern, tags)"), std::string::npos) << typo->body;
}

// Sessions are kept in <data_dir>/sessions.json: a restart of gridlet does
// not log anyone out (a dashboard goes on); a logout or a password change
// still ends them; the file is private and a backup leaves it out.
TEST_F(HttpApi, SessionsOutliveARestartAndEndAtLogout) {
    write();
    ASSERT_EQ(user_add("alice", "admin", kAdminPassword).code, 0);
    ASSERT_EQ(user_add("bob", "viewer", "viewer password 42").code, 0);
    start();
    Api alice(port, cert()), bob(port, cert());
    ASSERT_EQ(alice.login("alice", kAdminPassword), 200);
    ASSERT_EQ(bob.login("bob", "viewer password 42"), 200);
    const std::string file = dir + "/http/sessions.json";
    ASSERT_TRUE(fs::exists(file));
    EXPECT_EQ(fs::status(file).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
    EXPECT_EQ(slurp(file).find(alice.cookie.substr(alice.cookie.find('=') + 1)), std::string::npos)
        << "the file keeps the secret's SHA-256, never the secret";
    ASSERT_EQ(bob.post("/api/v1/logout", nlohmann::json::object())->status, 200);
    gw->signal(SIGTERM);
    ASSERT_EQ(gw->wait(std::chrono::seconds(20)), 0) << gw->err();
    start();
    auto me = alice.get("/api/v1/me");
    ASSERT_EQ(me->status, 200) << me->body;
    EXPECT_EQ(nlohmann::json::parse(me->body)["csrf_token"], alice.csrf);
    EXPECT_EQ(alice.post("/api/v1/alarms/999/acknowledge", nlohmann::json::object())->status, 404)
        << "a change with the session's CSRF token is let through to the route";
    EXPECT_EQ(bob.get("/api/v1/me")->status, 401) << "a session ended at logout stays ended";
    // A backup leaves the sessions out.
    const Result b = run({gridlet_bin(), "backup", "--config", site, "-o", dir + "/b.tar.gz"});
    ASSERT_EQ(b.code, 0) << b.err;
    const Result list = run({"tar", "tzf", dir + "/b.tar.gz"});
    EXPECT_EQ(list.out.find("sessions.json"), std::string::npos) << list.out;
    EXPECT_NE(list.out.find("http/users.json"), std::string::npos) << list.out;
}

TEST_F(HttpApi, QueryAnswersWhatGridletQueryPrints) {
    write("max_query_rows = 1000\n", 10, 10);
    ASSERT_EQ(user_add("alice", "admin", kAdminPassword).code, 0);
    start();
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    gw->signal(SIGTERM);
    ASSERT_EQ(gw->wait(std::chrono::seconds(20)), 0);
    // The data is fixed now; a read-only gridlet serves it.
    start();
    const Result first = run({gridlet_bin(), "query", "d1/count", "--from", "-1h", "--format", "json", "--config", site});
    ASSERT_EQ(first.code, 0) << first.err;
    const auto pts = nlohmann::json::parse(first.out)[0]["points"];
    ASSERT_GE(pts.size(), 20u);
    const std::string from = "@" + std::to_string(pts.front()["ts_ms"].get<int64_t>());
    const std::string to = "@" + std::to_string(pts.back()["ts_ms"].get<int64_t>() + 1);
    Api api(port, cert());
    ASSERT_EQ(api.login("alice", kAdminPassword), 200);
    struct Case {
        std::vector<std::string> cli;
        std::string query;
    };
    const std::vector<Case> cases = {
        {{}, ""},
        {{"--format", "json"}, "&format=json"},
        {{"--wide", "--no-quality"}, "&wide=true&quality=false"},
        {{"--step", "1s", "--agg", "max"}, "&step=1s&agg=max"},
        {{"--step", "day", "--tz", "Europe/Paris", "--format", "json"}, "&step=day&tz=Europe/Paris&format=json"},
        {{"--digits", "1"}, "&digits=1"},
    };
    for (const Case& c : cases) {
        std::vector<std::string> argv = {gridlet_bin(), "query", "d1/count", "--from", from, "--to", to, "--config", site};
        argv.insert(argv.end(), c.cli.begin(), c.cli.end());
        const Result cli = run(argv);
        ASSERT_EQ(cli.code, 0) << cli.err;
        auto http = api.get("/api/v1/query?pattern=d1/count&from=" + httplib::detail::encode_query_param(from) +
                            "&to=" + httplib::detail::encode_query_param(to) + c.query);
        ASSERT_TRUE(http);
        EXPECT_EQ(http->status, 200) << http->body;
        // CSV byte for byte; JSON the same document (compact over HTTP,
        // indented for people on the command line).
        if (c.query.find("format=json") != std::string::npos)
            EXPECT_EQ(nlohmann::json::parse(http->body), nlohmann::json::parse(cli.out)) << c.query;
        else
            EXPECT_EQ(http->body, cli.out) << c.query;
    }
    // Refusals: too many rows, a bad time, an unknown parameter, no match.
    auto big = api.get("/api/v1/query?pattern=*/count&from=-1d");
    EXPECT_EQ(big->status, 400);
    EXPECT_NE(big->body.find("more than 1000 rows; narrow the range or use step/agg"), std::string::npos) << big->body;
    auto bad_from = api.get("/api/v1/query?pattern=d1/count&from=yesterdayish");
    EXPECT_EQ(bad_from->status, 400);
    EXPECT_NE(bad_from->body.find("from: "), std::string::npos) << bad_from->body;
    auto unknown = api.get("/api/v1/query?pattern=d1/count&form=csv");
    EXPECT_NE(unknown->body.find("unknown parameter 'form'"), std::string::npos) << unknown->body;
    EXPECT_EQ(api.get("/api/v1/query?pattern=nothing/here")->status, 404);
}

TEST_F(HttpApi, BadInputNeverCrashesNorStallsTheKernel) {
    std::signal(SIGPIPE, SIG_IGN);  // the test's own client writes to connections the server closed
    write("max_body_kb = 64\nthreads = 8\n");
    ASSERT_EQ(user_add("alice", "admin", kAdminPassword).code, 0);
    start();
    Api api(port, cert());
    // Malformed JSON, wrong types, unknown fields, a huge body.
    auto cut = api.cli.Post("/api/v1/login", "{\"user\":", "application/json");
    EXPECT_EQ(error_code(cut), "invalid_request");
    EXPECT_NE(cut->body.find("the body is not JSON: parse error at line 1, column 9"), std::string::npos) << cut->body;
    auto twice = api.cli.Post("/api/v1/login", R"({"user":"alice","password":"x","user":"bob"})", "application/json");
    EXPECT_EQ(twice->status, 400);
    EXPECT_NE(twice->body.find("the body names 'user' twice"), std::string::npos) << twice->body;
    auto huge_number = api.cli.Post("/api/v1/login", R"({"user":"alice","password":1e999})", "application/json");
    EXPECT_EQ(huge_number->status, 400) << huge_number->body;
    EXPECT_NE(huge_number->body.find("number overflow"), std::string::npos) << huge_number->body;
    auto empty_body = api.cli.Post("/api/v1/login", "", "application/json");
    EXPECT_NE(empty_body->body.find("'user' is missing"), std::string::npos) << "no body is {}: " << empty_body->body;
    EXPECT_EQ(error_code(api.cli.Post("/api/v1/login", R"({"user":1,"password":"x"})", "application/json")), "invalid_request");
    auto extra = api.cli.Post("/api/v1/login", R"({"user":"alice","password":"x","admin":true})", "application/json");
    EXPECT_NE(extra->body.find("unknown field 'admin'"), std::string::npos) << extra->body;
    // A body over the limit is answered 413 from its Content-Length, before
    // it is read; the connection is then closed, so a client still sending
    // may see the cut instead of the answer.
    auto huge = api.cli.Post("/api/v1/login", std::string(200 * 1024, 'x'), "application/json");
    if (huge) {
        EXPECT_EQ(huge->status, 413);
        EXPECT_EQ(error_code(huge), "too_large");
    }
    EXPECT_EQ(Api(port, cert()).get("/api/v1/health")->status, 200);
    // A chunked body (of any size) is refused before it is read; a POST
    // without a body says what it needs.
    {
        Api chunked(port, cert());
        size_t sent = 0;
        auto r = chunked.cli.Post(
            "/api/v1/login",
            [&](size_t, httplib::DataSink& sink) {
                const std::string piece(64 * 1024, 'a');
                if (sent >= 50u * 1024 * 1024) return sink.done(), true;
                sent += piece.size();
                return sink.write(piece.data(), piece.size());
            },
            "application/json");
        if (r) {
            EXPECT_EQ(r->status, 411) << r->body;
        }
        EXPECT_LT(sent, 50u * 1024 * 1024) << "the server did not read it all";
        Api empty(port, cert());
        auto e = empty.cli.Post("/api/v1/logout", httplib::Headers{}, "", 0, "");
        ASSERT_TRUE(e);
        EXPECT_TRUE(e->status == 411 || e->status == 401) << e->status << e->body;
    }
    // Path traversal reaches no file.
    ASSERT_EQ(api.login("alice", kAdminPassword), 200);
    for (const char* path : {"/api/v1/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/api/v1/users/..%2f..%2fetc%2fpasswd"}) {
        auto r = api.get(path);
        ASSERT_TRUE(r) << path;
        EXPECT_EQ(r->body.find("root:"), std::string::npos) << path;
        EXPECT_GE(r->status, 400) << path;
    }
    // Slow clients: 6 connections that send a header a byte at a time
    // hold 6 of the 8 threads; others are still answered, and the kernel
    // keeps storing.
    std::vector<int> slow;
    for (int i = 0; i < 6; ++i) {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<uint16_t>(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        ASSERT_EQ(::send(fd, "\x16", 1, 0), 1);  // the first byte of a TLS handshake, and no more
        slow.push_back(fd);
    }
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 5; ++i) {
        auto r = api.get("/api/v1/series?pattern=d1/count");
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(8));
    const auto before = nlohmann::json::parse(api.get("/api/v1/series?pattern=d1/count")->body)[0]["last_value"].get<double>();
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    const auto after = nlohmann::json::parse(api.get("/api/v1/series?pattern=d1/count")->body)[0]["last_value"].get<double>();
    EXPECT_GT(after, before + 5) << "the kernel kept storing";
    for (int fd : slow) ::close(fd);
}

TEST_F(HttpApi, PlainHttpOnlyOnLoopbackUnlessAllowed) {
    write("tls = false\nlisten = \"0.0.0.0\"\n");
    const Result refused = run({gridlet_bin(), "check", site});
    EXPECT_EQ(refused.code, 2);
    EXPECT_NE(refused.err.find("site.toml:8: [http] tls = false on '0.0.0.0'"), std::string::npos) << refused.err;
    write("tls = false\nlisten = \"127.foo\"\n");
    const Result not_ip = run({gridlet_bin(), "check", site});
    EXPECT_EQ(not_ip.code, 2);
    EXPECT_NE(not_ip.err.find("listen: '127.foo' is not an IP address"), std::string::npos) << not_ip.err;
    ASSERT_EQ(run({"/bin/sh", "-c", "cd " + dir + " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                   "-keyout a.key -out a.pem -subj /CN=a -days 1 2>/dev/null && openssl genpkey -algorithm EC -pkeyopt "
                   "ec_paramgen_curve:P-256 -out b.key 2>/dev/null"}).code, 0);
    write("cert_file = \"a.pem\"\nkey_file = \"b.key\"\n");
    const Result pair = run({gridlet_bin(), "check", site});
    EXPECT_EQ(pair.code, 2);
    EXPECT_NE(pair.err.find("key_file: " + dir + "/b.key is not the key of " + dir + "/a.pem"), std::string::npos) << pair.err;
    // A pair TLS refuses (RSA 1024 under Debian's security level 2): refused by check, with OpenSSL's reason.
    ASSERT_EQ(run({"/bin/sh", "-c", "cd " + dir + " && openssl req -x509 -newkey rsa:1024 -nodes -keyout w.key -out w.pem "
                   "-subj /CN=w -days 1 2>/dev/null"}).code, 0);
    write("cert_file = \"w.pem\"\nkey_file = \"w.key\"\n");
    const Result weak = run({gridlet_bin(), "check", site});
    EXPECT_EQ(weak.code, 2);
    EXPECT_NE(weak.err.find("TLS refuses the certificate (ee key too small"), std::string::npos) << weak.err;
    write("tls = false\n");
    ASSERT_EQ(run({gridlet_bin(), "check", site}).code, 0);
    ASSERT_EQ(user_add("alice", "admin", kAdminPassword).code, 0);
    start();
    httplib::Client plain("127.0.0.1", port);
    auto r = plain.Post("/api/v1/login", nlohmann::json({{"user", "alice"}, {"password", kAdminPassword}}).dump(),
                        "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("Set-Cookie").find("Secure"), std::string::npos) << "no Secure flag without TLS";
    EXPECT_FALSE(r->has_header("Strict-Transport-Security"));
    // Its port already taken: the component fails visibly (log, exit
    // status), the rest of the site runs.
    std::string other_site = dir + "/second.toml";
    fs::copy_file(site, other_site);
    std::ifstream in(other_site);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    text.replace(text.find("name = \"http-"), 13, "name = \"htt2-");
    text.replace(text.find(dir + "/store"), dir.size() + 6, dir + "/store2");
    std::ofstream(other_site) << text;
    Process second({gridlet_bin(), "run", other_site});
    EXPECT_TRUE(second.wait_for_err("http: [http] cannot listen on 127.0.0.1:" + std::to_string(port), std::chrono::seconds(20)))
        << second.err();
    second.signal(SIGTERM);
    EXPECT_EQ(second.wait(std::chrono::seconds(20)), 1) << second.err();
    EXPECT_NE(second.err().find("exit 1: plugin 'http' failed"), std::string::npos) << second.err();
}

}  // namespace

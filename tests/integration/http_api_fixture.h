// The HTTP API tests' fixture: a site with the hello plugin and [http] on a
// free loopback port, run by the real binary; a client verifying the
// certificate gridlet generated (its only CA), keeping the session cookie
// and the CSRF token.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "integration/process.h"

namespace gridlet::testing::http_api {

namespace fs = std::filesystem;

const std::string kAdminPassword = "admin password 42";

// A client of the API: HTTPS verified against the site's own certificate;
// keeps the session cookie and the CSRF token.
struct Api {
    Api(int port, const std::string& ca) : cli("127.0.0.1", port) {
        cli.set_ca_cert_path(ca.c_str());
        cli.enable_server_certificate_verification(true);
        cli.set_connection_timeout(5, 0);
        cli.set_read_timeout(20, 0);
    }
    httplib::SSLClient cli;
    std::string cookie, csrf, bearer;

    httplib::Headers headers(bool with_csrf = true) const {
        httplib::Headers h;
        if (!cookie.empty()) h.emplace("Cookie", cookie);
        if (with_csrf && !csrf.empty()) h.emplace("X-CSRF-Token", csrf);
        if (!bearer.empty()) h.emplace("Authorization", "Bearer " + bearer);
        return h;
    }
    void take_cookie(const httplib::Result& r) {
        if (!r) return;
        const std::string set = r->get_header_value("Set-Cookie");
        if (set.rfind("gridlet_session=", 0) == 0) cookie = set.substr(0, set.find(';'));
    }
    int login(const std::string& user, const std::string& password) {
        auto r = cli.Post("/api/v1/login", nlohmann::json({{"user", user}, {"password", password}}).dump(),
                          "application/json");
        if (!r) return -1;
        if (r->status == 200) {
            take_cookie(r);
            csrf = nlohmann::json::parse(r->body)["csrf_token"];
        }
        return r->status;
    }
    httplib::Result get(const std::string& path) { return cli.Get(path.c_str(), headers()); }
    httplib::Result post(const std::string& path, const nlohmann::json& body, bool with_csrf = true) {
        return cli.Post(path.c_str(), headers(with_csrf), body.dump(), "application/json");
    }
    httplib::Result put(const std::string& path, const nlohmann::json& body) {
        return cli.Put(path.c_str(), headers(), body.dump(), "application/json");
    }
    httplib::Result del(const std::string& path) { return cli.Delete(path.c_str(), headers()); }
};

inline std::string error_code(const httplib::Result& r) {
    if (!r) return "no answer";
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    if (j.is_discarded() || !j.contains("error")) return "not an error: " + std::to_string(r->status) + " " + r->body;
    return j["error"]["code"];
}

struct HttpApi : ::testing::Test {
    std::string dir = "/tmp/gridlet-http-" + std::to_string(getpid()) + "-" +
                      ::testing::UnitTest::GetInstance()->current_test_info()->name();
    int port = free_port();
    std::string site;
    std::unique_ptr<Process> gw;

    void SetUp() override { fs::remove_all(dir); }
    void TearDown() override {
        if (gw) {
            gw->signal(SIGTERM);
            gw->wait(std::chrono::seconds(20));
        }
        fs::remove_all(dir);
    }
    std::string cert() const { return dir + "/http/tls/cert.pem"; }

    std::string write(const std::string& http_extra = "", int interval_ms = 100, int devices = 1) {
        fs::create_directories(dir);
        const std::string name = "http-" + std::to_string(getpid()) + "-" + std::to_string(port);
        site = dir + "/site.toml";
        std::ofstream(site) << "[site]\nname = \"" << name << "\"\n[store]\npath = \"" << dir << "/store\"\nmin_free_mb = 1\n[http]\nport = "
                            << port << "\n" << http_extra << "[[plugins]]\nname = \"hello\"\nfile = \"" << build_dir()
                            << "/plugins/hello.so\"\n[plugins.config]\ninterval_ms = " << interval_ms
                            << "\n";
        for (int i = 1; i <= devices; ++i) std::ofstream(site, std::ios::app) << "[[devices]]\nname = \"d" << i << "\"\nplugin = \"hello\"\n";
        return site;
    }
    Result user_add(const std::string& name, const std::string& role, const std::string& password, bool temporary = false) {
        return run({"/bin/sh", "-c",
                    "printf '%s\\n' '" + password + "' | " + gridlet_bin() + " user add " + name + " --role " + role +
                        (temporary ? " --temporary" : "") + " --password-stdin --config " + site});
    }
    void start() {
        gw = std::make_unique<Process>(std::vector<std::string>{gridlet_bin(), "run", site});
        ASSERT_TRUE(gw->wait_for_err("http: API on", std::chrono::seconds(20))) << gw->err();
    }
};

}  // namespace gridlet::testing::http_api

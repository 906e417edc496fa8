// The HTTP API's operating routes against the real binary: devices (state,
// last poll, errors), commands to allowed points only, rules with their
// status documents and errors, the reload (a broken site file refused, the
// running one kept), Green'Up and the demand limit, events, export
// outboxes, the security policy and a certificate upload, and the backup
// taken while the site runs, restored into a store that `gridlet query`
// reads with the same data up to the backup point; damaged and newer
// archives refused.
#include <gtest/gtest.h>
#include <httplib.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "integration/http_api_fixture.h"
#include "integration/process.h"

using namespace gridlet::testing;
using namespace gridlet::testing::http_api;
namespace fs = std::filesystem;

namespace {

const char* kRules = R"(
[[rules]]
name = "counter"
file = "counter.lua"
[[rules]]
name = "greenup"
file = "@SRC@/scripts/rules/greenup.lua"
[rules.params]
total_power_consumption_meter = "d1/count"
maximum_current_available = 100
maximum_current_available_for_the_charging = 80
stations = [ { name = "d1", rated_current = 32, phases = 3 } ]
[[rules]]
name = "demand_limit"
file = "@SRC@/scripts/rules/demand_limit.lua"
[rules.params]
power = "d1/count"
interval = "15m"
limit_kw = 45
loads = [ { name = "boiler", priority = 1, target = "d1/count", kw = 8, min_off = "1m", max_off = "20m" } ]
)";

struct Operations : HttpApi {
    // A site with three rules: one of ours with a status document (and an
    // error when asked to), Green'Up and the demand limit.
    void write_site(const std::string& http_extra = "commands = [\"d1/count\"]\n") {
        write(http_extra);
        std::string rules = kRules;
        for (size_t at; (at = rules.find("@SRC@")) != std::string::npos;) rules.replace(at, 5, source_dir());
        std::ofstream(site, std::ios::app) << rules;
        std::ofstream(dir + "/counter.lua") << R"(
local seen, fail = 0, false
gridlet.on("d1/count", function(v) seen = seen + 1; if v == 1000 then error("one thousand") end end)
gridlet.status(function() return {kind = "counter", seen = seen} end)
)";
        ASSERT_EQ(user_add("alice", "admin", kAdminPassword).code, 0);
    }
};

TEST_F(Operations, DevicesCommandsAndAuditedRefusals) {
    write_site();
    start();
    Api a(port, cert());
    ASSERT_EQ(a.login("alice", kAdminPassword), 200);
    auto list = a.get("/api/v1/devices");
    ASSERT_EQ(list->status, 200) << list->body;
    auto devices = nlohmann::json::parse(list->body);
    ASSERT_EQ(devices.size(), 1u);
    EXPECT_EQ(devices[0]["name"], "d1");
    EXPECT_EQ(devices[0]["plugin"], "hello");
    EXPECT_EQ(devices[0]["plugin_state"], "running");
    // One device: the time of its newest sample (hello publishes every 100 ms).
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    auto one = a.get("/api/v1/devices/d1");
    ASSERT_EQ(one->status, 200) << one->body;
    const int64_t now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    const auto d1 = nlohmann::json::parse(one->body);
    ASSERT_TRUE(d1["last_data_ms"].is_number()) << one->body;
    EXPECT_LT(now_ms - d1["last_data_ms"].get<int64_t>(), 5000) << one->body;
    EXPECT_EQ(error_code(a.get("/api/v1/devices/nope")), "not_found");

    // A command to an allowed point goes to the device, which takes it.
    auto ok = a.post("/api/v1/commands", {{"target", "d1/count"}, {"value", 5000}});
    ASSERT_EQ(ok->status, 200) << ok->body;
    // The device's refusal is said, with its reason.
    auto refused = a.post("/api/v1/commands", {{"target", "d1/count"}, {"value", -1}});
    EXPECT_EQ(refused->status, 502) << refused->body;
    EXPECT_EQ(error_code(refused), "command_failed");
    EXPECT_NE(refused->body.find("count cannot be negative"), std::string::npos) << refused->body;
    // Points not allowed by [http] commands are refused before anything is sent.
    auto other = a.post("/api/v1/commands", {{"target", "d1/other"}, {"value", 1}});
    EXPECT_EQ(other->status, 403) << other->body;
    // Bad bodies: each says what is wrong.
    for (const auto& [body, needle] : std::vector<std::pair<nlohmann::json, std::string>>{
             {{{"target", "d1/count"}}, "'value'"},
             {{{"target", "d1/count"}, {"value", nlohmann::json::array()}}, "'value'"},
             {{{"target", "nodevice"}, {"value", 1}}, "device/point"},
             {{{"target", "d1/count"}, {"value", 1}, {"extra", 1}}, "unknown field 'extra'"},
             {{{"value", 1}}, "'target' is missing"}}) {
        auto r = a.post("/api/v1/commands", body);
        EXPECT_EQ(r->status, 400) << body.dump() << " " << r->body;
        EXPECT_NE(r->body.find(needle), std::string::npos) << body.dump() << " " << r->body;
    }
    // The value reached the device: its counter goes on from 5000.
    const Result q = run({gridlet_bin(), "query", "d1/count", "--from", "-1m", "--format", "json", "--config", site});
    ASSERT_EQ(q.code, 0) << q.err;
    double top = 0;
    const auto answer = nlohmann::json::parse(q.out);
    for (const auto& p : answer[0]["points"]) top = std::max(top, p["value"].get<double>());
    EXPECT_GE(top, 5000) << q.out.substr(0, 500);

    gw->signal(SIGTERM);
    ASSERT_EQ(gw->wait(std::chrono::seconds(20)), 0) << gw->err();
    gw.reset();
    const Result ev = run({gridlet_bin(), "events", "--type", "audit", "--format", "json", "--config", site});
    ASSERT_EQ(ev.code, 0) << ev.err;
    int commands_ok = 0, commands_refused = 0;
    for (const auto& e : nlohmann::json::parse(ev.out))
        if (e["body"]["action"] == "command") (e["body"]["ok"] == true ? commands_ok : commands_refused)++;
    EXPECT_EQ(commands_ok, 1) << ev.out;
    EXPECT_EQ(commands_refused, 2) << "the device's refusal and the point not allowed";
    // A pattern whose device is not on the site is refused by check (and run).
    write("commands = [\"d1/count\", \"meter9/*\"]\n");
    const Result check = run({gridlet_bin(), "check", site});
    EXPECT_EQ(check.code, 2) << check.out;
    EXPECT_NE(check.err.find("[http] commands: 'meter9/*' matches no device of this site (devices: d1)"), std::string::npos)
        << check.err;
}

TEST_F(Operations, RulesEvAndDemandStatusOverridesAndReload) {
    write_site();
    start();
    Api a(port, cert());
    ASSERT_EQ(a.login("alice", kAdminPassword), 200);
    ASSERT_TRUE(gw->wait_for_err("3 of 3 rule(s) running", std::chrono::seconds(20))) << gw->err();

    auto rules = a.get("/api/v1/rules");
    ASSERT_EQ(rules->status, 200) << rules->body;
    std::map<std::string, nlohmann::json> by_name;
    for (const auto& r : nlohmann::json::parse(rules->body)) by_name[r["name"]] = r;
    ASSERT_EQ(by_name.size(), 3u) << rules->body;
    EXPECT_EQ(by_name["counter"]["status"], "running");
    EXPECT_EQ(by_name["counter"]["document"]["kind"], "counter");
    EXPECT_GT(by_name["counter"]["document"]["seen"].get<int>(), 0);
    EXPECT_EQ(error_code(a.get("/api/v1/rules/nope")), "not_found");

    // A Lua error in a callback shows in the rule's errors, with its line.
    ASSERT_EQ(a.post("/api/v1/commands", {{"target", "d1/count"}, {"value", 999}})->status, 200);
    nlohmann::json counter;
    for (int i = 0; i < 50; ++i) {
        counter = nlohmann::json::parse(a.get("/api/v1/rules/counter")->body);
        if (counter["errors"].get<int>() > 0) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_GE(counter["errors"].get<int>(), 1) << counter.dump();
    EXPECT_NE(counter["last_error"].get<std::string>().find("counter.lua:3: one thousand"), std::string::npos)
        << counter.dump();

    // Green'Up: the area, the limits and the station.
    auto ev = nlohmann::json::parse(a.get("/api/v1/ev")->body);
    ASSERT_EQ(ev.size(), 1u) << ev.dump();
    EXPECT_EQ(ev[0]["rule"], "greenup");
    EXPECT_EQ(ev[0]["maximum_current_available_for_the_charging"], 80);
    ASSERT_EQ(ev[0]["stations"].size(), 1u);
    EXPECT_EQ(ev[0]["stations"][0]["name"], "d1");
    // The run-time charging limit applies; overrides need a session.
    auto limit = a.post("/api/v1/ev/greenup/charging_limit", {{"amperes", 50}});
    ASSERT_EQ(limit->status, 202) << limit->body;
    EXPECT_EQ(nlohmann::json::parse(limit->body)["effective"], 50) << limit->body;
    // Over the configured 80 A: the rule keeps to 80, and the answer says so.
    auto over = a.post("/api/v1/ev/greenup/charging_limit", {{"amperes", 500}});
    ASSERT_EQ(over->status, 202) << over->body;
    EXPECT_EQ(nlohmann::json::parse(over->body)["effective"], 80) << over->body;
    ASSERT_EQ(a.post("/api/v1/ev/greenup/charging_limit", {{"amperes", 50}})->status, 202);
    nlohmann::json after;
    for (int i = 0; i < 50; ++i) {
        after = nlohmann::json::parse(a.get("/api/v1/ev")->body);
        if (after[0]["maximum_current_available_for_the_charging"] == 50) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(after[0]["maximum_current_available_for_the_charging"], 50) << after.dump();
    EXPECT_EQ(after[0]["maximum_current_available"], 70);
    auto override = a.post("/api/v1/ev/greenup/stations/d1/override", {{"start_wait", "Wait"}});
    EXPECT_EQ(override->status, 409) << override->body;
    EXPECT_EQ(error_code(a.post("/api/v1/ev/greenup/stations/nope/override", {{"priority", "Priority"}})), "not_found");
    EXPECT_EQ(error_code(a.post("/api/v1/ev/counter/charging_limit", {{"amperes", 5}})), "not_found");
    EXPECT_EQ(error_code(a.post("/api/v1/ev/greenup/stations/d1/override", {{"start_wait", "Later"}})), "invalid_request");

    // The demand limit: the interval, the limit and the load.
    auto demand = nlohmann::json::parse(a.get("/api/v1/demand")->body);
    ASSERT_EQ(demand.size(), 1u) << demand.dump();
    EXPECT_EQ(demand[0]["limit_kw"], 45);
    EXPECT_EQ(demand[0]["interval_s"], 900);
    EXPECT_EQ(demand[0]["loads"][0]["name"], "boiler");

    // Reload: applied; a broken site file is refused, the running one kept.
    auto reload = a.post("/api/v1/reload", nlohmann::json::object());
    ASSERT_EQ(reload->status, 200) << reload->body;
    {
        // Nothing changed: nothing named, nothing waiting for a restart.
        const auto answer = nlohmann::json::parse(reload->body);
        EXPECT_TRUE(answer["applied"].is_array()) << reload->body;
        EXPECT_TRUE(answer["changes"].empty()) << reload->body;
        EXPECT_TRUE(answer["not_applied_until_restart"].empty()) << reload->body;
        EXPECT_NE(answer.value("path", "").find("site.toml"), std::string::npos) << reload->body;
        EXPECT_FALSE(answer.contains("ok")) << reload->body;
    }
    std::ofstream(site, std::ios::app) << "[[rules]]\nname = \"broken\"\n";
    auto refused = a.post("/api/v1/reload", nlohmann::json::object());
    EXPECT_EQ(refused->status, 400) << refused->body;
    EXPECT_EQ(error_code(refused), "invalid_config");
    EXPECT_NE(refused->body.find("site.toml:"), std::string::npos) << refused->body;
    EXPECT_EQ(a.get("/api/v1/rules/counter")->status, 200) << "the running rules go on";

    // Prometheus has the rules and the devices too.
    const std::string prom = a.get("/api/v1/metrics/prometheus")->body;
    for (const char* needle : {"gridlet_rule_running{rule=\"counter\"} 1", "gridlet_rule_errors_total{rule=\"counter\"} ",
                               "gridlet_rule_callbacks_total{rule=\"greenup\"} ", "gridlet_device_up{device=\"d1\",plugin=\"hello\"} 0"})
        EXPECT_NE(prom.find(needle), std::string::npos) << needle << "\n" << prom.substr(0, 4000);
}

TEST_F(Operations, EventsExportsAndSecurity) {
    write_site();
    start();
    Api a(port, cert());
    ASSERT_EQ(a.login("alice", kAdminPassword), 200);
    // The login itself is an audit event: JSON and CSV as gridlet events writes them.
    auto json = a.get("/api/v1/events?type=audit&format=json");
    ASSERT_EQ(json->status, 200) << json->body;
    auto events = nlohmann::json::parse(json->body);
    ASSERT_GE(events.size(), 1u);
    EXPECT_EQ(events[0]["body"]["action"], "login");
    auto csv = a.get("/api/v1/events?type=audit&limit=1");
    ASSERT_EQ(csv->status, 200);
    EXPECT_EQ(csv->body.rfind("time,source,type,severity,body\n", 0), 0u) << csv->body;
    EXPECT_EQ(error_code(a.get("/api/v1/events?severity=loud")), "invalid_request");
    EXPECT_EQ(error_code(a.get("/api/v1/events?from=tomorrow")), "invalid_request");
    EXPECT_EQ(error_code(a.get("/api/v1/events?limit=0")), "invalid_request");
    // No export targets: nothing waits; a target that is not there is said.
    EXPECT_EQ(a.get("/api/v1/exports")->body, "[]\n");
    EXPECT_EQ(error_code(a.get("/api/v1/exports?target=ftp1")), "not_found");
    // No [model]: consumption says so.
    EXPECT_EQ(error_code(a.get("/api/v1/consumption")), "not_found");
    EXPECT_EQ(error_code(a.get("/api/v1/model")), "not_found");

    // The security policy and the certificate served.
    auto policy = nlohmann::json::parse(a.get("/api/v1/security")->body);
    EXPECT_EQ(policy["password_min_length"], 12);
    EXPECT_EQ(policy["tls"]["served_now"], true) << policy.dump();
    const std::string served = policy["tls"]["fingerprint_sha256"];

    // A security officer installs a new certificate: served after a restart.
    ASSERT_EQ(user_add("sec", "security_officer", "security pass 42").code, 0);
    Api so(port, cert());
    ASSERT_EQ(so.login("sec", "security pass 42"), 200);
    // Made on the command line while the site runs: an audit event too, by the system user.
    auto cli = nlohmann::json::parse(a.get("/api/v1/events?type=audit&source=cli&format=json")->body);
    ASSERT_EQ(cli.size(), 1u) << cli.dump();
    EXPECT_EQ(cli[0]["body"]["action"], "user_add");
    EXPECT_EQ(cli[0]["body"]["detail"]["name"], "sec");
    EXPECT_NE(cli[0]["body"]["from"].get<std::string>().find("command line"), std::string::npos);
    const std::string key = dir + "/new.key", crt = dir + "/new.crt";
    ASSERT_EQ(run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt, "-days", "30",
                   "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"})
                  .code,
              0);
    auto bad = so.put("/api/v1/security/certificate", {{"certificate", slurp(crt)}, {"key", "not a key"}});
    EXPECT_EQ(bad->status, 400) << bad->body;
    EXPECT_NE(bad->body.find("the key"), std::string::npos) << bad->body;
    // A pair TLS would refuse at the next start (RSA 1024 under Debian's
    // security level 2) is refused now, with OpenSSL's reason.
    const std::string weak_key = dir + "/weak.key", weak_crt = dir + "/weak.crt";
    ASSERT_EQ(run({"openssl", "req", "-x509", "-newkey", "rsa:1024", "-nodes", "-keyout", weak_key, "-out", weak_crt,
                   "-days", "30", "-subj", "/CN=localhost"})
                  .code,
              0);
    auto weak = so.put("/api/v1/security/certificate", {{"certificate", slurp(weak_crt)}, {"key", slurp(weak_key)}});
    EXPECT_EQ(weak->status, 400) << weak->body;
    EXPECT_NE(weak->body.find("key too small"), std::string::npos) << weak->body;
    // The key pasted into the certificate field too: refused, never kept in cert.pem.
    auto pasted = so.put("/api/v1/security/certificate", {{"certificate", slurp(crt) + slurp(key)}, {"key", slurp(key)}});
    EXPECT_EQ(pasted->status, 400) << pasted->body;
    EXPECT_NE(pasted->body.find("holds a private key"), std::string::npos) << pasted->body;
    auto put = so.put("/api/v1/security/certificate", {{"certificate", slurp(crt)}, {"key", slurp(key)}});
    ASSERT_EQ(put->status, 200) << put->body;
    const std::string installed = nlohmann::json::parse(put->body)["fingerprint_sha256"];
    EXPECT_NE(installed, served);
    // Until the restart, tls/cert.pem is still the certificate served: clients given it still connect.
    Api before_restart(port, cert());
    EXPECT_EQ(before_restart.get("/api/v1/health")->status, 200);
    EXPECT_TRUE(fs::exists(cert() + ".new"));
    gw->signal(SIGTERM);
    ASSERT_EQ(gw->wait(std::chrono::seconds(20)), 0) << gw->err();
    start();
    EXPECT_NE(gw->err().find(installed), std::string::npos) << "the new certificate is served: " << gw->err();
    Api again(port, crt);  // the client now trusts the new certificate only
    ASSERT_EQ(again.login("alice", kAdminPassword), 200);
    EXPECT_EQ(slurp(cert()), slurp(crt)) << "put in place at the start";
    EXPECT_TRUE(fs::exists(cert() + ".before")) << "the previous pair kept, once";
    EXPECT_FALSE(fs::exists(cert() + ".new"));
}

// The backup of the running site, restored elsewhere: `gridlet query` reads
// the same samples up to the backup point.
TEST_F(Operations, BackupWhileRunningRestoresTheSameData) {
    write_site();
    start();
    Api a(port, cert());
    ASSERT_EQ(a.login("alice", kAdminPassword), 200);
    std::this_thread::sleep_for(std::chrono::seconds(2));
    auto r = a.post("/api/v1/backup", nlohmann::json::object());
    ASSERT_EQ(r->status, 200) << r->body.substr(0, 300);
    EXPECT_NE(r->get_header_value("Content-Disposition").find(".tar.gz"), std::string::npos);
    const std::string archive = dir + "/backup.tar.gz";
    std::ofstream(archive, std::ios::binary) << r->body;
    std::this_thread::sleep_for(std::chrono::seconds(1));  // more samples after the backup
    // Not over the running site: its store is in use.
    const Result busy = run({gridlet_bin(), "restore", archive, "--config", site, "--force"});
    EXPECT_EQ(busy.code, 2) << busy.out;
    EXPECT_NE(busy.err.find("is in use (gridlet runs this site): stop it first"), std::string::npos) << busy.err;
    gw->signal(SIGTERM);
    ASSERT_EQ(gw->wait(std::chrono::seconds(20)), 0) << gw->err();
    gw.reset();
    for (const auto& e : fs::directory_iterator(dir))
        EXPECT_EQ(e.path().filename().string().find(".backup-"), std::string::npos) << "checkpoint left: " << e.path();

    // Restored into another folder (the store path is absolute: it goes where
    // the archived site file says, so the original is moved away first).
    const std::string store = dir + "/store", original = dir + "/store.original";
    fs::rename(store, original);
    fs::rename(dir + "/http", dir + "/http.original");
    fs::remove(dir + "/.store.gridlet-store");
    const std::string target = dir + "/restored/site.toml";
    const Result dry = run({gridlet_bin(), "restore", archive, "--config", target, "--dry-run"});
    ASSERT_EQ(dry.code, 0) << dry.err;
    EXPECT_NE(dry.out.find("would restore the store into " + store), std::string::npos) << dry.out;
    EXPECT_FALSE(fs::exists(store)) << "a dry run changes nothing";
    const Result restored = run({gridlet_bin(), "restore", archive, "--config", target});
    ASSERT_EQ(restored.code, 0) << restored.err << restored.out;
    ASSERT_TRUE(fs::exists(dir + "/restored/counter.lua"));
    EXPECT_EQ(slurp(dir + "/http/users.json"), slurp(dir + "/http.original/users.json")) << "the accounts";
    EXPECT_EQ(fs::status(dir + "/http").permissions() & fs::perms::all, fs::perms::owner_all) << "private again";
    const Result back = run({gridlet_bin(), "query", "d1/count", "--from", "-10m", "--format", "json", "--config", target});
    ASSERT_EQ(back.code, 0) << back.err;
    const auto restored_points = nlohmann::json::parse(back.out)[0]["points"];
    ASSERT_GT(restored_points.size(), 5u);
    const int64_t backup_point = restored_points.back()["ts_ms"];
    // The original store, read up to the backup point, has the same samples.
    fs::rename(store, dir + "/store.restored");
    fs::rename(original, store);
    const Result orig = run({gridlet_bin(), "query", "d1/count", "--from", "-10m", "--to", "@" + std::to_string(backup_point + 1),
                             "--format", "json", "--config", site});
    ASSERT_EQ(orig.code, 0) << orig.err;
    EXPECT_EQ(nlohmann::json::parse(orig.out)[0]["points"], restored_points);

    // A second restore over it is refused without --force, and --force keeps the old aside.
    fs::rename(store, dir + "/store.original");
    fs::rename(dir + "/store.restored", store);
    const Result again = run({gridlet_bin(), "restore", archive, "--config", target});
    EXPECT_EQ(again.code, 2);
    EXPECT_NE(again.err.find("--force"), std::string::npos) << again.err;
    const Result forced = run({gridlet_bin(), "restore", archive, "--config", target, "--force"});
    ASSERT_EQ(forced.code, 0) << forced.err;
    bool aside = false;
    for (const auto& e : fs::directory_iterator(dir)) aside |= e.path().filename().string().rfind("store.before-restore-", 0) == 0;
    EXPECT_TRUE(aside);

    // Damaged archives are refused and change nothing.
    const std::string cut = dir + "/cut.tar.gz";
    std::ofstream(cut, std::ios::binary) << r->body.substr(0, r->body.size() / 2);
    const Result c = run({gridlet_bin(), "restore", cut, "--config", dir + "/other/site.toml"});
    EXPECT_EQ(c.code, 2) << c.out;
    EXPECT_NE(c.err.find("damaged"), std::string::npos) << c.err;
    EXPECT_FALSE(fs::exists(dir + "/other/site.toml"));
    // Tampered, newer and crafted archives, made with Python's tarfile (the
    // manifest made again for the crafted ones: only the checks of paths stop them).
    const std::string py = R"(
import hashlib, io, json, sys, tarfile
src, kind, out = sys.argv[1], sys.argv[2], sys.argv[3]
files = {}
with tarfile.open(src, "r:gz") as t, tarfile.open(out, "w:gz") as o:
    def add(name, data, like):
        m = tarfile.TarInfo(name); m.size = len(data); m.mode = like.mode
        o.addfile(m, io.BytesIO(data))
        files[name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    for m in t.getmembers():
        data = t.extractfile(m).read()
        if m.name == "manifest.json":
            if kind == "tampered":
                o.addfile(m, io.BytesIO(data))
                continue
            if kind == "traversal": add("config/../../evil.txt", b"x", m)
            if kind == "outside": add("outside/tmp/gridlet-evil.txt", b"x", m)
            if kind == "stranger": add("etc/evil.txt", b"x", m)
            add("manifest.json", json.dumps({"files": files}).encode(), m)
            continue
        if m.name == "gridlet-backup.json" and kind == "newer":
            h = json.loads(data); h["format"] = 99; data = json.dumps(h).encode()
        if m.name == "config/counter.lua" and kind == "tampered":
            data = data.replace(b"seen + 1", b"seen + 2")
        add(m.name, data, m)
)";
    const std::map<std::string, std::string> refusals = {{"newer", "newer gridlet"},
                                                         {"tampered", "differs from the manifest"},
                                                         {"traversal", "leaves its folder"},
                                                         {"outside", "not one of its [[rules]] files"},
                                                         {"stranger", "not part of a gridlet backup"}};
    const std::string script = dir + "/remake.py";
    std::ofstream(script) << py;
    for (const auto& [kind, why] : refusals) {
        const std::string out = dir + "/" + kind + ".tar.gz";
        const Result made = run({"/usr/bin/python3", script, archive, kind, out});
        ASSERT_EQ(made.code, 0) << made.err;
        const Result x = run({gridlet_bin(), "restore", out, "--config", dir + "/other/site.toml"});
        EXPECT_EQ(x.code, 2) << kind;
        EXPECT_NE(x.err.find(why), std::string::npos) << kind << ": " << x.err;
        EXPECT_FALSE(fs::exists(dir + "/other/site.toml")) << kind;
        EXPECT_FALSE(fs::exists("/tmp/gridlet-evil.txt")) << kind;
        EXPECT_FALSE(fs::exists(dir + "/evil.txt")) << kind;
    }
}

// `gridlet backup` on the command line, with the site running and stopped.
TEST_F(Operations, BackupOnTheCommandLine) {
    write_site();
    start();
    const std::string running = dir + "/running.tar.gz", stopped = dir + "/stopped.tar.gz";
    const Result b1 = run({gridlet_bin(), "backup", "--config", site, "-o", running});
    ASSERT_EQ(b1.code, 0) << b1.err;
    EXPECT_NE(b1.err.find("running site took a checkpoint"), std::string::npos) << b1.err;
    EXPECT_EQ(fs::status(running).permissions() & fs::perms::others_read, fs::perms::none) << "0600: it holds secrets";
    EXPECT_EQ(run({gridlet_bin(), "backup", "--config", site, "-o", running}).code, 2) << "never overwrites";
    gw->signal(SIGTERM);
    ASSERT_EQ(gw->wait(std::chrono::seconds(20)), 0) << gw->err();
    gw.reset();
    const Result b2 = run({gridlet_bin(), "backup", "--config", site, "-o", stopped});
    ASSERT_EQ(b2.code, 0) << b2.err;
    for (const std::string& archive : {running, stopped}) {
        const Result list = run({"tar", "tzf", archive});
        ASSERT_EQ(list.code, 0);
        EXPECT_EQ(list.out.rfind("gridlet-backup.json\n", 0), 0u) << list.out;
        for (const char* entry : {"config/site.toml", "config/counter.lua", "http/users.json", "store/CURRENT", "manifest.json"})
            EXPECT_NE(list.out.find(entry), std::string::npos) << archive << " lacks " << entry;
        EXPECT_EQ(list.out.find("config/store/"), std::string::npos) << "the store is not configuration";
        // The rules outside the site's folder are kept with their paths.
        EXPECT_NE(list.out.find("outside" + source_dir() + "/scripts/rules/greenup.lua"), std::string::npos) << list.out;
    }
    // A running site refuses a restore over it.
    start();
    const Result r = run({gridlet_bin(), "restore", stopped, "--config", site, "--force"});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("is in use (gridlet runs this site)"), std::string::npos) << r.err;
}

}  // namespace

// Alarms end to end with the real binary: a BCPM simulator (its own
// process, `gridlet sim bcpm --overloaded 7`) polled over Modbus TCP, an
// [[alarms]] rule on every branch against its breaker size, the simulator
// stopped (communication lost) and started again (the alarm ends with the
// outage), `gridlet alarms` and `gridlet alarms ack` on the running site and
// on the stopped one, and an active alarm across a kill -9.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <thread>

#include "integration/process.h"

using namespace gridlet::testing;
using nlohmann::json;

namespace {

std::string site(int port, const std::string& store, const std::string& control, const std::string& rule) {
    return "[[rules]]\nname = \"mains_watch\"\nfile = \"" + rule + "\"\n"
           "[site]\nname = \"alarm-it\"\ntimezone = \"Europe/Paris\"\n"
           "[kernel]\ncontrol = \"ipc://" + control + "\"\n"
           "[store]\npath = \"" + store + "\"\n"
           "[[plugins]]\nname = \"modbus\"\nfile = \"modbus\"\n"
           "[[devices]]\nname = \"panel1\"\nplugin = \"modbus\"\nprofile = \"bcpm\"\naddress = \"127.0.0.1:" +
           std::to_string(port) +
           "\"\nunit_id = 1\npoll_ms = 500\ntimeout_ms = 200\nretries = 0\noffline_after = 2\noffline_poll_ms = 500\n"
           "[[alarms]]\nname = \"branch_overload\"\nseries = \"panel1/branch*/current\"\ncondition = \"high\"\n"
           "threshold = 1.0\nthreshold_of = \"breaker_size\"\nreturn_level = 0.95\non_delay_s = 1\n"
           "criticality = \"critical\"\ncategory = \"electrical\"\n"
           "message = \"{series} carries {value} A, above its breaker size ({threshold} A)\"\n";
}

json alarms(const std::string& file, const std::string& status = "open", bool polling = false) {
    Result r = run({gridlet_bin(), "alarms", "--config", file, "--status", status, "--format", "json"});
    if (!polling) {  // polling: the store may not exist yet
        EXPECT_EQ(r.code, 0) << r.err;
    }
    auto j = json::parse(r.out, nullptr, false);
    return j.is_discarded() ? json::array() : j;
}

// The first alarm named `name` in a list, or null.
json find(const json& list, const std::string& name) {
    for (const auto& a : list)
        if (a.value("name", "") == name) return a;
    return json();
}

json wait_for(const std::string& file, const std::string& name, const std::string& status, int seconds) {
    for (int i = 0; i < seconds * 5; ++i) {
        json a = find(alarms(file, "all", true), name);
        if (!a.is_null() && a.value("status", "") == status) return a;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return json();
}

}  // namespace

TEST(Alarms, BranchOverloadAndCommunicationLossRaisedAcknowledgedAndKeptAcrossARestart) {
    const int port = free_port();
    const std::string base = "/tmp/gridlet-alarm-it-" + std::to_string(getpid());
    remove_store(base + "-store");
    // A Lua rule raises its own alarm (gridlet.alarm) through the kernel's table.
    const std::string rule = temp_file("mains_watch.lua", R"(
gridlet.on("panel1/mains/kw", function(kw)
  if kw > 0 then
    gridlet.alarm.raise{name = "mains_on", value = kw, criticality = "information", message = "panel 1 draws power"}
  end
end)
)");
    const std::string file = temp_file("alarm-site.toml", site(port, base + "-store", base + ".sock", rule));
    auto sim = std::make_unique<Process>(std::vector<std::string>{gridlet_bin(), "sim", "bcpm", "--port",
                                                                  std::to_string(port), "--overloaded", "7"});
    ASSERT_TRUE(sim->wait_for_out("Modbus TCP on")) << sim->err() << sim->out();
    Result check = run({gridlet_bin(), "check", file});
    ASSERT_EQ(check.code, 0) << check.err;
    EXPECT_NE(check.out.find("1 alarm rule"), std::string::npos) << check.out;

    auto gl = std::make_unique<Process>(std::vector<std::string>{gridlet_bin(), "run", file});
    // Branch 7 carries 110 % of its 20 A breaker: one alarm, on that branch only.
    json overload = wait_for(file, "branch_overload", "active_unacknowledged", 20);
    ASSERT_FALSE(overload.is_null()) << gl->err();
    EXPECT_EQ(overload["series"], "panel1/branch07/current");
    EXPECT_EQ(overload["criticality"], "critical");
    EXPECT_EQ(overload["type"], "alarm");
    EXPECT_EQ(overload["detail"]["threshold"], 20);
    EXPECT_GT(overload["value_start"].get<double>(), 20.0);
    EXPECT_NE(overload["message"].get<std::string>().find("above its breaker size (20 A)"), std::string::npos);
    json from_rule = wait_for(file, "mains_on", "active_unacknowledged", 10);
    ASSERT_FALSE(from_rule.is_null()) << gl->err();
    EXPECT_EQ(from_rule["source"], "rule/mains_watch");
    EXPECT_EQ(from_rule["origin"], "rule");
    EXPECT_EQ(from_rule["criticality"], "information");
    int overloads = 0;
    for (const auto& a : alarms(file, "all")) overloads += a["name"] == "branch_overload" ? 1 : 0;
    EXPECT_EQ(overloads, 1) << "only the overloaded branch";

    // Acknowledged on the running site (through its control socket).
    const std::string id = std::to_string(overload["id"].get<int>());
    Result ack = run({gridlet_bin(), "alarms", "ack", id, "--comment", "breaker checked", "--by", "ann", "--config",
                      file});
    ASSERT_EQ(ack.code, 0) << ack.err;
    EXPECT_NE(ack.out.find("now active_acknowledged"), std::string::npos) << ack.out;
    Result again = run({gridlet_bin(), "alarms", "ack", id, "--config", file});
    EXPECT_EQ(again.code, 1);
    EXPECT_NE(again.err.find("was acknowledged by ann"), std::string::npos) << again.err;
    Result unknown = run({gridlet_bin(), "alarms", "ack", "999", "--config", file});
    EXPECT_EQ(unknown.code, 2) << unknown.err;

    // The panel stops answering: communication lost, critical, system.
    sim.reset();
    json lost = wait_for(file, "communication_lost", "active_unacknowledged", 20);
    ASSERT_FALSE(lost.is_null()) << gl->err();
    EXPECT_EQ(lost["source"], "panel1");
    EXPECT_EQ(lost["type"], "system");
    EXPECT_EQ(lost["category"], "communication");
    // It answers again: the alarm ends, with the outage's duration.
    sim = std::make_unique<Process>(std::vector<std::string>{gridlet_bin(), "sim", "bcpm", "--port",
                                                             std::to_string(port), "--overloaded", "7"});
    json back = wait_for(file, "communication_lost", "finished_unacknowledged", 20);
    ASSERT_FALSE(back.is_null()) << gl->err();
    EXPECT_NE(back["detail"]["end_reason"].get<std::string>().find("device answers again after"), std::string::npos);

    // The table view and CSV.
    Result table = run({gridlet_bin(), "alarms", "--config", file, "--status", "all"});
    ASSERT_EQ(table.code, 0) << table.err;
    EXPECT_NE(table.out.find("communication_lost"), std::string::npos) << table.out;
    EXPECT_NE(table.out.find("[ack ann: breaker checked]"), std::string::npos) << table.out;
    Result csv = run({gridlet_bin(), "alarms", "--config", file, "--status", "all", "--format", "csv",
                      "--criticality", "critical", "--source", "panel1"});
    ASSERT_EQ(csv.code, 0) << csv.err;
    EXPECT_EQ(csv.out.rfind("id,start,end,status,", 0), 0u) << csv.out;
    EXPECT_NE(csv.out.find(",ann,"), std::string::npos) << csv.out;

    // kill -9: the overload is still active after the restart, the same alarm.
    gl->signal(SIGKILL);
    gl->wait();
    gl = std::make_unique<Process>(std::vector<std::string>{gridlet_bin(), "run", file});
    ASSERT_TRUE(gl->wait_for_err("alarms active", std::chrono::seconds(10))) << gl->err();
    // 42 branch currents, 138 device alarm points (42 branches and 4 aux
    // inputs x high-high, high, high now); the overload, the rule's alarm,
    // the panel's own high-now bit of branch 7, at least.
    EXPECT_NE(gl->err().find("1 rules, 180 instances"), std::string::npos) << gl->err();
    json device = find(alarms(file, "active"), "branch07/alarm/high_now");
    ASSERT_FALSE(device.is_null()) << "the BCPM's own alarm bit";
    EXPECT_EQ(device["origin"], "device");
    EXPECT_EQ(device["source"], "panel1");
    std::this_thread::sleep_for(std::chrono::seconds(2));
    json still = find(alarms(file, "active"), "branch_overload");
    ASSERT_FALSE(still.is_null());
    EXPECT_EQ(still["id"], overload["id"]);
    gl->signal(SIGTERM);
    EXPECT_EQ(gl->wait(), 0) << gl->err();

    // On the stopped site: acknowledged in the store.
    const std::string lost_id = std::to_string(back["id"].get<int>());
    Result stopped_ack = run({gridlet_bin(), "alarms", "ack", lost_id, "--config", file, "--comment", "cable fixed"});
    ASSERT_EQ(stopped_ack.code, 0) << stopped_ack.err;
    EXPECT_NE(stopped_ack.out.find("now finished_acknowledged"), std::string::npos) << stopped_ack.out;
    EXPECT_TRUE(find(alarms(file), "communication_lost").is_null()) << "nothing left to look at";
    // Every change is in the event log too.
    Result ev = run({gridlet_bin(), "events", "--config", file, "--source", "panel1", "--format", "json"});
    ASSERT_EQ(ev.code, 0) << ev.err;
    json events = json::parse(ev.out);
    std::vector<std::string> types;
    for (const auto& e : events)
        if (e["type"].get<std::string>().rfind("alarm_", 0) == 0) types.push_back(e["type"]);
    EXPECT_GE(std::count(types.begin(), types.end(), "alarm_raised"), 2) << ev.out;
    EXPECT_GE(std::count(types.begin(), types.end(), "alarm_acknowledged"), 2) << ev.out;
    EXPECT_GE(std::count(types.begin(), types.end(), "alarm_finished"), 1) << ev.out;
    sim.reset();
    remove_store(base + "-store");
}

namespace {
std::vector<std::string> mails(const std::string& dir) {
    std::vector<std::string> out;
    if (!std::filesystem::is_directory(dir)) return out;
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        if (e.path().extension() == ".eml") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) out.push_back(slurp(f.string()));
    return out;
}
bool wait_mails(const std::string& dir, size_t n, int seconds) {
    for (int i = 0; i < seconds * 10; ++i) {
        if (mails(dir).size() >= n) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
}
}  // namespace

// Notifications by e-mail to a real SMTP server (aiosmtpd, started here on a
// free loopback port): the overload arrives; then the server is down while
// the panel stops answering, and gridlet is killed (-9) with the mail still
// to send: once both are back, the communication_lost mail arrives, once.
TEST(Alarms, EmailReachesARealSmtpServerAcrossItsOutageAndAGatewayKill) {
    if (system("/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null") != 0)
        GTEST_SKIP() << "python3-aiosmtpd is not installed (.ci/setup installs it)";
    const int port = free_port(), smtp_port = free_port();
    const std::string base = "/tmp/gridlet-notify-it-" + std::to_string(getpid());
    remove_store(base + "-store");
    std::filesystem::remove_all(base + "-mail");
    const std::string rule = temp_file("quiet.lua", "-- no alarms from rules here\n");
    std::string text = site(port, base + "-store", base + ".sock", rule);
    text += "[[notifications]]\nname = \"ops_mail\"\nkind = \"email\"\nmin_criticality = \"critical\"\n"
            "max_wait_s = 1\nalert_types = [\"threshold\", \"communication\"]\nsmtp_url = \"smtp://127.0.0.1:" + std::to_string(smtp_port) + "\"\nstarttls = \"none\"\n"
            "from = \"gateway@alarm-it.example\"\nto = [\"ops@example.com\", \"site@example.com\"]\n";
    const std::string file = temp_file("notify-site.toml", text);
    const std::vector<std::string> smtp_argv = {"/usr/bin/python3", source_dir() + "/tests/support/smtp_sink.py",
                                                "--port", std::to_string(smtp_port), "--dir", base + "-mail"};
    auto smtp = std::make_unique<Process>(smtp_argv);
    auto sim = std::make_unique<Process>(std::vector<std::string>{gridlet_bin(), "sim", "bcpm", "--port",
                                                                  std::to_string(port), "--overloaded", "7"});
    ASSERT_TRUE(sim->wait_for_out("Modbus TCP on")) << sim->err();
    auto gl = std::make_unique<Process>(std::vector<std::string>{gridlet_bin(), "run", file});
    ASSERT_TRUE(wait_mails(base + "-mail", 1, 30)) << gl->err() << smtp->err();
    std::string first = mails(base + "-mail")[0];
    EXPECT_NE(first.find("X-Envelope-To: ops@example.com, site@example.com"), std::string::npos) << first;
    EXPECT_NE(first.find("Subject: [gridlet alarm-it] CRITICAL branch_overload raised (panel1)"), std::string::npos)
        << first;
    EXPECT_NE(first.find("panel1/branch07/current carries"), std::string::npos) << first;
    EXPECT_NE(first.find("Message-ID: <alarm-it.ops_mail.1-1@gridlet>"), std::string::npos) << first;

    // The mail server goes away; the panel stops answering.
    smtp.reset();
    sim.reset();
    ASSERT_TRUE(gl->wait_for_err("notification 'ops_mail': not delivered", std::chrono::seconds(30))) << gl->err();
    gl->signal(SIGKILL);
    gl->wait();
    // Both come back: the mail that waited in the store goes out, once.
    smtp = std::make_unique<Process>(smtp_argv);
    gl = std::make_unique<Process>(std::vector<std::string>{gridlet_bin(), "run", file});
    ASSERT_TRUE(wait_mails(base + "-mail", 2, 30)) << gl->err();
    std::this_thread::sleep_for(std::chrono::seconds(3));
    auto all = mails(base + "-mail");
    ASSERT_EQ(all.size(), 2u) << "nothing twice";
    EXPECT_NE(all[1].find("communication_lost raised (panel1)"), std::string::npos) << all[1];
    EXPECT_NE(all[1].find("Message-ID: <alarm-it.ops_mail.2-2@gridlet>"), std::string::npos) << all[1];
    EXPECT_NE(gl->err().find("alarm change(s) still to send from the last run"), std::string::npos) << gl->err();
    Result m = run({gridlet_bin(), "metrics", "--config", file});
    auto j = json::parse(m.out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << m.out << m.err;
    EXPECT_EQ(j["notifications"]["pending"], 0) << m.out;
    gl->signal(SIGTERM);
    gl->wait();
    remove_store(base + "-store");
    std::filesystem::remove_all(base + "-mail");
}

// A webhook to a real HTTP server: refused once (503), then the POST
// arrives with the alarm record and an Idempotency-Key that is the batch id.
TEST(Alarms, WebhookPostsTheAlarmToARealHttpServerAfterItRefusedOnce) {
    const int port = free_port(), http_port = free_port();
    const std::string base = "/tmp/gridlet-webhook-it-" + std::to_string(getpid());
    remove_store(base + "-store");
    std::filesystem::remove_all(base + "-posts");
    const std::string rule = temp_file("quiet2.lua", "-- no alarms from rules here\n");
    std::string text = site(port, base + "-store", base + ".sock", rule);
    text += "[[notifications]]\nname = \"hook\"\nkind = \"webhook\"\nmax_wait_s = 0\n"
            "transitions = [\"raised\", \"acknowledged\"]\nalert_types = [\"threshold\"]\n"
            "url = \"http://127.0.0.1:" + std::to_string(http_port) + "/gridlet/alarms\"\n";
    const std::string file = temp_file("webhook-site.toml", text);
    Process http({"/usr/bin/python3", source_dir() + "/tests/support/http_sink.py", "--port", std::to_string(http_port),
                  "--dir", base + "-posts", "--fail-first", "1"});
    Process sim({gridlet_bin(), "sim", "bcpm", "--port", std::to_string(port), "--overloaded", "7"});
    ASSERT_TRUE(sim.wait_for_out("Modbus TCP on")) << sim.err();
    Process gl({gridlet_bin(), "run", file});
    const std::string post = base + "-posts/0001.json";
    for (int i = 0; i < 400 && !std::filesystem::exists(post); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_TRUE(std::filesystem::exists(post)) << gl.err();
    auto j = json::parse(slurp(post));
    EXPECT_EQ(j["path"], "/gridlet/alarms");
    EXPECT_EQ(j["headers"]["Content-Type"], "application/json");
    EXPECT_EQ(j["headers"]["Idempotency-Key"], "alarm-it.hook.1-1");
    auto body = json::parse(j["body"].get<std::string>());
    EXPECT_EQ(body["id"], "alarm-it.hook.1-1") << "the first change queued (the panel's own bits are state changes)";
    EXPECT_EQ(body["site"], "alarm-it");
    ASSERT_EQ(body["changes"].size(), 1u);
    EXPECT_EQ(body["changes"][0]["transition"], "raised");
    EXPECT_EQ(body["changes"][0]["alarm"]["name"], "branch_overload");
    EXPECT_NE(gl.err().find("HTTP 503"), std::string::npos) << gl.err();
    EXPECT_NE(gl.err().find("after 1 failed attempt(s)"), std::string::npos) << gl.err();
    gl.signal(SIGTERM);
    EXPECT_EQ(gl.wait(), 0) << gl.err();
    // Acknowledged while the site is stopped: told when it runs again. A
    // site file with an error is refused first (nothing acknowledged); a
    // notification whose secrets are not set here does not stop the others
    // from being queued.
    const std::string id = std::to_string(body["changes"][0]["alarm"]["id"].get<int>());
    const std::string broken = temp_file("webhook-broken.toml", text + "[[alarms]]\nname = \"bad\"\nseries = \"x/y\"\n"
                                                                       "condition = \"hgh\"\nthreshold = 1\n");
    Result refused = run({gridlet_bin(), "alarms", "ack", id, "--by", "ann", "--config", broken});
    EXPECT_EQ(refused.code, 2) << refused.err;
    EXPECT_NE(refused.err.find("hgh"), std::string::npos) << refused.err;
    EXPECT_NE(refused.err.find("nothing acknowledged"), std::string::npos) << refused.err;
    EXPECT_TRUE(find(alarms(file, "all"), "branch_overload")["ack"].is_null()) << "refused: still unacknowledged";
    unsetenv("GL_IT_UNSET_TOKEN");
    const std::string with_bot = temp_file(
        "webhook-bot.toml", text + "[[notifications]]\nname = \"bot\"\nkind = \"telegram\"\n"
                                   "token_env = \"GL_IT_UNSET_TOKEN\"\npassword_env = \"GL_IT_UNSET_TOKEN\"\n");
    Result ack = run({gridlet_bin(), "alarms", "ack", id, "--by", "ann", "--config", with_bot});
    ASSERT_EQ(ack.code, 0) << ack.err;
    Process again({gridlet_bin(), "run", file});
    const std::string post2 = base + "-posts/0002.json";
    for (int i = 0; i < 100 && !std::filesystem::exists(post2); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_TRUE(std::filesystem::exists(post2)) << again.err();
    auto body2 = json::parse(json::parse(slurp(post2))["body"].get<std::string>());
    ASSERT_EQ(body2["changes"].size(), 1u);
    EXPECT_EQ(body2["changes"][0]["transition"], "acknowledged");
    EXPECT_EQ(body2["changes"][0]["alarm"]["ack"]["by"], "ann");
    again.signal(SIGTERM);
    again.wait();
    remove_store(base + "-store");
    std::filesystem::remove_all(base + "-posts");
}

TEST(Alarms, CheckRefusesAMalformedAlarmRuleWithItsLine) {
    const std::string file = temp_file(
        "bad-alarm.toml", "[site]\nname = \"x\"\n[[alarms]]\nname = \"hot\"\nseries = \"room/temp\"\n"
                          "condition = \"high\"\nthreshold = 26\nreturn_level = 28\n");
    Result r = run({gridlet_bin(), "check", file});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find(file + ":8: [[alarms]] 'hot': return_level"), std::string::npos) << r.err;
    Result run_it = run({gridlet_bin(), "run", file}, std::chrono::seconds(10));
    EXPECT_EQ(run_it.code, 2) << "run refuses what check refuses";
    EXPECT_NE(run_it.err.find(file + ":8:"), std::string::npos) << run_it.err;
}

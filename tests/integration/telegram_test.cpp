// Telegram notifications end to end with the real binary, against a local
// stand-in for the Bot API (tests/support/telegram_api.py; the
// notification's api_url points at it): subscription by password (Legrand
// manual §7.4), wrong passwords answered and then ignored, the overload
// alarm reaching the subscriber once it subscribed, a batch that failed for
// one chat sent again to that chat only, a subscriber disabled through the
// running site's control socket, `gridlet notify test`, /stop, and a chat
// that blocked the bot disabled with a note.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <thread>

#include "integration/process.h"

using namespace gridlet::testing;
using nlohmann::json;

namespace {

// A request to the stand-in's /test/ endpoints (python's urllib: no curl
// binary needed).
json api(int port, const std::string& path, const json& body = json()) {
    const std::string script =
        "import json,sys,urllib.request\n"
        "data=sys.argv[2].encode() if sys.argv[2] != 'null' else None\n"
        "r=urllib.request.Request(sys.argv[1],data=data,headers={'Content-Type':'application/json'})\n"
        "print(urllib.request.urlopen(r,timeout=5).read().decode())\n";
    Result r = run({"/usr/bin/python3", "-c", script, "http://127.0.0.1:" + std::to_string(port) + path, body.dump()});
    auto j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << path << ": " << r.out << r.err;
    return j;
}

json sent_to(int port, int64_t chat) {
    json out = json::array();
    for (const auto& m : api(port, "/test/sent"))
        if (m["chat_id"] == chat) out.push_back(m);
    return out;
}

size_t count_with(const json& messages, const std::string& needle) {
    size_t n = 0;
    for (const auto& m : messages) n += m["text"].get<std::string>().find(needle) != std::string::npos;
    return n;
}

// Waits until `chat` has `n` messages containing `needle`.
bool wait_text(int port, int64_t chat, const std::string& needle, size_t n, int seconds) {
    for (int i = 0; i < seconds * 5; ++i) {
        if (count_with(sent_to(port, chat), needle) >= n) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
}

void say(int port, int64_t chat, const std::string& text, const std::string& name) {
    api(port, "/test/message", {{"chat_id", chat}, {"text", text}, {"first_name", name}});
}

json subscribers(const std::string& file) {
    Result r = run({gridlet_bin(), "notify", "subscribers", "ops_bot", "--config", file, "--format", "json"});
    EXPECT_EQ(r.code, 0) << r.err;
    auto j = json::parse(r.out, nullptr, false);
    return j.is_discarded() ? json::array() : j;
}

json subscriber(const json& list, int64_t chat) {
    for (const auto& s : list)
        if (s["chat_id"] == chat) return s;
    return json();
}

}  // namespace

TEST(Telegram, SubscriptionByPasswordAlarmsOncePerChatDisableTestStopAndBlocked) {
    const int port = free_port(), api_port = free_port();
    const std::string base = "/tmp/gridlet-telegram-it-" + std::to_string(getpid());
    remove_store(base + "-store");
    setenv("GL_IT_TELEGRAM_TOKEN", "123456:TEST-token_x", 1);
    setenv("GL_IT_TELEGRAM_PASSWORD", "open-sesame-42", 1);
    const std::string file = temp_file(
        "telegram-site.toml",
        "[site]\nname = \"tg-it\"\ntimezone = \"Europe/Paris\"\n"
        "[kernel]\ncontrol = \"ipc://" + base + ".sock\"\n"
        "[store]\npath = \"" + base + "-store\"\n"
        "[[plugins]]\nname = \"modbus\"\nfile = \"modbus\"\n"
        "[[devices]]\nname = \"panel1\"\nplugin = \"modbus\"\nprofile = \"bcpm\"\naddress = \"127.0.0.1:" +
            std::to_string(port) +
            "\"\nunit_id = 1\npoll_ms = 500\ntimeout_ms = 200\nretries = 0\noffline_after = 2\noffline_poll_ms = 500\n"
            "[[alarms]]\nname = \"branch_overload\"\nseries = \"panel1/branch*/current\"\ncondition = \"high\"\n"
            "threshold = 1.0\nthreshold_of = \"breaker_size\"\nreturn_level = 0.95\n"
            "criticality = \"critical\"\nmessage = \"{series} carries {value} A\"\n"
            "[[notifications]]\nname = \"ops_bot\"\nkind = \"telegram\"\ntoken_env = \"GL_IT_TELEGRAM_TOKEN\"\n"
            "password_env = \"GL_IT_TELEGRAM_PASSWORD\"\napi_url = \"http://127.0.0.1:" + std::to_string(api_port) +
            "\"\nupdates_every_s = 1\nmax_wait_s = 1\nmin_criticality = \"critical\"\n"
            "alert_types = [\"threshold\", \"communication\"]\n");
    Result check = run({gridlet_bin(), "check", file});
    ASSERT_EQ(check.code, 0) << check.out << check.err;
    Process tg({"/usr/bin/python3", source_dir() + "/tests/support/telegram_api.py", "--port", std::to_string(api_port),
                "--token", "123456:TEST-token_x"});
    for (int i = 0; i < 100 && tg.out().find("telegram api on") == std::string::npos; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto sim = std::make_unique<Process>(std::vector<std::string>{gridlet_bin(), "sim", "bcpm", "--port",
                                                                  std::to_string(port), "--overloaded", "7"});
    ASSERT_TRUE(sim->wait_for_out("Modbus TCP on")) << sim->err();
    auto gl = std::make_unique<Process>(std::vector<std::string>{gridlet_bin(), "run", file});

    // A stranger is told how to subscribe; wrong passwords are answered five
    // times an hour, then ignored.
    // Updates whose fields have unexpected types are skipped, said, and
    // change nothing; the next message is answered.
    api(api_port, "/test/raw_update", {{"message", {{"chat", {{"id", 1005}}}, {"text", "open-sesame-42"}, {"from", 7}}}});
    api(api_port, "/test/raw_update", {{"message", {{"chat", {{"id", "abc"}}}, {"text", 5}}}});
    api(api_port, "/test/raw_update", {{"message", 3}});
    say(api_port, 1001, "/start", "Ann");
    ASSERT_TRUE(wait_text(api_port, 1001, "Send the subscription password", 1, 20)) << gl->err();
    EXPECT_NE(gl->err().find("update 1 skipped"), std::string::npos) << gl->err();
    for (int i = 0; i < 6; ++i) say(api_port, 1002, "guess" + std::to_string(i), "Bob");
    ASSERT_TRUE(wait_text(api_port, 1002, "Too many attempts", 1, 20)) << gl->err();
    std::this_thread::sleep_for(std::chrono::seconds(2));
    EXPECT_EQ(sent_to(api_port, 1002).size(), 5u) << "the sixth wrong password is not answered";
    EXPECT_TRUE(subscribers(file).empty());
    // The lockout holds across a restart: even the right password is ignored.
    gl->signal(SIGTERM);
    ASSERT_EQ(gl->wait(), 0) << gl->err();
    gl = std::make_unique<Process>(std::vector<std::string>{gridlet_bin(), "run", file});
    say(api_port, 1002, "open-sesame-42", "Bob");
    say(api_port, 1002, "/start", "Bob");  // a locked-out chat gets no answer at all
    say(api_port, 1004, "/start", "Dan");  // answered once Bob's messages (before it) were handled
    ASSERT_TRUE(wait_text(api_port, 1004, "Send the subscription password", 1, 20)) << gl->err();
    EXPECT_EQ(sent_to(api_port, 1002).size(), 5u) << gl->err();
    EXPECT_TRUE(subscribers(file).empty());

    // Ann subscribes: the overload alarm (waiting, retried, while nobody was
    // subscribed) reaches her; her password message is deleted.
    say(api_port, 1001, "  open-sesame-42\n", "Ann");
    ASSERT_TRUE(wait_text(api_port, 1001, "Subscribed to the alarms of site tg-it", 1, 20)) << gl->err();
    ASSERT_TRUE(wait_text(api_port, 1001, "branch_overload raised (panel1)", 1, 40)) << gl->err();
    EXPECT_EQ(api(api_port, "/test/deleted").size(), 1u);
    EXPECT_NE(gl->err().find("no Telegram chat is subscribed"), std::string::npos) << gl->err();
    json subs = subscribers(file);
    ASSERT_EQ(subs.size(), 1u) << subs;
    EXPECT_EQ(subs[0]["chat_id"], 1001);
    EXPECT_EQ(subs[0]["name"], "Ann");
    EXPECT_EQ(subs[0]["enabled"], true);

    // Carl subscribes; his first delivery fails once: the retry goes to him
    // only, so Ann has the communication_lost message once.
    say(api_port, 1003, "open-sesame-42", "Carl");
    ASSERT_TRUE(wait_text(api_port, 1003, "Subscribed", 1, 20)) << gl->err();
    api(api_port, "/test/fail", {{"count", 1}, {"code", 502}, {"chat_id", 1003}});
    sim.reset();
    ASSERT_TRUE(wait_text(api_port, 1003, "communication_lost raised (panel1)", 1, 60)) << gl->err();
    std::this_thread::sleep_for(std::chrono::seconds(2));
    EXPECT_EQ(count_with(sent_to(api_port, 1001), "communication_lost raised"), 1u);
    EXPECT_EQ(count_with(sent_to(api_port, 1003), "communication_lost raised"), 1u);
    EXPECT_NE(gl->err().find("HTTP 502"), std::string::npos) << gl->err();

    // Carl disabled on the running site; the test message reaches Ann only.
    Result off = run({gridlet_bin(), "notify", "disable", "ops_bot", "1003", "--config", file});
    ASSERT_EQ(off.code, 0) << off.err;
    EXPECT_EQ(subscriber(subscribers(file), 1003)["enabled"], false);
    Result test = run({gridlet_bin(), "notify", "test", "ops_bot", "--config", file});
    ASSERT_EQ(test.code, 0) << test.out << test.err;
    EXPECT_EQ(count_with(sent_to(api_port, 1001), "notification_test"), 1u);
    EXPECT_EQ(count_with(sent_to(api_port, 1003), "notification_test"), 0u);
    Result unknown = run({gridlet_bin(), "notify", "enable", "ops_bot", "999", "--config", file});
    EXPECT_EQ(unknown.code, 2) << unknown.err;
    EXPECT_NE(unknown.err.find("chat 999 is not subscribed"), std::string::npos) << unknown.err;

    // Ann leaves; Carl is enabled again but has blocked the bot: the next
    // message disables him, with why.
    say(api_port, 1001, "/stop", "Ann");
    ASSERT_TRUE(wait_text(api_port, 1001, "Unsubscribed", 1, 20)) << gl->err();
    ASSERT_EQ(run({gridlet_bin(), "notify", "enable", "ops_bot", "1003", "--config", file}).code, 0);
    api(api_port, "/test/block", {{"chat_id", 1003}});
    sim = std::make_unique<Process>(std::vector<std::string>{gridlet_bin(), "sim", "bcpm", "--port",
                                                             std::to_string(port), "--overloaded", "7"});
    json carl;
    for (int i = 0; i < 150; ++i) {
        subs = subscribers(file);
        carl = subscriber(subs, 1003);
        if (!carl.is_null() && carl["enabled"] == false) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    EXPECT_TRUE(subscriber(subs, 1001).is_null()) << subs;
    ASSERT_FALSE(carl.is_null()) << subs;
    EXPECT_EQ(carl["enabled"], false) << subs << gl->err();
    EXPECT_NE(carl.value("note", "").find("blocked"), std::string::npos) << carl;
    gl->signal(SIGTERM);
    EXPECT_EQ(gl->wait(), 0) << gl->err();
    EXPECT_EQ(gl->err().find("TEST-token"), std::string::npos) << "the token is never logged";
    remove_store(base + "-store");
}

// Secrets come from the environment only, and every telegram key is checked.
TEST(Telegram, CheckRefusesAMissingTokenAShortPasswordAndKeysOfOtherKinds) {
    setenv("GL_IT_SHORT_PASSWORD", "short", 1);
    setenv("GL_IT_TOKEN_OK", "1:abc", 1);
    unsetenv("GL_IT_NO_SUCH_VAR");
    const std::string file = temp_file(
        "telegram-bad.toml",
        "[site]\nname = \"tg-bad\"\n[store]\npath = \"/tmp/gl-tg-bad-store\"\n"
        "[[notifications]]\nname = \"a\"\nkind = \"telegram\"\ntoken_env = \"GL_IT_NO_SUCH_VAR\"\n"
        "password_env = \"GL_IT_SHORT_PASSWORD\"\n"
        "[[notifications]]\nname = \"b\"\nkind = \"telegram\"\ntoken_env = \"GL_IT_TOKEN_OK\"\n"
        "password_env = \"GL_IT_SHORT_PASSWORD\"\nsmtp_url = \"smtp://x:25\"\napi_url = \"ftp://x\"\n"
        "[[notifications]]\nname = \"c\"\nkind = \"webhook\"\nurl = \"http://x/\"\ntoken_env = \"GL_IT_TOKEN_OK\"\n");
    Result r = run({gridlet_bin(), "check", file});
    EXPECT_EQ(r.code, 2) << r.out << r.err;
    const std::string& e = r.err;
    EXPECT_NE(e.find(":8: [[notifications]] 'a': token_env: the environment variable 'GL_IT_NO_SUCH_VAR' is not set"),
              std::string::npos) << e;
    EXPECT_NE(e.find(":9: [[notifications]] 'a': password_env: the subscription password needs 8 characters"),
              std::string::npos) << e;
    EXPECT_NE(e.find(":15: [[notifications]] 'b': smtp_url is for kind = email, not telegram"), std::string::npos) << e;
    EXPECT_NE(e.find(":16: [[notifications]] 'b': api_url: \"https://...\""), std::string::npos) << e;
    EXPECT_NE(e.find(":21: [[notifications]] 'c': token_env is for kind = telegram, not webhook"), std::string::npos) << e;
}

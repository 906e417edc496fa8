// Notifier on a real store with a fake sender: the digest window (chatter
// in one message), filters, retries with the same id, a restart with a
// batch in flight (same message again, nothing lost or twice), the
// delivery-failure system alarm; [[notifications]] checks.
#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

#include "notify/notifier.h"
#include "store/store.h"

using namespace gridlet;
using namespace gridlet::notify;

namespace {

std::vector<NotificationConfig> parse(const std::string& text, config::Diagnostics& d) {
    return parse_notifications(toml::parse(text), "site.toml", d);
}

const char* kMail = R"([[notifications]]
name = "ops"
kind = "email"
min_criticality = "non_critical"
transitions = ["raised", "finished"]
max_wait_s = 60
smtp_url = "smtp://127.0.0.1:2525"
from = "gw@example.com"
to = ["ops@example.com"]
)";

alarm::Alarm make_alarm(uint64_t id, alarm::Criticality c = alarm::Criticality::critical, int64_t start = 1000) {
    alarm::Alarm a;
    a.id = id;
    a.key = "site/x|d/p" + std::to_string(id);
    a.name = "x";
    a.source = "d";
    a.series = "d/p";
    a.condition = "high";
    a.message = "too high";
    a.criticality = c;
    a.start_ms = start;
    return a;
}

struct Fixture {
    std::filesystem::path dir = std::filesystem::temp_directory_path() / ("notify_test_" + std::to_string(getpid()));
    std::unique_ptr<store::Store> store;
    alarm::MemoryPersistence persistence;
    alarm::AlarmTable table{persistence};
    std::vector<Batch> sent;
    int fail = 0;  // attempts to refuse
    std::unique_ptr<Notifier> n;

    Fixture() {
        std::filesystem::remove_all(dir);
        std::filesystem::remove(store::creation_record(dir));
        open();
        (void)table.load(0);
    }
    ~Fixture() {
        n.reset();
        store.reset();
        std::filesystem::remove_all(dir);
        std::filesystem::remove(store::creation_record(dir));
    }
    void open() {  // ASSERT_* needs a void function
        store::StoreOptions o;
        o.path = dir;
        auto opened = store::Store::open(o);
        ASSERT_TRUE(opened) << opened.status().message();
        store = std::move(*opened);
    }
    void make(const char* toml_text = kMail) {
        config::Diagnostics d;
        auto configs = parse(toml_text, d);
        ASSERT_TRUE(d.empty()) << d[0].to_string();
        n = std::make_unique<Notifier>(configs, store->outbox(), store->state(), "site1", TimeZone(), &table);
        n->set_sender([this](const NotificationConfig&, const Batch& b) {
            if (fail > 0) {
                --fail;
                return Status::unavailable("SMTP smtp://127.0.0.1:2525: connection refused");
            }
            sent.push_back(b);
            return Status::ok();
        });
        ASSERT_TRUE(n->start(0));
    }
};

}  // namespace

TEST(Notifier, ChangesWithinTheWindowGoOutAsOneMessageAndAChatteringAlarmIsOneEntry) {
    Fixture f;
    f.make();
    alarm::Alarm a = make_alarm(1);
    ASSERT_TRUE(f.n->on_change("raised", a, 1000));
    a.end_ms = 3000;
    ASSERT_TRUE(f.n->on_change("finished", a, 3000));
    alarm::Alarm b = make_alarm(2, alarm::Criticality::critical, 4000);
    ASSERT_TRUE(f.n->on_change("raised", b, 4000));
    b.end_ms = 5000;
    ASSERT_TRUE(f.n->on_change("finished", b, 5000));
    // The condition comes back: a new alarm (#3) of the same rule and series.
    alarm::Alarm again = make_alarm(3, alarm::Criticality::critical, 6000);
    again.key = b.key;
    ASSERT_TRUE(f.n->on_change("raised", again, 6000));
    f.n->poll(60'999);
    EXPECT_TRUE(f.sent.empty()) << "the oldest change has not waited 60 s yet";
    EXPECT_EQ(f.n->next_due_ms(), 61'000);
    f.n->poll(61'000);
    ASSERT_EQ(f.sent.size(), 1u);
    EXPECT_EQ(f.sent[0].changes.size(), 5u);
    EXPECT_EQ(f.sent[0].id, "site1.ops.1-5");
    const EmailText t = email_text("site1", TimeZone(), f.sent[0]);
    EXPECT_EQ(t.subject, "[gridlet site1] CRITICAL x raised (d) and 1 more alarm(s)");
    EXPECT_NE(t.body.find("5 alarm change(s), 2 alarm(s)"), std::string::npos) << t.body;
    EXPECT_NE(t.body.find("#2 #3 x - critical - d - d/p\n"), std::string::npos) << t.body;
    EXPECT_NE(t.body.find("raised 1970-01-01T00:00:04Z (#2), finished 1970-01-01T00:00:05Z (#2), "
                          "raised 1970-01-01T00:00:06Z (#3)"),
              std::string::npos)
        << "the chatter of d/p is one entry\n"
        << t.body;
    EXPECT_EQ(f.n->counters().pending, 0u);
    EXPECT_EQ(*f.store->outbox().size("notify/ops"), 0u) << "sent: removed from the outbox";
}

TEST(Notifier, FiltersByCriticalityTransitionAlertTypeAndSource) {
    Fixture f;
    f.make(R"([[notifications]]
name = "comm"
kind = "webhook"
url = "http://127.0.0.1:9/hook"
min_criticality = "information"
transitions = ["raised"]
alert_types = ["communication"]
sources = ["panel*"]
max_wait_s = 0
)");
    alarm::Alarm lost = make_alarm(1);
    lost.category = "communication";
    lost.source = "panel1";
    alarm::Alarm other_source = lost;
    other_source.id = 2;
    other_source.source = "meter";
    alarm::Alarm threshold = make_alarm(3);
    threshold.source = "panel1";
    ASSERT_TRUE(f.n->on_change("raised", lost, 1000));
    ASSERT_TRUE(f.n->on_change("finished", lost, 1000));
    ASSERT_TRUE(f.n->on_change("raised", other_source, 1000));
    ASSERT_TRUE(f.n->on_change("raised", threshold, 1000));
    f.n->poll(1000);
    ASSERT_EQ(f.sent.size(), 1u);
    ASSERT_EQ(f.sent[0].changes.size(), 1u);
    EXPECT_EQ(f.sent[0].changes[0].alarm.id, 1u);
    EXPECT_EQ(alert_type_of(threshold), "threshold");
}

TEST(Notifier, AFailedBatchIsRetriedWithBackoffAsTheSameMessageAndRaisesASystemAlarm) {
    Fixture f;
    f.make();
    f.fail = 3;
    ASSERT_TRUE(f.n->on_change("raised", make_alarm(1), 0));
    f.n->poll(60'000);  // attempt 1 fails
    EXPECT_EQ(f.n->next_due_ms(), 65'000);
    // A change that comes while the batch is in flight waits for the next one.
    ASSERT_TRUE(f.n->on_change("raised", make_alarm(2), 61'000));
    f.n->poll(64'999);
    f.n->poll(65'000);  // attempt 2 fails; next in 10 s
    f.n->poll(75'000);  // attempt 3 fails: the system alarm
    auto alarm = f.table.active("system/notification_failed|ops");
    ASSERT_TRUE(alarm);
    EXPECT_EQ(alarm->criticality, alarm::Criticality::critical);
    EXPECT_NE(alarm->message.find("connection refused"), std::string::npos);
    EXPECT_TRUE(f.sent.empty());
    f.n->poll(95'000);  // attempt 4 (20 s later) works
    ASSERT_EQ(f.sent.size(), 1u);
    EXPECT_EQ(f.sent[0].id, "site1.ops.1-1") << "the batch is the one first tried";
    EXPECT_FALSE(f.table.active("system/notification_failed|ops")) << "ended by the delivery";
    f.n->poll(121'000);  // alarm 2 waited its 60 s
    ASSERT_EQ(f.sent.size(), 2u);
    EXPECT_EQ(f.sent[1].id, "site1.ops.2-2");
    EXPECT_EQ(f.n->counters().failures, 3u);
    EXPECT_EQ(f.n->counters().messages, 2u);
}

TEST(Notifier, ARestartWithABatchInFlightSendsTheSameMessageOnceAndLosesNothing) {
    Fixture f;
    f.make();
    f.fail = 1;
    ASSERT_TRUE(f.n->on_change("raised", make_alarm(1), 0));
    ASSERT_TRUE(f.n->on_change("raised", make_alarm(2), 10));
    f.n->poll(60'000);  // in flight: 1-2, failed
    ASSERT_TRUE(f.n->on_change("raised", make_alarm(3), 61'000));
    // gridlet stops (or is killed); the store keeps the queue and the batch.
    f.n.reset();
    f.store.reset();
    f.open();
    f.make();
    EXPECT_EQ(f.n->counters().pending, 3u);
    EXPECT_EQ(f.n->next_due_ms(), 0) << "the batch in flight is due at once (no attempt since the restart)";
    f.n->poll(61'500);
    ASSERT_EQ(f.sent.size(), 1u);
    EXPECT_EQ(f.sent[0].id, "site1.ops.1-2") << "the same message as before the restart";
    EXPECT_EQ(f.sent[0].changes.size(), 2u);
    f.n->poll(121'000);
    ASSERT_EQ(f.sent.size(), 2u);
    EXPECT_EQ(f.sent[1].id, "site1.ops.3-3");
    f.n->poll(200'000);
    EXPECT_EQ(f.sent.size(), 2u) << "nothing twice";
}

// A gateway restarting again and again during an outage: the failed
// attempts add up across restarts, so the third one still raises
// notification_failed (before, each restart started the count again).
TEST(Notifier, FailedAttemptsAreCountedAcrossRestarts) {
    Fixture f;
    f.make();
    f.fail = 10;
    ASSERT_TRUE(f.n->on_change("raised", make_alarm(1), 0));
    int64_t now = 60'000;
    for (int restart = 0; restart < 3; ++restart) {
        f.n->poll(now);  // one failed attempt, then a restart
        EXPECT_EQ(f.table.active("system/notification_failed|ops").has_value(), restart == 2) << "restart " << restart;
        f.n.reset();
        f.store.reset();
        f.open();
        f.make();
        EXPECT_EQ(f.n->next_due_ms(), 0) << "due at once after a restart";
        now += 1000;
    }
    EXPECT_TRUE(f.table.active("system/notification_failed|ops")) << "three failures, across two restarts";
    f.fail = 0;
    f.n->poll(now);
    ASSERT_EQ(f.sent.size(), 1u);
    EXPECT_EQ(f.sent[0].id, "site1.ops.1-1");
    EXPECT_FALSE(f.table.active("system/notification_failed|ops"));
}

TEST(Notifier, EmailMessageHeadersCannotBeInjected) {
    config::Diagnostics d;
    auto c = parse(kMail, d);
    ASSERT_TRUE(d.empty());
    Batch b;
    b.id = "s.ops.1-1";
    alarm::Alarm a = make_alarm(1);
    a.name = "x\r\nBcc: evil@example.com";
    a.message = "line1\n.\nline3";
    b.changes.push_back({"raised", a});
    const std::string m = email_message(c[0], "s", TimeZone(), b, 0);
    const std::string headers = m.substr(0, m.find("\r\n\r\n"));
    EXPECT_EQ(headers.find("\r\nBcc:"), std::string::npos) << m;
    const std::string body = m.substr(headers.size() + 4);
    for (size_t i = 0; i < body.size(); ++i) {
        if (body[i] != '\r') continue;
        EXPECT_EQ(body[i + 1], '\n') << "a bare CR in the body at " << i;
    }
    EXPECT_NE(m.find("Message-ID: <s.ops.1-1@gridlet>\r\n"), std::string::npos);
    EXPECT_NE(m.find("Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"), std::string::npos) << m;
}

TEST(NotificationConfig, EveryMalformedEntryIsRefusedWithItsLine) {
    struct Case {
        const char* toml;
        uint32_t line;
        const char* says;
    };
    const Case cases[] = {
        {"[[notifications]]\nname = \"a\"\nkind = \"sms\"\n", 3, "sms"},
        {"[[notifications]]\nname = \"a\"\nkind = \"email\"\nfrom = \"a@b.c\"\nto = [\"x@y.z\"]\n", 3, "smtp_url"},
        {"[[notifications]]\nname = \"a\"\nkind = \"email\"\nsmtp_url = \"http://x\"\nfrom = \"a@b.c\"\nto = [\"x@y.z\"]\n",
         4, "smtp://"},
        {"[[notifications]]\nname = \"a\"\nkind = \"email\"\nsmtp_url = \"smtp://x\"\nfrom = \"nobody\"\nto = [\"x@y.z\"]\n",
         5, "sender address"},
        {"[[notifications]]\nname = \"a\"\nkind = \"email\"\nsmtp_url = \"smtp://x\"\nfrom = \"a@b.c\"\nto = []\n", 6,
         "1 to 10"},
        {"[[notifications]]\nname = \"a\"\nkind = \"email\"\nsmtp_url = \"smtp://x\"\nfrom = \"a@b.c\"\n"
         "to = [\"x@y.z\"]\nusername = \"gw\"\npassword_env = \"GRIDLET_TEST_NO_SUCH_VARIABLE\"\n",
         8, "is not set"},
        {"[[notifications]]\nname = \"a\"\nkind = \"webhook\"\nurl = \"ftp://x\"\n", 4, "http://"},
        {"[[notifications]]\nname = \"a\"\nkind = \"webhook\"\nurl = \"http://x\"\nto = [\"x@y.z\"]\n", 5, "for kind = email"},
        {"[[notifications]]\nname = \"a\"\nkind = \"telegram\"\npassword_env = \"HOME\"\n", 3, "needs token_env"},
        {"[[notifications]]\nname = \"a\"\nkind = \"telegram\"\ntoken_env = \"GRIDLET_TEST_NO_SUCH_VARIABLE\"\n"
         "password_env = \"HOME\"\n", 4, "is not set"},
        {"[[notifications]]\nname = \"a\"\nkind = \"telegram\"\ntoken_env = \"HOME\"\npassword_env = \"HOME\"\n", 4,
         "not a bot token"},
        {"[[notifications]]\nname = \"a\"\nkind = \"email\"\nsmtp_url = \"smtp://x\"\nfrom = \"a@b.c\"\n"
         "to = [\"x@y.z\"]\napi_url = \"https://x\"\n", 7, "api_url is for kind = telegram, not email"},
        {"[[notifications]]\nname = \"a\"\nkind = \"telegram\"\ntoken_env = \"HOME\"\npassword_env = \"HOME\"\n"
         "api_url = \"http://api.example.com\"\n", 6, "http:// only to this machine"},
        {"[[notifications]]\nname = \"a\"\nkind = \"webhook\"\nurl = \"http://x\"\nsources = [\"\"]\n", 5,
         "an empty pattern"},
        {"[[notifications]]\nname = \"a\"\nkind = \"webhook\"\nurl = \"http://x\"\nca_file = \"/nonexistent.pem\"\n", 5,
         "cannot read '/nonexistent.pem'"},
        {"[[notifications]]\nname = \"a\"\nkind = \"email\"\nsmtp_url = \"smtp://x\"\nfrom = \"a@b.c\"\n"
         "to = [\"x@y.z\"]\nusername = \"gw\"\n", 7, "both username and password_env"},
        {"[[notifications]]\nname = \".\"\nkind = \"webhook\"\nurl = \"http://x\"\n", 2, "starts with a letter"},
        {"[[notifications]]\nname = \"a\"\nkind = \"webhook\"\nurl = 3\n", 4, "[[notifications]] 'a'"},
        {"[[notifications]]\nname = \"a\"\nkind = \"webhook\"\nurl = \"http://x\"\ntransitions = [\"opened\"]\n", 5,
         "opened"},
        {"[[notifications]]\nname = \"a\"\nkind = \"webhook\"\nurl = \"http://x\"\nalert_types = [\"weather\"]\n", 5,
         "weather"},
        {"[[notifications]]\nname = \"a\"\nkind = \"webhook\"\nurl = \"http://x\"\nmax_wait_s = -1\n", 5, "max_wait_s"},
        {"[[notifications]]\nname = \"a\"\nkind = \"webhook\"\nurl = \"http://x\"\n[[notifications]]\nname = \"a\"\n"
         "kind = \"webhook\"\nurl = \"http://y\"\n",
         6, "already defined"},
    };
    for (const Case& c : cases) {
        config::Diagnostics d;
        (void)parse(c.toml, d);
        ASSERT_FALSE(d.empty()) << "accepted:\n" << c.toml;
        EXPECT_EQ(d[0].line, c.line) << c.toml << d[0].to_string();
        EXPECT_NE(d[0].to_string().find(c.says), std::string::npos) << c.toml << d[0].to_string();
    }
}

TEST(Telegram, LongMessagesAreSplitAtLineBreaksAndNeverInsideAUtf8Sequence) {
    EXPECT_EQ(split_message("short", 4000), std::vector<std::string>{"short"});
    EXPECT_TRUE(split_message("", 4000).empty());
    const auto lines = split_message("aaaa\nbbbb\ncccc", 10);
    EXPECT_EQ(lines, (std::vector<std::string>{"aaaa\nbbbb\n", "cccc"}));
    // No line break within reach: cut, but not inside "é" (2 bytes).
    std::string text;
    for (int i = 0; i < 9; ++i) text += "\xc3\xa9";
    const auto parts = split_message(text, 5);
    std::string joined;
    for (const auto& p : parts) {
        EXPECT_LE(p.size(), 5u);
        EXPECT_EQ(p.size() % 2, 0u) << "a part ends inside a UTF-8 sequence";
        joined += p;
    }
    EXPECT_EQ(joined, text);
}

// Queueing a change needs a notification's filters, not its secrets (an
// acknowledgement on a stopped site); `notify test NAME` needs only NAME's.
TEST(NotificationConfig, SecretsAreReadForAllForNoneOrForOne) {
    const char* text = "[[notifications]]\nname = \"bot\"\nkind = \"telegram\"\ntoken_env = \"GRIDLET_TEST_NO_SUCH_VARIABLE\"\n"
                       "password_env = \"GRIDLET_TEST_NO_SUCH_VARIABLE\"\n"
                       "[[notifications]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:1/\"\n";
    config::Diagnostics all, none, one_hook, one_bot;
    EXPECT_EQ(parse_notifications(toml::parse(text), "s.toml", all).size(), 1u);
    EXPECT_EQ(all.size(), 2u) << "both of bot's variables are missing";
    EXPECT_EQ(parse_notifications(toml::parse(text), "s.toml", none, Secrets::skip).size(), 2u);
    EXPECT_TRUE(none.empty()) << none.front().to_string();
    EXPECT_EQ(parse_notifications(toml::parse(text), "s.toml", one_hook, Secrets::only_one, "hook").size(), 2u);
    EXPECT_TRUE(one_hook.empty());
    (void)parse_notifications(toml::parse(text), "s.toml", one_bot, Secrets::only_one, "bot");
    EXPECT_EQ(one_bot.size(), 2u);
}

TEST(NotificationConfig, AControlCharacterInANameIsShownNotSentToTheTerminal) {
    config::Diagnostics d;
    (void)parse_notifications(toml::parse("[[notifications]]\nname = \"x\\u0000y\"\nkind = \"webhook\"\nurl = \"http://x\"\n"),
                              "s.toml", d);
    ASSERT_FALSE(d.empty());
    EXPECT_NE(d[0].to_string().find("x\\x00y"), std::string::npos) << d[0].to_string();
    EXPECT_EQ(d[0].to_string().find('\0'), std::string::npos);
}

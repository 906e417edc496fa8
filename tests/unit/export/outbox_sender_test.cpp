// [[export_targets]] (export/export_target.h) refused key by key with their
// lines; the export outbox (export/outbox_sender.h): a file queued once even
// when the scheduler repeats a period after a crash, a full queue holding
// the export's periods back (nothing dropped), files pushed in order and
// removed only once the server took them, failures retried with backoff,
// alarmed after 3 and cleared by the next file delivered, across restarts.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <toml++/toml.h>

#include "alarm/alarm_table.h"
#include "export/export_scheduler.h"
#include "export/outbox_sender.h"
#include "notify/notification_config.h"
#include "store/store.h"
#include "unit/store/test_util.h"

using namespace gridlet;
using namespace gridlet::exporter;
using namespace gridlet::store;
using namespace gridlet::store::test;

namespace {

std::vector<TargetConfig> targets(const std::string& text, config::Diagnostics& diags) {
    toml::table root = toml::parse(text, std::string("/etc/gridlet/site.toml"));
    return parse_export_targets(root, "/etc/gridlet/site.toml", diags);
}

TargetConfig target(const std::string& name, uint64_t max_files = 100) {
    TargetConfig t;
    t.name = name;
    t.url = "ftp://127.0.0.1/in/";
    t.max_files = max_files;
    return t;
}

QueuedFile file(const std::string& name, const std::string& bytes = "a;b\r\n") {
    return QueuedFile{"x", name, bytes, 0, 0, 0};
}

}  // namespace

TEST(ExportTargetConfig, AGoodTargetOfEachKind) {
    setenv("GRIDLET_UT_PW", "pw", 1);
    config::Diagnostics diags;
    auto t = targets("[[export_targets]]\nname = \"a\"\nurl = \"ftp://h:2121/in/\"\nusername = \"u\"\n"
                     "password_env = \"GRIDLET_UT_PW\"\n"
                     "[[export_targets]]\nname = \"b\"\nurl = \"ftps://h/in/\"\n"
                     "[[export_targets]]\nname = \"c\"\nurl = \"sftp://h:22/~/in/\"\nusername = \"u\"\n"
                     "password_env = \"GRIDLET_UT_PW\"\nhost_key_sha256 = \"SHA256:Tw9mQohs8kLuvRWRsFi0h+pjJ1+BLtvGUbReIuUIe8c\"\n"
                     "[[export_targets]]\nname = \"d\"\nurl = \"https://h/api/files\"\nmethod = \"post\"\n"
                     "pinned_key = \"sha256//YhKJKSzoTt2b5FP18fvpHo7fJYqQCjAa3HWY3tvRMwE=\"\ntimeout = \"1m\"\nretry = \"5s\"\n"
                     "[[export_targets]]\nname = \"e\"\nurl = \"ftp://h/in/\"\ntls = \"none\"\n",
                     diags);
    ASSERT_TRUE(diags.empty()) << diags.front().to_string();
    ASSERT_EQ(t.size(), 5u);
    EXPECT_EQ(t[0].protocol, Protocol::ftp);
    EXPECT_TRUE(t[0].explicit_tls) << "TLS is the default of ftp://";
    EXPECT_EQ(t[0].password, "pw");
    EXPECT_EQ(t[2].host_key_sha256, "Tw9mQohs8kLuvRWRsFi0h+pjJ1+BLtvGUbReIuUIe8c=");
    EXPECT_TRUE(t[3].post);
    EXPECT_EQ(t[3].timeout_ms, 60'000);
    EXPECT_EQ(t[3].retry_ms, 5'000);
    EXPECT_FALSE(t[4].explicit_tls);
    EXPECT_EQ(outbox_queue("a"), "export/a");
}

TEST(ExportTargetConfig, EveryMalformedTargetIsRefusedWithItsLine) {
    unsetenv("GRIDLET_UT_UNSET");
    setenv("GRIDLET_UT_PW", "pw", 1);
    TempDir files;
    const auto file = [&](const char* name, const std::string& text) {
        const std::string p = (files.path() / name).string();
        std::ofstream(p) << text;
        return p;
    };
    const std::string key = file("id", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbg==\n-----END OPENSSH PRIVATE KEY-----\n");
    const std::string pub = file("id.pub", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 me@host\n");
    const std::string hosts = file("known_hosts", "[127.0.0.1]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\n");
    const std::string empty = file("empty", "");
    const std::string ca = file("ca.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"url = \"gopher://h/in/\"", "ftp://, ftps://, sftp://, http:// or https://"},
        {"url = \"ftp://u:pw@h/in/\"", "no login in the URL"},
        {"url = \"ftp://h/in\"", "ending with '/'"},
        {"url = \"ftp:///in/\"", "no host"},
        {"url = \"https://h/in\"", "ending with '/'"},
        {"url = \"ftp://h/in/\"\nmethod = \"post\"", "method is for http"},
        {"url = \"sftp://h/in/\"\ntls = \"none\"\nusername = \"u\"", "tls is for ftp://"},
        {"url = \"ftp://h/in/\"\nusername = \"u\"\npassword_env = \"GRIDLET_UT_UNSET\"", "'GRIDLET_UT_UNSET' is not set"},
        {"url = \"sftp://h/in/\"\nusername = \"u\"\nkey_file = \"/nonexistent/key\"\nknown_hosts = \"" + hosts + "\"",
         "key_file: no file /nonexistent/key"},
        {"url = \"sftp://h/in/\"\nusername = \"u\"\nkey_file = \"" + key + "\"", "gridlet never trusts an unknown server"},
        {"url = \"sftp://h/in/\"\nkey_file = \"" + key + "\"\nknown_hosts = \"" + hosts + "\"", "needs username"},
        {"url = \"sftp://h/in/\"\nusername = \"u\"\nknown_hosts = \"" + hosts + "\"", "needs key_file or password_env"},
        {"url = \"sftp://h/in/\"\nusername = \"u\"\nkey_file = \"" + key + "\"\nhost_key_sha256 = \"MD5:12\"",
         "43 characters of base64"},
        {"url = \"ftp://h/in/\"\nknown_hosts = \"" + hosts + "\"", "known_hosts is for sftp://"},
        {"url = \"https://h/in/\"\npinned_key = \"abc\"", "is not sha256//"},
        {"url = \"http://h/in/\"\npinned_key = \"sha256//YhKJKSzoTt2b5FP18fvpHo7fJYqQCjAa3HWY3tvRMwE=\"",
         "pinned_key is for TLS targets"},
        {"url = \"ftp://h/in/\"\ntls = \"none\"\nca_file = \"" + ca + "\"", "ca_file is for TLS targets"},
        {"url = \"ftp://h/in/\"\ntimeout = \"0s\"", "timeout: '0s'"},
        {"url = \"ftp://h/in/\"\nretry = \"1h\"", "retry: '1h'"},
        {"url = \"ftp://h/in/\"\nmax_files = 0", "max_files"},
        {"url = \"ftp://h/in/\"\nport = 21", "port"},
        {"url = \"http://127.0.0.1:99999/x/\"", "the port '99999' is not 1 to 65535"},
        {"url = \"https://h/up/?token=abc\"", "a query (?...) or fragment (#...) cannot take a file name"},
        {"url = \"ftp://h/in/\\r\\nX/\"", "a control character"},
        {"url = \"http://h/in/\"\nusername = \"u\"\npassword_env = \"GRIDLET_UT_PW\"", "password in clear text: use https://"},
        {"url = \"sftp://h/in/\"\nusername = \"u\"\nkey_file = \"" + pub + "\"\nknown_hosts = \"" + hosts + "\"",
         "is not a private key"},
        {"url = \"sftp://h/in/\"\nusername = \"u\"\nkey_file = \"" + key + "\"\nknown_hosts = \"" + empty + "\"",
         "is not an OpenSSH known_hosts file"},
        {"url = \"sftp://h/in/\"\nusername = \"u\"\nkey_file = \"" + key + "\"\nknown_hosts = \"" + hosts +
             "\"\nhost_key_sha256 = \"SHA256:Tw9mQohs8kLuvRWRsFi0h+pjJ1+BLtvGUbReIuUIe8c\"",
         "one or the other"},
        {"url = \"https://h/in/\"\nca_file = \"" + hosts + "\"", "is not PEM CA certificates"},
    };
    for (const auto& [body, want] : cases) {
        config::Diagnostics diags;
        targets("[site]\nname = \"s\"\n\n[[export_targets]]\nname = \"t\"\n" + body + "\n", diags);
        ASSERT_FALSE(diags.empty()) << body;
        EXPECT_NE(diags.front().message.find(want), std::string::npos) << body << "\n -> " << diags.front().to_string();
        EXPECT_GE(diags.front().line, 4u) << body << " -> " << diags.front().to_string();
    }
    // A login in the URL is never repeated, not even in the refusal.
    {
        config::Diagnostics d;
        targets("[[export_targets]]\nname = \"t\"\nurl = \"ftp://gw:s3cretPW!@h/in/\"\n", d);
        ASSERT_FALSE(d.empty());
        EXPECT_EQ(d.front().message.find("s3cretPW"), std::string::npos) << d.front().message;
        EXPECT_NE(d.front().message.find("ftp://***@h/in/"), std::string::npos) << d.front().message;
    }
    // The commands that only read the outbox need no secret.
    {
        config::Diagnostics d;
        toml::table root = toml::parse("[[export_targets]]\nname = \"t\"\nurl = \"ftp://h/in/\"\nusername = \"u\"\n"
                                       "password_env = \"GRIDLET_UT_UNSET\"\n",
                                       std::string("/site.toml"));
        auto t = parse_export_targets(root, "/site.toml", d, TargetSecrets::skip);
        EXPECT_TRUE(d.empty()) << d.front().to_string();
        ASSERT_EQ(t.size(), 1u);
        EXPECT_TRUE(t[0].password.empty());
    }
    // Two targets of one name; an export naming a target that does not exist.
    config::Diagnostics diags;
    auto t = targets("[[export_targets]]\nname = \"t\"\nurl = \"ftp://h/a/\"\n[[export_targets]]\nname = \"t\"\n"
                     "url = \"ftp://h/b/\"\n",
                     diags);
    ASSERT_EQ(diags.size(), 1u);
    EXPECT_EQ(diags[0].line, 5u);  // the second name
    EXPECT_NE(diags[0].message.find("already defined"), std::string::npos);
    config::Diagnostics ediags;
    toml::table root = toml::parse("[[exports]]\nname = \"x\"\nformat = \"socomec_csv\"\nserver_name = \"s\"\n"
                                   "targets = [\"t\", \"nope\"]\n[[exports.variables]]\nseries = \"m/p\"\n",
                                   std::string("/site.toml"));
    model::SiteModel m;
    parse_exports(root, "/site.toml", "acme", m, ediags, t);
    ASSERT_EQ(ediags.size(), 1u);
    EXPECT_EQ(ediags[0].line, 5u);
    EXPECT_NE(ediags[0].message.find("'nope' is not an [[export_targets]] name"), std::string::npos);
}

// An e-mail target: the settings of a [[notifications]] e-mail entry, its
// own recipients; each fault said once, on its own line.
TEST(ExportTargetConfig, EmailTargetsTakeANotificationsServerAndSayEachFaultOnce) {
    unsetenv("GRIDLET_UT_UNSET");
    const std::string notes =
        "[site]\nname = \"s\"\n"
        "[[notifications]]\nname = \"mail\"\nkind = \"email\"\nsmtp_url = \"smtp://127.0.0.1:2525\"\nstarttls = \"none\"\n"
        "from = \"gw@x.example\"\nto = [\"ops@x.example\"]\n"
        "[[notifications]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"https://h.example/x\"\n"
        "[[notifications]]\nname = \"broken\"\nkind = \"email\"\nsmtp_url = \"smtp://h\"\nfrom = \"a@b.c\"\n"
        "to = [\"a@b.c\"]\nusername = \"u\"\npassword_env = \"GRIDLET_UT_UNSET\"\n";
    const auto parse = [&](const std::string& target, config::Diagnostics& diags) {
        toml::table root = toml::parse(notes + "[[export_targets]]\nname = \"t\"\n" + target + "\n", std::string("/site.toml"));
        const auto n = notify::parse_notifications(root, "/site.toml", diags);
        diags.clear();  // the broken entry's own error is not this test's
        return parse_export_targets(root, "/site.toml", diags, TargetSecrets::read, n);
    };
    {
        config::Diagnostics d;
        auto t = parse("email = \"mail\"", d);
        ASSERT_TRUE(d.empty()) << d.front().to_string();
        ASSERT_EQ(t.size(), 1u);
        EXPECT_EQ(t[0].protocol, Protocol::email);
        EXPECT_EQ(t[0].to, std::vector<std::string>{"ops@x.example"}) << "the entry's recipients by default";
        EXPECT_EQ(t[0].smtp.smtp_url, "smtp://127.0.0.1:2525");
        EXPECT_EQ(t[0].site, "s");
    }
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"email = \"hook\"", "'hook' is not a [[notifications]] entry of kind email (it is a webhook) (there are: mail)"},
        {"email = \"nope\"", "'nope' is not a [[notifications]] entry of kind email"},
        {"email = \"mail\"\nto = [\"not an address\"]", "'not an address' is not an e-mail address"},
        {"email = \"mail\"\nto = [\"Ops <ops@x.example>\"]", "is not an e-mail address"},
        {"email = \"mail\"\nto = [3]", "entry 1 is of type integer, not an address in quotes"},
        {"email = \"mail\"\nto = [\"a@b.c\", \"a@b.c\", \"a@b.c\"]", "'a@b.c' is named more than once"},
        {"email = 5", "'email' must be string, not integer"},
        {"email = \"mail\"\nto = [\"x@y.z>\\r\\nBcc: evil@x.y\"]", "'x@y.z>\\x0D\\x0ABcc: evil@x.y'"},
        {"email = \"mail\"\nto = []", "to is empty"},
        {"email = \"mail\"\nusername = \"u\"", "username: an e-mail target takes the server, login and TLS"},
        {"email = \"mail\"\nurl = \"ftp://h/in/\"", "url and email: one or the other"},
        {"url = \"ftp://h/in/\"\nto = [\"a@b.c\"]", "to is for e-mail targets"},
    };
    for (const auto& [body, want] : cases) {
        config::Diagnostics diags;
        parse(body, diags);
        ASSERT_EQ(diags.size(), 1u) << body << (diags.empty() ? std::string() : "\n -> " + diags.front().to_string() + (diags.size() > 1 ? "\n -> " + diags[1].to_string() : ""));
        EXPECT_NE(diags.front().message.find(want), std::string::npos) << body << "\n -> " << diags.front().to_string();
        EXPECT_EQ(diags.front().message.find('\n'), std::string::npos) << "one line: " << diags.front().message;
    }
    // A target naming an entry that was refused itself: that entry's error only.
    config::Diagnostics d;
    parse("email = \"broken\"", d);
    EXPECT_TRUE(d.empty()) << d.front().to_string();
    // A target refused for a wrong type is still known by name: an export
    // naming it gets no second error.
    config::Diagnostics d2;
    auto t = parse("email = \"mail\"\nto = \"a@b.c\"", d2);
    ASSERT_EQ(d2.size(), 1u) << d2.back().to_string();
    EXPECT_NE(d2.front().message.find("'to' must be array, not string"), std::string::npos) << d2.front().to_string();
    toml::table root = toml::parse("[[exports]]\nname = \"x\"\nformat = \"socomec_csv\"\nserver_name = \"s\"\n"
                                   "targets = [\"t\"]\n[[exports.variables]]\nseries = \"m/p\"\n",
                                   std::string("/site.toml"));
    model::SiteModel m;
    parse_exports(root, "/site.toml", "acme", m, d2, t);
    EXPECT_EQ(d2.size(), 1u) << d2.back().to_string();
}

TEST(ExportOutbox, AFileIsQueuedOnceAndAFullQueueHoldsThePeriodBack) {
    TempDir dir;
    auto store = std::move(Store::open(test_options(dir.path())).value());
    const TargetConfig t = target("office", 3);
    ASSERT_TRUE(enqueue_file(store->outbox(), t, file("a.csv")));
    ASSERT_TRUE(enqueue_file(store->outbox(), t, file("a.csv"))) << "a repeat after a crash";
    EXPECT_EQ(*store->outbox().size("export/office"), 1u);
    ASSERT_TRUE(enqueue_file(store->outbox(), t, file("a.csv", "other bytes")));
    EXPECT_EQ(*store->outbox().size("export/office"), 2u) << "the same name with other bytes is another file";
    ASSERT_TRUE(enqueue_file(store->outbox(), t, file("b.csv")));
    Status full = enqueue_file(store->outbox(), t, file("c.csv"));
    ASSERT_FALSE(full);
    EXPECT_EQ(full.message(), "the outbox of target 'office' is full (3 files wait, max_files = 3)");
    EXPECT_NE(full.message().find("the outbox of target 'office' is full (3 files wait, max_files = 3)"),
              std::string::npos)
        << full.message();
    EXPECT_EQ(store->outbox().dropped("export/office"), 0u);
    auto e = store->outbox().read("export/office", 0, 10);
    ASSERT_EQ(e->size(), 3u);
    auto back = decode_queued((*e)[2]);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->file_name, "b.csv");
    EXPECT_EQ(back->bytes, "a;b\r\n");
    EXPECT_FALSE(decode_queued(OutboxEntry{9, "no header"}));
}

TEST(ExportOutbox, TheSchedulerWaitsWhileATargetsOutboxIsFull) {
    TempDir dir;
    auto store = std::move(Store::open(test_options(dir.path())).value());
    const TimeZone paris = *TimeZone::load("Europe/Paris");
    const int64_t t0 = *paris.parse_iso("2024-05-02T10:00");
    const uint32_t id = *store->registry().intern(meta("m/p"));
    std::vector<gl_sample> b;
    for (int i = 0; i < 120; ++i) b.push_back(gs(id, t0 + i * 60'000, i));
    ASSERT_TRUE(store->append(b));
    config::Diagnostics diags;
    std::vector<TargetConfig> ts = {target("office", 2)};
    toml::table root = toml::parse("[[exports]]\nname = \"x\"\nformat = \"socomec_csv\"\nserver_name = \"s\"\n"
                                   "every = \"10m\"\ndelay = \"0s\"\ntargets = [\"office\"]\n[[exports.variables]]\n"
                                   "series = \"m/p\"\n",
                                   std::string("/site.toml"));
    model::SiteModel m;
    auto ex = parse_exports(root, "/site.toml", "acme", m, diags, ts);
    ASSERT_TRUE(diags.empty()) << diags.front().to_string();
    ASSERT_TRUE(ex[0].scheduled());
    ExportScheduler sch(ex, store->query(), store->registry(), store->state(), paris, nullptr, ts, &store->outbox());
    ASSERT_TRUE(sch.start(t0));
    sch.poll(t0 + 60 * 60'000);  // six periods due; room for two
    EXPECT_EQ(*store->outbox().size("export/office"), 2u);
    EXPECT_EQ(*sch.delivered_until("x"), t0 + 20 * 60'000) << "the periods without room wait";
    EXPECT_EQ(sch.counters().behind, 4u);
    // The server takes the two: the next two periods go in (after the backoff).
    ASSERT_TRUE(store->outbox().ack("export/office", 2));
    sch.poll(t0 + 60 * 60'000 + 11'000);
    EXPECT_EQ(*sch.delivered_until("x"), t0 + 40 * 60'000);
    auto e = store->outbox().read("export/office", 0, 10);
    ASSERT_EQ(e->size(), 2u);
    EXPECT_EQ(decode_queued((*e)[0])->file_name, "acme_s_m_Avg_2024-05-02_10-30-00.csv");
}

TEST(ExportOutbox, FilesGoInOrderOnlyOnceTakenFailuresBackOffAlarmAndClear) {
    TempDir dir;
    auto store = std::move(Store::open(test_options(dir.path())).value());
    alarm::MemoryPersistence mem;
    alarm::AlarmTable alarms(mem);
    const int64_t t0 = 1'700'000'000'000;
    ASSERT_TRUE(alarms.load(t0));
    TargetConfig t = target("office");
    for (const char* n : {"1.csv", "2.csv", "3.csv"}) ASSERT_TRUE(enqueue_file(store->outbox(), t, file(n)));
    bool up = false;
    std::vector<std::string> received;
    int attempts = 0;
    const auto push = [&](const TargetConfig&, const QueuedFile& f, const std::function<bool()>&) {
        ++attempts;
        if (!up) return Status::unavailable("connection refused");
        received.push_back(f.file_name);
        return Status::ok();
    };
    const std::string key = "system/export_delivery_failed|office";
    {
        OutboxSender s({t}, store->outbox(), store->state(), &alarms, push);
        ASSERT_TRUE(s.start(t0));
        s.poll(t0, nullptr);
        EXPECT_EQ(attempts, 1) << "a failure stops the queue (order kept)";
        s.poll(t0 + 9'000, nullptr);
        EXPECT_EQ(attempts, 1) << "backoff: 10 s";
        s.poll(t0 + 10'000, nullptr);
        EXPECT_EQ(attempts, 2);
        EXPECT_FALSE(alarms.active(key));
        s.poll(t0 + 29'000, nullptr);
        EXPECT_EQ(attempts, 2) << "then 20 s";
        s.poll(t0 + 30'000, nullptr);
        EXPECT_EQ(attempts, 3);
        EXPECT_TRUE(alarms.active(key)) << "3 failures in a row";
        EXPECT_EQ(s.counters().failures, 3u);
        EXPECT_EQ(s.counters().waiting, 3u);
        EXPECT_EQ(*store->outbox().size("export/office"), 3u) << "nothing removed";
    }
    const TargetState saved = read_target_state(store->state(), "office");
    EXPECT_EQ(saved.attempts, 3);
    EXPECT_NE(saved.last_error.find("connection refused"), std::string::npos);
    // Restarted: tried at once; the server is back: all three, in order, once.
    up = true;
    OutboxSender s({t}, store->outbox(), store->state(), &alarms, push);
    ASSERT_TRUE(s.start(t0 + 40'000));
    s.poll(t0 + 40'000, nullptr);
    EXPECT_EQ(received, (std::vector<std::string>{"1.csv", "2.csv", "3.csv"}));
    EXPECT_FALSE(alarms.active(key)) << "cleared by the files delivered";
    EXPECT_EQ(*store->outbox().size("export/office"), 0u);
    EXPECT_EQ(s.counters().sent, 3u);
    EXPECT_EQ(read_target_state(store->state(), "office").attempts, 0);
    s.poll(t0 + 50'000, nullptr);
    EXPECT_EQ(received.size(), 3u) << "nothing sent twice";
    // Stopping in the middle of a transfer is not a failure of the server.
    ASSERT_TRUE(enqueue_file(store->outbox(), t, file("4.csv")));
    bool stopping = false;
    OutboxSender cancelled({t}, store->outbox(), store->state(), &alarms,
                           [&](const TargetConfig&, const QueuedFile&, const std::function<bool()>&) {
                               stopping = true;
                               return Status::unavailable("aborted");
                           });
    ASSERT_TRUE(cancelled.start(t0 + 60'000));
    cancelled.poll(t0 + 60'000, [&] { return stopping; });
    EXPECT_EQ(cancelled.counters().failures, 0u);
    EXPECT_EQ(*store->outbox().size("export/office"), 1u) << "still waits for the next start";
}

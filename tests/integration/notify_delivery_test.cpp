// notify::send_email against a real SMTP server (aiosmtpd) that requires
// STARTTLS with a certificate of the site's own CA (ca_file) and a login;
// a server whose certificate is not trusted, and a plain session to a
// server that requires TLS, are refused with a clear error (nothing sent).
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "integration/process.h"
#include "notify/delivery.h"
#include "notify/digest.h"

using namespace gridlet;
using namespace gridlet::testing;

namespace {

struct TlsServer {
    std::string dir = "/tmp/gridlet-smtp-tls-" + std::to_string(getpid());
    int port = free_port();
    std::unique_ptr<Process> p;
    TlsServer() {
        std::filesystem::remove_all(dir);
        std::filesystem::create_directories(dir + "/mail");
        const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
                                "-addext subjectAltName=IP:127.0.0.1 -keyout " + dir + "/key.pem -out " + dir +
                                "/cert.pem 2>/dev/null";
        if (system(cmd.c_str()) != 0) return;
        p = std::make_unique<Process>(std::vector<std::string>{
            "/usr/bin/python3", source_dir() + "/tests/support/smtp_sink.py", "--port", std::to_string(port), "--dir",
            dir + "/mail", "--tls-cert", dir + "/cert.pem", "--tls-key", dir + "/key.pem", "--login", "gw:s3cret"});
        for (int i = 0; i < 100 && p->out().find("smtp sink on") == std::string::npos; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ~TlsServer() {
        p.reset();
        std::filesystem::remove_all(dir);
    }
    size_t mails() const {
        size_t n = 0;
        for (const auto& e : std::filesystem::directory_iterator(dir + "/mail")) n += e.path().extension() == ".eml";
        return n;
    }
};

notify::NotificationConfig make_config(int port, const std::string& ca) {
    notify::NotificationConfig n;
    n.name = "ops";
    n.smtp_url = "smtp://127.0.0.1:" + std::to_string(port);
    n.starttls = "required";
    n.username = "gw";
    n.password = "s3cret";
    n.from = "gw@example.com";
    n.to = {"ops@example.com"};
    n.ca_file = ca;
    n.timeout_ms = 5'000;
    return n;
}

std::string message(const notify::NotificationConfig& n) {
    notify::Batch b;
    b.id = "s.ops.1-1";
    alarm::Alarm a;
    a.id = 1;
    a.name = "x";
    a.source = "d";
    a.message = "hello over TLS";
    b.changes.push_back({"raised", a});
    return notify::email_message(n, "s", TimeZone(), b, 0);
}

}  // namespace

TEST(NotifyDelivery, StartTlsWithTheSitesOwnCaAndALogin) {
    if (system("/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null") != 0)
        GTEST_SKIP() << "python3-aiosmtpd is not installed (.ci/setup installs it)";
    TlsServer s;
    ASSERT_TRUE(s.p) << "openssl could not make a test certificate";
    const auto never = [] { return false; };
    // Trusting the site's CA: delivered over STARTTLS, logged in.
    auto n = make_config(s.port, s.dir + "/cert.pem");
    Status ok = notify::send_email(n, message(n), never);
    ASSERT_TRUE(ok) << ok.message() << s.p->err();
    ASSERT_EQ(s.mails(), 1u);
    // Without that CA the server is not trusted: refused, nothing sent.
    auto untrusted = make_config(s.port, "");
    Status refused = notify::send_email(untrusted, message(untrusted), never);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.message().find("SMTP smtp://127.0.0.1:" + std::to_string(s.port)), std::string::npos)
        << refused.message();
    // STARTTLS "none" against a server that requires it: refused by the server.
    auto plain = make_config(s.port, "");
    plain.starttls = "none";
    EXPECT_FALSE(notify::send_email(plain, message(plain), never));
    // A wrong password: refused at once, with what the server said.
    auto wrong = make_config(s.port, s.dir + "/cert.pem");
    wrong.password = "not-it";
    Status denied = notify::send_email(wrong, message(wrong), never);
    ASSERT_FALSE(denied);
    EXPECT_NE(denied.message().find("SMTP smtp://127.0.0.1:" + std::to_string(s.port)), std::string::npos)
        << denied.message();
    EXPECT_NE(denied.message().find("Login denied (check username and the password"), std::string::npos)
        << denied.message();
    EXPECT_EQ(s.mails(), 1u) << "only the trusted, logged-in attempt delivered";
}

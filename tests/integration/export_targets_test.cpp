// [[export_targets]] against real servers on loopback ports, each started by
// the test: FTP with explicit TLS and FTPS with implicit TLS (pyftpdlib),
// SFTP (OpenSSH's sshd with a test host key and client key), HTTPS PUT and
// POST (tests/support/upload_sink.py); all with a certificate of the test's
// own CA. `gridlet export --test-targets` logs in and writes a file; a wrong
// password, an untrusted certificate and a wrong SFTP host key are refused
// with a clear error. `gridlet run` pushes a scheduled export to three
// servers that are stopped during the run while gridlet is killed with -9
// and started again: every file the export wrote arrives on every server
// exactly once, with the same bytes, or still waits in the outbox. A file
// whose earlier attempt may have reached a file server is looked for there
// before it is sent again; the HTTPS sink drops a repeated Idempotency-Key.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <pwd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <map>
#include <set>

#include <toml++/toml.h>

#include "core/config_schema.h"
#include "export/export_target.h"
#include "export/transport.h"
#include "integration/process.h"

using namespace gridlet::testing;
namespace fs = std::filesystem;

namespace {

bool have(const std::string& check) { return system((check + " >/dev/null 2>&1").c_str()) == 0; }

// The servers of one test, in `base`; each can be stopped and started again
// on the same port.
struct Servers {
    std::string base;
    int ftp_port = free_port(), ftps_port = free_port(), sftp_port = free_port(), https_port = free_port();
    std::unique_ptr<Process> ftp, ftps, sftp, https;
    std::string fingerprint, user;

    explicit Servers(const std::string& b) : base(b) {
        run({"rm", "-rf", base});
        fs::create_directories(base + "/ssh");
        fs::create_directories("/run/sshd");
        EXPECT_EQ(system(("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext "
                          "subjectAltName=IP:127.0.0.1 -keyout " + base + "/key.pem -out " + base + "/cert.pem 2>/dev/null")
                             .c_str()),
                  0)
            << "openssl req";
        EXPECT_EQ(system(("ssh-keygen -q -t ed25519 -N '' -f " + base + "/ssh/host && ssh-keygen -q -t ed25519 -N '' -f " +
                          base + "/ssh/client && cp " + base + "/ssh/client.pub " + base + "/ssh/authorized_keys")
                             .c_str()),
                  0)
            << "ssh-keygen";
        const Result fp = run({"ssh-keygen", "-lf", base + "/ssh/host.pub"});
        fingerprint = fp.out.substr(fp.out.find("SHA256:"), 50);
        fingerprint = fingerprint.substr(0, fingerprint.find(' '));
        user = getpwuid(getuid())->pw_name;
        std::ofstream(base + "/ssh/sshd_config")
            << "Port " << sftp_port << "\nListenAddress 127.0.0.1\nHostKey " << base << "/ssh/host\nPidFile " << base
            << "/ssh/sshd.pid\nAuthorizedKeysFile " << base << "/ssh/authorized_keys\nStrictModes no\n"
            << "PermitRootLogin prohibit-password\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\n"
            << "UsePAM no\nSubsystem sftp internal-sftp\n";
        start_all();
    }
    ~Servers() {
        stop_all();
        run({"rm", "-rf", base});
    }
    std::unique_ptr<Process> start(std::vector<std::string> argv, const std::string& ready, bool on_err = false) {
        auto p = std::make_unique<Process>(std::move(argv));
        for (int i = 0; i < 200; ++i) {
            if ((on_err ? p->err() : p->out()).find(ready) != std::string::npos) break;
            usleep(25'000);
        }
        return p;
    }
    void start_ftp() {
        const std::string s = source_dir() + "/tests/support/ftp_server.py";
        ftp = start({"/usr/bin/python3", s, "--port", std::to_string(ftp_port), "--dir", base + "/ftp", "--login",
                     "gw:s3cret", "--tls-cert", base + "/cert.pem", "--tls-key", base + "/key.pem", "--journal",
                     base + "/ftp.journal"},
                    "ftp server on");
    }
    void start_ftps() {
        const std::string s = source_dir() + "/tests/support/ftp_server.py";
        ftps = start({"/usr/bin/python3", s, "--port", std::to_string(ftps_port), "--dir", base + "/ftps", "--login",
                      "gw:s3cret", "--tls-cert", base + "/cert.pem", "--tls-key", base + "/key.pem", "--implicit"},
                     "ftp server on");
    }
    void start_sftp() {
        sftp = start({"/usr/sbin/sshd", "-D", "-e", "-f", base + "/ssh/sshd_config"}, "Server listening", true);
    }
    void start_https() {
        https = start({"/usr/bin/python3", source_dir() + "/tests/support/upload_sink.py", "--port",
                       std::to_string(https_port), "--dir", base + "/https", "--journal", base + "/https.journal",
                       "--tls-cert", base + "/cert.pem", "--tls-key", base + "/key.pem"},
                      "upload sink on");
    }
    void start_all() {
        start_ftp();
        start_ftps();
        start_sftp();
        start_https();
    }
    void stop_all() {
        ftp.reset();
        ftps.reset();
        sftp.reset();
        https.reset();
    }
    std::string targets() const {
        const std::string p = std::to_string(getpid());
        return "[[export_targets]]\nname = \"ftp\"\nurl = \"ftp://127.0.0.1:" + std::to_string(ftp_port) +
               "/in/\"\nusername = \"gw\"\npassword_env = \"GRIDLET_TEST_FTP_PASSWORD\"\nca_file = \"" + base +
               "/cert.pem\"\nretry = \"1s\"\n"
               "[[export_targets]]\nname = \"ftps\"\nurl = \"ftps://127.0.0.1:" + std::to_string(ftps_port) +
               "/in/\"\nusername = \"gw\"\npassword_env = \"GRIDLET_TEST_FTP_PASSWORD\"\nca_file = \"" + base +
               "/cert.pem\"\nretry = \"1s\"\n"
               "[[export_targets]]\nname = \"sftp\"\nurl = \"sftp://127.0.0.1:" + std::to_string(sftp_port) + base +
               "/sftp/in/\"\nusername = \"" + user + "\"\nkey_file = \"" + base + "/ssh/client\"\nhost_key_sha256 = \"" +
               fingerprint + "\"\nretry = \"1s\"\n"
               "[[export_targets]]\nname = \"https\"\nurl = \"https://127.0.0.1:" + std::to_string(https_port) +
               "/upload/\"\nca_file = \"" + base + "/cert.pem\"\nretry = \"1s\"\n"
               "[[export_targets]]\nname = \"https_post\"\nmethod = \"post\"\nurl = \"https://127.0.0.1:" +
               std::to_string(https_port) + "/files\"\nca_file = \"" + base + "/cert.pem\"\n";
    }
};

std::string skip_reason() {
    if (!have("/usr/bin/python3 -c 'import pyftpdlib, OpenSSL'"))
        return "python3-pyftpdlib and python3-openssl are not installed (.ci/setup installs them)";
    if (!fs::exists("/usr/sbin/sshd")) return "openssh-server is not installed (.ci/setup installs it)";
    if (getuid() != 0) return "sshd with its privilege separation needs root (CI runs as root)";
    if (!have("openssl version")) return "openssl is not installed";
    return "";
}

std::set<std::string> files_in(const std::string& dir) {
    std::set<std::string> v;
    std::error_code ec;
    if (fs::exists(dir, ec))
        for (const auto& e : fs::directory_iterator(dir)) v.insert(e.path().filename().string());
    return v;
}

std::map<std::string, int> journal_counts(const std::string& path, const std::string& verb) {
    std::map<std::string, int> n;
    std::istringstream in(slurp(path));
    std::string v, name, rest;
    while (in >> v >> name) {
        std::getline(in, rest);
        if (v == verb) ++n[name];
    }
    return n;
}

}  // namespace

TEST(ExportTargets, ConnectivityTestAgainstRealServersAndClearRefusals) {
    if (const std::string why = skip_reason(); !why.empty()) GTEST_SKIP() << why;
    Servers s("/tmp/gridlet-targets-" + std::to_string(getpid()));
    setenv("GRIDLET_TEST_FTP_PASSWORD", "s3cret", 1);
    // The certificate's public key pinned: accepted without its CA; another pin refused.
    const Result pin = run({"sh", "-c", "openssl x509 -in " + s.base + "/cert.pem -pubkey -noout | openssl pkey -pubin "
                                        "-outform der | openssl dgst -sha256 -binary | base64"});
    ASSERT_EQ(pin.code, 0);
    const std::string pinned = "sha256//" + pin.out.substr(0, pin.out.find('\n'));
    const std::string site = temp_file("targets-site.toml", "[site]\nname = \"acme\"\n" + s.targets() +
        "[[export_targets]]\nname = \"pinned\"\nurl = \"https://127.0.0.1:" + std::to_string(s.https_port) +
        "/p/\"\nca_file = \"" + s.base + "/cert.pem\"\npinned_key = \"" + pinned + "\"\n"
        "[[export_targets]]\nname = \"wrong_pin\"\nurl = \"https://127.0.0.1:" + std::to_string(s.https_port) +
        "/p/\"\nca_file = \"" + s.base + "/cert.pem\"\npinned_key = \"sha256//YhKJKSzoTt2b5FP18fvpHo7fJYqQCjAa3HWY3tvRMwE=\"\n" +
        // The same servers, wrong: a password, a CA, a host key, plain FTP to a TLS-only server.
        "[[export_targets]]\nname = \"wrong_password\"\nurl = \"ftp://127.0.0.1:" + std::to_string(s.ftp_port) +
        "/in/\"\nusername = \"gw\"\npassword_env = \"GRIDLET_TEST_WRONG\"\nca_file = \"" + s.base + "/cert.pem\"\n"
        "[[export_targets]]\nname = \"untrusted\"\nurl = \"https://127.0.0.1:" + std::to_string(s.https_port) + "/u/\"\n"
        "[[export_targets]]\nname = \"wrong_host_key\"\nurl = \"sftp://127.0.0.1:" + std::to_string(s.sftp_port) +
        "/tmp/\"\nusername = \"root\"\nkey_file = \"" + s.base + "/ssh/client\"\n"
        "host_key_sha256 = \"SHA256:Tw9mQohs8kLuvRWRsFi0h+pjJ1+BLtvGUbReIuUIe8c\"\n"
        "[[export_targets]]\nname = \"clear_text\"\ntls = \"none\"\nurl = \"ftp://127.0.0.1:" +
        std::to_string(s.ftp_port) + "/in/\"\nusername = \"gw\"\npassword_env = \"GRIDLET_TEST_FTP_PASSWORD\"\n");
    setenv("GRIDLET_TEST_WRONG", "not-it", 1);
    const Result r = run({gridlet_bin(), "export", "--config", site, "--test-targets"});
    EXPECT_EQ(r.code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find("5 of 11 target(s) failed"), std::string::npos) << r.err;
    const auto line = [&](const std::string& name) {
        const size_t at = r.out.find(name + "\t");
        return at == std::string::npos ? std::string() : r.out.substr(at, r.out.find('\n', at) - at);
    };
    for (const char* ok : {"ftp", "ftps", "sftp", "https", "https_post", "pinned"})
        EXPECT_NE(line(ok).find("\tok: "), std::string::npos) << ok << ": " << r.out << s.ftp->err();
    EXPECT_NE(line("ftp").find("wrote and deleted gridlet-connectivity-test.txt"), std::string::npos) << r.out;
    EXPECT_NE(line("wrong_password").find("FAILED: target 'wrong_password' (ftp://127.0.0.1:"), std::string::npos);
    EXPECT_NE(line("wrong_password").find("check username and the password"), std::string::npos) << r.out;
    EXPECT_EQ(line("wrong_password").find("not-it"), std::string::npos) << "a password is never printed";
    EXPECT_NE(line("untrusted").find("certificate"), std::string::npos) << r.out;
    EXPECT_NE(line("wrong_host_key").find("host key is not the one in host_key_sha256"), std::string::npos) << r.out;
    EXPECT_NE(line("clear_text").find("FAILED"), std::string::npos) << "the server requires TLS: " << r.out;
    EXPECT_NE(line("wrong_pin").find("the server's key is not pinned_key"), std::string::npos) << r.out;
    // Test files are deleted again on file servers; the HTTP sink keeps what it got.
    EXPECT_TRUE(files_in(s.base + "/ftp/in").empty());
    EXPECT_TRUE(files_in(s.base + "/sftp/in").empty());
    EXPECT_EQ(files_in(s.base + "/https"), std::set<std::string>{"gridlet-connectivity-test.txt"});
}

TEST(ExportTargets, ScheduledFilesReachEveryServerOnceAcrossOutagesAndKill9) {
    if (const std::string why = skip_reason(); !why.empty()) GTEST_SKIP() << why;
    Servers s("/tmp/gridlet-targets-run-" + std::to_string(getpid()));
    setenv("GRIDLET_TEST_FTP_PASSWORD", "s3cret", 1);
    const std::string out = s.base + "/local";
    const std::string site = temp_file(
        "targets-run-site.toml",
        // A site name of its own: two gridlets of one name share a control socket (tests run in parallel).
        "[site]\nname = \"targets_outage\"\ntimezone = \"Europe/Paris\"\n[store]\npath = \"" + s.base + "/db\"\n"
        "[[plugins]]\nname = \"hello\"\nfile = \"" + build_dir() + "/plugins/hello.so\"\n[plugins.config]\ninterval_ms = 100\n"
        "[[devices]]\nname = \"d1\"\nplugin = \"hello\"\n" + s.targets() +
        "[[exports]]\nname = \"count\"\nformat = \"socomec_csv\"\ndata_type = \"index\"\nstep = \"1s\"\nevery = \"2s\"\n"
        "delay = \"1s\"\nserver_name = \"srv\"\ndir = \"" + out + "\"\ntargets = [\"ftp\", \"sftp\", \"https\"]\n"
        "[[exports.variables]]\nseries = \"d1/count\"\nquantity = \"count\"\n");
    const auto arrived = [&] {
        return std::vector<std::set<std::string>>{files_in(s.base + "/ftp/in"), files_in(s.base + "/sftp/in"),
                                                  files_in(s.base + "/https")};
    };
    const auto all_have = [&](size_t n) {
        for (const auto& f : arrived())
            if (f.size() < n) return false;
        return true;
    };
    {
        Process g({gridlet_bin(), "run", site});
        for (int i = 0; i < 150 && !all_have(2); ++i) usleep(100'000);
        ASSERT_TRUE(all_have(2)) << g.err();
        // A server that hangs (stopped, its socket open) holds up its own
        // queue only: the other targets go on receiving.
        kill(s.https->pid(), SIGSTOP);
        const size_t ftp_before = arrived()[0].size(), sftp_before = arrived()[1].size();
        sleep(5);
        EXPECT_GE(arrived()[0].size(), ftp_before + 2) << "FTP held up by the hung HTTPS server\n" << g.err();
        EXPECT_GE(arrived()[1].size(), sftp_before + 2) << "SFTP held up by the hung HTTPS server\n" << g.err();
        kill(s.https->pid(), SIGCONT);
        // The servers go away; periods pass; gridlet is killed while files wait.
        s.stop_all();
        sleep(5);
        g.signal(SIGKILL);
        g.wait();
    }
    const size_t local_at_kill = files_in(out).size();
    Process g({gridlet_bin(), "run", site});
    ASSERT_TRUE(g.wait_for_err("file(s) wait in its outbox", std::chrono::seconds(15))) << g.err();
    sleep(2);
    s.start_all();
    // Everything written locally by now reaches every server.
    const auto caught_up = [&] {
        const auto local = files_in(out);
        for (const auto& f : arrived())
            for (const auto& n : local)
                if (!f.count(n)) return false;
        return local.size() >= local_at_kill + 3;
    };
    for (int i = 0; i < 300 && !caught_up(); ++i) usleep(100'000);
    ASSERT_TRUE(caught_up()) << g.err();
    g.signal(SIGTERM);
    EXPECT_EQ(g.wait(), 0) << g.err();

    // What may still wait (written in the last second): in the outbox, not on the server.
    const Result box = run({gridlet_bin(), "export", "--config", site, "--outbox"});
    ASSERT_EQ(box.code, 0) << box.err;
    const auto local = files_in(out);
    const std::vector<std::string> names = {"ftp", "sftp", "https"};
    const auto on_server = arrived();
    for (size_t i = 0; i < names.size(); ++i) {
        for (const std::string& n : local) {
            const bool waiting = box.out.find("  " + n + "\texport count") != std::string::npos;
            const bool there = on_server[i].count(n) > 0;
            EXPECT_TRUE(there || waiting) << names[i] << ": " << n << " lost\n" << box.out;
            if (there) {
                const std::string dir = i == 0 ? "/ftp/in/" : i == 1 ? "/sftp/in/" : "/https/";
                EXPECT_EQ(slurp(s.base + dir + n), slurp(out + "/" + n)) << names[i] << ": " << n;
            }
        }
        for (const std::string& n : on_server[i])
            EXPECT_TRUE(local.count(n)) << names[i] << " holds " << n << ", which the export never wrote (a .part?)";
    }
    // Exactly once: one rename into place (FTP), one stored request (HTTPS) per
    // file; a repeat after a lost answer carries the same Idempotency-Key and
    // is dropped by the sink, as the docs ask of a receiver.
    for (const auto& [name, n] : journal_counts(s.base + "/ftp.journal", "RNTO")) EXPECT_EQ(n, 1) << name;
    for (const auto& [name, n] : journal_counts(s.base + "/https.journal", "PUT")) EXPECT_EQ(n, 1) << name;
    EXPECT_GE(local.size(), local_at_kill + 3);
    EXPECT_NE(g.err().find("export target 'ftp'"), std::string::npos) << "the outage is logged: " << g.err();
}

// A file whose earlier attempt may have reached the server (the answer was
// lost, or gridlet was killed after the rename) is looked for first: the
// same bytes there count as delivered, nothing is uploaded or renamed again;
// different bytes or no file are uploaded.
TEST(ExportTargets, AFileInDoubtIsLookedForOnTheFileServerBeforeItIsSentAgain) {
    if (const std::string why = skip_reason(); !why.empty()) GTEST_SKIP() << why;
    Servers s("/tmp/gridlet-targets-doubt-" + std::to_string(getpid()));
    setenv("GRIDLET_TEST_FTP_PASSWORD", "s3cret", 1);
    const toml::table root = toml::parse(s.targets(), std::string("/site.toml"));
    gridlet::config::Diagnostics diags;
    const auto targets = gridlet::exporter::parse_export_targets(root, "/site.toml", diags,
                                                                 gridlet::exporter::TargetSecrets::read, {});
    ASSERT_TRUE(diags.empty()) << diags.front().to_string();
    const auto target = [&](const std::string& name) {
        return *std::find_if(targets.begin(), targets.end(), [&](const auto& t) { return t.name == name; });
    };
    const auto inode = [](const std::string& path) {
        struct stat st {};
        return ::stat(path.c_str(), &st) == 0 ? static_cast<long long>(st.st_ino) : -1LL;
    };
    const std::string first = "time;value\n2026-12-03 10:00:00;1\n", second = "time;value\n2026-12-03 10:00:00;2\n";
    for (const std::string name : {"ftp", "sftp"}) {
        SCOPED_TRACE(name);
        const auto t = target(name);
        const std::string dir = s.base + "/" + name + "/in/";
        // Never sent: in doubt, looked for, absent, uploaded.
        ASSERT_TRUE(gridlet::exporter::push_file(t, "a.csv", first, "k:a", nullptr, true));
        EXPECT_EQ(slurp(dir + "a.csv"), first);
        const long long was = inode(dir + "a.csv");
        // Already there, whole: not uploaded again (the same file, no rename).
        ASSERT_TRUE(gridlet::exporter::push_file(t, "a.csv", first, "k:a", nullptr, true));
        EXPECT_EQ(inode(dir + "a.csv"), was) << "replaced although it was already there";
        // There with other bytes (an older version): replaced.
        ASSERT_TRUE(gridlet::exporter::push_file(t, "a.csv", second, "k:a", nullptr, true));
        EXPECT_EQ(slurp(dir + "a.csv"), second);
        // Not in doubt: sent without looking.
        ASSERT_TRUE(gridlet::exporter::push_file(t, "a.csv", second, "k:a", nullptr, false));
        EXPECT_EQ(slurp(dir + "a.csv"), second);
    }
    const auto renames = journal_counts(s.base + "/ftp.journal", "RNTO");
    ASSERT_EQ(renames.count("a.csv"), 1u);
    EXPECT_EQ(renames.at("a.csv"), 3) << "uploaded when absent, when different and when not in doubt; not when there";
    // A server that is away: the look-up fails as the upload would, with the target's name.
    s.stop_all();
    const gridlet::Status away = gridlet::exporter::push_file(target("ftp"), "b.csv", first, "k:b", nullptr, true);
    EXPECT_FALSE(away);
    EXPECT_NE(away.message().find("target 'ftp'"), std::string::npos) << away.message();
}

// gridlet.export in `gridlet run`: a rule's own JSON file, every second,
// through the outbox to the HTTPS server; an unknown target is the rule's
// Lua error, said in the log.
TEST(ExportTargets, ARulesOwnFilesReachTheServerThroughTheOutbox) {
    if (const std::string why = skip_reason(); !why.empty()) GTEST_SKIP() << why;
    Servers s("/tmp/gridlet-targets-rule-" + std::to_string(getpid()));
    setenv("GRIDLET_TEST_FTP_PASSWORD", "s3cret", 1);
    const std::string rule = temp_file("export-rule.lua", R"(
local n = 0
gridlet.every("1s", function()
  n = n + 1
  gridlet.export{target = "https", name = "tick_" .. n .. ".json", content = {n = n, site = "acme"}}
end)
gridlet.every("1s", function() gridlet.export{target = "nowhere", name = "x.csv", content = "x"} end)
)");
    const std::string site = temp_file("export-rule-site.toml",
                                       "[site]\nname = \"targets_rule\"\n[store]\npath = \"" + s.base + "/db\"\n" + s.targets() +
                                           "[[rules]]\nname = \"report\"\nfile = \"" + rule + "\"\n");
    Process g({gridlet_bin(), "run", site});
    for (int i = 0; i < 100 && files_in(s.base + "/https").size() < 3; ++i) usleep(100'000);
    g.signal(SIGTERM);
    EXPECT_EQ(g.wait(), 0) << g.err();
    ASSERT_GE(files_in(s.base + "/https").size(), 3u) << g.err();
    EXPECT_EQ(slurp(s.base + "/https/tick_2.json"), R"({"n":2,"site":"acme"})");
    EXPECT_NE(slurp(s.base + "/https.journal").find("PUT tick_1.json gridlet:rule:report:tick_1.json application/json"),
              std::string::npos)
        << slurp(s.base + "/https.journal");
    // Files waiting for a target the site no longer names are listed, not lost.
    s.https.reset();
    {
        Process again({gridlet_bin(), "run", site});
        ASSERT_TRUE(again.wait_for_err("not delivered", std::chrono::seconds(15))) << again.err();
        again.signal(SIGTERM);
        again.wait();
    }
    const std::string renamed = temp_file("export-rule-renamed.toml", "[site]\nname = \"targets_rule\"\n[store]\npath = \"" +
                                                                         s.base + "/db\"\n");
    const Result box = run({gridlet_bin(), "export", "--config", renamed, "--outbox"});
    EXPECT_EQ(box.code, 0) << box.err;
    EXPECT_NE(box.out.find("https\t(no [[export_targets]] of this name"), std::string::npos) << box.out;
    EXPECT_NE(box.out.find("  tick_"), std::string::npos) << box.out;
    Process orphaned({gridlet_bin(), "run", renamed});
    EXPECT_TRUE(orphaned.wait_for_err("which the site no longer defines", std::chrono::seconds(10))) << orphaned.err();
    orphaned.signal(SIGTERM);
    EXPECT_EQ(orphaned.wait(), 0) << orphaned.err();
    EXPECT_NE(g.err().find("'nowhere' is not an [[export_targets]] name (ftp, ftps, sftp, https, https_post)"),
              std::string::npos)
        << g.err();
}

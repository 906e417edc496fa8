// The Debian packages and the systemd service (issue 21): `cpack -G DEB`
// from this build tree, each package unpacked into a scratch root
// (dpkg -x), lintian at its default level, `systemd-analyze verify` of the
// unit in that root, and the packaged gridlet run as systemd would run it:
// readiness, the watchdog, reload and stop over $NOTIFY_SOCKET (sd_notify's
// datagram socket), and its log lines as the journal reads them.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <filesystem>
#include <map>
#include <regex>

#include "integration/process.h"

using namespace gridlet::testing;
namespace fs = std::filesystem;

namespace {

const std::string kVersion = GRIDLET_TEST_VERSION;

bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size()) s.replace(at, from.size(), to);
    return s;
}

// The unit's key=value lines (a key named twice keeps its last value).
std::map<std::string, std::string> unit_keys(const std::string& text) {
    std::map<std::string, std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#' || line[0] == '[') continue;
        const size_t eq = line.find('=');
        if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return out;
}

// The packages, made once for every test of this file.
class Package : public ::testing::Test {
protected:
    // CTest runs each test of this file as a process of its own: the
    // packages are made once into <build>/package-test (under a lock) and
    // made again only when a file they hold was built after them.
    static void SetUpTestSuite() {
        const std::string debs = build_dir() + "/package-test";
        fs::create_directories(debs);
        main_deb_ = debs + "/gridlet_" + kVersion + "_amd64.deb";
        dev_deb_ = debs + "/gridlet-dev_" + kVersion + "_all.deb";
        const int lock = open((debs + ".lock").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
        flock(lock, LOCK_EX);
        bool fresh = fs::exists(main_deb_) && fs::exists(dev_deb_);
        if (fresh) {
            const auto made = std::min(fs::last_write_time(main_deb_), fs::last_write_time(dev_deb_));
            std::vector<fs::path> inputs = {build_dir() + "/gridlet", build_dir() + "/packaging/gridlet.1.gz",
                                            source_dir() + "/packaging/gridlet.service",
                                            source_dir() + "/packaging/site.toml",
                                            source_dir() + "/packaging/CMakeLists.txt"};
            for (const auto& e : fs::directory_iterator(build_dir() + "/plugins")) inputs.push_back(e.path());
            for (const auto& e : fs::directory_iterator(source_dir() + "/packaging/debian")) inputs.push_back(e.path());
            for (const auto& in : inputs)
                if (fs::exists(in) && fs::last_write_time(in) > made) fresh = false;
        }
        if (fresh) {
            made_.code = 0;
        } else {
            fs::remove(main_deb_);
            fs::remove(dev_deb_);
            made_ = run({"cpack", "-G", "DEB", "--config", build_dir() + "/CPackConfig.cmake", "-B", debs},
                        std::chrono::seconds(240));
        }
        flock(lock, LOCK_UN);
        close(lock);
        work_ = "/tmp/gridlet-package-" + std::to_string(getpid());
        fs::remove_all(work_);
        fs::create_directories(work_);
        root_ = work_ + "/root";
        if (made_.code == 0) {
            unpacked_ = run({"dpkg", "-x", main_deb_, root_});
            run({"dpkg-deb", "-e", main_deb_, work_ + "/control"});
        }
    }
    static void TearDownTestSuite() { fs::remove_all(work_); }
    void SetUp() override {
        ASSERT_EQ(made_.code, 0) << made_.out << made_.err;
        ASSERT_TRUE(fs::exists(main_deb_)) << made_.out;
        ASSERT_EQ(unpacked_.code, 0) << unpacked_.err;
    }

    static std::string work_, main_deb_, dev_deb_, root_;
    static Result made_, unpacked_;
};
std::string Package::work_, Package::main_deb_, Package::dev_deb_, Package::root_;
Result Package::made_, Package::unpacked_;

// The datagram socket sd_notify(3) writes to ($NOTIFY_SOCKET).
class NotifySocket {
public:
    explicit NotifySocket(const std::string& path) : path_(path) {
        fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
        ::unlink(path.c_str());
        bound_ = bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    }
    ~NotifySocket() {
        close(fd_);
        ::unlink(path_.c_str());
    }
    bool bound() const { return bound_; }
    // The messages received until `needle` is in one (of index >= from), or
    // the timeout.
    bool wait_for(const std::string& needle, std::chrono::milliseconds timeout, size_t from = 0) {
        const auto end = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            for (size_t i = from; i < messages.size(); ++i)
                if (contains(messages[i].text, needle)) return true;
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            char buf[4096];
            const ssize_t n = recv(fd_, buf, sizeof buf, 0);
            if (n > 0) messages.push_back({std::chrono::steady_clock::now(), std::string(buf, static_cast<size_t>(n))});
        }
    }
    size_t count(const std::string& text) const {
        size_t n = 0;
        for (const auto& m : messages) n += m.text == text;
        return n;
    }
    struct Message {
        std::chrono::steady_clock::time_point at;
        std::string text;
    };
    std::vector<Message> messages;

private:
    std::string path_;
    int fd_ = -1;
    bool bound_ = false;
};

// The packaged site file with its folders moved into `dir` (the service's
// /var/lib/gridlet and /run/gridlet, which this test may not use).
std::string scratch_site(const std::string& root, const std::string& dir) {
    std::string site = slurp(root + "/etc/gridlet/site.toml");
    site = replace_all(site, "/var/lib/gridlet", dir + "/var");
    site = replace_all(site, "ipc:///run/gridlet/", "ipc://" + dir + "/run/");
    const std::string path = dir + "/site.toml";
    std::ofstream(path) << site;
    return path;
}

}  // namespace

TEST_F(Package, BothPackagesAreLintianCleanAndHoldWhatTheyShould) {
    EXPECT_TRUE(fs::exists(dev_deb_)) << made_.out;
    // Control fields.
    Result fields = run({"dpkg-deb", "-f", main_deb_, "Package", "Version", "Architecture", "Depends"});
    ASSERT_EQ(fields.code, 0) << fields.err;
    EXPECT_TRUE(contains(fields.out, "Package: gridlet\n")) << fields.out;
    EXPECT_TRUE(contains(fields.out, "Version: " + kVersion)) << fields.out;
    EXPECT_TRUE(contains(fields.out, "adduser")) << fields.out;
    EXPECT_TRUE(contains(fields.out, "librocksdb") || contains(fields.out, "libzmq5")) << "shlibdeps: " << fields.out;
    // The maintainer scripts and the conffile.
    EXPECT_EQ(slurp(work_ + "/control/conffiles"), "/etc/gridlet/site.toml\n");
    for (const char* script : {"postinst", "prerm", "postrm"}) {
        const std::string p = work_ + "/control/" + script;
        ASSERT_TRUE(fs::exists(p)) << script;
        EXPECT_NE(fs::status(p).permissions() & fs::perms::owner_exec, fs::perms::none) << script;
        Result syntax = run({"sh", "-n", p});
        EXPECT_EQ(syntax.code, 0) << script << ": " << syntax.err;
    }
    EXPECT_TRUE(contains(slurp(work_ + "/control/postinst"), "adduser --system")) << "the user gridlet";
    // Files.
    for (const char* f :
         {"usr/bin/gridlet", "etc/gridlet/site.toml", "lib/systemd/system/gridlet.service", "usr/lib/gridlet/plugins/modbus.so",
          "usr/lib/gridlet/plugins/sim.so", "usr/lib/gridlet/plugins/mqtt.so", "usr/share/gridlet/config/profiles/bcpm.toml",
          "usr/share/gridlet/scripts/lib/gridlet/greenup.lua", "usr/share/gridlet/web/index.html",
          "usr/share/man/man1/gridlet.1.gz", "usr/share/doc/gridlet/copyright", "usr/share/doc/gridlet/changelog.gz",
          // the READMEs the README links to, at their relative paths
          "usr/share/doc/gridlet/runtime/README.md", "usr/share/doc/gridlet/runtime/store/README.md",
          "usr/share/doc/gridlet/docs/scale-out.md"})
        EXPECT_TRUE(fs::exists(root_ + "/" + f)) << f;
    EXPECT_FALSE(fs::exists(root_ + "/usr/include")) << "the SDK belongs to gridlet-dev";
    Result dev = run({"dpkg-deb", "-c", dev_deb_});
    EXPECT_TRUE(contains(dev.out, "./usr/include/gridlet/plugin.h")) << dev.out;
    EXPECT_TRUE(contains(dev.out, "./usr/share/pkgconfig/gridlet.pc")) << dev.out;
    EXPECT_TRUE(contains(dev.out, "./usr/share/cmake/gridlet/gridletConfig.cmake")) << dev.out;
    // lintian at its default level (errors and warnings): nothing.
    Result lint = run({"lintian", "--fail-on", "error,warning", main_deb_, dev_deb_}, std::chrono::seconds(180));
    EXPECT_EQ(lint.code, 0) << lint.out << lint.err;
    EXPECT_FALSE(std::regex_search(lint.out, std::regex("^[EW]: ", std::regex::multiline))) << lint.out;
}

TEST_F(Package, TheUnitNamesOnlyFilesThePackageHasAndVerifies) {
    const std::string unit = slurp(root_ + "/lib/systemd/system/gridlet.service");
    auto keys = unit_keys(unit);
    EXPECT_EQ(keys["Type"], "notify");
    EXPECT_EQ(keys["ExecStart"], "/usr/bin/gridlet run /etc/gridlet/site.toml");
    EXPECT_EQ(keys["ExecReload"], "/bin/kill -HUP $MAINPID");
    EXPECT_EQ(keys["Restart"], "on-failure");
    EXPECT_FALSE(keys["WatchdogSec"].empty());
    EXPECT_EQ(keys["ProtectSystem"], "strict");
    EXPECT_EQ(keys["ReadWritePaths"], "/var/lib/gridlet");
    EXPECT_EQ(keys["NoNewPrivileges"], "yes");
    EXPECT_EQ(keys["PrivateTmp"], "yes");
    EXPECT_EQ(keys["CapabilityBoundingSet"], "");
    EXPECT_EQ(keys["User"], "gridlet");
    // Every file the unit runs or reads is in the package.
    EXPECT_TRUE(fs::exists(root_ + "/usr/bin/gridlet"));
    EXPECT_TRUE(fs::exists(root_ + "/etc/gridlet/site.toml"));
    // The packaged site file checks, with the packaged binary (which finds
    // its plugins, profiles and Lua library in its own prefix).
    const std::string dir = work_ + "/check";
    fs::create_directories(dir);
    Result check = run({root_ + "/usr/bin/gridlet", "check", scratch_site(root_, dir)});
    EXPECT_EQ(check.code, 0) << check.out << check.err;
    // systemd-analyze verify, in the scratch root with the host's units and
    // kill(1) beside the package's files (verify checks that the commands exist).
    const std::string vroot = work_ + "/verify-root";
    fs::remove_all(vroot);
    ASSERT_EQ(run({"cp", "-a", root_, vroot}).code, 0);
    ASSERT_EQ(run({"cp", "-a", "/lib/systemd/system/.", vroot + "/lib/systemd/system/"}).code, 0);
    fs::create_directories(vroot + "/bin");
    ASSERT_EQ(run({"cp", "/bin/kill", vroot + "/bin/kill"}).code, 0);
    Result verify = run({"systemd-analyze", "--root=" + vroot, "verify", "gridlet.service"});
    EXPECT_EQ(verify.code, 0) << verify.out << verify.err;
    EXPECT_TRUE(verify.err.empty()) << verify.err;
    // The sandbox, as systemd rates it (lower is safer; "OK" is below 4.9).
    Result security =
        run({"systemd-analyze", "security", "--offline=yes", "--root=" + vroot, "--threshold=30", "gridlet.service"});
    EXPECT_EQ(security.code, 0) << security.out << security.err;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(security.out, m, std::regex("Overall exposure level for gridlet.service: ([0-9.]+)")))
        << security.out;
    EXPECT_LE(std::stod(m[1]), 3.0) << security.out;
}

// The packaged binary, run as the unit runs it (Type=notify, WatchdogSec=):
// READY=1 once the site is started, WATCHDOG=1 every half period,
// RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 on SIGTERM. The control
// socket's missing folder is made at start, as RuntimeDirectory= would.
TEST_F(Package, ThePackagedServiceNotifiesReadinessFeedsTheWatchdogAndReloads) {
    const std::string dir = work_ + "/notify";
    fs::create_directories(dir + "/var");
    const std::string site = scratch_site(root_, dir);
    NotifySocket sock(dir + "/notify.sock");
    ASSERT_TRUE(sock.bound());
    setenv("NOTIFY_SOCKET", (dir + "/notify.sock").c_str(), 1);
    setenv("WATCHDOG_USEC", "1000000", 1);  // 1 s: fed every 0.5 s
    Process gl({root_ + "/usr/bin/gridlet", "run", site});
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    ASSERT_TRUE(sock.wait_for("READY=1", std::chrono::seconds(30))) << gl.err();
    const auto ready = sock.messages.back();
    EXPECT_TRUE(contains(ready.text, "STATUS=site 'gateway': ")) << ready.text;
    EXPECT_TRUE(contains(ready.text, "no problems")) << ready.text;
    EXPECT_TRUE(fs::is_directory(dir + "/run")) << "the control socket's folder is made";
    // The watchdog: fed at least 3 times in 2.2 s.
    sock.wait_for("never sent", std::chrono::milliseconds(2200));
    EXPECT_GE(sock.count("WATCHDOG=1"), 3u) << gl.err();
    gl.signal(SIGHUP);
    ASSERT_TRUE(sock.wait_for("RELOADING=1", std::chrono::seconds(10))) << gl.err();
    const size_t reloading = sock.messages.size();
    EXPECT_TRUE(sock.wait_for("READY=1", std::chrono::seconds(10), reloading)) << "READY=1 after the reload";
    gl.signal(SIGTERM);
    EXPECT_TRUE(sock.wait_for("STOPPING=1", std::chrono::seconds(10))) << gl.err();
    EXPECT_EQ(gl.wait(std::chrono::seconds(30)), 0) << gl.err();
}

// Under systemd, stderr is the journal's stream ($JOURNAL_STREAM names it):
// each line carries its priority prefix ("<4>" a warning) and no timestamp.
TEST_F(Package, LogLinesReachTheJournalWithTheirLevelAndNoTimestamp) {
    const std::string dir = work_ + "/journal";
    fs::create_directories(dir);
    const std::string site = dir + "/site.toml";
    // No [store]: a warning.
    std::ofstream(site) << "[site]\nname = \"journal-test\"\n[kernel]\ncontrol = \"ipc://" + dir + "/c.sock\"\n";
    const std::string log = dir + "/stderr";
    Process gl({"sh", "-c",
                "exec 2>" + log + "; JOURNAL_STREAM=$(stat -c %d:%i " + log + ") exec " + root_ +
                    "/usr/bin/gridlet run " + site});
    for (int i = 0; i < 500 && !contains(slurp(log), "control socket"); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    gl.signal(SIGTERM);
    EXPECT_EQ(gl.wait(std::chrono::seconds(30)), 0);
    const std::string text = slurp(log);
    EXPECT_TRUE(std::regex_search(text, std::regex("^<4>no \\[store\\] in ", std::regex::multiline))) << text;
    EXPECT_TRUE(std::regex_search(text, std::regex("^<6>control socket ", std::regex::multiline))) << text;
    EXPECT_TRUE(std::regex_search(text, std::regex("^<6>SIGTERM: stopping$", std::regex::multiline))) << text;
    // Every line has a prefix; none a timestamp of its own.
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        EXPECT_TRUE(std::regex_match(line, std::regex("<[0-7]>.*"))) << line;
        EXPECT_FALSE(std::regex_search(line, std::regex("20[0-9][0-9]-[01][0-9]-[0-3][0-9]"))) << line;
    }
}

// The unit booted by systemd itself: only where systemd is PID 1.
TEST_F(Package, TheServiceBootsUnderSystemd) {
    if (!fs::is_directory("/run/systemd/system")) {
        const std::string pid1 = slurp("/proc/1/comm");
        GTEST_SKIP() << "systemd is not running on this machine (PID 1 is '" << pid1.substr(0, pid1.find('\n'))
                     << "'), so no unit can be started here; readiness, the watchdog and reload are tested above "
                        "through $NOTIFY_SOCKET, and the unit by systemd-analyze verify";
    }
    const std::string dir = work_ + "/boot";
    fs::create_directories(dir + "/var");
    const std::string site = scratch_site(root_, dir);
    const std::string unit = "gridlet-test-" + std::to_string(getpid());
    Result started = run({"systemd-run", "--unit=" + unit, "--property=Type=notify", "--property=WatchdogSec=10s",
                          "--property=NoNewPrivileges=yes", "--property=PrivateTmp=yes",
                          root_ + "/usr/bin/gridlet", "run", site});
    ASSERT_EQ(started.code, 0) << started.out << started.err;
    std::string state;
    for (int i = 0; i < 300 && state != "ActiveState=active\n"; ++i) {
        state = run({"systemctl", "show", "-p", "ActiveState", unit}).out;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(state, "ActiveState=active\n");
    Result status = run({"systemctl", "show", "-p", "StatusText", unit});
    EXPECT_TRUE(contains(status.out, "site 'gateway'")) << status.out;
    run({"systemctl", "stop", unit});
}

// The packaged service has no capabilities: an [http] port below 1024 is
// refused, and the error says which capability and drop-in it needs.
TEST_F(Package, APortBelow1024SaysWhichCapabilityTheServiceNeeds) {
    if (run({"sh", "-c", "command -v runuser && id nobody"}).code != 0) GTEST_SKIP() << "no runuser or no user nobody";
    const std::string dir = work_ + "/lowport";
    fs::create_directories(dir);
    fs::permissions(dir, fs::perms::all);
    fs::permissions(work_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                               fs::perms::others_read | fs::perms::others_exec);
    std::ofstream(dir + "/site.toml") << "[site]\nname = \"lowport\"\n[kernel]\ncontrol = \"ipc://" + dir +
                                             "/c.sock\"\n[store]\npath = \"" + dir + "/store\"\n[http]\nport = 443\n";
    fs::permissions(dir + "/site.toml", fs::perms::all);
    Process gl({"runuser", "-u", "nobody", "--", root_ + "/usr/bin/gridlet", "run", dir + "/site.toml"});
    const bool said = gl.wait_for_err("CAP_NET_BIND_SERVICE", std::chrono::seconds(30));
    gl.signal(SIGTERM);
    gl.wait(std::chrono::seconds(30));
    if (!said && contains(gl.err(), "http: API on"))
        GTEST_SKIP() << "this machine lets every user bind port 443 (net.ipv4.ip_unprivileged_port_start)";
    EXPECT_TRUE(said) << gl.err();
    EXPECT_TRUE(contains(gl.err(), "systemctl edit gridlet")) << gl.err();
}

#pragma once
// A real Mosquitto broker for tests (Debian's `mosquitto`), on loopback
// ports chosen by the test (loopback_port.h), with persistence in its own
// folder so that a stop and a start keep the sessions and queued messages of
// persistent subscribers (as a broker restarted by its service would).
//
// Options: a TLS listener (certificates made by make_test_pki()), with or
// without a required client certificate, and a password file. stop() is a
// SIGTERM (the broker saves its state), kill9() a crash.
//
// The test's thread only.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "support/loopback_port.h"

namespace gridlet::testing {

// A CA, a server certificate for 127.0.0.1 and a client certificate, in
// `dir`: ca.pem, server.pem, server.key, client.pem, client.key.
inline bool make_test_pki(const std::string& dir) {
    std::filesystem::create_directories(dir);
    const std::string d = dir + "/";
    const std::string cmd =
        "cd " + d + " && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=gridlet-test-ca -keyout ca.key "
        "-out ca.pem && openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr && "
        "printf 'subjectAltName=IP:127.0.0.1' > san.ext && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key "
        "-CAcreateserial -days 2 -extfile san.ext -out server.pem && openssl req -newkey rsa:2048 -nodes "
        "-subj /CN=gateway -keyout client.key -out client.csr && openssl x509 -req -in client.csr -CA ca.pem -CAkey "
        "ca.key -CAcreateserial -days 2 -out client.pem && chmod -R a+rX " + d;
    // Readable by the broker, which drops to its own user when started as root.
    return std::system(("(" + cmd + ") >/dev/null 2>&1").c_str()) == 0 &&
           (std::filesystem::permissions(dir, std::filesystem::perms::all), true);
}

struct BrokerOptions {
    bool tls = false;                 // also a TLS listener on tls_port
    bool require_certificate = false; // on the TLS listener
    std::string pki;                  // make_test_pki() folder
    std::string user, password;       // when set: no anonymous clients
};

class MosquittoBroker {
public:
    using Options = BrokerOptions;

    explicit MosquittoBroker(std::string dir, Options o = {}) : dir_(std::move(dir)), o_(std::move(o)) {
        std::filesystem::remove_all(dir_);
        std::filesystem::create_directories(dir_ + "/data");
        // Started as root, mosquitto drops to its own user: let it write here.
        for (const std::string& d : {dir_, dir_ + "/data"})
            std::filesystem::permissions(d, std::filesystem::perms::all);
        port = loopback_port();
        if (o_.tls) tls_port = loopback_port();
        std::ofstream c(dir_ + "/mosquitto.conf");
        c << "persistence true\npersistence_location " << dir_ << "/data/\nautosave_interval 1\n"
          << "max_queued_messages 0\nmax_inflight_messages 0\n"
          << "log_dest file " << dir_ << "/broker.log\nlog_type error\nlog_type warning\nlog_type notice\n"
          << "per_listener_settings false\n";
        if (!o_.user.empty()) {
            if (std::system(("mosquitto_passwd -b -c " + dir_ + "/passwd " + o_.user + " " + o_.password +
                             " >/dev/null 2>&1")
                                .c_str()) != 0)
                std::fprintf(stderr, "mosquitto_broker: mosquitto_passwd failed: the broker will refuse %s\n",
                             o_.user.c_str());
            c << "allow_anonymous false\npassword_file " << dir_ << "/passwd\n";
        } else {
            c << "allow_anonymous true\n";
        }
        c << "listener " << port << " 127.0.0.1\n";
        if (o_.tls) {
            c << "listener " << tls_port << " 127.0.0.1\ncafile " << o_.pki << "/ca.pem\ncertfile " << o_.pki
              << "/server.pem\nkeyfile " << o_.pki << "/server.key\ntls_version tlsv1.2\n";
            if (o_.require_certificate) c << "require_certificate true\n";
        }
        c.close();
        start();
    }
    ~MosquittoBroker() {
        kill9();
        std::filesystem::remove_all(dir_);
    }
    MosquittoBroker(const MosquittoBroker&) = delete;
    MosquittoBroker& operator=(const MosquittoBroker&) = delete;

    // Starts it and waits until the plain port accepts connections.
    void start() {
        pid_ = fork();
        if (pid_ == 0) {
            execlp("mosquitto", "mosquitto", "-c", (dir_ + "/mosquitto.conf").c_str(), static_cast<char*>(nullptr));
            _exit(127);
        }
        for (int i = 0; i < 400 && !accepting(port); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    void stop() { end(SIGTERM); }
    void kill9() { end(SIGKILL); }
    bool running() const { return pid_ > 0; }
    std::string log() const {
        std::ifstream in(dir_ + "/broker.log");
        return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }

    int port = 0, tls_port = 0;

private:
    static bool accepting(int p) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<uint16_t>(p));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        close(fd);
        return ok;
    }
    void end(int sig) {
        if (pid_ <= 0) return;
        kill(pid_, sig);
        waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
    std::string dir_;
    Options o_;
    pid_t pid_ = -1;
};

}  // namespace gridlet::testing

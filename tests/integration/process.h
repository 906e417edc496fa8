// Runs the real `gridlet` binary (and other commands) for integration tests.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include "support/loopback_port.h"

namespace gridlet::testing {

// Where the tree was built and checked out (set by tests/CMakeLists.txt;
// the environment variables override them).
inline std::string build_dir() {
    const char* b = std::getenv("GRIDLET_BUILD_DIR");
    return b ? b : GRIDLET_TEST_BUILD_DIR;
}
inline std::string source_dir() {
    const char* s = std::getenv("GRIDLET_SOURCE_DIR");
    return s ? s : GRIDLET_TEST_SOURCE_DIR;
}
inline std::string gridlet_bin() { return build_dir() + "/gridlet"; }

inline std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Waits until the file at `path` holds `needle` (a log line): true, or
// false after `ms`.
inline bool wait_in(const std::string& path, const std::string& needle, int ms = 5000) {
    for (int i = 0; i < ms / 10; ++i) {
        if (slurp(path).find(needle) != std::string::npos) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

struct Result {
    int code = -1;
    std::string out, err;
};

// A process with stdout/stderr captured to files.
class Process {
public:
    explicit Process(std::vector<std::string> argv) {
        static int n = 0;
        base_ = "/tmp/gridlet-it-" + std::to_string(getpid()) + "-" + std::to_string(n++);
        pid_ = fork();
        if (pid_ == 0) {
            int o = open((base_ + ".out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            int e = open((base_ + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            dup2(o, 1);
            dup2(e, 2);
            std::vector<char*> args;
            for (auto& a : argv) args.push_back(a.data());
            args.push_back(nullptr);
            execvp(args[0], args.data());
            _exit(127);
        }
    }
    ~Process() {
        if (pid_ > 0 && code_ < 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
        std::remove((base_ + ".out").c_str());
        std::remove((base_ + ".err").c_str());
    }
    std::string out() const { return slurp(base_ + ".out"); }
    std::string err() const { return slurp(base_ + ".err"); }
    void signal(int sig) { kill(pid_, sig); }
    // Exit code (128+signal if killed), or -1 on timeout.
    int wait(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
        auto end = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < end) {
            int st = 0;
            pid_t r = waitpid(pid_, &st, WNOHANG);
            if (r == pid_) {
                code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                return code_;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        return -1;
    }
    // Waits until stdout (stderr) contains `needle`.
    bool wait_for_out(const std::string& needle, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        return wait_for(&Process::out, needle, timeout);
    }
    bool wait_for_err(const std::string& needle, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        return wait_for(&Process::err, needle, timeout);
    }
    pid_t pid() const { return pid_; }

private:
    bool wait_for(std::string (Process::*text)() const, const std::string& needle, std::chrono::milliseconds timeout) {
        auto end = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < end) {
            if ((this->*text)().find(needle) != std::string::npos) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return false;
    }
    pid_t pid_ = -1;
    int code_ = -1;
    std::string base_;
};

inline Result run(std::vector<std::string> argv, std::chrono::milliseconds timeout = std::chrono::seconds(120)) {
    Process p(std::move(argv));
    Result r;
    r.code = p.wait(timeout);
    r.out = p.out();
    r.err = p.err();
    return r;
}

// A TCP port on 127.0.0.1 for a test server (see support/loopback_port.h).
inline int free_port() { return loopback_port(); }

// Removes a store folder left by an earlier run and the creation record
// beside it (`<parent>/.<folder>.gridlet-store`, see store::creation_record):
// a test whose process has the PID of an earlier run, on a long-lived
// machine, starts on a new store, not on a damaged or "gone" one.
inline void remove_store(const std::string& dir) {
    const auto slash = dir.find_last_of('/');
    const std::string parent = slash == std::string::npos ? "." : dir.substr(0, slash);
    const std::string leaf = slash == std::string::npos ? dir : dir.substr(slash + 1);
    run({"rm", "-rf", dir, parent + "/." + leaf + ".gridlet-store"});
}

inline std::string temp_file(const std::string& name, const std::string& body) {
    std::string path = "/tmp/gridlet-it-" + std::to_string(getpid()) + "-" + name;
    std::ofstream(path) << body;
    return path;
}

}  // namespace gridlet::testing

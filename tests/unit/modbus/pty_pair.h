// A pseudo-terminal pair made by socat (a null-modem cable in software):
// one end for the simulator's RTU server, the other for the driver. Test
// code; the owning thread only.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

namespace gridlet::modbus::test {

// Whether `tool` is on PATH.
inline bool have(const char* tool) {
    std::string cmd = std::string("command -v ") + tool + " >/dev/null 2>&1";
    return std::system(cmd.c_str()) == 0;
}

struct PtyPair {
    pid_t pid = -1;
    std::string a, b;  // the two ends (they do not exist when socat could not start)
    PtyPair() {
        using namespace std::chrono_literals;
        auto dir = std::filesystem::temp_directory_path() / ("gridlet_rtu_" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir);
        a = (dir / "a").string();
        b = (dir / "b").string();
        pid = ::fork();
        if (pid == 0) {
            std::string l = "pty,raw,echo=0,link=" + a, r = "pty,raw,echo=0,link=" + b;
            ::execlp("socat", "socat", l.c_str(), r.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        for (int i = 0; i < 100 && !(std::filesystem::exists(a) && std::filesystem::exists(b)); ++i)
            std::this_thread::sleep_for(20ms);
    }
    ~PtyPair() {
        if (pid > 0) {
            ::kill(pid, SIGTERM);
            ::waitpid(pid, nullptr, 0);
        }
        std::filesystem::remove_all(std::filesystem::path(a).parent_path());
    }
};

}  // namespace gridlet::modbus::test

#pragma once
// A TCP port on 127.0.0.1 for a test's server, chosen by the test.
//
// Why not "bind to port 0 and close": the kernel may hand the same ephemeral
// port to two calls in a row (CI saw two simulators of one site get the same
// port), and any outgoing connection of a test running beside it may take an
// ephemeral port between the pick and the server's bind. So ports are drawn
// at random from below the kernel's ephemeral range
// (/proc/sys/net/ipv4/ip_local_port_range), never twice in one process, and
// each is checked by a bind before it is returned. Two test processes pick
// the same one with a chance of about 1 in 10,000 per pair of picks.
//
// Any thread may call.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <ctime>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>

namespace gridlet::testing {

inline uint16_t loopback_port() {
    static std::mutex m;
    static std::set<uint16_t> given;
    static std::mt19937 rng(static_cast<unsigned>(getpid()) * 2654435761u ^ static_cast<unsigned>(time(nullptr)));
    std::lock_guard<std::mutex> lock(m);
    int ephemeral_low = 32768;
    std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> ephemeral_low;
    const int low = 20000;
    const int high = ephemeral_low > low + 1000 ? ephemeral_low - 1 : 30999;
    std::uniform_int_distribution<int> pick(low, high);
    for (int attempt = 0; attempt < 1000; ++attempt) {
        auto port = static_cast<uint16_t>(pick(rng));
        if (given.count(port)) continue;
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) continue;
        int one = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(port);
        bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        ::close(fd);
        if (!ok) continue;
        given.insert(port);
        return port;
    }
    throw std::runtime_error("loopback_port: no free port found in 1000 attempts");
}

}  // namespace gridlet::testing

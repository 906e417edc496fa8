// A small Modbus TCP server: one thread, poll() over the listener and every
// client, MBAP framing, requests dispatched to a UnitRouter. Serves many
// clients at once; delayed replies (fault latency) do not block other clients.
//
// Thread-safety: start/stop from one owner thread; faults() and counters from
// any thread. The router's spaces are called on the server thread.
#pragma once

#include "faults.h"
#include "modbus_pdu.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

namespace gridlet::sim {

class TcpServer {
public:
    explicit TcpServer(UnitRouter& router);
    ~TcpServer();
    TcpServer(const TcpServer&) = delete;
    TcpServer& operator=(const TcpServer&) = delete;

    // Listens on bind:port (port 0 = a free port, see port()) and starts the
    // thread. Returns an error text, or "" on success.
    std::string start(uint16_t port, const std::string& bind = "127.0.0.1");
    void stop();
    bool running() const { return thread_.joinable(); }
    uint16_t port() const { return port_; }

    // Called on the server thread every period (e.g. the model's refresh).
    void set_ticker(std::function<void()> tick, std::chrono::milliseconds period);

    Faults& faults() { return faults_; }
    uint64_t requests() const { return requests_.load(); }
    uint64_t connections_accepted() const { return accepted_.load(); }
    int open_connections() const { return open_.load(); }

private:
    void run();

    UnitRouter& router_;
    Faults faults_;
    int listen_fd_ = -1;
    int wake_fd_[2] = {-1, -1};
    uint16_t port_ = 0;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::function<void()> tick_;
    std::chrono::milliseconds tick_period_{0};
    std::atomic<uint64_t> requests_{0};
    std::atomic<uint64_t> accepted_{0};
    std::atomic<int> open_{0};
};

}  // namespace gridlet::sim

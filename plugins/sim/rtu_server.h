// A Modbus RTU server on a serial device (or a pseudo-terminal made by socat):
// frames requests by function code and CRC, answers the unit ids the router
// serves, stays silent for others (as on a real RS-485 bus).
//
// Thread-safety: start/stop from the owner; faults() from any thread.
#pragma once

#include "faults.h"
#include "modbus_pdu.h"

#include <atomic>
#include <string>
#include <thread>

namespace gridlet::sim {

struct SerialSettings {
    std::string device;  // "/dev/ttyUSB0", "/dev/pts/5"
    int baud = 19200;
    char parity = 'N';   // N, E, O
    int data_bits = 8;
    int stop_bits = 1;
};

class RtuServer {
public:
    explicit RtuServer(UnitRouter& router);
    ~RtuServer();
    RtuServer(const RtuServer&) = delete;
    RtuServer& operator=(const RtuServer&) = delete;

    // Returns an error text, or "" on success.
    std::string start(const SerialSettings& s);
    void stop();
    Faults& faults() { return faults_; }
    uint64_t requests() const { return requests_.load(); }
    uint64_t crc_errors() const { return crc_errors_.load(); }

private:
    void run();
    void write_all(const uint8_t* data, size_t n);

    UnitRouter& router_;
    Faults faults_;
    int fd_ = -1;
    int wake_fd_[2] = {-1, -1};
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::atomic<uint64_t> requests_{0};
    std::atomic<uint64_t> crc_errors_{0};
};

// termios speed constant for a baud rate, or 0 if unsupported.
unsigned baud_constant(int baud);

}  // namespace gridlet::sim

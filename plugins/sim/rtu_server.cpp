#include "rtu_server.h"

#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

namespace gridlet::sim {

unsigned baud_constant(int baud) {
    switch (baud) {
    case 1200: return B1200;
    case 2400: return B2400;
    case 4800: return B4800;
    case 9600: return B9600;
    case 19200: return B19200;
    case 38400: return B38400;
    case 57600: return B57600;
    case 115200: return B115200;
    case 230400: return B230400;
    default: return 0;
    }
}

RtuServer::RtuServer(UnitRouter& router) : router_(router) {}
RtuServer::~RtuServer() { stop(); }

std::string RtuServer::start(const SerialSettings& s) {
    if (thread_.joinable()) return "server already running";
    unsigned speed = baud_constant(s.baud);
    if (!speed) return "unsupported baud rate " + std::to_string(s.baud);
    int fd = ::open(s.device.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return "open " + s.device + ": " + std::strerror(errno);
    termios t{};
    if (::tcgetattr(fd, &t) < 0) {
        ::close(fd);
        return "tcgetattr " + s.device + ": " + std::strerror(errno);
    }
    ::cfmakeraw(&t);
    ::cfsetispeed(&t, speed);
    ::cfsetospeed(&t, speed);
    t.c_cflag &= ~(CSIZE | PARENB | PARODD | CSTOPB);
    t.c_cflag |= CLOCAL | CREAD;
    t.c_cflag |= s.data_bits == 7 ? CS7 : s.data_bits == 6 ? CS6 : s.data_bits == 5 ? CS5 : CS8;
    if (s.parity == 'E') t.c_cflag |= PARENB;
    if (s.parity == 'O') t.c_cflag |= PARENB | PARODD;
    if (s.stop_bits == 2) t.c_cflag |= CSTOPB;
    ::tcsetattr(fd, TCSANOW, &t);
    if (::pipe2(wake_fd_, O_CLOEXEC | O_NONBLOCK) < 0) {
        ::close(fd);
        return std::string("pipe: ") + std::strerror(errno);
    }
    fd_ = fd;
    stop_ = false;
    thread_ = std::thread([this] { run(); });
    return {};
}

void RtuServer::stop() {
    if (!thread_.joinable()) return;
    stop_ = true;
    uint8_t b = 1;
    (void)!::write(wake_fd_[1], &b, 1);
    thread_.join();
    ::close(fd_);
    ::close(wake_fd_[0]);
    ::close(wake_fd_[1]);
    fd_ = wake_fd_[0] = wake_fd_[1] = -1;
}

void RtuServer::write_all(const uint8_t* data, size_t n) {
    size_t off = 0;
    while (off < n) {
        ssize_t w = ::write(fd_, data + off, n - off);
        if (w > 0) off += static_cast<size_t>(w);
        else if (w < 0 && errno == EAGAIN) ::usleep(1000);
        else break;
    }
}

void RtuServer::run() {
    std::vector<uint8_t> buf;
    using Clock = std::chrono::steady_clock;
    auto last_byte = Clock::now();
    while (!stop_) {
        pollfd p[2] = {{wake_fd_[0], POLLIN, 0}, {fd_, POLLIN, 0}};
        int n = ::poll(p, 2, buf.empty() ? 500 : 20);
        if (n < 0 && errno != EINTR) break;
        if (n == 0 && !buf.empty()) {  // inter-frame silence: discard a partial frame
            if (Clock::now() - last_byte > std::chrono::milliseconds(50)) buf.clear();
            continue;
        }
        if (p[0].revents) continue;
        if (!(p[1].revents & POLLIN)) {
            if (p[1].revents & (POLLHUP | POLLERR)) ::usleep(20000);  // pty peer not open yet
            continue;
        }
        uint8_t tmp[512];
        ssize_t r = ::read(fd_, tmp, sizeof tmp);
        if (r <= 0) continue;
        last_byte = Clock::now();
        buf.insert(buf.end(), tmp, tmp + r);
        for (;;) {
            int need = rtu_request_length(buf.data(), buf.size());
            if (need == 0 || (need > 0 && buf.size() < size_t(need))) break;
            if (need < 0) {  // unknown function: resynchronise on silence
                buf.clear();
                break;
            }
            std::vector<uint8_t> frame(buf.begin(), buf.begin() + need);
            buf.erase(buf.begin(), buf.begin() + need);
            uint16_t crc = crc16_modbus(frame.data(), frame.size() - 2);
            if ((frame[frame.size() - 2] | (frame[frame.size() - 1] << 8)) != crc) {
                crc_errors_++;
                buf.clear();
                break;
            }
            FaultRequest fr;
            fr.seq = requests_++;
            uint8_t unit = frame[0];
            fr.unit = unit;
            fr.fc = frame[1];
            if (frame.size() >= 8) {
                fr.address = static_cast<uint16_t>((frame[2] << 8) | frame[3]);
                fr.count = static_cast<uint16_t>((frame[4] << 8) | frame[5]);
            }
            FaultAction act = faults_.decide(fr);
            RegisterSpace* s = router_.unit(unit);
            if (!s || faults_.silent.load() || act.no_reply) continue;  // not ours / hung: silence
            std::vector<uint8_t> resp;
            if (act.exception) {
                resp = exception_pdu(frame[1], static_cast<uint8_t>(act.exception));
            } else if (faults_.exception_burst.load() > 0) {
                faults_.exception_burst--;
                resp = exception_pdu(frame[1], static_cast<uint8_t>(faults_.exception_code.load()));
            } else {
                resp = handle_pdu(*s, frame.data() + 1, frame.size() - 3);
            }
            if (act.bad_byte_count && resp.size() >= 2 && !(resp[0] & 0x80)) resp[1]++;
            if (unit == 0) continue;  // broadcast: no reply
            std::vector<uint8_t> out{act.reply_unit >= 0 ? static_cast<uint8_t>(act.reply_unit) : unit};
            out.insert(out.end(), resp.begin(), resp.end());
            if (faults_.malformed_burst.load() > 0) {
                faults_.malformed_burst--;
                out.push_back(0);  // bad CRC below
            }
            uint16_t oc = crc16_modbus(out.data(), out.size());
            out.push_back(static_cast<uint8_t>(oc & 0xFF));
            out.push_back(static_cast<uint8_t>(oc >> 8));
            if (!act.raw.empty()) out = act.raw;  // garbage on the line
            int lat = faults_.latency_ms.load() + act.delay_ms;
            if (lat > 0) std::this_thread::sleep_for(std::chrono::milliseconds(lat));
            // split_at: the first bytes, a silence of split_delay_ms, the rest.
            const size_t first = act.split_at > 0 && size_t(act.split_at) < out.size() ? size_t(act.split_at) : out.size();
            write_all(out.data(), first);
            if (first < out.size()) {
                std::this_thread::sleep_for(std::chrono::milliseconds(act.split_delay_ms));
                write_all(out.data() + first, out.size() - first);
            }
        }
    }
}

}  // namespace gridlet::sim

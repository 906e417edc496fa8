// Modbus TCP framed on a plain socket: see link.h for what is checked.
#include "client_pdu.h"
#include "link.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace gridlet::modbus {
namespace {

using Clock = std::chrono::steady_clock;

std::string endpoint_text(const sockaddr* sa) {
    char host[INET6_ADDRSTRLEN] = "?";
    uint16_t port = 0;
    if (sa->sa_family == AF_INET) {
        auto* in = reinterpret_cast<const sockaddr_in*>(sa);
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
        return std::string(host) + ":" + std::to_string(port);
    }
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    port = ntohs(in6->sin6_port);
    return "[" + std::string(host) + "]:" + std::to_string(port);
}

struct AddrInfo {
    addrinfo* list = nullptr;
    int rc = 0;
    AddrInfo(const std::string& host, const std::string& port) {
        addrinfo hints{};
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICSERV;
        rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &list);
    }
    ~AddrInfo() {
        if (list) ::freeaddrinfo(list);
    }
};

int remaining_ms(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left <= 0 ? 0 : static_cast<int>(left) + 1;
}

class TcpLink final : public Link {
public:
    TcpLink(LinkConfig cfg, int cancel_fd) : Link(std::move(cfg)), cancel_fd_(cancel_fd) {}
    ~TcpLink() override { close(); }

    bool connected() const override { return fd_ >= 0; }

    void close() override {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
        in_.clear();
    }

    std::string connect(int timeout_ms) override {
        close();
        AddrInfo ai(cfg_.host, cfg_.port);
        if (ai.rc != 0) return "cannot resolve '" + cfg_.host + "': " + ::gai_strerror(ai.rc);
        std::string last = "no address";
        const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
        for (addrinfo* a = ai.list; a; a = a->ai_next) {
            int fd = ::socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                last = std::strerror(errno);
                continue;
            }
            int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
            if (rc != 0 && errno == EINPROGRESS) {
                int w = wait(fd, POLLOUT, remaining_ms(deadline));
                int err = 0;
                socklen_t el = sizeof err;
                if (w == 0) {
                    err = ETIMEDOUT;
                } else if (w < 0) {
                    err = ECANCELED;
                } else {
                    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
                }
                rc = err == 0 ? 0 : -1;
                errno = err;
            }
            if (rc != 0) {
                last = "connect to " + endpoint_text(a->ai_addr) + ": " +
                       (errno == ETIMEDOUT ? "no answer within " + std::to_string(timeout_ms) + " ms" : std::strerror(errno));
                ::close(fd);
                if (errno == ECANCELED) break;
                continue;
            }
            int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            // A device that vanishes without closing is noticed by keepalive
            // even while nothing is polled (60 s idle, then 3 probes 10 s apart).
            ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
            int idle = 60, intvl = 10, cnt = 3;
            ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
            ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
            ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
            fd_ = fd;
            last_activity_ = Clock::now();
            suspect_ = false;
            return {};
        }
        return last;
    }

    Result read(int unit, int fc, uint16_t address, uint16_t count, uint16_t* out, int timeout_ms) override {
        Request rq;
        rq.fc = fc;
        rq.address = address;
        rq.count = count;
        return transact(unit, rq, out, timeout_ms);
    }

    Result write(int unit, int fc, uint16_t address, const std::vector<uint16_t>& words, int timeout_ms) override {
        Request rq;
        rq.fc = fc;
        rq.address = address;
        rq.words = &words;
        return transact(unit, rq, nullptr, timeout_ms);
    }

private:
    // >0 ready, 0 timed out, <0 cancelled or poll error.
    int wait(int fd, short events, int timeout_ms) {
        pollfd p[2] = {{fd, events, 0}, {cancel_fd_, POLLIN, 0}};
        for (;;) {
            int n = ::poll(p, cancel_fd_ >= 0 ? 2 : 1, timeout_ms);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return -1;
            if (n == 0) return 0;
            if (cancel_fd_ >= 0 && (p[1].revents & POLLIN)) return -1;
            return 1;
        }
    }

    Result disconnected(std::string why) {
        close();
        return {Outcome::Disconnected, 0, std::move(why)};
    }

    // Between transactions every byte waiting on the socket is a late reply
    // (or noise): discard it. A closed peer is noticed here, before sending.
    bool drain() {
        uint8_t buf[512];
        bool had = !in_.empty();  // frames that came after the last reply
        for (;;) {
            ssize_t r = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
            if (r > 0) {
                had = true;
                continue;
            }
            if (r == 0) {
                counters_.peer_closes++;
                close();
                return false;
            }
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            close();
            return false;
        }
        if (had) counters_.count_stale(timed_out_unit_);  // the late reply of the last request that timed out
        in_.clear();
        return true;
    }

    Result transact(int unit, const Request& rq, uint16_t* out, int timeout_ms) {
        if (fd_ < 0) return {Outcome::Disconnected, 0, "not connected"};
        pdu_.clear();
        encode_request(rq, pdu_);
        if (pdu_.empty()) return {Outcome::Malformed, 0, "invalid request (function " + std::to_string(rq.fc) + ")"};
        // A drain costs a syscall: only after a failure, or after an idle
        // time in which the device may have closed the connection.
        if (suspect_ || Clock::now() - last_activity_ > std::chrono::milliseconds(50) || !in_.empty()) {
            if (!drain()) return {Outcome::Disconnected, 0, "connection closed by the device"};
        }
        suspect_ = true;  // until this transaction ends cleanly
        const uint16_t tid = ++tid_;
        const uint16_t len = static_cast<uint16_t>(pdu_.size() + 1);
        frame_.assign({static_cast<uint8_t>(tid >> 8), static_cast<uint8_t>(tid & 0xFF), 0, 0,
                       static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len & 0xFF), static_cast<uint8_t>(unit)});
        frame_.insert(frame_.end(), pdu_.begin(), pdu_.end());
        const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);

        size_t sent = 0;
        while (sent < frame_.size()) {
            ssize_t w = ::send(fd_, frame_.data() + sent, frame_.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0) {
                sent += static_cast<size_t>(w);
                continue;
            }
            if (w < 0 && errno == EINTR) continue;
            if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                int rc = wait(fd_, POLLOUT, remaining_ms(deadline));
                if (rc < 0) return disconnected("driver is stopping");
                if (rc == 0) return disconnected("request not sent within " + std::to_string(timeout_ms) + " ms");
                continue;
            }
            counters_.peer_closes++;
            return disconnected(std::string("connection lost: ") + std::strerror(errno));
        }

        for (;;) {
            // Complete frames first.
            while (in_.size() >= 7) {
                const uint16_t rtid = static_cast<uint16_t>((in_[0] << 8) | in_[1]);
                const uint16_t proto = static_cast<uint16_t>((in_[2] << 8) | in_[3]);
                const uint16_t flen = static_cast<uint16_t>((in_[4] << 8) | in_[5]);
                if (proto != 0 || flen < 2 || flen > 254) {
                    counters_.framing_errors++;
                    std::string what = proto != 0 ? "protocol id " + std::to_string(proto) + " (Modbus TCP is 0)"
                                                  : "MBAP length " + std::to_string(flen) + " (2..254)";
                    close();  // cannot tell where the next frame starts
                    return {Outcome::Malformed, 0, "malformed reply (" + what + "); connection reopened"};
                }
                if (in_.size() < size_t(6) + flen) break;
                const uint8_t runit = in_[6];
                reply_.assign(in_.begin() + 7, in_.begin() + 6 + flen);
                in_.erase(in_.begin(), in_.begin() + 6 + flen);
                if (rtid != tid) {  // a reply to an earlier request, late
                    counters_.count_stale(runit);
                    continue;
                }
                last_activity_ = Clock::now();
                if (runit != static_cast<uint8_t>(unit)) {
                    suspect_ = !in_.empty();
                    return {Outcome::WrongUnit, 0,
                            "reply from unit " + std::to_string(runit) + " to a request for unit " + std::to_string(unit)};
                }
                Result r = decode_reply(rq, reply_.data(), reply_.size(), out);
                suspect_ = !in_.empty() || r.outcome == Outcome::Malformed;
                return r;
            }
            int rc = wait(fd_, POLLIN, remaining_ms(deadline));
            if (rc < 0) return disconnected("driver is stopping");
            if (rc == 0) {
                if (!in_.empty()) {  // a reply cut off: the stream cannot be trusted
                    counters_.framing_errors++;
                    close();
                    return {Outcome::Timeout, 0,
                            "incomplete reply within " + std::to_string(timeout_ms) + " ms; connection reopened"};
                }
                timed_out_unit_ = unit;  // bytes found before the next request are its late reply
                return {Outcome::Timeout, 0, "no reply within " + std::to_string(timeout_ms) + " ms"};
            }
            uint8_t buf[1024];
            ssize_t r = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
            if (r > 0) {
                in_.insert(in_.end(), buf, buf + r);
                continue;
            }
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
            counters_.peer_closes++;
            return disconnected(r == 0 ? "connection closed by the device" : std::string("connection lost: ") + std::strerror(errno));
        }
    }

    int cancel_fd_;
    int timed_out_unit_ = -1;  // unit of the last request that timed out
    int fd_ = -1;
    uint16_t tid_ = 0;
    bool suspect_ = false;
    Clock::time_point last_activity_{};
    std::vector<uint8_t> in_, pdu_, frame_, reply_;
};

}  // namespace

std::unique_ptr<Link> make_tcp_link(const LinkConfig& cfg, int cancel_fd) {
    return std::make_unique<TcpLink>(cfg, cancel_fd);
}

std::vector<std::string> resolve_endpoints(const LinkConfig& cfg) {
    std::vector<std::string> out;
    if (cfg.kind != LinkConfig::Kind::Tcp) return {cfg.key()};
    AddrInfo ai(cfg.host, cfg.port);
    if (ai.rc != 0) return {cfg.key()};
    for (addrinfo* a = ai.list; a; a = a->ai_next) out.push_back(endpoint_text(a->ai_addr));
    if (out.empty()) out.push_back(cfg.key());
    return out;
}

}  // namespace gridlet::modbus

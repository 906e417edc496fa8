#include "tcp_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <vector>

namespace gridlet::sim {
namespace {

using Clock = std::chrono::steady_clock;

struct Client {
    int fd = -1;
    std::vector<uint8_t> in;
    int served = 0;
    Clock::time_point last_activity = Clock::now();
};

struct Delayed {
    Clock::time_point due;
    int fd;
    uint64_t generation;
    std::vector<uint8_t> bytes;
    bool close_after = false;
};

void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Writes all bytes to a non-blocking socket, waiting briefly when full.
bool send_all(int fd, const uint8_t* p, size_t n) {
    while (n > 0) {
        ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= static_cast<size_t>(w);
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pollfd pf{fd, POLLOUT, 0};
            if (::poll(&pf, 1, 1000) <= 0) return false;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else {
            return false;
        }
    }
    return true;
}

}  // namespace

TcpServer::TcpServer(UnitRouter& router) : router_(router) {}
TcpServer::~TcpServer() { stop(); }

void TcpServer::set_ticker(std::function<void()> tick, std::chrono::milliseconds period) {
    tick_ = std::move(tick);
    tick_period_ = period;
}

std::string TcpServer::start(uint16_t port, const std::string& bind) {
    if (running()) return "server already running";
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::string("socket: ") + std::strerror(errno);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (::inet_pton(AF_INET, bind.c_str(), &a.sin_addr) != 1) {
        ::close(fd);
        return "bad bind address '" + bind + "' (IPv4 expected)";
    }
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 || ::listen(fd, 128) < 0) {
        std::string e = "bind " + bind + ":" + std::to_string(port) + ": " + std::strerror(errno);
        ::close(fd);
        return e;
    }
    socklen_t al = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &al);
    port_ = ntohs(a.sin_port);
    set_nonblock(fd);
    if (::pipe2(wake_fd_, O_CLOEXEC | O_NONBLOCK) < 0) {
        ::close(fd);
        return std::string("pipe: ") + std::strerror(errno);
    }
    listen_fd_ = fd;
    stop_ = false;
    thread_ = std::thread([this] { run(); });
    return {};
}

void TcpServer::stop() {
    if (!thread_.joinable()) return;
    stop_ = true;
    uint8_t b = 1;
    (void)!::write(wake_fd_[1], &b, 1);
    thread_.join();
    ::close(listen_fd_);
    ::close(wake_fd_[0]);
    ::close(wake_fd_[1]);
    listen_fd_ = wake_fd_[0] = wake_fd_[1] = -1;
}

void TcpServer::run() {
    std::map<int, std::unique_ptr<Client>> clients;
    std::map<int, uint64_t> generation;  // fd reuse guard for delayed replies
    uint64_t next_gen = 1;
    std::deque<Delayed> delayed;  // ordered by due
    auto schedule = [&](Delayed d) {
        auto at = std::upper_bound(delayed.begin(), delayed.end(), d.due,
                                   [](Clock::time_point t, const Delayed& x) { return t < x.due; });
        delayed.insert(at, std::move(d));
    };
    auto next_tick = Clock::now() + tick_period_;
    std::vector<pollfd> pfds;

    auto close_client = [&](int fd) {
        ::close(fd);
        clients.erase(fd);
        generation.erase(fd);
        open_--;
    };

    while (!stop_) {
        auto now = Clock::now();
        if (tick_ && tick_period_.count() > 0 && now >= next_tick) {
            tick_();
            next_tick += tick_period_;
            if (next_tick < now) next_tick = now + tick_period_;
        }
        while (!delayed.empty() && delayed.front().due <= now) {
            Delayed d = std::move(delayed.front());
            delayed.pop_front();
            auto g = generation.find(d.fd);
            if (g == generation.end() || g->second != d.generation) continue;
            if (!send_all(d.fd, d.bytes.data(), d.bytes.size()) || d.close_after) close_client(d.fd);
        }
        if (int idle = faults_.idle_close_ms.load(); idle > 0) {
            std::vector<int> idle_fds;
            for (auto& [fd, c] : clients)
                if (now - c->last_activity > std::chrono::milliseconds(idle)) idle_fds.push_back(fd);
            for (int fd : idle_fds) close_client(fd);
        }
        if (faults_.drop_connections.exchange(false)) {
            while (!clients.empty()) close_client(clients.begin()->first);
            delayed.clear();
        }

        int timeout = faults_.idle_close_ms.load() > 0 ? 20 : 200;
        if (tick_ && tick_period_.count() > 0)
            timeout = std::min<int>(timeout, std::max<long>(0, std::chrono::duration_cast<std::chrono::milliseconds>(next_tick - now).count()));
        if (!delayed.empty())
            timeout = std::min<int>(timeout, std::max<long>(0, std::chrono::duration_cast<std::chrono::milliseconds>(delayed.front().due - now).count() + 1));

        pfds.clear();
        pfds.push_back({wake_fd_[0], POLLIN, 0});
        pfds.push_back({listen_fd_, POLLIN, 0});
        for (auto& [fd, c] : clients) pfds.push_back({fd, POLLIN, 0});
        int n = ::poll(pfds.data(), pfds.size(), timeout);
        if (n < 0 && errno != EINTR) break;
        if (n <= 0) continue;
        if (pfds[0].revents) {
            uint8_t buf[16];
            while (::read(wake_fd_[0], buf, sizeof buf) > 0) {
            }
        }
        if (pfds[1].revents & POLLIN) {
            for (;;) {
                int cfd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (cfd < 0) break;
                accepted_++;
                if (static_cast<int>(clients.size()) >= faults_.max_connections.load()) {
                    ::close(cfd);  // a single-connection device drops the newcomer
                    continue;
                }
                int one = 1;
                ::setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                auto c = std::make_unique<Client>();
                c->fd = cfd;
                clients[cfd] = std::move(c);
                generation[cfd] = next_gen++;
                open_++;
            }
        }
        for (size_t i = 2; i < pfds.size(); ++i) {
            if (!pfds[i].revents) continue;
            int fd = pfds[i].fd;
            auto it = clients.find(fd);
            if (it == clients.end()) continue;
            Client& c = *it->second;
            uint8_t buf[4096];
            ssize_t r = ::recv(fd, buf, sizeof buf, 0);
            if (r <= 0) {
                if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
                close_client(fd);
                continue;
            }
            c.in.insert(c.in.end(), buf, buf + r);
            c.last_activity = Clock::now();
            bool closed = false;
            while (c.in.size() >= 7 && !closed) {
                uint16_t proto = static_cast<uint16_t>((c.in[2] << 8) | c.in[3]);
                uint16_t len = static_cast<uint16_t>((c.in[4] << 8) | c.in[5]);
                if (proto != 0 || len < 2 || len > 254) {  // not Modbus: drop the peer
                    close_client(fd);
                    closed = true;
                    break;
                }
                if (c.in.size() < size_t(6 + len)) break;
                std::vector<uint8_t> frame(c.in.begin(), c.in.begin() + 6 + len);
                c.in.erase(c.in.begin(), c.in.begin() + 6 + len);
                FaultRequest fr;
                fr.seq = requests_++;
                fr.served = c.served++;
                uint8_t unit = frame[6];
                const uint8_t* pdu = frame.data() + 7;
                size_t pdu_len = len - 1;
                fr.unit = unit;
                fr.fc = pdu_len > 0 ? pdu[0] : 0;
                if (pdu_len >= 5) {
                    fr.address = static_cast<uint16_t>((pdu[1] << 8) | pdu[2]);
                    fr.count = static_cast<uint16_t>((pdu[3] << 8) | pdu[4]);
                }
                FaultAction act = faults_.decide(fr);
                if (act.close_instead) {
                    close_client(fd);
                    closed = true;
                    break;
                }
                std::vector<uint8_t> resp;
                bool reply = !act.no_reply;
                if (faults_.silent.load()) {
                    reply = false;
                } else if (act.exception) {
                    resp = exception_pdu(pdu[0], static_cast<uint8_t>(act.exception));
                } else if (faults_.exception_burst.load() > 0) {
                    faults_.exception_burst--;
                    resp = exception_pdu(pdu[0], static_cast<uint8_t>(faults_.exception_code.load()));
                } else if (faults_.malformed_burst.load() > 0) {
                    faults_.malformed_burst--;
                    resp = {static_cast<uint8_t>(pdu[0] ^ 0x40), 0xFF, 0x00};
                } else if (RegisterSpace* sp = router_.unit(unit)) {
                    resp = handle_pdu(*sp, pdu, pdu_len);
                } else if (router_.answer_unknown_unit()) {
                    resp = exception_pdu(pdu[0], kGatewayTargetFailed);
                } else {
                    reply = false;
                }
                if (reply) {
                    if (act.bad_byte_count && resp.size() >= 2 && !(resp[0] & 0x80)) resp[1]++;
                    std::vector<uint8_t> out(frame.begin(), frame.begin() + 7);
                    uint16_t olen = static_cast<uint16_t>(resp.size() + 1 + act.length_delta);
                    out[2] = static_cast<uint8_t>(act.protocol_id >> 8);
                    out[3] = static_cast<uint8_t>(act.protocol_id & 0xFF);
                    out[4] = static_cast<uint8_t>(olen >> 8);
                    out[5] = static_cast<uint8_t>(olen & 0xFF);
                    if (act.reply_unit >= 0) out[6] = static_cast<uint8_t>(act.reply_unit);
                    out.insert(out.end(), resp.begin(), resp.end());
                    if (!act.raw.empty()) out = act.raw;
                    int lat = faults_.latency_ms.load() + act.delay_ms;
                    auto due = Clock::now() + std::chrono::milliseconds(lat);
                    if (act.split_at > 0 && size_t(act.split_at) < out.size()) {
                        std::vector<uint8_t> rest(out.begin() + act.split_at, out.end());
                        out.resize(static_cast<size_t>(act.split_at));
                        schedule({due + std::chrono::milliseconds(act.split_delay_ms), fd, generation[fd], std::move(rest),
                                  act.close_after});
                        act.close_after = false;
                        lat = 1;  // the first part goes through the queue too, so the order holds
                    }
                    if (lat > 0) {
                        schedule({due, fd, generation[fd], std::move(out), act.close_after});
                    } else if (!send_all(fd, out.data(), out.size()) || act.close_after) {
                        close_client(fd);
                        closed = true;
                        break;
                    }
                }
                int drop_after = faults_.drop_after_requests.load();
                if (drop_after > 0 && c.served >= drop_after) {
                    close_client(fd);
                    closed = true;
                }
            }
        }
    }
    for (auto& [fd, c] : clients) ::close(fd);
    open_ = 0;
}

}  // namespace gridlet::sim

// RAII for ZeroMQ C handles. A ZmqSocket is used by one thread at a time;
// moving it to another thread needs a happens-before edge (thread start,
// mutex), as ZeroMQ requires.
#pragma once

#include <zmq.h>

#include <string>
#include <utility>

#include "core/status.h"

namespace gridlet::bus {

// Whether a process accepts connections on the unix socket of an ipc://
// endpoint now (a socket file left by a killed process refuses them).
// Any thread.
bool ipc_endpoint_live(const std::string& endpoint);

class ZmqSocket {
public:
    ZmqSocket() = default;
    ZmqSocket(void* ctx, int type) : s_(zmq_socket(ctx, type)) {}
    ~ZmqSocket() { close(); }
    ZmqSocket(ZmqSocket&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    ZmqSocket& operator=(ZmqSocket&& o) noexcept {
        if (this != &o) {
            close();
            s_ = std::exchange(o.s_, nullptr);
        }
        return *this;
    }
    ZmqSocket(const ZmqSocket&) = delete;
    ZmqSocket& operator=(const ZmqSocket&) = delete;

    void* get() const noexcept { return s_; }
    explicit operator bool() const noexcept { return s_ != nullptr; }

    void close() noexcept {
        if (s_) {
            int linger = 0;
            zmq_setsockopt(s_, ZMQ_LINGER, &linger, sizeof linger);
            zmq_close(s_);
            s_ = nullptr;
        }
    }
    Status set_int(int option, int value) {
        if (zmq_setsockopt(s_, option, &value, sizeof value) != 0) return error("setsockopt");
        return Status::ok();
    }
    Status bind(const std::string& ep) { return zmq_bind(s_, ep.c_str()) == 0 ? Status::ok() : error("bind " + ep); }
    Status connect(const std::string& ep) {
        return zmq_connect(s_, ep.c_str()) == 0 ? Status::ok() : error("connect " + ep);
    }

    static Status error(const std::string& what) {
        return Status::unavailable("zmq " + what + ": " + zmq_strerror(zmq_errno()));
    }

private:
    void* s_ = nullptr;
};

// A received message; frees itself.
class ZmqMessage {
public:
    ZmqMessage() { zmq_msg_init(&m_); }
    ~ZmqMessage() { zmq_msg_close(&m_); }
    ZmqMessage(const ZmqMessage&) = delete;
    ZmqMessage& operator=(const ZmqMessage&) = delete;
    zmq_msg_t* get() noexcept { return &m_; }
    std::string_view view() noexcept {
        return {static_cast<const char*>(zmq_msg_data(&m_)), zmq_msg_size(&m_)};
    }

private:
    zmq_msg_t m_;
};

}  // namespace gridlet::bus

// Modbus RTU on libmodbus: see link.h.
#include "link.h"

#include <modbus/modbus.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace gridlet::modbus {

std::string exception_text(int code) {
    static const char* names[] = {"",
                                  "illegal function",
                                  "illegal data address",
                                  "illegal data value",
                                  "server device failure",
                                  "acknowledge",
                                  "server device busy",
                                  "negative acknowledge",
                                  "memory parity error",
                                  "",
                                  "gateway path unavailable",
                                  "gateway target device failed to respond"};
    char buf[16];
    std::snprintf(buf, sizeof buf, "%02X", code);
    std::string name = code > 0 && code < 12 && names[code][0] ? names[code] : "unknown exception";
    return std::string(buf) + " (" + name + ")";
}

std::unique_ptr<Link> Link::make(const LinkConfig& cfg, int cancel_fd) {
    return cfg.kind == LinkConfig::Kind::Tcp ? make_tcp_link(cfg, cancel_fd) : make_rtu_link(cfg, cancel_fd);
}

namespace {

class RtuLink final : public Link {
public:
    RtuLink(LinkConfig cfg, int cancel_fd) : Link(std::move(cfg)), cancel_fd_(cancel_fd) {}
    ~RtuLink() override { close(); }

    bool connected() const override { return connected_; }

    void close() override {
        if (ctx_) {
            if (connected_) modbus_close(ctx_);
            modbus_free(ctx_);
        }
        ctx_ = nullptr;
        connected_ = false;
        timeout_ms_ = unit_ = -1;
    }

    std::string connect(int timeout_ms) override {
        close();
        ctx_ = modbus_new_rtu(cfg_.device.c_str(), cfg_.baud, cfg_.parity, cfg_.data_bits, cfg_.stop_bits);
        if (!ctx_) return std::string("cannot open ") + cfg_.device + ": " + std::strerror(errno);
        set_timeout(timeout_ms);
        if (modbus_connect(ctx_) != 0) {
            std::string e = "open " + cfg_.device + ": " + modbus_strerror(errno);
            modbus_free(ctx_);
            ctx_ = nullptr;
            return e;
        }
        connected_ = true;
        flush_first_ = true;
        return {};
    }

    Result read(int unit, int fc, uint16_t address, uint16_t count, uint16_t* out, int timeout_ms) override {
        if (!prepare(unit, timeout_ms)) return {Outcome::Disconnected, 0, "not connected"};
        int rc;
        if (fc == 3) rc = modbus_read_registers(ctx_, address, count, out);
        else if (fc == 4) rc = modbus_read_input_registers(ctx_, address, count, out);
        else {
            uint8_t bits[2000];
            rc = fc == 1 ? modbus_read_bits(ctx_, address, count, bits) : modbus_read_input_bits(ctx_, address, count, bits);
            if (rc == count)
                for (int i = 0; i < count; ++i) out[i] = bits[i];
        }
        if (rc == count) return heard({});
        flush_first_ = true;
        failed_unit_ = unit_;
        if (rc >= 0) return heard({Outcome::Malformed, 0, "malformed reply (short reply)"});
        return classify(errno, "read");
    }

    Result write(int unit, int fc, uint16_t address, const std::vector<uint16_t>& w, int timeout_ms) override {
        if (!prepare(unit, timeout_ms)) return {Outcome::Disconnected, 0, "not connected"};
        int rc = -1;
        int n = static_cast<int>(w.size());
        switch (fc) {
        case 5: rc = modbus_write_bit(ctx_, address, w.at(0) ? 1 : 0); break;
        case 6: rc = modbus_write_register(ctx_, address, w.at(0)); break;
        case 15: {
            std::vector<uint8_t> bits(w.begin(), w.end());
            rc = modbus_write_bits(ctx_, address, n, bits.data());
            if (rc == n) rc = 1;
            break;
        }
        case 16:
            rc = modbus_write_registers(ctx_, address, n, w.data());
            if (rc == n) rc = 1;
            break;
        default: return {Outcome::Malformed, 0, "unsupported write function " + std::to_string(fc)};
        }
        if (rc == 1) return heard({});
        flush_first_ = true;
        failed_unit_ = unit_;
        if (rc >= 0) return heard({Outcome::Malformed, 0, "malformed reply (write not confirmed)"});
        return classify(errno, "write");
    }

private:
    bool prepare(int unit, int timeout_ms) {
        if (!connected_) return false;
        set_timeout(timeout_ms);
        if (unit != unit_) {
            modbus_set_slave(ctx_, unit);
            unit_ = unit;
        }
        if (late_reply_possible_) {  // RTU has no transaction id: wait for the late reply to pass
            drain_until_quiet(timeout_ms_, 2 * timeout_ms_);
            late_reply_possible_ = false;
        }
        if (flush_first_) {  // a late reply to a failed request must not be read as this one's
            if (modbus_flush(ctx_) > 0) counters_.count_stale(failed_unit_);
            flush_first_ = false;
        }
        return true;
    }

    // After a timeout: reads and discards what arrives until the line has
    // been silent for quiet_ms (at most max_ms in all, or until cancelled).
    // A reply later than that cannot be told from the next one's on RTU;
    // the plugin README says so.
    void drain_until_quiet(int quiet_ms, int max_ms) {
        const int fd = modbus_get_socket(ctx_);
        if (fd < 0) return;
        using Clock = std::chrono::steady_clock;
        const auto deadline = Clock::now() + std::chrono::milliseconds(max_ms);
        bool discarded = false;
        for (;;) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
            if (left <= 0) break;
            pollfd p[2] = {{fd, POLLIN, 0}, {cancel_fd_, POLLIN, 0}};
            const int n = ::poll(p, cancel_fd_ >= 0 ? 2 : 1, static_cast<int>(std::min<int64_t>(quiet_ms, left)));
            if (n <= 0 || (cancel_fd_ >= 0 && p[1].revents)) break;  // quiet, or stopping
            uint8_t junk[256];
            if (::read(fd, junk, sizeof junk) <= 0) break;
            discarded = true;
        }
        if (discarded) counters_.count_stale(failed_unit_);
    }

    void set_timeout(int ms) {
        if (ms == timeout_ms_) return;
        auto sec = static_cast<uint32_t>(ms / 1000), usec = static_cast<uint32_t>((ms % 1000) * 1000);
        modbus_set_response_timeout(ctx_, sec, usec);
        // Silence allowed inside one reply: the whole response timeout (a
        // converter may deliver a frame in pieces).
        modbus_set_byte_timeout(ctx_, sec, usec);
        timeout_ms_ = ms;
    }

    Result heard(Result r) {
        heard_since_timeout_ = true;
        return r;
    }

    Result classify(int err, const char* what) {
        Result r;
        if (err >= EMBXILFUN && err <= EMBXGTAR) {
            heard_since_timeout_ = true;
            r.outcome = Outcome::Exception;
            r.exception = err - MODBUS_ENOBASE;
            r.error = std::string(what) + ": Modbus exception " + exception_text(r.exception);
        } else if (err == EMBBADSLAVE) {
            heard_since_timeout_ = true;
            r.outcome = Outcome::WrongUnit;
            r.error = std::string(what) + ": reply from another unit than " + std::to_string(unit_);
        } else if (err >= EMBBADCRC && err <= EMBBADSLAVE) {
            heard_since_timeout_ = true;
            r.outcome = Outcome::Malformed;
            r.error = std::string(what) + ": malformed reply (" + modbus_strerror(err) + ")";
        } else if (err == ETIMEDOUT) {
            // The device may still answer it, unless the line has been dead
            // since the last timeout (then waiting would only slow the bus).
            late_reply_possible_ = heard_since_timeout_;
            failed_unit_ = unit_;
            heard_since_timeout_ = false;
            r.outcome = Outcome::Timeout;
            r.error = std::string(what) + ": no reply within " + std::to_string(timeout_ms_) + " ms";
        } else {
            r.outcome = Outcome::Disconnected;
            r.error = std::string(what) + ": " + modbus_strerror(err);
            close();
        }
        return r;
    }

    modbus_t* ctx_ = nullptr;
    bool connected_ = false;
    int cancel_fd_ = -1;  // readable when the worker stops (owned by the caller)
    bool flush_first_ = false;
    bool late_reply_possible_ = false;  // a request timed out: its reply may still come
    bool heard_since_timeout_ = true;   // something answered since the last timeout
    int failed_unit_ = -1;              // the unit of the last failed request (late bytes are its)
    int timeout_ms_ = -1;
    int unit_ = -1;
};

}  // namespace

std::unique_ptr<Link> make_rtu_link(const LinkConfig& cfg, int cancel_fd) {
    return std::make_unique<RtuLink>(cfg, cancel_fd);
}

}  // namespace gridlet::modbus

// LinkWorker: one Modbus link (a TCP endpoint, or a serial bus) with the
// devices polled over it, on a thread of its own: the poll schedule, the
// connection and its backoff, requests with retries (transact), failing
// blocks and online state, and commands (writes with read-back). Internal to
// the driver: the Poller (poller.h) makes one per resolved endpoint.
//
// Files: link_worker.cpp (life cycle, schedule, connection), link_poll.cpp
// (a poll, failing blocks, online state), link_commands.cpp (commands).
//
// Threads: the worker's own thread runs run(); command(), stats(), plan(),
// request_stop() and join() may be called from any thread; the rest runs on
// the worker's thread.
#pragma once

#include "decoder.h"
#include "link.h"
#include "poller.h"
#include "register_plan.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace gridlet::modbus {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Wait before sending a request again after exception 05/06 (busy).
inline constexpr int kBusyRetryMs = 100;

// The comm/* series of each device (comm_stats = true).
inline constexpr int kCommStats = 9;
inline constexpr int kFailingPoints = 7;
inline const char* const kCommStatNames[kCommStats] = {"requests",   "timeouts",     "exceptions",
                                                       "malformed",  "failed_polls", "reconnects",
                                                       "wrong_unit", "failing_points", "stale_replies"};
inline const char* const kCommStatHelp[kCommStats] = {
    "Modbus requests sent (driver counter)",
    "Requests without a reply within timeout_ms (driver counter)",
    "Modbus exception replies (driver counter)",
    "Malformed replies: function, byte count, echo or framing (driver counter)",
    "Polls in which no request returned data (driver counter)",
    "Connections opened after the first (driver counter)",
    "Replies from another unit id than the one asked, refused (driver counter)",
    "Points without a value because their block answers with an exception or malformed reply",
    "Late replies to this device's requests, discarded (driver counter)"};

inline int64_t mono_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count();
}

inline std::string json_str(const std::string& s) {
    std::string o = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') o += '\\';
        if (static_cast<unsigned char>(c) < 0x20) continue;
        o += c;
    }
    return o + "\"";
}

class LinkWorker {
public:
    struct Dev {
        DeviceConfig cfg;
        std::shared_ptr<const Profile> profile;
        RegisterPlan plan;
        std::vector<uint32_t> series;  // per point
        uint32_t online_series = 0;
        uint32_t stat_series[kCommStats] = {};
        std::shared_ptr<const PointDecoder> decoder;  // shared by the devices of one profile
        std::vector<uint16_t> regs;  // every request's registers, flat (decoder.request_offset)
        std::vector<uint8_t> ok;
        std::vector<std::string> block_error;  // per request: why it fails now ("" = it works)
        std::vector<int> block_timeouts;       // per request: polls in a row it timed out while others answered
        // Per request, on a shared connection: a block failing by timeouts is
        // tried once (one attempt) at most every offline_poll_ms, so the
        // other units keep their period; mono_us() of its next try.
        std::vector<int64_t> block_retry_at_us;
        // Shared connection: it has timed out once, so it is polled after the
        // other units of its slot from then on.
        bool late_in_slot = false;
        std::vector<uint32_t> block_points;    // per request: points that need it (computed once)
        unsigned faults_logged = 0;            // Outcome bits already logged once (note_fault)
        Clock::time_point next_due;
        Clock::time_point grid_origin;  // its poll grid: grid_origin + k · poll_ms
        int failures = 0;
        int online = -1;  // -1 unknown, 0 offline, 1 online
        DeviceStats stats;
        // This poll's samples: the first n_samples of a buffer sized once
        // (points, online, comm counters), so a poll neither allocates nor clears.
        std::vector<gl_sample> samples;
        size_t n_samples = 0;
        void add_sample(const gl_sample& s) {
            if (n_samples == samples.size()) samples.resize(n_samples + 8);
            samples[n_samples++] = s;
        }
    };

    LinkWorker(const LinkConfig& link, Sink& sink, bool comm_stats);
    ~LinkWorker();

    const LinkConfig& link_config() const { return link_->config(); }
    void add(Poller::Device d, std::shared_ptr<const PointDecoder> decoder);
    void register_series();
    void start();

    // Asks the worker to stop and wakes it wherever it waits (a poll gap, a
    // connect, a reply); returns at once. join() waits for it.
    void request_stop();
    void join();
    void stop();

    bool has(const std::string& name) const { return find(name) != nullptr; }

    void command(const std::string& device, const std::string& point, double value, const std::string& text, CommandDone done);

    DeviceStats stats(const std::string& name) const;

    const RegisterPlan* plan(const std::string& name) const;

private:
    struct Job {
        std::string device, point;
        double value;
        std::string text;
        CommandDone done;
    };

    const Dev* find(const std::string& name) const;
    Dev* find(const std::string& name);

    bool stopping();

    // Sleeps until `until` or a stop. False when stopping.
    bool sleep_until(Clock::time_point until);

    // A dead unit on a shared connection is polled every offline_poll_ms
    // (one attempt), so that the live units keep their period.
    bool demoted(const Dev& d) const { return d.online == 0 && devices_.size() > 1; }

    void run();

    std::string where() const { return "modbus: " + link_->config().key(); }

    // The first fault of each kind on a device (timeout, exception, malformed
    // reply, reply from another unit, late reply discarded) is logged, even
    // when a retry recovers; later ones are counted in its comm/* series.
    void note_fault(Dev& d, const Result& r) {
        const unsigned bit = 1u << static_cast<unsigned>(r.outcome);
        if (d.faults_logged & bit) return;
        d.faults_logged |= bit;
        sink_.log(GL_LOG_WARN, "modbus: device '" + d.cfg.name + "' (unit " + std::to_string(d.cfg.unit_id) +
                                   "): " + r.error + " (first time; further ones are counted in comm/" +
                                   comm_series_of(r.outcome) + ")");
    }

    void count_connect(bool ok);

    // A failed connection (or one closed before it ever answered) doubles
    // the reconnect delay; only an answer resets it.
    void back_off(const std::string& why);

    // Connects if needed and allowed by the backoff. True when connected.
    bool ensure_connected(const Dev& d);

    bool connect_now(const Dev& d);

    // The device answered on this connection (any well-framed reply).
    void note_answer();

    void wait_gap();

    void sync_link_counters();

    // One request with retries; counts per device. (A template, not a
    // std::function: it runs for every request.)
    //  - retried: a timeout, a malformed reply, a reply from another unit, and
    //    exceptions 05 (acknowledge) and 06 (busy), the latter after
    //    kBusyRetryMs ("retry later", Modbus Application Protocol 7);
    //  - not retried: exceptions 01-04, 0A and 0B (the gateway already waited);
    //  - a connection the device closed after it had answered on it is
    //    reopened at once and the request sent again (once per request);
    //    one closed before any answer backs off like a failed connect.
    template <class Op>
    Result transact(Dev& d, const Op& op, bool single_attempt = false) {
        Result r;
        bool reopened = false;
        // One attempt for a unit that is offline, or whose last poll failed,
        // on a shared connection: the other units wait for its timeouts.
        const int attempts =
            single_attempt || demoted(d) || (devices_.size() > 1 && d.failures > 0) ? 1 : d.cfg.retries + 1;
        for (int attempt = 0; attempt < attempts; ++attempt) {
            if (!link_->connected() && !connect_now(d)) {
                r = {Outcome::Disconnected, 0, "not connected"};
                break;
            }
            wait_gap();
            r = op();
            if (gap_ms_ > 0) last_request_end_ = Clock::now();  // only the gap needs it
            const bool framed = r.outcome == Outcome::Ok || r.outcome == Outcome::Exception ||
                                r.outcome == Outcome::WrongUnit || (r.outcome == Outcome::Malformed && link_->connected());
            {
                std::lock_guard sl(stats_mu_);
                d.stats.requests++;
                if (r.outcome == Outcome::Timeout) d.stats.timeouts++;
                if (r.outcome == Outcome::Exception) d.stats.exceptions++;
                if (r.outcome == Outcome::Malformed) d.stats.malformed++;
                if (r.outcome == Outcome::WrongUnit) d.stats.wrong_unit++;
            }
            sync_link_counters();
            if (framed) note_answer();
            if (r.outcome != Outcome::Ok && r.outcome != Outcome::Disconnected) note_fault(d, r);
            if (r.outcome == Outcome::Ok) break;
            if (r.outcome == Outcome::Disconnected) {
                if (stopping()) break;
                if (answered_ && !reopened) {  // it worked: the device closed it (idle, or after each reply)
                    reopened = true;
                    {
                        std::lock_guard sl(stats_mu_);
                        d.stats.reopened++;
                    }
                    if (!peer_close_logged_) {
                        sink_.log(GL_LOG_INFO, where() + ": " + r.error +
                                                   "; reopened and the request sent again (counted in comm/reconnects; "
                                                   "further reopenings are logged at debug level)");
                        peer_close_logged_ = true;
                    } else {
                        sink_.log(GL_LOG_DEBUG, where() + ": " + r.error + "; reopened");
                    }
                    if (connect_now(d)) {
                        --attempt;
                        continue;
                    }
                    break;
                }
                if (!answered_) back_off("connection closed before any answer");
                else lost_connection();
                break;
            }
            if (r.outcome == Outcome::Exception) {
                if (r.exception != 5 && r.exception != 6) break;
                if (attempt + 1 < attempts && !sleep_until(Clock::now() + milliseconds(kBusyRetryMs))) break;
            }
        }
        return r;
    }

    void lost_connection();

    std::string block_text(const Dev& d, size_t i) const;

    // The points whose value (or scale) lies in request i, for messages.
    std::string block_point_names(const Dev& d, size_t i) const;

    // A block that answers with an exception or a malformed reply: logged
    // (and an event) when it starts failing and when the reason changes;
    // its points have no value meanwhile. The other blocks go on.
    void block_failed(Dev& d, size_t i, const Result& r);

    // A block without a reply while the device answers its other blocks:
    // failing from its second poll in a row (a single late reply is not).
    void block_timed_out(Dev& d, size_t i, const Result& r);

    void block_recovered(Dev& d, size_t i);

    void update_failing_points(Dev& d);

    void poll(Dev& d);

    static gl_sample sample(int64_t ts, double v, uint32_t id, uint8_t q);

    void set_online(Dev& d, int state, int64_t ts, const std::string& why);

    // ------------------------------------------------------------ commands

    void execute(Job& j);

    void count_write(Dev& d, bool ok);

    void fail_write(Dev& d, Job& j, const std::string& why);

    void write_point(Dev& d, Job& j, const Point& p, const std::string& target);

    int cancel_fd_;
    std::unique_ptr<Link> link_;
    Sink& sink_;
    bool comm_stats_;
    int gap_ms_ = 0;
    std::vector<std::unique_ptr<Dev>> devices_;
    std::thread thread_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::deque<Job> jobs_;
    mutable std::mutex stats_mu_;
    int64_t backoff_ms_ = 0;
    uint64_t link_stale_ = 0, peer_closes_seen_ = 0;
    Clock::time_point next_connect_{};
    Clock::time_point last_request_end_{};
    bool connect_failed_ = false;
    bool answered_ = false;            // the current connection has answered at least once
    bool peer_close_logged_ = false;
};

}  // namespace gridlet::modbus

#include "poller.h"

#include "decoder.h"
#include "link.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <thread>

#include <sys/eventfd.h>
#include <unistd.h>

namespace gridlet::modbus {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Wait before sending a request again after exception 05/06 (busy).
constexpr int kBusyRetryMs = 100;

// The comm/* series of each device (comm_stats = true).
constexpr int kCommStats = 8;
constexpr int kFailingPoints = 7;
const char* const kCommStatNames[kCommStats] = {"requests",     "timeouts",   "exceptions", "malformed",
                                                "failed_polls", "reconnects", "wrong_unit", "failing_points"};
const char* const kCommStatHelp[kCommStats] = {
    "Modbus requests sent (driver counter)",
    "Requests without a reply within timeout_ms (driver counter)",
    "Modbus exception replies (driver counter)",
    "Malformed replies: function, byte count, echo or framing (driver counter)",
    "Polls in which no request returned data (driver counter)",
    "Connections opened after the first (driver counter)",
    "Replies from another unit id than the one asked, refused (driver counter)",
    "Points without a value because their block answers with an exception or malformed reply"};

int64_t mono_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count();
}

std::string json_str(const std::string& s) {
    std::string o = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') o += '\\';
        if (static_cast<unsigned char>(c) < 0x20) continue;
        o += c;
    }
    return o + "\"";
}

}  // namespace

// ---------------------------------------------------------------- LinkWorker

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
        std::vector<uint32_t> block_points;    // per request: points that need it (computed once)
        Clock::time_point next_due;
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

    LinkWorker(const LinkConfig& link, Sink& sink, bool comm_stats)
        : cancel_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), link_(Link::make(link, cancel_fd_)), sink_(sink),
          comm_stats_(comm_stats) {}
    ~LinkWorker() {
        stop();
        if (cancel_fd_ >= 0) ::close(cancel_fd_);
    }

    const LinkConfig& link_config() const { return link_->config(); }

    void add(Poller::Device d, std::shared_ptr<const PointDecoder> decoder) {
        auto dev = std::make_unique<Dev>();
        dev->cfg = std::move(d.config);
        dev->profile = std::move(d.profile);
        dev->plan = plan_reads(*dev->profile);
        dev->decoder = std::move(decoder);
        dev->regs.assign(dev->decoder->buffer_size(), 0);
        dev->ok.resize(dev->plan.requests.size());
        dev->block_error.resize(dev->plan.requests.size());
        dev->block_points.assign(dev->plan.requests.size(), 0);
        for (size_t i = 0; i < dev->plan.points.size(); ++i) {
            int rq = dev->plan.points[i].request, sq = dev->plan.scales[i].request;
            if (rq >= 0) dev->block_points[rq]++;
            if (sq >= 0 && sq != rq) dev->block_points[sq]++;
        }
        // A shared link takes the largest gap any of its devices asks for.
        gap_ms_ = std::max(gap_ms_, dev->cfg.link.gap_ms);
        devices_.push_back(std::move(dev));
    }

    void register_series() {
        for (auto& d : devices_) {
            const std::string& dn = d->cfg.name;
            std::string tags = "device=" + dn + ",profile=" + d->profile->name;
            for (const Point& p : d->profile->points) {
                SeriesDef s{dn + "/" + p.name, p.unit, p.description, tags, p.states, p.kind};
                d->series.push_back(sink_.register_series(s));
            }
            d->online_series = sink_.register_series({dn + "/online", "", "1 while the device answers polls", tags,
                                                      "0=offline,1=online", GL_SERIES_STATE});
            if (comm_stats_) {
                for (int i = 0; i < kCommStats; ++i)
                    d->stat_series[i] = sink_.register_series({dn + "/comm/" + kCommStatNames[i], "", kCommStatHelp[i],
                                                               tags, "", i == kFailingPoints ? GL_SERIES_GAUGE : GL_SERIES_COUNTER});
            }
            d->samples.resize(d->decoder->points() + kCommStats + 8);
        }
    }

    void start() {
        auto now = Clock::now();
        for (auto& d : devices_) d->next_due = now;
        thread_ = std::thread([this] { run(); });
    }

    // Asks the worker to stop and wakes it wherever it waits (a poll gap, a
    // connect, a reply); returns at once. join() waits for it.
    void request_stop() {
        {
            std::lock_guard lk(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        uint64_t one = 1;
        if (cancel_fd_ >= 0) (void)!::write(cancel_fd_, &one, sizeof one);
    }

    void join() {
        if (thread_.joinable()) thread_.join();
        std::deque<Job> left;
        {
            std::lock_guard lk(mu_);
            left.swap(jobs_);
        }
        for (Job& j : left) j.done(GL_ERR_STOPPED, "driver is stopping");
    }

    void stop() {
        request_stop();
        join();
    }

    bool has(const std::string& name) const { return find(name) != nullptr; }

    void command(const std::string& device, const std::string& point, double value, const std::string& text, CommandDone done) {
        {
            std::lock_guard lk(mu_);
            if (!stop_) {
                jobs_.push_back({device, point, value, text, std::move(done)});
                cv_.notify_all();
                return;
            }
        }
        done(GL_ERR_STOPPED, "driver is stopping");
    }

    DeviceStats stats(const std::string& name) const {
        std::lock_guard lk(stats_mu_);
        const Dev* d = find(name);
        DeviceStats s = d ? d->stats : DeviceStats{};
        s.backoff_ms = backoff_ms_;
        s.stale_replies = link_stale_;
        return s;
    }

    const RegisterPlan* plan(const std::string& name) const {
        const Dev* d = find(name);
        return d ? &d->plan : nullptr;
    }

private:
    struct Job {
        std::string device, point;
        double value;
        std::string text;
        CommandDone done;
    };

    const Dev* find(const std::string& name) const {
        for (auto& d : devices_)
            if (d->cfg.name == name) return d.get();
        return nullptr;
    }
    Dev* find(const std::string& name) {
        for (auto& d : devices_)
            if (d->cfg.name == name) return d.get();
        return nullptr;
    }

    bool stopping() {
        std::lock_guard lk(mu_);
        return stop_;
    }

    // Sleeps until `until` or a stop. False when stopping.
    bool sleep_until(Clock::time_point until) {
        std::unique_lock lk(mu_);
        return !cv_.wait_until(lk, until, [&] { return stop_; });
    }

    // A dead unit on a shared connection is polled every offline_poll_ms
    // (one attempt), so that the live units keep their period.
    bool demoted(const Dev& d) const { return d.online == 0 && devices_.size() > 1; }

    void run() {
        std::unique_lock lk(mu_);
        while (!stop_) {
            if (!jobs_.empty()) {
                Job j = std::move(jobs_.front());
                jobs_.pop_front();
                lk.unlock();
                execute(j);
                lk.lock();
                continue;
            }
            Dev* next = devices_.front().get();
            for (auto& d : devices_)
                if (d->next_due < next->next_due) next = d.get();
            if (Clock::now() < next->next_due) {
                cv_.wait_until(lk, next->next_due, [&] { return stop_ || !jobs_.empty(); });
                continue;
            }
            lk.unlock();
            poll(*next);
            auto period = milliseconds(next->cfg.poll_ms);
            if (period.count() == 0) {  // back to back (benchmarks; config requires >= 10 ms)
                next->next_due = Clock::now();
                lk.lock();
                continue;
            }
            if (demoted(*next)) {
                next->next_due = Clock::now() + std::max(period, milliseconds(next->cfg.offline_poll_ms));
                lk.lock();
                continue;
            }
            next->next_due += period;
            auto now = Clock::now();
            if (next->next_due <= now) {  // overran: skip the missed slots, stay on the grid
                auto missed = (now - next->next_due) / period + 1;
                next->next_due += period * missed;
                std::lock_guard sl(stats_mu_);
                next->stats.overruns += static_cast<uint64_t>(missed);
            }
            lk.lock();
        }
        lk.unlock();
        link_->close();
    }

    std::string where() const { return "modbus: " + link_->config().key(); }

    void count_connect(bool ok) {
        std::lock_guard sl(stats_mu_);
        for (auto& x : devices_) (ok ? x->stats.connects : x->stats.connect_failures)++;
    }

    // A failed connection (or one closed before it ever answered) doubles
    // the reconnect delay; only an answer resets it.
    void back_off(const std::string& why) {
        {
            std::lock_guard sl(stats_mu_);
            backoff_ms_ = backoff_ms_ == 0 ? link_->config().reconnect_min_ms
                                           : std::min<int64_t>(backoff_ms_ * 2, link_->config().reconnect_max_ms);
        }
        next_connect_ = Clock::now() + milliseconds(backoff_ms_);
        if (!connect_failed_) sink_.log(GL_LOG_WARN, where() + ": " + why + " (retrying with backoff up to " +
                                                         std::to_string(link_->config().reconnect_max_ms) + " ms)");
        connect_failed_ = true;
    }

    // Connects if needed and allowed by the backoff. True when connected.
    bool ensure_connected(const Dev& d) {
        if (link_->connected()) return true;
        if (Clock::now() < next_connect_) return false;
        return connect_now(d);
    }

    bool connect_now(const Dev& d) {
        std::string err = link_->connect(d.cfg.timeout_ms);
        count_connect(err.empty());
        answered_ = false;
        if (err.empty()) return true;
        if (!stopping()) back_off(err);
        return false;
    }

    // The device answered on this connection (any well-framed reply).
    void note_answer() {
        if (answered_) return;
        answered_ = true;
        {
            std::lock_guard sl(stats_mu_);
            backoff_ms_ = 0;
        }
        if (connect_failed_) sink_.log(GL_LOG_INFO, where() + ": connected, the device answers");
        connect_failed_ = false;
    }

    void wait_gap() {
        if (gap_ms_ <= 0) return;
        auto until = last_request_end_ + milliseconds(gap_ms_);
        if (Clock::now() < until) sleep_until(until);
    }

    void sync_link_counters() {
        const LinkCounters& c = link_->counters();
        if (c.stale_replies == link_stale_ && c.peer_closes == peer_closes_seen_) return;
        std::lock_guard sl(stats_mu_);
        link_stale_ = c.stale_replies;
        peer_closes_seen_ = c.peer_closes;
    }

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
    Result transact(Dev& d, const Op& op) {
        Result r;
        bool reopened = false;
        const int attempts = demoted(d) ? 1 : d.cfg.retries + 1;
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

    void lost_connection() {
        std::lock_guard sl(stats_mu_);
        for (auto& x : devices_) x->stats.disconnects++;
        backoff_ms_ = link_->config().reconnect_min_ms;
        next_connect_ = Clock::now() + milliseconds(backoff_ms_);
    }

    std::string block_text(const Dev& d, size_t i) const {
        const ReadRequest& rq = d.plan.requests[i];
        return "fc " + std::to_string(rq.fc) + ", address " + std::to_string(rq.address + d.profile->address_base) +
               ", count " + std::to_string(rq.count);
    }

    // The points whose value (or scale) lies in request i, for messages.
    std::string block_point_names(const Dev& d, size_t i) const {
        std::string out;
        size_t n = 0;
        for (size_t p = 0; p < d.plan.points.size(); ++p) {
            if (d.plan.points[p].request != int(i) && d.plan.scales[p].request != int(i)) continue;
            if (n < 8) out += (out.empty() ? "" : ", ") + d.profile->points[p].name;
            n++;
        }
        if (n > 8) out += " and " + std::to_string(n - 8) + " more";
        return out;
    }

    // A block that answers with an exception or a malformed reply: logged
    // (and an event) when it starts failing and when the reason changes;
    // its points have no value meanwhile. The other blocks go on.
    void block_failed(Dev& d, size_t i, const Result& r) {
        if (d.block_error[i] == r.error) return;
        const bool first = d.block_error[i].empty();
        d.block_error[i] = r.error;
        update_failing_points(d);
        std::string pts = block_point_names(d, i);
        sink_.log(GL_LOG_WARN, "modbus: device '" + d.cfg.name + "' (unit " + std::to_string(d.cfg.unit_id) + "): " +
                                   block_text(d, i) + ": " + r.error + (first ? "" : " (changed)") + "; points without value: " +
                                   pts + "; the other blocks are still polled");
        const ReadRequest& rq = d.plan.requests[i];
        std::string body = "{\"device\":" + json_str(d.cfg.name) + ",\"unit_id\":" + std::to_string(d.cfg.unit_id) +
                           ",\"fc\":" + std::to_string(rq.fc) + ",\"address\":" + std::to_string(rq.address + d.profile->address_base) +
                           ",\"count\":" + std::to_string(rq.count) + ",\"exception\":" + std::to_string(r.exception) +
                           ",\"error\":" + json_str(r.error) + ",\"points\":" + json_str(pts) + "}";
        sink_.event(d.cfg.name, "points_failing", GL_SEV_WARNING, body);
    }

    void block_recovered(Dev& d, size_t i) {
        d.block_error[i].clear();
        update_failing_points(d);
        sink_.log(GL_LOG_INFO, "modbus: device '" + d.cfg.name + "': " + block_text(d, i) + " answers again");
        std::string body = "{\"device\":" + json_str(d.cfg.name) + ",\"fc\":" + std::to_string(d.plan.requests[i].fc) +
                           ",\"address\":" + std::to_string(d.plan.requests[i].address + d.profile->address_base) + "}";
        sink_.event(d.cfg.name, "points_recovered", GL_SEV_INFO, body);
    }

    void update_failing_points(Dev& d) {
        uint64_t n = 0;
        for (size_t i = 0; i < d.block_error.size(); ++i)
            if (!d.block_error[i].empty()) n += d.block_points[i];
        std::lock_guard sl(stats_mu_);
        d.stats.failing_points = n;
    }

    void poll(Dev& d) {
        int64_t start_us = mono_us();
        int64_t ts = sink_.now_ms();
        std::fill(d.ok.begin(), d.ok.end(), 0);
        bool any_ok = false;
        std::string last_error;
        if (ensure_connected(d)) {
            for (size_t i = 0; i < d.plan.requests.size(); ++i) {
                const ReadRequest& rq = d.plan.requests[i];
                uint16_t* out = d.regs.data() + d.decoder->request_offset(i);
                Result r = transact(d, [&] { return link_->read(d.cfg.unit_id, rq.fc, rq.address, rq.count, out, d.cfg.timeout_ms); });
                if (r.outcome == Outcome::Ok) {
                    d.ok[i] = 1;
                    any_ok = true;
                    if (!d.block_error[i].empty()) block_recovered(d, i);
                    continue;
                }
                last_error = r.error + " (" + block_text(d, i) + ")";
                if (r.outcome == Outcome::Disconnected || r.outcome == Outcome::Timeout) break;  // a hung device: do not spend the cycle on it
                if (r.outcome == Outcome::Exception && (r.exception == 0x0A || r.exception == 0x0B)) break;  // the gateway cannot reach it
                block_failed(d, i, r);
            }
        } else {
            last_error = "not connected";
        }
        if (!any_ok && stopping()) return;  // cut short by the stop: not a failed poll
        if (d.samples.size() < d.decoder->points() + kCommStats + 8) d.samples.resize(d.decoder->points() + kCommStats + 8);
        if (d.series.size() < d.decoder->points()) d.series.resize(d.decoder->points(), 0);
        d.n_samples = any_ok ? d.decoder->decode(d.regs.data(), d.ok.data(), ts, d.series.data(), d.samples.data()) : 0;
        {
            std::lock_guard sl(stats_mu_);
            d.stats.polls++;
            (any_ok ? d.stats.good_polls : d.stats.failed_polls)++;
        }
        if (any_ok) {
            d.failures = 0;
            if (d.online != 1) set_online(d, 1, ts, "");
        } else {
            d.failures++;
            if (d.online != 0 && d.failures >= d.cfg.offline_after) set_online(d, 0, ts, last_error);
        }
        if (comm_stats_) {
            DeviceStats s = stats(d.cfg.name);
            const double v[kCommStats] = {double(s.requests),     double(s.timeouts),
                                          double(s.exceptions),   double(s.malformed),
                                          double(s.failed_polls), double(s.connects > 0 ? s.connects - 1 : 0),
                                          double(s.wrong_unit),   double(s.failing_points)};
            for (int i = 0; i < kCommStats; ++i) d.add_sample(sample(ts, v[i], d.stat_series[i], GL_QUALITY_GOOD));
        }
        if (d.n_samples > 0) sink_.publish(d.samples.data(), d.n_samples);
        sink_.poll_done(d.cfg.name, start_us, any_ok);
    }

    static gl_sample sample(int64_t ts, double v, uint32_t id, uint8_t q) {
        gl_sample s{};
        s.ts_ms = ts;
        s.value = v;
        s.series_id = id;
        s.quality = q;
        return s;
    }

    void set_online(Dev& d, int state, int64_t ts, const std::string& why) {
        d.online = state;
        {
            std::lock_guard sl(stats_mu_);
            d.stats.online = state == 1;
        }
        d.add_sample(sample(ts, state, d.online_series, GL_QUALITY_GOOD));
        std::string body = "{\"device\":" + json_str(d.cfg.name) + ",\"unit_id\":" + std::to_string(d.cfg.unit_id);
        if (state == 0) body += ",\"failed_polls\":" + std::to_string(d.failures) + ",\"error\":" + json_str(why);
        body += "}";
        sink_.event(d.cfg.name, state ? "online" : "offline", state ? GL_SEV_INFO : GL_SEV_WARNING, body);
        std::string demote = state == 0 && devices_.size() > 1
                                 ? " (shares its connection: polled every " +
                                       std::to_string(std::max(d.cfg.poll_ms, d.cfg.offline_poll_ms)) + " ms until it answers)"
                                 : "";
        sink_.log(state ? GL_LOG_INFO : GL_LOG_WARN, "modbus: device '" + d.cfg.name + "' is " +
                                                         (state ? "online" : "offline" + (why.empty() ? "" : ": " + why)) + demote);
    }

    // ------------------------------------------------------------ commands

    void execute(Job& j) {
        Dev* d = find(j.device);
        if (!d) return j.done(GL_ERR_NOT_FOUND, "modbus: unknown device '" + j.device + "'");
        std::string target = j.point;
        const Profile& prof = *d->profile;
        const Command* c = prof.find_command(target);
        if (!c && !j.text.empty()) {
            c = prof.find_command(target + "/" + j.text);
            if (c) target += "/" + j.text;
        }
        const Point* p = c ? nullptr : prof.find_point(target);
        if (!c && !p) return j.done(GL_ERR_NOT_FOUND, "modbus: device '" + j.device + "' (profile '" + prof.name +
                                                          "') has no point or command '" + target + "'");
        if (p && !p->writable) return j.done(GL_ERR_INVALID, "modbus: point '" + target + "' is read-only");
        if (!ensure_connected(*d)) return fail_write(*d, j, "device '" + j.device + "' is not connected");
        if (c) {
            Result r = transact(*d, [&] { return link_->write(d->cfg.unit_id, c->fc, static_cast<uint16_t>(c->address), c->words, d->cfg.timeout_ms); });
            if (r.outcome != Outcome::Ok) return fail_write(*d, j, "command '" + target + "' (register " + std::to_string(c->address + prof.address_base) + "): " + r.error);
            count_write(*d, true);
            return j.done(GL_OK, "");
        }
        write_point(*d, j, *p, target);
    }

    void count_write(Dev& d, bool ok) {
        std::lock_guard sl(stats_mu_);
        (ok ? d.stats.writes : d.stats.write_errors)++;
    }

    void fail_write(Dev& d, Job& j, const std::string& why) {
        count_write(d, false);
        j.done(GL_ERR, "modbus: " + why);
    }

    void write_point(Dev& d, Job& j, const Point& p, const std::string& target) {
        size_t idx = static_cast<size_t>(&p - d.profile->points.data());
        RegisterPlan rb = plan_reads(*d.profile, {idx});
        PointDecoder dec(*d.profile, rb);
        std::vector<uint16_t> buf(dec.buffer_size(), 0);
        std::vector<uint8_t> ok(rb.requests.size(), 0);
        auto read_all = [&]() -> std::string {
            for (size_t i = 0; i < rb.requests.size(); ++i) {
                const ReadRequest& rq = rb.requests[i];
                uint16_t* out = buf.data() + dec.request_offset(i);
                Result r = transact(d, [&] { return link_->read(d.cfg.unit_id, rq.fc, rq.address, rq.count, out, d.cfg.timeout_ms); });
                if (r.outcome != Outcome::Ok) return r.error;
                ok[i] = 1;
            }
            return {};
        };
        int exp = p.scale;
        if (p.has_scale_register) {  // never trust a cached scale: read it now
            if (std::string e = read_all(); !e.empty()) return fail_write(d, j, "reading the scale of '" + target + "': " + e);
            uint16_t s = buf[dec.request_offset(rb.scales[idx].request) + rb.scales[idx].offset];
            if (s == 0x8000) return fail_write(d, j, "the scale register of '" + target + "' reads invalid (0x8000)");
            exp += static_cast<int16_t>(s);
        }
        double raw = p.type == ValueType::Bool ? (j.value != 0) : j.value / (p.multiplier * pow10i(exp));
        auto words = encode(raw, p.type, p.word_order, p.byte_order);
        if (!words) return fail_write(d, j, "value " + std::to_string(j.value) + " does not fit '" + target + "' (" + value_type_name(p.type) + ", scale 10^" + std::to_string(exp) + ")");
        Result r = transact(d, [&] { return link_->write(d.cfg.unit_id, p.write_fc, static_cast<uint16_t>(p.address), *words, d.cfg.timeout_ms); });
        if (r.outcome != Outcome::Ok) return fail_write(d, j, "writing '" + target + "' (register " + std::to_string(p.address + d.profile->address_base) + "): " + r.error);
        if (std::string e = read_all(); !e.empty()) return fail_write(d, j, "read-back of '" + target + "': " + e);
        double back;
        uint8_t q;
        if (!dec.value(idx, buf.data(), ok.data(), &back, &q) || q != GL_QUALITY_GOOD)
            return fail_write(d, j, "read-back of '" + target + "' gave no valid value");
        double lsb = p.type == ValueType::Float32 ? std::fabs(j.value) * 1e-6 : p.multiplier * pow10i(exp) * 0.5;
        if (std::fabs(back - j.value) > lsb + 1e-12)
            return fail_write(d, j, "read-back mismatch on '" + target + "': wrote " + std::to_string(j.value) +
                                        ", device reports " + std::to_string(back) + " (write silently rejected?)");
        count_write(d, true);
        gl_sample s = sample(sink_.now_ms(), back, d.series[idx], GL_QUALITY_GOOD);
        sink_.publish(&s, 1);
        j.done(GL_OK, "");
    }

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

// -------------------------------------------------------------------- Poller

Poller::Poller(std::vector<Device> devices, Sink& sink, bool comm_stats) : sink_(sink), comm_stats_(comm_stats) {
    // One connection per endpoint: "localhost:502" and "127.0.0.1:502" are
    // the same device, and a device accepting one connection would refuse
    // the second.
    std::vector<std::pair<std::vector<std::string>, LinkWorker*>> links;
    std::map<const Profile*, std::shared_ptr<const PointDecoder>> decoders;  // one per profile
    for (Device& d : devices) {
        std::vector<std::string> endpoints = resolve_endpoints(d.config.link);
        LinkWorker* w = nullptr;
        for (auto& [eps, worker] : links) {
            if (worker->link_config().kind != d.config.link.kind) continue;
            for (const auto& e : endpoints)
                if (std::find(eps.begin(), eps.end(), e) != eps.end()) w = worker;
            if (w) break;
        }
        if (!w) {
            workers_.push_back(std::make_unique<LinkWorker>(d.config.link, sink_, comm_stats_));
            w = workers_.back().get();
            links.emplace_back(endpoints, w);
        }
        if (by_device_.count(d.config.name)) throw ConfigError("duplicate device name '" + d.config.name + "'");
        by_device_[d.config.name] = w;
        std::shared_ptr<const PointDecoder>& dec = decoders[d.profile.get()];
        if (!dec) dec = std::make_shared<const PointDecoder>(*d.profile, plan_reads(*d.profile));
        w->add(std::move(d), dec);
    }
}

Poller::~Poller() { stop(); }

void Poller::start() {
    for (auto& w : workers_) w->register_series();
    for (auto& w : workers_) w->start();
}

void Poller::stop() {
    // All at once: the stop time is one worker's, whatever their number.
    for (auto& w : workers_) w->request_stop();
    for (auto& w : workers_) w->join();
}

void Poller::command(const std::string& device, const std::string& point, double value, const std::string& text,
                     CommandDone done) {
    auto it = by_device_.find(device);
    if (it == by_device_.end()) return done(GL_ERR_NOT_FOUND, "modbus: unknown device '" + device + "'");
    it->second->command(device, point, value, text, std::move(done));
}

DeviceStats Poller::stats(const std::string& device) const {
    auto it = by_device_.find(device);
    return it == by_device_.end() ? DeviceStats{} : it->second->stats(device);
}

const RegisterPlan* Poller::plan(const std::string& device) const {
    auto it = by_device_.find(device);
    return it == by_device_.end() ? nullptr : it->second->plan(device);
}

}  // namespace gridlet::modbus

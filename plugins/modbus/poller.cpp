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

namespace gridlet::modbus {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

bool transient_exception(int code) { return code == 4 || code == 5 || code == 6 || code == 0x0A || code == 0x0B; }

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
        uint32_t stat_series[6] = {};
        std::shared_ptr<const PointDecoder> decoder;  // shared by the devices of one profile
        std::vector<uint16_t> regs;  // every request's registers, flat (decoder.request_offset)
        std::vector<uint8_t> ok;
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

    LinkWorker(LinkConfig link, Sink& sink, bool comm_stats) : link_(std::move(link)), sink_(sink), comm_stats_(comm_stats) {}
    ~LinkWorker() { stop(); }

    void add(Poller::Device d, std::shared_ptr<const PointDecoder> decoder) {
        auto dev = std::make_unique<Dev>();
        dev->cfg = std::move(d.config);
        dev->profile = std::move(d.profile);
        dev->plan = plan_reads(*dev->profile);
        dev->decoder = std::move(decoder);
        dev->regs.assign(dev->decoder->buffer_size(), 0);
        dev->ok.resize(dev->plan.requests.size());
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
                static const char* names[6] = {"requests", "timeouts", "exceptions", "malformed", "failed_polls", "reconnects"};
                for (int i = 0; i < 6; ++i)
                    d->stat_series[i] = sink_.register_series(
                        {dn + "/comm/" + names[i], "", std::string("Modbus ") + names[i] + " (driver counter)", tags, "",
                         GL_SERIES_COUNTER});
            }
            d->samples.resize(d->decoder->points() + 8);
        }
    }

    void start() {
        auto now = Clock::now();
        for (auto& d : devices_) d->next_due = now;
        thread_ = std::thread([this] { run(); });
    }

    void stop() {
        {
            std::lock_guard lk(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) thread_.join();
        std::deque<Job> left;
        {
            std::lock_guard lk(mu_);
            left.swap(jobs_);
        }
        for (Job& j : left) j.done(GL_ERR_STOPPED, "driver is stopping");
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
        link_.close();
    }

    // Connects if needed and allowed by the backoff. True when connected.
    bool ensure_connected(const Dev& d) {
        if (link_.connected()) return true;
        auto now = Clock::now();
        if (now < next_connect_) return false;
        std::string err = link_.connect(d.cfg.timeout_ms);
        std::lock_guard sl(stats_mu_);
        if (err.empty()) {
            for (auto& x : devices_) x->stats.connects++;
            backoff_ms_ = 0;
            if (connect_failed_) sink_.log(GL_LOG_INFO, "modbus: " + link_.config().key() + ": connected");
            connect_failed_ = false;
            return true;
        }
        for (auto& x : devices_) x->stats.connect_failures++;
        backoff_ms_ = backoff_ms_ == 0 ? link_.config().reconnect_min_ms
                                       : std::min<int64_t>(backoff_ms_ * 2, link_.config().reconnect_max_ms);
        next_connect_ = now + milliseconds(backoff_ms_);
        if (!connect_failed_) sink_.log(GL_LOG_WARN, "modbus: " + err + " (retrying with backoff)");
        connect_failed_ = true;
        return false;
    }

    void lost_connection() {
        std::lock_guard sl(stats_mu_);
        for (auto& x : devices_) x->stats.disconnects++;
        backoff_ms_ = link_.config().reconnect_min_ms;
        next_connect_ = Clock::now() + milliseconds(backoff_ms_);
    }

    void wait_gap() {
        if (gap_ms_ <= 0) return;
        auto until = last_request_end_ + milliseconds(gap_ms_);
        if (Clock::now() < until) std::this_thread::sleep_until(until);
    }

    // One request with retries; counts per device. (A template, not a
    // std::function: it runs for every request.)
    template <class Op>
    Result transact(Dev& d, const Op& op) {
        Result r;
        for (int attempt = 0; attempt <= d.cfg.retries; ++attempt) {
            wait_gap();
            r = op();
            if (gap_ms_ > 0) last_request_end_ = Clock::now();  // only the gap needs it
            {
                std::lock_guard sl(stats_mu_);
                d.stats.requests++;
                if (r.outcome == Outcome::Timeout) d.stats.timeouts++;
                if (r.outcome == Outcome::Exception) d.stats.exceptions++;
                if (r.outcome == Outcome::Malformed) d.stats.malformed++;
            }
            if (r.outcome == Outcome::Ok || r.outcome == Outcome::Disconnected) break;
            if (r.outcome == Outcome::Exception && !transient_exception(r.exception)) break;
        }
        if (r.outcome == Outcome::Disconnected) lost_connection();
        return r;
    }

    void poll(Dev& d) {
        int64_t start_us = mono_us();
        int64_t ts = sink_.now_ms();
        std::fill(d.ok.begin(), d.ok.end(), 0);
        bool any_ok = false, timed_out = false;
        std::string last_error;
        if (ensure_connected(d)) {
            for (size_t i = 0; i < d.plan.requests.size(); ++i) {
                const ReadRequest& rq = d.plan.requests[i];
                uint16_t* out = d.regs.data() + d.decoder->request_offset(i);
                Result r = transact(d, [&] { return link_.read(d.cfg.unit_id, rq.fc, rq.address, rq.count, out, d.cfg.timeout_ms); });
                if (r.outcome == Outcome::Ok) {
                    d.ok[i] = 1;
                    any_ok = true;
                    continue;
                }
                last_error = r.error + " (fc " + std::to_string(rq.fc) + ", address " + std::to_string(rq.address) +
                             ", count " + std::to_string(rq.count) + ")";
                if (r.outcome == Outcome::Disconnected) break;
                if (r.outcome == Outcome::Timeout) {  // a hung device: do not spend the cycle on it
                    timed_out = true;
                    break;
                }
            }
        } else {
            last_error = "not connected";
        }
        if (timed_out && !any_ok && link_.config().kind == LinkConfig::Kind::Tcp && devices_.size() == 1) {
            // Start afresh: a late reply must not be taken for the next request's.
            link_.close();
        }
        if (d.samples.size() < d.decoder->points() + 8) d.samples.resize(d.decoder->points() + 8);
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
            const double v[6] = {double(s.requests), double(s.timeouts), double(s.exceptions), double(s.malformed),
                                 double(s.failed_polls), double(s.connects > 0 ? s.connects - 1 : 0)};
            for (int i = 0; i < 6; ++i) d.add_sample(sample(ts, v[i], d.stat_series[i], GL_QUALITY_GOOD));
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
        sink_.log(state ? GL_LOG_INFO : GL_LOG_WARN,
                  "modbus: device '" + d.cfg.name + "' is " + (state ? "online" : "offline" + (why.empty() ? "" : ": " + why)));
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
            Result r = transact(*d, [&] { return link_.write(d->cfg.unit_id, c->fc, static_cast<uint16_t>(c->address), c->words, d->cfg.timeout_ms); });
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
                Result r = transact(d, [&] { return link_.read(d.cfg.unit_id, rq.fc, rq.address, rq.count, out, d.cfg.timeout_ms); });
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
        Result r = transact(d, [&] { return link_.write(d.cfg.unit_id, p.write_fc, static_cast<uint16_t>(p.address), *words, d.cfg.timeout_ms); });
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

    Link link_;
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
    Clock::time_point next_connect_{};
    Clock::time_point last_request_end_{};
    bool connect_failed_ = false;
};

// -------------------------------------------------------------------- Poller

Poller::Poller(std::vector<Device> devices, Sink& sink, bool comm_stats) : sink_(sink), comm_stats_(comm_stats) {
    std::map<std::string, LinkWorker*> by_link;
    std::map<const Profile*, std::shared_ptr<const PointDecoder>> decoders;  // one per profile
    for (Device& d : devices) {
        std::string key = d.config.link.key();
        LinkWorker*& w = by_link[key];
        if (!w) {
            workers_.push_back(std::make_unique<LinkWorker>(d.config.link, sink_, comm_stats_));
            w = workers_.back().get();
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
    for (auto& w : workers_) w->stop();
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

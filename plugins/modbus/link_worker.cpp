// LinkWorker: life cycle, the poll schedule and the connection (link_worker.h).
#include "link_worker.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>

namespace gridlet::modbus {

LinkWorker::LinkWorker(const LinkConfig& link, Sink& sink, bool comm_stats)
    : cancel_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), link_(Link::make(link, cancel_fd_)), sink_(sink),
      comm_stats_(comm_stats) {}

LinkWorker::~LinkWorker() {
    stop();
    if (cancel_fd_ >= 0) ::close(cancel_fd_);
}

void LinkWorker::add(Poller::Device d, std::shared_ptr<const PointDecoder> decoder) {
    auto dev = std::make_unique<Dev>();
    dev->cfg = std::move(d.config);
    dev->profile = std::move(d.profile);
    dev->plan = plan_reads(*dev->profile);
    dev->decoder = std::move(decoder);
    dev->regs.assign(dev->decoder->buffer_size(), 0);
    dev->ok.resize(dev->plan.requests.size());
    dev->block_error.resize(dev->plan.requests.size());
    dev->block_timeouts.resize(dev->plan.requests.size());
    dev->block_retry_at_us.resize(dev->plan.requests.size());
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

void LinkWorker::register_series() {
    for (auto& d : devices_) {
        const std::string& dn = d->cfg.name;
        std::string tags = "device=" + dn + ",profile=" + d->profile->name;
        for (const Point& p : d->profile->points) {
            SeriesDef s{dn + "/" + p.name, p.unit, p.description,
                        p.alarm.empty() ? tags : tags + ",alarm=" + p.alarm, p.states, p.kind};
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

void LinkWorker::start() {
    auto now = Clock::now();
    for (auto& d : devices_) d->next_due = d->grid_origin = now;
    thread_ = std::thread([this] { run(); });
}

void LinkWorker::request_stop() {
    {
        std::lock_guard lk(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    uint64_t one = 1;
    if (cancel_fd_ >= 0) (void)!::write(cancel_fd_, &one, sizeof one);
}

void LinkWorker::join() {
    if (thread_.joinable()) thread_.join();
    std::deque<Job> left;
    {
        std::lock_guard lk(mu_);
        left.swap(jobs_);
    }
    for (Job& j : left) j.done(GL_ERR_STOPPED, "driver is stopping");
}

void LinkWorker::stop() {
    request_stop();
    join();
}

DeviceStats LinkWorker::stats(const std::string& name) const {
    std::lock_guard lk(stats_mu_);
    const Dev* d = find(name);
    DeviceStats s = d ? d->stats : DeviceStats{};
    s.backoff_ms = backoff_ms_;
    return s;
}

const RegisterPlan* LinkWorker::plan(const std::string& name) const {
    const Dev* d = find(name);
    return d ? &d->plan : nullptr;
}

const LinkWorker::Dev* LinkWorker::find(const std::string& name) const {
    for (auto& d : devices_)
        if (d->cfg.name == name) return d.get();
    return nullptr;
}

LinkWorker::Dev* LinkWorker::find(const std::string& name) {
    for (auto& d : devices_)
        if (d->cfg.name == name) return d.get();
    return nullptr;
}

bool LinkWorker::stopping() {
    std::lock_guard lk(mu_);
    return stop_;
}

bool LinkWorker::sleep_until(Clock::time_point until) {
    std::unique_lock lk(mu_);
    return !cv_.wait_until(lk, until, [&] { return stop_; });
}

void LinkWorker::run() {
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
        const auto scheduled = next->next_due;
        poll(*next);
        auto period = milliseconds(next->cfg.poll_ms);
        if (period.count() == 0) {  // back to back (benchmarks; config requires >= 10 ms)
            next->next_due = Clock::now();
            lk.lock();
            continue;
        }
        if (demoted(*next)) {
            // The first slot of its own grid offline_poll_ms after this poll
            // was due, plus 1 ms: it runs after the live units due in the
            // same slot, so its timeout falls in their idle time.
            const auto wait = std::max(period, milliseconds(next->cfg.offline_poll_ms));
            const auto slot = (scheduled - next->grid_origin) / period;  // the slot this poll was due in
            const auto slots_later = (wait + period - std::chrono::nanoseconds(1)) / period;
            next->next_due = next->grid_origin + period * (slot + slots_later) + milliseconds(1);
            lk.lock();
            continue;
        }
        // On its grid: the slot after the one this poll was due in.
        next->next_due = next->grid_origin + period * ((scheduled - next->grid_origin) / period + 1);
        auto now = Clock::now();
        if (next->next_due <= now) {  // overran: skip the missed slots, stay on the grid
            auto missed = (now - next->next_due) / period + 1;
            next->next_due += period * missed;
            std::lock_guard sl(stats_mu_);
            next->stats.overruns += static_cast<uint64_t>(missed);
        }
        // On a shared connection, a unit that has timed out (a failing
        // block, one that answers now and then) is from then on polled after
        // the units due in the same slot, so its timeouts fall in their idle
        // time.
        if (next->late_in_slot) next->next_due += milliseconds(1);
        lk.lock();
    }
    lk.unlock();
    link_->close();
}

void LinkWorker::count_connect(bool ok) {
    std::lock_guard sl(stats_mu_);
    for (auto& x : devices_) (ok ? x->stats.connects : x->stats.connect_failures)++;
}

void LinkWorker::back_off(const std::string& why) {
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

bool LinkWorker::ensure_connected(const Dev& d) {
    if (link_->connected()) return true;
    if (Clock::now() < next_connect_) return false;
    return connect_now(d);
}

bool LinkWorker::connect_now(const Dev& d) {
    std::string err = link_->connect(d.cfg.timeout_ms);
    count_connect(err.empty());
    answered_ = false;
    if (err.empty()) return true;
    if (!stopping()) back_off(err);
    return false;
}

void LinkWorker::note_answer() {
    if (answered_) return;
    answered_ = true;
    {
        std::lock_guard sl(stats_mu_);
        backoff_ms_ = 0;
    }
    if (connect_failed_) sink_.log(GL_LOG_INFO, where() + ": connected, the device answers");
    connect_failed_ = false;
}

void LinkWorker::wait_gap() {
    if (gap_ms_ <= 0) return;
    auto until = last_request_end_ + milliseconds(gap_ms_);
    if (Clock::now() < until) sleep_until(until);
}

void LinkWorker::sync_link_counters() {
    const LinkCounters& c = link_->counters();
    if (c.stale_replies == link_stale_ && c.peer_closes == peer_closes_seen_) return;
    std::lock_guard sl(stats_mu_);
    for (auto& d : devices_) {
        const uint64_t mine = c.stale_by_unit[static_cast<size_t>(d->cfg.unit_id) & 0xFF];
        if (mine > 0 && d->stats.stale_replies == 0)
            sink_.log(GL_LOG_WARN, "modbus: device '" + d->cfg.name + "' (unit " + std::to_string(d->cfg.unit_id) +
                                       "): a late reply to an earlier request was discarded (first time; further "
                                       "ones are counted in comm/stale_replies)");
        d->stats.stale_replies = mine;
    }
    link_stale_ = c.stale_replies;
    peer_closes_seen_ = c.peer_closes;
}

void LinkWorker::lost_connection() {
    std::lock_guard sl(stats_mu_);
    for (auto& x : devices_) x->stats.disconnects++;
    backoff_ms_ = link_->config().reconnect_min_ms;
    next_connect_ = Clock::now() + milliseconds(backoff_ms_);
}

}  // namespace gridlet::modbus

// LinkWorker: one poll of a device, failing blocks and online state (link_worker.h).
#include "link_worker.h"

#include <algorithm>
#include <optional>

namespace gridlet::modbus {

std::string LinkWorker::block_text(const Dev& d, size_t i) const {
    const ReadRequest& rq = d.plan.requests[i];
    return "fc " + std::to_string(rq.fc) + ", address " + std::to_string(rq.address + d.profile->address_base) +
           ", count " + std::to_string(rq.count);
}

std::string LinkWorker::block_point_names(const Dev& d, size_t i) const {
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

void LinkWorker::block_failed(Dev& d, size_t i, const Result& r) {
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

void LinkWorker::block_timed_out(Dev& d, size_t i, const Result& r) {
    if (++d.block_timeouts[i] >= 2) block_failed(d, i, r);
}

void LinkWorker::block_recovered(Dev& d, size_t i) {
    d.block_error[i].clear();
    update_failing_points(d);
    sink_.log(GL_LOG_INFO, "modbus: device '" + d.cfg.name + "': " + block_text(d, i) + " answers again");
    std::string body = "{\"device\":" + json_str(d.cfg.name) + ",\"fc\":" + std::to_string(d.plan.requests[i].fc) +
                       ",\"address\":" + std::to_string(d.plan.requests[i].address + d.profile->address_base) + "}";
    sink_.event(d.cfg.name, "points_recovered", GL_SEV_INFO, body);
}

void LinkWorker::update_failing_points(Dev& d) {
    uint64_t n = 0;
    for (size_t i = 0; i < d.block_error.size(); ++i)
        if (!d.block_error[i].empty()) n += d.block_points[i];
    std::lock_guard sl(stats_mu_);
    d.stats.failing_points = n;
}

void LinkWorker::poll(Dev& d) {
    int64_t start_us = mono_us();
    int64_t ts = sink_.now_ms();
    std::fill(d.ok.begin(), d.ok.end(), 0);
    bool any_ok = false;
    std::string last_error;
    if (ensure_connected(d)) {
        // A block that times out while the device answers the others is a
        // failing block (reported after two polls in a row); two timeouts
        // in a row within a poll, or a first timeout on a device whose
        // last poll failed, mean a hung device: the rest of the cycle is
        // not spent on it. On a shared connection (gateway, RS-485 bus) a
        // block failing by timeouts is then tried once every
        // offline_poll_ms, so the other units keep their period.
        std::optional<std::pair<size_t, Result>> timed_out;
        bool answered = false;
        const bool shared = devices_.size() > 1;
        const uint64_t timeouts_before = stats(d.cfg.name).timeouts;
        for (size_t i = 0; i < d.plan.requests.size(); ++i) {
            const ReadRequest& rq = d.plan.requests[i];
            const bool failing_by_timeouts = shared && d.block_timeouts[i] >= 2 && !d.block_error[i].empty();
            if (failing_by_timeouts && mono_us() < d.block_retry_at_us[i]) continue;  // demoted: not this poll
            uint16_t* out = d.regs.data() + d.decoder->request_offset(i);
            Result r = transact(
                d, [&] { return link_->read(d.cfg.unit_id, rq.fc, rq.address, rq.count, out, d.cfg.timeout_ms); },
                failing_by_timeouts);
            // Its next try: the first poll offline_poll_ms after this one began
            // (1 ms early, as polls are 1 ms late in their slot).
            if (r.outcome == Outcome::Timeout && shared && d.block_timeouts[i] >= 1)
                d.block_retry_at_us[i] = start_us + int64_t{std::max(d.cfg.poll_ms, d.cfg.offline_poll_ms)} * 1000 - 2000;
            if (r.outcome == Outcome::Timeout) {
                last_error = r.error + " (" + block_text(d, i) + ")";
                // Only a device whose last poll answered gets the next
                // block tried after a timeout; a failing one is not waited for.
                // On a shared connection the others wait meanwhile: a unit
                // that has answered nothing yet in this poll is taken for a
                // dead one at its first timeout (a block that times out
                // after others answered is a failing block).
                if ((timed_out && timed_out->first + 1 == i) || (!answered && (d.failures > 0 || shared))) {
                    timed_out.reset();
                    break;
                }
                if (timed_out) block_timed_out(d, timed_out->first, timed_out->second);
                timed_out.emplace(i, r);
                continue;
            }
            if (r.outcome != Outcome::Disconnected) {  // the device answered this one
                answered = true;
                if (timed_out) block_timed_out(d, timed_out->first, timed_out->second);
                timed_out.reset();
            }
            if (r.outcome == Outcome::Ok) {
                d.ok[i] = 1;
                any_ok = true;
                d.block_timeouts[i] = 0;
                if (!d.block_error[i].empty()) block_recovered(d, i);
                continue;
            }
            last_error = r.error + " (" + block_text(d, i) + ")";
            if (r.outcome == Outcome::Disconnected) break;
            if (r.outcome == Outcome::Exception && (r.exception == 0x0A || r.exception == 0x0B)) break;  // the gateway cannot reach it
            block_failed(d, i, r);
        }
        if (timed_out && answered) block_timed_out(d, timed_out->first, timed_out->second);
        if (shared && timeouts_before != stats(d.cfg.name).timeouts) d.late_in_slot = true;
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
                                      double(s.wrong_unit),   double(s.failing_points),
                                      double(s.stale_replies)};
        for (int i = 0; i < kCommStats; ++i) d.add_sample(sample(ts, v[i], d.stat_series[i], GL_QUALITY_GOOD));
    }
    if (d.n_samples > 0) sink_.publish(d.samples.data(), d.n_samples);
    sink_.poll_done(d.cfg.name, start_us, any_ok);
}

gl_sample LinkWorker::sample(int64_t ts, double v, uint32_t id, uint8_t q) {
    gl_sample s{};
    s.ts_ms = ts;
    s.value = v;
    s.series_id = id;
    s.quality = q;
    return s;
}

void LinkWorker::set_online(Dev& d, int state, int64_t ts, const std::string& why) {
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

}  // namespace gridlet::modbus

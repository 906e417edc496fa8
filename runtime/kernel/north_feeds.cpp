#include "kernel/north_feeds.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "alarm/alarm_table.h"
#include "core/pattern.h"

namespace gridlet::kernel {

namespace {

void put_u32(std::string& out, uint32_t v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); }
void put_text(std::string& out, std::string_view s) {
    put_u32(out, static_cast<uint32_t>(s.size()));
    out.append(s);
}
bool get_text(std::string_view& in, std::string_view* out) {
    uint32_t n = 0;
    if (in.size() < sizeof n) return false;
    std::memcpy(&n, in.data(), sizeof n);
    in.remove_prefix(sizeof n);
    if (in.size() < n) return false;
    *out = in.substr(0, n);
    in.remove_prefix(n);
    return true;
}

std::string encode_event(const gl_event& e) {
    std::string out(1, 'E');
    out.append(reinterpret_cast<const char*>(&e.ts_ms), sizeof e.ts_ms);
    out.append(reinterpret_cast<const char*>(&e.severity), sizeof e.severity);
    put_text(out, e.source ? e.source : "");
    put_text(out, e.type ? e.type : "");
    put_text(out, std::string_view(e.body_json ? e.body_json : "", e.body_json ? e.body_len : 0));
    return out;
}

// Counts what an entry held: {samples, events}.
std::pair<uint64_t, uint64_t> content_of(std::string_view payload) {
    if (!payload.empty() && payload[0] == 'S') return {(payload.size() - 1) / sizeof(gl_sample), 0};
    if (!payload.empty() && payload[0] == 'E') return {0, 1};
    return {0, 0};
}

std::string alarm_key(const std::string& queue) { return "north_backlog_dropped:" + queue; }

}  // namespace

Status NorthFeeds::open(const std::string& instance, const plugin::FeedSpec& spec) {
    for (const std::string& p : spec.series)
        if (p.empty()) return Status::invalid("feed of '" + instance + "': an empty series pattern");
    for (const std::string& p : spec.events)
        if (p.empty()) return Status::invalid("feed of '" + instance + "': an empty event pattern");
    std::lock_guard lock(mu_);
    auto& f = feeds_[instance];
    if (!f) {
        f = std::make_shared<Feed>();
        f->queue = queue_of(instance);
    }
    f->spec = spec;
    if (f->spec.max_bytes == 0) f->spec.max_bytes = kDefaultMaxBytes;
    f->generation = ++generation_;
    auto size = outbox_.size(f->queue);
    auto bytes = outbox_.approximate_bytes(f->queue);
    if (size && *size > 0 && bytes && f->mean_entry_bytes.load() <= 0)
        f->mean_entry_bytes.store(std::max(1.0, static_cast<double>(*bytes) / static_cast<double>(*size)));
    if (size && *size > 0)
        spdlog::info("feed of '{}': {} entries wait in the store's outbox from before (forwarded first)", instance,
                     *size);
    return Status::ok();
}

nlohmann::json NorthFeeds::metrics_json() {
    std::vector<std::string> names;
    {
        std::lock_guard lock(mu_);
        for (const auto& [name, f] : feeds_) names.push_back(name);
    }
    nlohmann::json out = nlohmann::json::object();
    for (const std::string& name : names) {
        gl_feed_stats s{};
        if (!stats(name, &s)) continue;
        out[name] = {{"queue", queue_of(name)},
                     {"entries", s.entries},
                     {"bytes", s.bytes},
                     {"dropped_samples", s.dropped_samples},
                     {"dropped_events", s.dropped_events}};
    }
    return out;
}

bool NorthFeeds::empty() const {
    std::lock_guard lock(mu_);
    return feeds_.empty();
}

bool NorthFeeds::series_matches(Feed& f, uint32_t id) {
    auto& [gen, cache] = matches_[&f];
    if (gen != f.generation) {
        cache.clear();
        gen = f.generation;
    }
    if (id >= cache.size()) cache.resize(static_cast<size_t>(id) + 1, 0);
    uint8_t& m = cache[id];
    if (m == 0) {
        const std::string name = registry_.name(id);
        bool yes = false;
        for (const std::string& p : f.spec.series) yes = yes || pattern_match(p, name);
        m = yes ? 2 : 1;
    }
    return m == 2;
}

Status NorthFeeds::tap_samples(std::span<const gl_sample> samples, int64_t now_mono_ms) {
    std::lock_guard lock(mu_);
    Status result;
    std::string payload;
    for (auto& [name, f] : feeds_) {
        if (f->spec.series.empty()) {
            enforce_budget(*f, now_mono_ms);  // events only
            continue;
        }
        payload.assign(1, 'S');
        for (const gl_sample& s : samples)
            if (series_matches(*f, s.series_id)) payload.append(reinterpret_cast<const char*>(&s), sizeof s);
        if (payload.size() > 1) {
            auto st = outbox_.append(f->queue, payload);
            if (!st && result) result = st.status().with_context("feed of '" + name + "'");
            note_size(*f, payload.size());
        }
        enforce_budget(*f, now_mono_ms);
    }
    return result;
}

Status NorthFeeds::tap_event(const gl_event& e) {
    std::lock_guard lock(mu_);
    Status result;
    const std::string what = std::string(e.source ? e.source : "") + "/" + (e.type ? e.type : "");
    std::string payload;
    for (auto& [name, f] : feeds_) {
        bool yes = false;
        for (const std::string& p : f->spec.events) yes = yes || pattern_match(p, what);
        if (!yes) continue;
        if (payload.empty()) payload = encode_event(e);
        auto st = outbox_.append(f->queue, payload);
        if (!st && result) result = st.status().with_context("feed of '" + name + "'");
        note_size(*f, payload.size());
    }
    return result;
}

void NorthFeeds::note_size(Feed& f, size_t bytes) {
    // A mean over about the last thousand entries.
    const double b = static_cast<double>(bytes) + 16;  // + key
    const double m = f.mean_entry_bytes.load();
    f.mean_entry_bytes.store(m <= 0 ? b : m + (b - m) / 1000.0);
}

void NorthFeeds::enforce_budget(Feed& f, int64_t now_mono_ms) {
    if (now_mono_ms - f.budget_checked_ms < 1000) return;
    f.budget_checked_ms = now_mono_ms;
    auto bounds = outbox_.bounds(f.queue);
    if (!bounds) return;
    const auto [first, next] = *bounds;
    // The feed's size: entries waiting times their mean size (what was
    // written, before compression: a bound of the disk it takes). RocksDB's
    // own estimate lags deletes until a flush, and would drop too much.
    const uint64_t bytes = static_cast<uint64_t>(static_cast<double>(next - first) * f.mean_entry_bytes.load());
    // Caught up: under a tenth of the budget, and nothing dropped for a
    // minute (a feed that keeps dropping stays one active alarm).
    if (bytes < f.spec.max_bytes / 10 && now_mono_ms - f.last_drop_ms >= 60'000 && alarms_ &&
        alarms_->active(alarm_key(f.queue)))
        (void)alarms_->clear(alarm_key(f.queue), clock_.now_ms(), 0, "the feed has caught up");
    if (f.unlogged_entries > 0 && now_mono_ms - f.last_drop_log_ms >= 60'000) {
        spdlog::warn("{}: over its budget of {} bytes: dropped the oldest {} entries ({} samples, {} events) in the last "
                     "minute, {} samples since start; raise max_backlog_mb or fix the link to the far end",
                     f.queue, f.spec.max_bytes, f.unlogged_entries, f.unlogged_samples, f.unlogged_events,
                     f.dropped_samples.load());
        f.unlogged_entries = f.unlogged_samples = f.unlogged_events = 0;
        f.last_drop_log_ms = now_mono_ms;
    }
    if (bytes <= f.spec.max_bytes || next <= first) return;
    // Drop the oldest share that brings the feed to 90 % of its budget.
    const double excess = 1.0 - 0.9 * static_cast<double>(f.spec.max_bytes) / static_cast<double>(bytes);
    const uint64_t n = std::max<uint64_t>(1, static_cast<uint64_t>(excess * static_cast<double>(next - first)));
    const uint64_t up_to = first + n - 1;
    uint64_t samples = 0, events = 0;
    for (uint64_t after = first - 1; after < up_to;) {
        auto got = outbox_.read(f.queue, after, std::min<uint64_t>(4096, up_to - after));
        if (!got || got->empty()) break;
        for (const store::OutboxEntry& e : *got) {
            if (e.seq > up_to) break;
            auto [s, ev] = content_of(e.payload);
            samples += s;
            events += ev;
            after = e.seq;
        }
        if (got->back().seq >= up_to) break;
    }
    auto dropped = outbox_.drop_oldest(f.queue, up_to);
    if (!dropped) {
        spdlog::error("{}: over its budget, dropping failed: {}", f.queue, dropped.status().message());
        return;
    }
    f.dropped_samples += samples;
    f.dropped_events += events;
    f.last_drop_ms = now_mono_ms;
    // The first drop is said at once; those that follow once a minute.
    if (now_mono_ms - f.last_drop_log_ms >= 60'000) {
        spdlog::warn("{}: {} bytes over its budget of {} bytes: dropped the oldest {} entries ({} samples, {} events; "
                     "{} samples since start); raise max_backlog_mb or fix the link to the far end",
                     f.queue, bytes - f.spec.max_bytes, f.spec.max_bytes, *dropped, samples, events,
                     f.dropped_samples.load());
        f.last_drop_log_ms = now_mono_ms;
    } else {
        f.unlogged_entries += *dropped;
        f.unlogged_samples += samples;
        f.unlogged_events += events;
    }
    if (alarms_ && !alarms_->active(alarm_key(f.queue))) {
        alarm::RaiseRequest r = alarm::system_raise("north_backlog_dropped", "kernel", "delivery",
                                                    alarm::Criticality::critical, clock_.now_ms());
        r.key = alarm_key(f.queue);
        r.message = "the backlog of '" + f.queue.substr(6) + "' outgrew its budget of " +
                    std::to_string(f.spec.max_bytes >> 20) + " MB: its oldest data is dropped";
        r.detail = {{"feed", f.queue}, {"max_bytes", f.spec.max_bytes}, {"dropped_samples", f.dropped_samples.load()}};
        (void)alarms_->raise(r);
    }
}

Status NorthFeeds::read(const std::string& instance, uint64_t after, size_t max,
                        const std::function<bool(const gl_feed_item&)>& fn) {
    std::string queue;
    {
        std::lock_guard lock(mu_);
        if (!feeds_.count(instance)) return Status::not_found("'" + instance + "' has no feed: call feed_open first");
        queue = queue_of(instance);
    }
    auto got = outbox_.read(queue, after, max);
    if (!got) return got.status();
    std::vector<gl_sample> samples;
    for (const store::OutboxEntry& e : *got) {
        gl_feed_item item{};
        item.struct_size = sizeof item;
        item.seq = e.seq;
        std::string_view p = e.payload;
        gl_event ev{};
        if (!p.empty() && p[0] == 'S' && (p.size() - 1) % sizeof(gl_sample) == 0) {
            samples.resize((p.size() - 1) / sizeof(gl_sample));
            std::memcpy(samples.data(), p.data() + 1, p.size() - 1);  // aligned copies
            item.samples = samples.data();
            item.sample_count = samples.size();
        } else if (!p.empty() && p[0] == 'E' && p.size() >= 13) {
            p.remove_prefix(1);
            ev.struct_size = sizeof ev;
            std::memcpy(&ev.ts_ms, p.data(), sizeof ev.ts_ms);
            std::memcpy(&ev.severity, p.data() + 8, sizeof ev.severity);
            p.remove_prefix(12);
            std::string_view source, type, body;
            if (!get_text(p, &source) || !get_text(p, &type) || !get_text(p, &body))
                return Status::corruption(queue + ": entry " + std::to_string(e.seq) + " does not decode");
            static thread_local std::string s_source, s_type;
            s_source = source;
            s_type = type;
            ev.source = s_source.c_str();
            ev.type = s_type.c_str();
            ev.body_json = body.data();
            ev.body_len = body.size();
            item.event = &ev;
        } else {
            return Status::corruption(queue + ": entry " + std::to_string(e.seq) + " does not decode");
        }
        if (!fn(item)) break;
    }
    return Status::ok();
}

Status NorthFeeds::done(const std::string& instance, const std::vector<uint64_t>& seqs) {
    {
        std::lock_guard lock(mu_);
        if (!feeds_.count(instance)) return Status::not_found("'" + instance + "' has no feed: call feed_open first");
    }
    return outbox_.remove(queue_of(instance), seqs);
}

Status NorthFeeds::stats(const std::string& instance, gl_feed_stats* out) {
    std::shared_ptr<Feed> f;
    {
        std::lock_guard lock(mu_);
        auto it = feeds_.find(instance);
        if (it == feeds_.end()) return Status::not_found("'" + instance + "' has no feed: call feed_open first");
        f = it->second;
    }
    auto bounds = outbox_.bounds(f->queue);
    if (!bounds) return bounds.status();
    out->entries = bounds->second - bounds->first;
    out->bytes = static_cast<uint64_t>(static_cast<double>(out->entries) * f->mean_entry_bytes.load());
    out->first_seq = out->entries ? bounds->first : 0;
    out->last_seq = bounds->second - 1;
    out->dropped_samples = f->dropped_samples.load();
    out->dropped_events = f->dropped_events.load();
    return Status::ok();
}

}  // namespace gridlet::kernel

// NorthFeeds: the store-and-forward feeds of north plugins (ABI 1.2 feed_*,
// see sdk plugin.h), kept in the store's outbox as queues "north/<instance>".
//
// The store writer calls tap_samples() and tap_event() BEFORE it writes the
// same data to the store, so that whatever the store acknowledged is in
// every matching feed (or was already forwarded), also after kill -9. The
// plugin reads its feed, forwards, and removes what the far end confirmed.
//
// Budget: each feed keeps at most max_bytes (entries waiting times their
// mean size as written, a bound of the disk they take; checked at most once a
// second by the store writer). Beyond it the oldest entries are dropped until
// the feed is back under 90 % of its budget; the samples and events dropped
// are counted (stats), logged (the first drop at once, then a line a minute
// while dropping goes on), and raise the system alarm `north_backlog_dropped`:
// one alarm, cleared once the feed has caught up (under a tenth of its
// budget, and nothing dropped for a minute).
//
// Entry format (one outbox entry): 'S' then gl_sample[n] (24 bytes each,
// native layout: a feed is read by the gateway that wrote it), or 'E' then
// ts i64, severity i32, and source, type, body each as u32 length + bytes.
//
// Threads: every method is thread-safe (one mutex for the feed table; the
// outbox has its own). tap_* are called by the store writer's thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/series_registry.h"
#include "plugin/feed_service.h"
#include "store/outbox.h"

namespace gridlet::alarm {
class AlarmTable;
}

namespace gridlet::kernel {

class NorthFeeds final : public plugin::FeedService {
public:
    static constexpr uint64_t kDefaultMaxBytes = 1ull << 30;  // 1 GiB

    NorthFeeds(store::Outbox& outbox, const SeriesRegistry& registry, const Clock& clock, alarm::AlarmTable* alarms)
        : outbox_(outbox), registry_(registry), clock_(clock), alarms_(alarms) {}

    static std::string queue_of(const std::string& instance) { return "north/" + instance; }

    Status open(const std::string& instance, const plugin::FeedSpec& spec) override;
    Status read(const std::string& instance, uint64_t after, size_t max,
                const std::function<bool(const gl_feed_item&)>& fn) override;
    Status done(const std::string& instance, const std::vector<uint64_t>& seqs) override;
    Status stats(const std::string& instance, gl_feed_stats* out) override;

    // Store writer thread: append what matches to each feed. An error means
    // a feed did not get the data (the caller logs it and still stores).
    Status tap_samples(std::span<const gl_sample> samples, int64_t now_mono_ms);
    Status tap_event(const gl_event& event);

    bool empty() const;
    // Per feed: entries waiting, approximate bytes, dropped samples and events
    // (for `gridlet metrics`). Any thread.
    nlohmann::json metrics_json();

private:
    struct Feed {
        std::string queue;
        plugin::FeedSpec spec;
        uint64_t generation = 0;
        std::atomic<uint64_t> dropped_samples{0}, dropped_events{0};
        int64_t budget_checked_ms = INT64_MIN / 2;
        // Drops: the last one (monotonic ms), and what was dropped since the
        // last log line (one line a minute while dropping goes on).
        int64_t last_drop_ms = INT64_MIN / 2, last_drop_log_ms = INT64_MIN / 2;
        uint64_t unlogged_entries = 0, unlogged_samples = 0, unlogged_events = 0;
        std::atomic<double> mean_entry_bytes{0};  // of what was appended (written by the store writer)
    };
    void enforce_budget(Feed& f, int64_t now_mono_ms);
    static void note_size(Feed& f, size_t bytes);
    bool series_matches(Feed& f, uint32_t id);

    store::Outbox& outbox_;
    const SeriesRegistry& registry_;
    const Clock& clock_;
    alarm::AlarmTable* alarms_;
    mutable std::mutex mu_;
    std::map<std::string, std::shared_ptr<Feed>> feeds_;
    // Store writer thread only: per feed, per series id: 0 unknown, 1 no, 2 yes.
    std::unordered_map<const Feed*, std::pair<uint64_t, std::vector<uint8_t>>> matches_;
    uint64_t generation_ = 0;
};

}  // namespace gridlet::kernel

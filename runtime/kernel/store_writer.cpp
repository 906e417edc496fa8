// The "store" component: subscribes to every sample and event on the bus and
// writes them into the store in batches. A batch is written when the bus
// queue is drained (or at 8,192 samples), so a busy bus gets large WAL
// writes and a quiet one gets its samples stored at once. Runs on its own
// plugin thread; the store is thread-safe.
#include <gridlet/plugin.hpp>
#include <spdlog/spdlog.h>

#include "kernel/component_instance.h"
#include "kernel/components.h"
#include "kernel/north_feeds.h"
#include "store/store.h"

namespace gridlet::kernel {

namespace {

constexpr size_t kMaxBatch = 8192;

store::Severity to_store_severity(int32_t s) {
    switch (s) {
        case GL_SEV_DEBUG: return store::Severity::debug;
        case GL_SEV_INFO: return store::Severity::info;
        case GL_SEV_WARNING: return store::Severity::warning;
        case GL_SEV_ERROR: return store::Severity::error;
        default: return s > GL_SEV_ERROR ? store::Severity::critical : store::Severity::info;
    }
}

class StoreWriter : public gridlet::Plugin {
public:
    static constexpr gridlet::PluginInfo info{"store", "1.0.0", GL_KIND_NORTH, "writes the bus into the store"};

    explicit StoreWriter(gridlet::Host h)
        : Plugin(h), ctx_(*static_cast<ComponentContext*>(h.ctx()->instance->component())) {}

    void start() override {
        host().subscribe("data/");
        host().subscribe("event/");
        host().ctx()->instance->hooks().after_drain = [this] { flush(); };
    }
    void on_samples(const char*, const gl_sample* s, size_t n) override {
        pending_.insert(pending_.end(), s, s + n);
        if (pending_.size() >= kMaxBatch) flush();
    }
    void on_event(const char*, const gl_event& e) override {
        store::Event ev;
        ev.ts = e.ts_ms;
        ev.source = e.source;
        ev.type = e.type;
        ev.severity = to_store_severity(e.severity);
        ev.body = std::string(e.body_json, e.body_len);
        if (ev.body.empty()) ev.body = "{}";
        if (ctx_.feeds) feed_failed(ctx_.feeds->tap_event(e));
        Status st = ctx_.store->events().append(ev);
        if (!st) host().error("event " + ev.source + "/" + ev.type + " not stored: " + st.message());
    }
    void stop() override { flush(); }

    // After each drained pass of the bus, at kMaxBatch, and at stop.
    void flush() {
        if (pending_.empty()) return;
        const bool refused = note_refused();
        // North feeds first: what the store acknowledges is then in every
        // matching feed, also after a kill -9 between the two writes.
        if (ctx_.feeds) {
            if (!refused) {
                feed_failed(ctx_.feeds->tap_samples(pending_, host().monotonic_ms()));
            } else {
                const auto [lo, hi] = ctx_.store->accept_window();
                std::vector<gl_sample> kept;
                for (const gl_sample& s : pending_)
                    if (s.ts_ms >= lo && s.ts_ms <= hi) kept.push_back(s);
                feed_failed(ctx_.feeds->tap_samples(kept, host().monotonic_ms()));
            }
        }
        Status st = ctx_.store->append(pending_);
        if (!st) {
            // Not acknowledged: nothing else to write them to. Count them
            // (store metrics: samples_not_written) and say so, once, then at
            // most once a minute while it lasts: the log may be on the same
            // full disk.
            lost_ += pending_.size();
            unlogged_ += pending_.size();
            failing_ = true;
            const int64_t now = host().monotonic_ms();
            if (now - last_log_ms_ >= 60'000) {
                host().error("store: " + std::to_string(unlogged_) + " samples not written" +
                             (last_log_ms_ == kNever ? "" : " in the last minute") + " (" + std::to_string(lost_) +
                             " since start): " + st.message());
                last_log_ms_ = now;
                unlogged_ = 0;
            }
        } else if (failing_) {
            host().info("store: samples are written again (" + std::to_string(lost_) + " not written since start)");
            failing_ = false;
            unlogged_ = 0;
            last_log_ms_ = kNever;
        }
        pending_.clear();
    }

private:
    // A feed that did not get its data: counted (metrics feed_failures) and
    // logged at most once a minute.
    void feed_failed(const Status& st) {
        if (st) return;
        ++ctx_.feed_failures;
        const int64_t now = host().monotonic_ms();
        if (now - last_feed_log_ms_ < 60'000) return;
        last_feed_log_ms_ = now;
        host().error("north feed: data not queued for forwarding (" + std::to_string(ctx_.feed_failures.load()) +
                     " times since start): " + st.message());
    }

    // Samples dated outside the store's plausible window are refused by the
    // store (counted in its metrics); say which, once a minute at most.
    // True when the batch holds any.
    bool note_refused() {
        const auto [lo, hi] = ctx_.store->accept_window();
        size_t n = 0;
        const gl_sample* first = nullptr;
        for (const gl_sample& s : pending_)
            if (s.ts_ms < lo || s.ts_ms > hi) {
                if (!first) first = &s;
                ++n;
            }
        if (n == 0) return false;
        unlogged_refused_ += n;
        const int64_t now = host().monotonic_ms();
        if (now - last_refused_log_ms_ < 60'000) return true;
        auto meta = ctx_.store->registry().get(first->series_id);
        const std::string name = meta ? meta->name : "series " + std::to_string(first->series_id);
        const bool old = first->ts_ms < lo;
        host().warn("store: " + std::to_string(unlogged_refused_) + " samples refused for their time (e.g. '" + name +
                    "' at " + std::to_string(first->ts_ms) + " ms since 1970: " +
                    (old ? "before [store] accept_from_year" : "more than [store] accept_ahead_hours after now") +
                    "; a clock or a timestamp unit is wrong)");
        last_refused_log_ms_ = now;
        unlogged_refused_ = 0;
        return true;
    }

    ComponentContext& ctx_;
    uint64_t unlogged_refused_ = 0;
    int64_t last_refused_log_ms_ = INT64_MIN / 2;
    int64_t last_feed_log_ms_ = INT64_MIN / 2;
    std::vector<gl_sample> pending_;
    static constexpr int64_t kNever = INT64_MIN / 2;
    uint64_t lost_ = 0;
    uint64_t unlogged_ = 0;
    int64_t last_log_ms_ = kNever;
    bool failing_ = false;
};

}  // namespace

Expected<std::unique_ptr<plugin::PluginInstance>> make_store_writer_instance(ComponentContext& ctx, plugin::HostServices services,
                                                   uint32_t index) {
    return make_component_instance<StoreWriter>("store", ctx, services, index);
}

}  // namespace gridlet::kernel

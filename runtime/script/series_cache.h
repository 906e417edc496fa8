// SeriesCache: the engine's last value per series and the sliding windows
// that rules asked for, so that gridlet.last() and gridlet.window() cost a
// hash lookup and a scan of the window, not a store query.
//
// Every sample the engine receives passes through observe(). A window is kept
// for a series only once a rule asked for one (ensure_window), with the
// longest duration asked; the engine back-fills it from the store once.
//
// Threads: engine thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>
#include <vector>

#include <gridlet/plugin.h>

namespace gridlet::script {

struct WindowStats {
    size_t count = 0;
    double sum = 0, min = 0, max = 0, first = 0, last = 0;
    double delta = 0;  // last - first; for counters, the increase (the store's counter rules)
    int64_t first_ts = 0, last_ts = 0;
};

class SeriesCache {
public:
    void observe(const gl_sample& s);
    void observe_batch(const gl_sample* samples, size_t n) {
        for (size_t i = 0; i < n; ++i) observe(samples[i]);
    }

    std::optional<gl_sample> last(uint32_t id) const;
    // Remember a last value learnt elsewhere (the store) unless a newer one is known.
    void remember_last(const gl_sample& s);

    // True when a window of at least `duration_ms` is already kept.
    bool has_window(uint32_t id, int64_t duration_ms) const;
    // Keep a window of `duration_ms` from now on, starting with `history`
    // (time-ordered samples from the store; those newer than the oldest
    // sample already kept are ignored). False, and nothing changed, when
    // the window would hold more than kMaxWindowPoints.
    bool ensure_window(uint32_t id, int64_t duration_ms, const std::vector<gl_sample>& history);

    // A window holds at most this many points (16 bytes each): past it,
    // observe() drops the oldest and complete_from() moves forward, so
    // that window() of a range that lost points can say so rather than
    // answer with part of it.
    static constexpr size_t kMaxWindowPoints = 200'000;
    static constexpr size_t kPointBytes = 16;
    // The earliest time from which the window of `id` holds every good
    // sample the engine saw (INT64_MIN until a point was dropped for the cap).
    int64_t complete_from(uint32_t id) const;

    // Stats of good-quality samples with from_ms <= ts <= to_ms.
    WindowStats stats(uint32_t id, int64_t from_ms, int64_t to_ms, bool counter) const;

    size_t window_points() const;

private:
    struct Point {
        int64_t ts;
        double value;
    };
    struct Window {
        int64_t keep_ms = 0;
        int64_t complete_from = INT64_MIN;
        std::deque<Point> points;
    };
    std::unordered_map<uint32_t, gl_sample> last_;
    std::unordered_map<uint32_t, Window> windows_;
};

}  // namespace gridlet::script

#include "script/series_cache.h"

#include <algorithm>

namespace gridlet::script {

void SeriesCache::observe(const gl_sample& s) {
    auto [it, inserted] = last_.try_emplace(s.series_id, s);
    if (!inserted && s.ts_ms >= it->second.ts_ms) it->second = s;
    if (windows_.empty() || s.quality == GL_QUALITY_BAD) return;
    auto w = windows_.find(s.series_id);
    if (w == windows_.end()) return;
    auto& pts = w->second.points;
    if (pts.empty() || s.ts_ms >= pts.back().ts) {
        pts.push_back({s.ts_ms, s.value});
    } else {
        // Late sample: keep the window time-ordered.
        auto pos = std::upper_bound(pts.begin(), pts.end(), s.ts_ms, [](int64_t ts, const Point& p) { return ts < p.ts; });
        pts.insert(pos, {s.ts_ms, s.value});
    }
    const int64_t horizon = pts.back().ts - w->second.keep_ms;
    while (!pts.empty() && pts.front().ts < horizon) pts.pop_front();
}

std::optional<gl_sample> SeriesCache::last(uint32_t id) const {
    auto it = last_.find(id);
    if (it == last_.end()) return std::nullopt;
    return it->second;
}

void SeriesCache::remember_last(const gl_sample& s) {
    auto [it, inserted] = last_.try_emplace(s.series_id, s);
    if (!inserted && s.ts_ms > it->second.ts_ms) it->second = s;
}

bool SeriesCache::has_window(uint32_t id, int64_t duration_ms) const {
    auto it = windows_.find(id);
    return it != windows_.end() && it->second.keep_ms >= duration_ms;
}

void SeriesCache::ensure_window(uint32_t id, int64_t duration_ms, const std::vector<gl_sample>& history) {
    Window& w = windows_[id];
    w.keep_ms = std::max(w.keep_ms, duration_ms);
    const int64_t oldest_kept = w.points.empty() ? INT64_MAX : w.points.front().ts;
    std::vector<Point> older;
    for (const gl_sample& s : history) {
        if (s.ts_ms < oldest_kept && s.quality != GL_QUALITY_BAD) older.push_back({s.ts_ms, s.value});
    }
    std::sort(older.begin(), older.end(), [](const Point& a, const Point& b) { return a.ts < b.ts; });
    w.points.insert(w.points.begin(), older.begin(), older.end());
}

WindowStats SeriesCache::stats(uint32_t id, int64_t from_ms, int64_t to_ms, bool counter) const {
    WindowStats st;
    auto it = windows_.find(id);
    if (it == windows_.end()) return st;
    const auto& pts = it->second.points;
    auto begin = std::lower_bound(pts.begin(), pts.end(), from_ms, [](const Point& p, int64_t ts) { return p.ts < ts; });
    double prev = 0;
    for (auto p = begin; p != pts.end() && p->ts <= to_ms; ++p) {
        if (st.count == 0) {
            st.min = st.max = st.first = p->value;
            st.first_ts = p->ts;
        } else {
            st.min = std::min(st.min, p->value);
            st.max = std::max(st.max, p->value);
            if (counter) st.delta += p->value >= prev ? p->value - prev : p->value;
        }
        st.sum += p->value;
        st.last = p->value;
        st.last_ts = p->ts;
        prev = p->value;
        ++st.count;
    }
    if (!counter) st.delta = st.last - st.first;
    return st;
}

size_t SeriesCache::window_points() const {
    size_t n = 0;
    for (const auto& [id, w] : windows_) n += w.points.size();
    return n;
}

}  // namespace gridlet::script

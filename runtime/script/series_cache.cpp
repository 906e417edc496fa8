#include "script/series_cache.h"

#include <algorithm>

#include "store/aggregation.h"

namespace gridlet::script {

void SeriesCache::observe(const gl_sample& s) {
    auto [it, inserted] = last_.try_emplace(s.series_id, s);
    if (!inserted && s.ts_ms >= it->second.ts_ms) it->second = s;
    if (windows_.empty()) return;
    auto w = windows_.find(s.series_id);
    if (w == windows_.end()) return;
    auto& pts = w->second.points;
    // As the store keeps it: an equal timestamp overwrites; only good
    // samples (store::is_good: quality > 0, finite value) count.
    auto pos = std::lower_bound(pts.begin(), pts.end(), s.ts_ms, [](const Point& p, int64_t ts) { return p.ts < ts; });
    if (pos != pts.end() && pos->ts == s.ts_ms) pos = pts.erase(pos);
    if (!store::is_good(store::Sample{s.ts_ms, s.value, s.quality})) return;
    pts.insert(pos, {s.ts_ms, s.value});
    if (pts.empty()) return;
    const int64_t horizon = pts.back().ts - w->second.keep_ms;
    while (!pts.empty() && pts.front().ts < horizon) pts.pop_front();
    while (pts.size() > kMaxWindowPoints) {
        w->second.complete_from = pts.front().ts + 1;
        pts.pop_front();
    }
}

int64_t SeriesCache::complete_from(uint32_t id) const {
    auto it = windows_.find(id);
    return it == windows_.end() ? INT64_MIN : it->second.complete_from;
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

bool SeriesCache::ensure_window(uint32_t id, int64_t duration_ms, const std::vector<gl_sample>& history) {
    auto found = windows_.find(id);
    const bool made = found == windows_.end();
    Window& w = made ? windows_[id] : found->second;
    const int64_t oldest_kept = w.points.empty() ? INT64_MAX : w.points.front().ts;
    std::vector<Point> older;
    for (const gl_sample& s : history) {
        if (s.ts_ms < oldest_kept && store::is_good(store::Sample{s.ts_ms, s.value, s.quality}))
            older.push_back({s.ts_ms, s.value});
    }
    if (older.size() + w.points.size() > kMaxWindowPoints) {
        if (made) windows_.erase(id);
        return false;
    }
    w.keep_ms = std::max(w.keep_ms, duration_ms);
    std::sort(older.begin(), older.end(), [](const Point& a, const Point& b) { return a.ts < b.ts; });
    w.points.insert(w.points.begin(), older.begin(), older.end());
    return true;
}

WindowStats SeriesCache::stats(uint32_t id, int64_t from_ms, int64_t to_ms, bool counter) const {
    WindowStats st;
    auto it = windows_.find(id);
    if (it == windows_.end()) return st;
    const auto& pts = it->second.points;
    auto begin = std::lower_bound(pts.begin(), pts.end(), from_ms, [](const Point& p, int64_t ts) { return p.ts < ts; });
    // A counter's increase: the store's counter rules (store/aggregation.h:
    // resets confirmed, one-reading glitches ignored) over the intervals
    // between readings of the window.
    std::vector<store::RollupRow> row(1);
    store::CounterRule rule;
    rule.counter = counter;
    store::RowFolder folder(row, rule);
    for (auto p = begin; p != pts.end() && p->ts <= to_ms; ++p) {
        if (st.count == 0) {
            st.min = st.max = st.first = p->value;
            st.first_ts = p->ts;
        } else {
            st.min = std::min(st.min, p->value);
            st.max = std::max(st.max, p->value);
        }
        if (counter) folder.add(store::Sample{p->ts, p->value, GL_QUALITY_GOOD}, 0);
        st.sum += p->value;
        st.last = p->value;
        st.last_ts = p->ts;
        ++st.count;
    }
    folder.finish();
    st.delta = counter ? row[0].consumption : st.last - st.first;
    return st;
}

size_t SeriesCache::window_points() const {
    size_t n = 0;
    for (const auto& [id, w] : windows_) n += w.points.size();
    return n;
}

}  // namespace gridlet::script

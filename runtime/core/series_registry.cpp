#include "core/series_registry.h"

#include <algorithm>
#include <charconv>

#include "core/pattern.h"

namespace gridlet {

const char* series_kind_name(SeriesKind kind) noexcept {
    switch (kind) {
        case SeriesKind::gauge: return "gauge";
        case SeriesKind::counter: return "counter";
        case SeriesKind::state: return "state";
    }
    return "gauge";
}

std::optional<SeriesKind> parse_series_kind(std::string_view name) noexcept {
    if (name == "gauge") return SeriesKind::gauge;
    if (name == "counter") return SeriesKind::counter;
    if (name == "state") return SeriesKind::state;
    return std::nullopt;
}

std::string_view SeriesMeta::device() const noexcept {
    std::string_view n = name;
    return n.substr(0, n.find('/'));
}

namespace {
std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Calls fn(key, value) for each "k=v" item; error names the bad item.
template <class F>
Status for_each_pair(std::string_view text, const char* what, F&& fn) {
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t comma = text.find(',', pos);
        if (comma == std::string_view::npos) comma = text.size();
        std::string_view item = trim(text.substr(pos, comma - pos));
        pos = comma + 1;
        if (item.empty()) {
            if (comma == text.size()) break;
            continue;
        }
        size_t eq = item.find('=');
        if (eq == std::string_view::npos || trim(item.substr(0, eq)).empty())
            return Status::invalid(std::string(what) + ": '" + std::string(item) + "' is not key=value");
        Status st = fn(trim(item.substr(0, eq)), trim(item.substr(eq + 1)));
        if (!st) return st;
    }
    return Status::ok();
}
}  // namespace

Expected<std::map<std::string, std::string>> parse_tags(std::string_view text) {
    std::map<std::string, std::string> out;
    Status st = for_each_pair(text, "tags", [&](std::string_view k, std::string_view v) {
        out[std::string(k)] = std::string(v);
        return Status::ok();
    });
    if (!st) return st;
    return out;
}

Expected<std::map<int64_t, std::string>> parse_states(std::string_view text) {
    std::map<int64_t, std::string> out;
    Status st = for_each_pair(text, "states", [&](std::string_view k, std::string_view v) {
        int64_t n = 0;
        auto [p, ec] = std::from_chars(k.data(), k.data() + k.size(), n);
        if (ec != std::errc() || p != k.data() + k.size())
            return Status::invalid("states: '" + std::string(k) + "' is not an integer");
        out[n] = std::string(v);
        return Status::ok();
    });
    if (!st) return st;
    return out;
}

Status SeriesRegistry::attach(SeriesRegistryBackend* backend) {
    auto loaded = backend->load_all();
    if (!loaded) return loaded.status().with_context("series registry");
    std::unique_lock lock(mu_);
    std::vector<SeriesMeta>& list = *loaded;
    std::sort(list.begin(), list.end(), [](const SeriesMeta& a, const SeriesMeta& b) { return a.id < b.id; });
    for (SeriesMeta& m : list) {
        if (m.id == 0) return Status::corruption("series registry: series '" + m.name + "' has id 0");
        if (by_name_.count(m.name))
            return Status::corruption("series registry: series '" + m.name + "' is stored twice");
        if (by_id_.size() < m.id) by_id_.resize(m.id);
        if (by_id_[m.id - 1])
            return Status::corruption("series registry: id " + std::to_string(m.id) + " is given to both '" +
                                      by_id_[m.id - 1]->name + "' and '" + m.name + "'");
        by_name_[m.name] = m.id;
        by_id_[m.id - 1] = std::make_unique<SeriesMeta>(std::move(m));
    }
    backend_ = backend;
    return Status::ok();
}

void SeriesRegistry::detach() {
    std::unique_lock lock(mu_);
    backend_ = nullptr;
}

Expected<uint32_t> SeriesRegistry::intern(const SeriesMeta& meta) {
    if (!valid_series_name(meta.name))
        return Status::invalid("series name '" + meta.name +
                               "' is not valid: use device/point, segments of letters, digits, '_', '-', '.'");
    {
        std::shared_lock lock(mu_);
        auto it = by_name_.find(meta.name);
        if (it != by_name_.end()) {
            const SeriesMeta& cur = *by_id_[it->second - 1];
            if (cur.unit == meta.unit && cur.kind == meta.kind && cur.description == meta.description &&
                cur.tags == meta.tags && cur.states == meta.states)
                return it->second;
        }
    }
    std::unique_lock lock(mu_);
    auto it = by_name_.find(meta.name);
    SeriesMeta next = meta;
    if (it != by_name_.end()) {
        next.id = it->second;
    } else {
        // Ids are dense, but a hole left by a corrupt or partial load is never reused.
        next.id = static_cast<uint32_t>(by_id_.size() + 1);
    }
    if (backend_) {
        Status st = backend_->persist(next);
        if (!st) return st.with_context("series '" + meta.name + "'");
    }
    if (it != by_name_.end()) {
        *by_id_[next.id - 1] = std::move(next);
        return it->second;
    }
    uint32_t id = next.id;
    by_name_[next.name] = id;
    by_id_.push_back(std::make_unique<SeriesMeta>(std::move(next)));
    return id;
}

std::optional<uint32_t> SeriesRegistry::find(std::string_view name) const {
    std::shared_lock lock(mu_);
    auto it = by_name_.find(std::string(name));
    if (it == by_name_.end()) return std::nullopt;
    return it->second;
}

std::optional<SeriesMeta> SeriesRegistry::get(uint32_t id) const {
    std::shared_lock lock(mu_);
    if (id == 0 || id > by_id_.size() || !by_id_[id - 1]) return std::nullopt;
    return *by_id_[id - 1];
}

std::string SeriesRegistry::name(uint32_t id) const {
    std::shared_lock lock(mu_);
    if (id == 0 || id > by_id_.size() || !by_id_[id - 1]) return {};
    return by_id_[id - 1]->name;
}

Expected<std::vector<SeriesMeta>> SeriesRegistry::select(std::string_view pattern, std::string_view tag_selector) const {
    auto want = parse_tags(tag_selector);
    if (!want) return want.status();
    std::vector<SeriesMeta> out;
    std::shared_lock lock(mu_);
    for (const auto& e : by_id_) {
        if (!e) continue;
        if (!pattern.empty() && !pattern_match(pattern, e->name)) continue;
        bool ok = true;
        for (const auto& [k, v] : *want) {
            auto t = e->tags.find(k);
            if (t == e->tags.end() || t->second != v) {
                ok = false;
                break;
            }
        }
        if (ok) out.push_back(*e);
    }
    return out;
}

std::vector<SeriesMeta> SeriesRegistry::all() const {
    std::shared_lock lock(mu_);
    std::vector<SeriesMeta> out;
    out.reserve(by_id_.size());
    for (const auto& e : by_id_)
        if (e) out.push_back(*e);
    return out;
}

size_t SeriesRegistry::size() const {
    std::shared_lock lock(mu_);
    return by_name_.size();
}

uint32_t SeriesRegistry::max_id() const {
    std::shared_lock lock(mu_);
    return static_cast<uint32_t>(by_id_.size());
}

}  // namespace gridlet

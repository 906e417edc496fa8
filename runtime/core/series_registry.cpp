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

template <class T>
uint32_t SeriesRegistry::Pool<T>::intern(const T& v) {
    auto it = index.find(v);
    if (it != index.end()) return it->second;
    uint32_t i = static_cast<uint32_t>(values.size());
    values.push_back(v);
    index.emplace(v, i);
    return i;
}

SeriesRegistry::Entry SeriesRegistry::compact(const SeriesMeta& m) {
    Entry e;
    e.name = m.name;
    e.unit = strings_.intern(m.unit);
    e.description = strings_.intern(m.description);
    e.tags = tag_sets_.intern(m.tags);
    e.states = state_sets_.intern(m.states);
    e.kind = m.kind;
    return e;
}

SeriesMeta SeriesRegistry::materialize(uint32_t id, const Entry& e) const {
    SeriesMeta m;
    m.id = id;
    m.name = e.name;
    m.unit = strings_.values[e.unit];
    m.kind = e.kind;
    m.description = strings_.values[e.description];
    m.tags = tag_sets_.values[e.tags];
    m.states = state_sets_.values[e.states];
    return m;
}

bool SeriesRegistry::same(const Entry& e, const SeriesMeta& m) const {
    return e.kind == m.kind && strings_.values[e.unit] == m.unit && strings_.values[e.description] == m.description &&
           tag_sets_.values[e.tags] == m.tags && state_sets_.values[e.states] == m.states;
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
        by_id_[m.id - 1] = std::make_unique<Entry>(compact(m));
        by_name_[by_id_[m.id - 1]->name] = m.id;
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
        if (it != by_name_.end() && same(*by_id_[it->second - 1], meta)) return it->second;
    }
    std::unique_lock lock(mu_);
    auto it = by_name_.find(meta.name);
    SeriesMeta next = meta;
    // Ids are dense; a hole left by a partial load is never reused.
    next.id = it != by_name_.end() ? it->second : static_cast<uint32_t>(by_id_.size() + 1);
    if (it != by_name_.end() && same(*by_id_[next.id - 1], meta)) return next.id;
    if (backend_) {
        Status st = backend_->persist(next);
        if (!st) return st.with_context("series '" + meta.name + "'");
    }
    if (it != by_name_.end()) {
        // Same name, so the by_name_ view stays valid when the entry is rewritten.
        Entry e = compact(next);
        by_id_[next.id - 1]->unit = e.unit;
        by_id_[next.id - 1]->description = e.description;
        by_id_[next.id - 1]->tags = e.tags;
        by_id_[next.id - 1]->states = e.states;
        by_id_[next.id - 1]->kind = e.kind;
        return next.id;
    }
    by_id_.push_back(std::make_unique<Entry>(compact(next)));
    by_name_[by_id_.back()->name] = next.id;
    return next.id;
}

std::optional<uint32_t> SeriesRegistry::find(std::string_view name) const {
    std::shared_lock lock(mu_);
    auto it = by_name_.find(name);
    if (it == by_name_.end()) return std::nullopt;
    return it->second;
}

std::optional<SeriesMeta> SeriesRegistry::get(uint32_t id) const {
    std::shared_lock lock(mu_);
    if (id == 0 || id > by_id_.size() || !by_id_[id - 1]) return std::nullopt;
    return materialize(id, *by_id_[id - 1]);
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
    for (size_t i = 0; i < by_id_.size(); ++i) {
        const Entry* e = by_id_[i].get();
        if (!e) continue;
        if (!pattern.empty() && !pattern_match(pattern, e->name)) continue;
        const auto& tags = tag_sets_.values[e->tags];
        bool ok = true;
        for (const auto& [k, v] : *want) {
            auto t = tags.find(k);
            if (t == tags.end() || t->second != v) {
                ok = false;
                break;
            }
        }
        if (ok) out.push_back(materialize(static_cast<uint32_t>(i + 1), *e));
    }
    return out;
}

std::vector<SeriesMeta> SeriesRegistry::all() const {
    std::shared_lock lock(mu_);
    std::vector<SeriesMeta> out;
    out.reserve(by_id_.size());
    for (size_t i = 0; i < by_id_.size(); ++i)
        if (by_id_[i]) out.push_back(materialize(static_cast<uint32_t>(i + 1), *by_id_[i]));
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

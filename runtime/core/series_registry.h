// SeriesRegistry: the kernel's map of series names to ids and metadata.
//
// Ids are dense, start at 1 (0 is "no series") and never change once given:
// with a backend attached (the store), they are persisted and reloaded, so
// they are stable across restarts. The hot path (bus, store writer) carries
// ids; names are resolved once per series.
//
// Threads: every method is safe from any thread. Readers take a shared lock;
// intern() of a new series takes the exclusive lock and calls the backend
// under it, so ids are persisted in the order they are given.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace gridlet {

enum class SeriesKind : uint8_t { gauge = 1, counter = 2, state = 3 };

const char* series_kind_name(SeriesKind kind) noexcept;
std::optional<SeriesKind> parse_series_kind(std::string_view name) noexcept;

struct SeriesMeta {
    uint32_t id = 0;
    std::string name;                         // "device/point/..."
    std::string unit;                         // may be empty
    SeriesKind kind = SeriesKind::gauge;
    std::string description;
    std::map<std::string, std::string> tags;  // site, building, floor, space, device,
                                              // load, group, usage, fluid, free keys
    std::map<int64_t, std::string> states;    // kind state: value -> label

    // The first path segment of the name.
    std::string_view device() const noexcept;
    bool operator==(const SeriesMeta&) const = default;
};

// Parses "k=v,k=v" (spaces around items ignored). Error names the bad item.
Expected<std::map<std::string, std::string>> parse_tags(std::string_view text);
// Parses "0=off,1=on" into value -> label.
Expected<std::map<int64_t, std::string>> parse_states(std::string_view text);

// Where registry entries are persisted. Implemented by the store.
class SeriesRegistryBackend {
public:
    virtual ~SeriesRegistryBackend() = default;
    // Every persisted series, any order.
    virtual Expected<std::vector<SeriesMeta>> load_all() = 0;
    // Persist a new or updated entry durably (in the WAL) before returning.
    virtual Status persist(const SeriesMeta& meta) = 0;
};

class SeriesRegistry {
public:
    SeriesRegistry() = default;
    SeriesRegistry(const SeriesRegistry&) = delete;
    SeriesRegistry& operator=(const SeriesRegistry&) = delete;

    // Load the backend's series and persist every later change through it.
    // Call before any intern(); the backend must outlive the registry.
    Status attach(SeriesRegistryBackend* backend);
    // Stops persisting through the backend (call before the backend is
    // destroyed); later intern() calls change the registry in memory only.
    void detach();

    // Id of `meta.name`, creating it if new; if it exists with other metadata
    // (unit, kind, tags, ...), the metadata is updated. meta.id is ignored.
    Expected<uint32_t> intern(const SeriesMeta& meta);

    std::optional<uint32_t> find(std::string_view name) const;
    // A copy of the entry, or nullopt.
    std::optional<SeriesMeta> get(uint32_t id) const;
    // The name of `id`, or "" if unknown.
    std::string name(uint32_t id) const;

    // Entries whose name matches `pattern` (core/pattern.h: prefix or glob)
    // and whose tags contain every pair of `tag_selector` ("k=v,k=v" or "").
    Expected<std::vector<SeriesMeta>> select(std::string_view pattern, std::string_view tag_selector = {}) const;
    std::vector<SeriesMeta> all() const;

    size_t size() const;
    // The largest id given so far (ids are 1..max_id()).
    uint32_t max_id() const;

private:
    // Compact storage (a gateway may hold 100,000 series): the name once,
    // and the rest as indexes into pools of distinct values, which series of
    // one device or profile share.
    struct Entry {
        std::string name;
        uint32_t unit = 0, description = 0, tags = 0, states = 0;  // pool indexes
        SeriesKind kind = SeriesKind::gauge;
    };
    template <class T>
    struct Pool {
        std::vector<T> values;
        std::map<T, uint32_t> index;
        uint32_t intern(const T& v);
    };
    SeriesMeta materialize(uint32_t id, const Entry& e) const;
    Entry compact(const SeriesMeta& m);
    bool same(const Entry& e, const SeriesMeta& m) const;

    mutable std::shared_mutex mu_;
    std::vector<std::unique_ptr<Entry>> by_id_;               // index id-1; stable addresses
    std::unordered_map<std::string_view, uint32_t> by_name_;  // views into Entry::name
    Pool<std::string> strings_;                                // units and descriptions
    Pool<std::map<std::string, std::string>> tag_sets_;
    Pool<std::map<int64_t, std::string>> state_sets_;
    SeriesRegistryBackend* backend_ = nullptr;
};

}  // namespace gridlet

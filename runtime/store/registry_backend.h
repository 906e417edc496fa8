// RegistryBackend: persists the kernel's SeriesRegistry (core/series_registry.h)
// in the store's "registry" column family, so series ids are stable across
// restarts. One key per series: 'S' | id (big-endian) -> metadata as JSON
// {"name","unit","kind","description","tags":{},"states":{"0":"off"}}.
//
// persist() writes through the WAL with the store's sync policy before it
// returns. Thread-safe (RocksDB is); the StoreDb must outlive it.
#pragma once

#include <string>
#include <string_view>

#include "core/series_registry.h"
#include "store/db.h"

namespace gridlet::store {

class RegistryBackend final : public SeriesRegistryBackend {
public:
    explicit RegistryBackend(StoreDb& db) : db_(db) {}
    Expected<std::vector<SeriesMeta>> load_all() override;
    Status persist(const SeriesMeta& meta) override;

private:
    StoreDb& db_;
};

std::string encode_series_meta(const SeriesMeta& m);
Expected<SeriesMeta> decode_series_meta(uint32_t id, std::string_view bytes);

}  // namespace gridlet::store

#include "store/registry_backend.h"

#include <memory>

#include <nlohmann/json.hpp>
#include <rocksdb/write_batch.h>

#include "store/keys.h"

namespace gridlet::store {

namespace {
std::string registry_key(uint32_t id) {
    std::string k = "S";
    put_be32(k, id);
    return k;
}
}  // namespace

std::string encode_series_meta(const SeriesMeta& m) {
    nlohmann::json j;
    j["name"] = m.name;
    j["unit"] = m.unit;
    j["kind"] = series_kind_name(m.kind);
    j["description"] = m.description;
    j["tags"] = m.tags;
    nlohmann::json states = nlohmann::json::object();
    for (const auto& [v, label] : m.states) states[std::to_string(v)] = label;
    j["states"] = states;
    return j.dump();
}

Expected<SeriesMeta> decode_series_meta(uint32_t id, std::string_view bytes) {
    SeriesMeta m;
    m.id = id;
    try {
        auto j = nlohmann::json::parse(bytes);
        m.name = j.at("name").get<std::string>();
        m.unit = j.value("unit", "");
        auto kind = parse_series_kind(j.value("kind", "gauge"));
        if (!kind) return Status::corruption("series " + std::to_string(id) + ": unknown kind");
        m.kind = *kind;
        m.description = j.value("description", "");
        if (j.contains("tags")) m.tags = j["tags"].get<std::map<std::string, std::string>>();
        if (j.contains("states"))
            for (const auto& [k, v] : j["states"].items()) m.states[std::stoll(k)] = v.get<std::string>();
    } catch (const std::exception& e) {
        return Status::corruption("series " + std::to_string(id) + ": metadata does not decode: " + e.what());
    }
    return m;
}

Expected<std::vector<SeriesMeta>> RegistryBackend::load_all() {
    std::vector<SeriesMeta> out;
    std::unique_ptr<rocksdb::Iterator> it(db_.db()->NewIterator(rocksdb::ReadOptions(), db_.cf(Cf::registry)));
    for (it->Seek("S"); it->Valid() && it->key().starts_with("S"); it->Next()) {
        if (it->key().size() != 5) continue;
        auto m = decode_series_meta(get_be32(it->key().data() + 1), std::string_view(it->value().data(), it->value().size()));
        if (!m) return m.status().with_context("store " + db_.path() + ": registry");
        out.push_back(std::move(*m));
    }
    if (!it->status().ok()) return db_.convert(it->status(), "load series registry");
    return out;
}

Status RegistryBackend::persist(const SeriesMeta& meta) {
    rocksdb::WriteBatch b;
    b.Put(db_.cf(Cf::registry), registry_key(meta.id), encode_series_meta(meta));
    return db_.write(b, "persist series");
}

}  // namespace gridlet::store

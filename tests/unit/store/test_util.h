// Helpers for the store tests: a temporary folder and sample builders.
#pragma once

#include <cstring>
#include <filesystem>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "store/store.h"

namespace gridlet::store::test {

class TempDir {
public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "gridlet-store-test-XXXXXX").string();
        if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

inline StoreOptions test_options(const std::filesystem::path& p) {
    StoreOptions o;
    o.path = p / "db";
    o.sync = SyncPolicy::none;
    o.rollup_interval_ms = 3'600'000;  // tests roll up explicitly
    o.retention.raw_ms = 0;
    o.retention.min1_ms = 0;
    o.retention.events_ms = 0;
    return o;
}

inline SeriesMeta meta(std::string name, SeriesKind kind = SeriesKind::gauge,
                       std::map<std::string, std::string> tags = {}) {
    SeriesMeta m;
    m.name = std::move(name);
    m.kind = kind;
    m.unit = kind == SeriesKind::counter ? "kWh" : "W";
    m.tags = std::move(tags);
    return m;
}

inline gl_sample gs(uint32_t id, int64_t ts, double v, uint8_t q = GL_QUALITY_GOOD) {
    gl_sample s{};
    s.series_id = id;
    s.ts_ms = ts;
    s.value = v;
    s.quality = q;
    return s;
}

// Two rows equal bit for bit, every field (-0.0 is not 0.0).
inline bool same_row_bits(const RollupRow& a, const RollupRow& b) {
    auto same = [](double x, double y) { return std::memcmp(&x, &y, sizeof x) == 0; };
    return a.count == b.count && a.intervals == b.intervals && same(a.min, b.min) && same(a.max, b.max) &&
           same(a.sum, b.sum) && same(a.first, b.first) && same(a.last, b.last) && a.first_ts == b.first_ts &&
           a.last_ts == b.last_ts && same(a.consumption, b.consumption);
}

// 2024-01-01T00:00:00Z
inline constexpr int64_t kT0 = 1704067200000;

}  // namespace gridlet::store::test

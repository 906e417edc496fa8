// Helper of store_crash_test: ingests into a store until killed and reports,
// on stdout, every batch the store acknowledged:
//     "ack <base_ts> <count>\n"
// meaning: for each of the 10 series "crash/sN" (ids 1..10), samples at
// base_ts + k * 1000 (k < count) with value expected_value(N, ts) are in the
// store, plus late rewrites (same values) of earlier timestamps.
// Usage: store_ingest_child <db path> <seed>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "store/store.h"

using namespace gridlet;
using namespace gridlet::store;

namespace {
constexpr int kSeries = 10;
constexpr int64_t kStart = 1704067200000;  // 2024-01-01

double expected_value(int n, int64_t ts) { return static_cast<double>((ts / 1000) % 100000) / 10.0 + n; }

void say(const std::string& line) {
    const char* p = line.data();
    size_t left = line.size();
    while (left > 0) {
        ssize_t w = ::write(1, p, left);
        if (w <= 0) std::_Exit(3);
        p += w;
        left -= static_cast<size_t>(w);
    }
}
}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: store_ingest_child <db path> <seed>\n");
        return 2;
    }
    StoreOptions o;
    o.path = argv[1];
    o.sync = SyncPolicy::none;  // kill -9 must not lose acked writes even without fsync
    o.rollup_interval_ms = 20;  // the roller runs while we are killed
    o.chunk_max_samples = 64;
    o.retention.raw_ms = 0;
    o.retention.min1_ms = 0;
    auto store = Store::open(o);
    if (!store) {
        std::fprintf(stderr, "open: %s\n", store.status().to_string().c_str());
        return 1;
    }
    uint32_t ids[kSeries];
    for (int n = 0; n < kSeries; ++n) {
        SeriesMeta m;
        m.name = "crash/s" + std::to_string(n);
        m.kind = n % 2 ? SeriesKind::counter : SeriesKind::gauge;
        auto id = (*store)->registry().intern(m);
        if (!id) {
            std::fprintf(stderr, "intern: %s\n", id.status().to_string().c_str());
            return 1;
        }
        ids[n] = *id;
    }
    // Continue after the latest sample already stored.
    int64_t base = kStart;
    auto last = (*store)->query().last(ids[0]);
    if (last && *last) base = (*last)->ts + 1000;
    std::mt19937_64 rng(std::strtoull(argv[2], nullptr, 10));
    std::vector<gl_sample> batch;
    for (;;) {
        int count = 1 + static_cast<int>(rng() % 200);
        batch.clear();
        for (int n = 0; n < kSeries; ++n)
            for (int k = 0; k < count; ++k) {
                gl_sample s{};
                s.series_id = ids[n];
                s.ts_ms = base + k * 1000;
                s.value = expected_value(n, s.ts_ms);
                s.quality = GL_QUALITY_GOOD;
                batch.push_back(s);
            }
        // Late rewrites of earlier samples (same values): out-of-order merges.
        for (int i = 0; i < 5 && base > kStart; ++i) {
            int n = static_cast<int>(rng() % kSeries);
            int64_t ts = kStart + static_cast<int64_t>(rng() % static_cast<uint64_t>((base - kStart) / 1000)) * 1000;
            gl_sample s{};
            s.series_id = ids[n];
            s.ts_ms = ts;
            s.value = expected_value(n, ts);
            s.quality = GL_QUALITY_GOOD;
            batch.push_back(s);
        }
        Status st = (*store)->append(batch);
        if (!st) {
            std::fprintf(stderr, "append: %s\n", st.to_string().c_str());
            return 1;
        }
        say("ack " + std::to_string(base) + " " + std::to_string(count) + "\n");
        base += count * 1000;
    }
}

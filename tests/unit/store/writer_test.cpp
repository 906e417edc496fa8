#include <algorithm>
#include <map>
#include <random>

#include "store/chunk_reader.h"
#include "store/keys.h"
#include "test_util.h"

using namespace gridlet;
using namespace gridlet::store;
using namespace gridlet::store::test;

namespace {
// Every chunk of `series`: (start, samples).
std::vector<std::pair<int64_t, std::vector<Sample>>> chunks_of(Store& s, uint32_t series) {
    std::vector<std::pair<int64_t, std::vector<Sample>>> out;
    std::unique_ptr<rocksdb::Iterator> it(s.db().db()->NewIterator(rocksdb::ReadOptions(), s.db().cf(Cf::chunks)));
    std::string prefix = series_prefix(series);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
        std::vector<Sample> v;
        EXPECT_TRUE(decode_chunk(std::string_view(it->value().data(), it->value().size()), v));
        out.emplace_back(get_time(it->key().data() + 4), std::move(v));
    }
    return out;
}

std::vector<Sample> all_raw(Store& s, uint32_t id) {
    auto r = s.query().raw(id, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
    EXPECT_TRUE(r) << r.status().to_string();
    return r ? *r : std::vector<Sample>{};
}
}  // namespace

TEST(ChunkWriter, RoundTripManySeries) {
    TempDir dir;
    auto store = Store::open(test_options(dir.path()));
    ASSERT_TRUE(store) << store.status().to_string();
    std::vector<uint32_t> ids;
    for (int i = 0; i < 20; ++i) ids.push_back(*(*store)->registry().intern(meta("dev/p" + std::to_string(i))));
    std::vector<gl_sample> batch;
    for (int t = 0; t < 500; ++t)
        for (uint32_t id : ids) batch.push_back(gs(id, kT0 + t * 1000, id * 1000.0 + t * 0.25));
    ASSERT_TRUE((*store)->append(batch));
    for (uint32_t id : ids) {
        auto v = all_raw(**store, id);
        ASSERT_EQ(v.size(), 500u);
        for (int t = 0; t < 500; ++t) {
            EXPECT_EQ(v[t].ts, kT0 + t * 1000);
            EXPECT_EQ(v[t].value, id * 1000.0 + t * 0.25);
        }
    }
    auto r = (*store)->query().raw(ids[3], kT0 + 10'000, kT0 + 20'000);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->size(), 10u);
    EXPECT_EQ(r->front().ts, kT0 + 10'000);
    EXPECT_EQ(r->back().ts, kT0 + 19'000);
    auto last = (*store)->query().last(ids[3]);
    ASSERT_TRUE(last && *last);
    EXPECT_EQ((*last)->ts, kT0 + 499'000);
}

TEST(ChunkWriter, ChunkBoundaries) {
    TempDir dir;
    StoreOptions o = test_options(dir.path());
    o.chunk_max_samples = 100;
    o.chunk_max_span_ms = 3'600'000;
    auto store = Store::open(o);
    ASSERT_TRUE(store);
    uint32_t id = *(*store)->registry().intern(meta("dev/a"));
    // 250 samples in batches of 7: chunks of exactly 100, 100, 50.
    for (int b = 0; b < 250; b += 7) {
        std::vector<gl_sample> batch;
        for (int i = b; i < std::min(b + 7, 250); ++i) batch.push_back(gs(id, kT0 + i * 1000, i));
        ASSERT_TRUE((*store)->append(batch));
    }
    auto chunks = chunks_of(**store, id);
    ASSERT_EQ(chunks.size(), 3u);
    EXPECT_EQ(chunks[0].second.size(), 100u);
    EXPECT_EQ(chunks[1].second.size(), 100u);
    EXPECT_EQ(chunks[2].second.size(), 50u);
    EXPECT_EQ(chunks[1].first, kT0 + 100'000);
    EXPECT_EQ(chunks[2].first, kT0 + 200'000);
    // A gap longer than the span starts a new chunk.
    ASSERT_TRUE((*store)->append(std::vector<gl_sample>{gs(id, kT0 + 250'000 + 3'600'000, 1)}));
    EXPECT_EQ(chunks_of(**store, id).size(), 4u);
    // Ranges across chunk edges.
    for (auto [from, to, n] : {std::tuple{99'000, 101'000, 2}, {0, 100'000, 100}, {199'500, 200'500, 1},
                               {100'000, 100'001, 1}, {100'001, 101'000, 0}}) {
        auto r = (*store)->query().raw(id, kT0 + from, kT0 + to);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->size(), static_cast<size_t>(n)) << from << ".." << to;
    }
    EXPECT_EQ(all_raw(**store, id).size(), 251u);
}

TEST(ChunkWriter, OutOfOrderAndDuplicates) {
    TempDir dir;
    StoreOptions o = test_options(dir.path());
    o.chunk_max_samples = 10;
    auto store = Store::open(o);
    ASSERT_TRUE(store);
    uint32_t id = *(*store)->registry().intern(meta("dev/a"));
    std::map<int64_t, std::pair<double, uint8_t>> expected;
    std::mt19937_64 rng(42);
    for (int b = 0; b < 60; ++b) {
        std::vector<gl_sample> batch;
        for (int i = 0; i < 9; ++i) {
            // Mostly in order, some late (up to far before everything), some duplicates.
            int64_t ts = kT0 + b * 10'000 + i * 1000;
            uint64_t r = rng() % 10;
            if (r == 0) ts = kT0 - static_cast<int64_t>(rng() % 100) * 1000;  // older than the series
            if (r == 1) ts = kT0 + static_cast<int64_t>(rng() % (b + 1)) * 10'000;  // late into older chunks
            double v = static_cast<double>(rng() % 1000) / 10.0;
            uint8_t q = rng() % 5 == 0 ? 0 : 192;
            batch.push_back(gs(id, ts, v, q));
            expected[ts] = {v, q};  // within a batch and across batches, the later write wins
        }
        ASSERT_TRUE((*store)->append(batch));
    }
    auto check = [&](Store& s) {
        auto v = all_raw(s, id);
        ASSERT_EQ(v.size(), expected.size());
        size_t i = 0;
        for (const auto& [ts, vq] : expected) {
            EXPECT_EQ(v[i].ts, ts);
            EXPECT_EQ(v[i].value, vq.first) << ts;
            EXPECT_EQ(v[i].quality, vq.second) << ts;
            ++i;
        }
        // The chunk invariant: every sample of a chunk is before the next chunk's start.
        auto chunks = chunks_of(s, id);
        for (size_t c = 0; c + 1 < chunks.size(); ++c)
            EXPECT_LT(chunks[c].second.back().ts, chunks[c + 1].first);
        for (size_t c = 1; c < chunks.size(); ++c) EXPECT_GE(chunks[c].second.front().ts, chunks[c].first);
    };
    check(**store);
    ASSERT_TRUE((*store)->compact_all());
    check(**store);
    store->reset();
    auto again = Store::open(o);
    ASSERT_TRUE(again);
    check(**again);
}

TEST(ChunkWriter, PersistsAcrossRestartAndContinuesTheOpenChunk) {
    TempDir dir;
    StoreOptions o = test_options(dir.path());
    o.chunk_max_samples = 50;
    uint32_t id = 0;
    {
        auto store = Store::open(o);
        ASSERT_TRUE(store);
        id = *(*store)->registry().intern(meta("dev/a", SeriesKind::counter, {{"site", "hq"}}));
        std::vector<gl_sample> b;
        for (int i = 0; i < 30; ++i) b.push_back(gs(id, kT0 + i * 1000, i));
        ASSERT_TRUE((*store)->append(b));
    }
    auto store = Store::open(o);
    ASSERT_TRUE(store);
    auto m = (*store)->registry().get(id);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->name, "dev/a");
    EXPECT_EQ(m->kind, SeriesKind::counter);
    EXPECT_EQ(m->tags.at("site"), "hq");
    EXPECT_EQ(*(*store)->registry().intern(meta("dev/b")), id + 1);
    std::vector<gl_sample> b;
    for (int i = 30; i < 60; ++i) b.push_back(gs(id, kT0 + i * 1000, i));
    ASSERT_TRUE((*store)->append(b));
    auto chunks = chunks_of(**store, id);
    ASSERT_EQ(chunks.size(), 2u);  // the reloaded open chunk was filled to 50 first
    EXPECT_EQ(chunks[0].second.size(), 50u);
    EXPECT_EQ(all_raw(**store, id).size(), 60u);
}

TEST(ChunkWriter, RejectsSeriesZeroAtomically) {
    TempDir dir;
    auto store = Store::open(test_options(dir.path()));
    ASSERT_TRUE(store);
    uint32_t id = *(*store)->registry().intern(meta("dev/a"));
    Status st = (*store)->append(std::vector<gl_sample>{gs(id, kT0, 1), gs(0, kT0, 2)});
    EXPECT_EQ(st.code(), StatusCode::invalid_argument);
    EXPECT_TRUE(all_raw(**store, id).empty());
}

TEST(ChunkWriter, ReadOnlySecondarySeesThePrimaryWrites) {
    TempDir dir;
    StoreOptions o = test_options(dir.path());
    auto store = Store::open(o);
    ASSERT_TRUE(store);
    uint32_t id = *(*store)->registry().intern(meta("dev/a"));
    ASSERT_TRUE((*store)->append(std::vector<gl_sample>{gs(id, kT0, 1)}));
    auto ro = Store::open_read_only(o.path);
    ASSERT_TRUE(ro) << ro.status().to_string();
    EXPECT_EQ((*ro)->registry().find("dev/a"), id);
    EXPECT_EQ(all_raw(**ro, id).size(), 1u);
    ASSERT_TRUE((*store)->append(std::vector<gl_sample>{gs(id, kT0 + 1000, 2)}));
    ASSERT_TRUE((*ro)->catch_up());
    EXPECT_EQ(all_raw(**ro, id).size(), 2u);
    EXPECT_EQ((*ro)->append(std::vector<gl_sample>{gs(id, kT0 + 2000, 3)}).code(), StatusCode::unsupported);
    EXPECT_FALSE((*ro)->registry().intern(meta("dev/new")));
    EXPECT_EQ(Store::open_read_only(dir.path() / "nothing").status().code(), StatusCode::not_found);
}

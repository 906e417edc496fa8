#include "store/roller.h"

#include <algorithm>
#include <map>
#include <memory>

#include <rocksdb/write_batch.h>

#include "store/chunk_reader.h"
#include "store/keys.h"
#include "store/stored_rows.h"

namespace gridlet::store {

namespace {
constexpr int64_t kMinute = 60'000;
constexpr size_t kBatchBytes = 4u << 20;

struct SnapshotGuard {
    rocksdb::DB* db;
    const rocksdb::Snapshot* snap;
    ~SnapshotGuard() {
        if (snap) db->ReleaseSnapshot(snap);
    }
};
}  // namespace

Expected<int64_t> read_watermark(const StoreDb& db, uint32_t series, const rocksdb::Snapshot* snap) {
    rocksdb::ReadOptions ro;
    ro.snapshot = snap;
    std::string v;
    auto s = db.db()->Get(ro, db.cf(Cf::rollup_meta), watermark_key(series), &v);
    if (s.IsNotFound()) return kNoWatermark;
    if (!s.ok()) return db.convert(s, "read rollup watermark");
    if (v.size() != 8) return Status::corruption("store " + db.path() + ": bad rollup watermark");
    return get_time(v.data());
}

Expected<std::vector<int64_t>> read_dirty_minutes(const StoreDb& db, uint32_t series, const rocksdb::Snapshot* snap) {
    rocksdb::ReadOptions ro;
    ro.snapshot = snap;
    std::vector<int64_t> out;
    const std::string prefix = dirty_prefix(series);
    std::unique_ptr<rocksdb::Iterator> it(db.db()->NewIterator(ro, db.cf(Cf::rollup_meta)));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next())
        if (it->key().size() == 21) out.push_back(get_time(it->key().data() + 5));
    if (!it->status().ok()) return db.convert(it->status(), "read dirty rollup markers");
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

Expected<StaleRange> stale_range(const StoreDb& db, const rocksdb::Snapshot* snap, uint32_t series,
                                 const CounterRule& rule, int64_t lo, int64_t hi) {
    StaleRange r{lo, hi};
    if (!rule.counter) return r;
    ChunkReader reader(db, snap);
    std::vector<Sample> near;
    if (Status st = reader.good_before(series, lo, 2, near); !st) return st;
    if (!near.empty()) r.first = std::min(r.first, floor_to(near.back().ts, kMinute));
    if (Status st = reader.good_from(series, hi, 1, near); !st) return st;
    r.end = near.empty() ? std::numeric_limits<int64_t>::max() : std::max(hi, floor_to(near.front().ts, kMinute) + kMinute);
    return r;
}

RollupPolicy RollupPolicy::from_retention(const RetentionOptions& r) {
    RollupPolicy p;
    const int64_t keep[4] = {r.min1_ms, r.min15_ms, r.hour1_ms, r.day1_ms};
    for (size_t i = 0; i + 1 < p.sparse.size(); ++i)  // never 1 day
        p.sparse[i] = r.raw_ms == 0 || (keep[i] != 0 && r.raw_ms >= keep[i]);
    return p;
}

Status Roller::store_rows(uint32_t series, Resolution res, int64_t lo, int64_t hi, const std::vector<int64_t>& starts,
                          const std::vector<RollupRow>& rows, rocksdb::WriteBatch& batch, size_t& rows_written) {
    // Rows stored before in [lo, hi) that are not rewritten now (too few
    // samples left, or a bucket whose samples all turned bad) must go: a stale
    // row would be taken over the raw samples. The roller is the only writer
    // of rollups, so the latest state is the one to read.
    std::vector<int64_t> stored;
    {
        std::unique_ptr<rocksdb::Iterator> it(db_.db()->NewIterator(rocksdb::ReadOptions(), db_.cf(Cf::rollups)));
        const std::string end = rollup_key(series, res, hi);
        for (it->Seek(rollup_key(series, res, lo)); it->Valid() && it->key().compare(end) < 0; it->Next())
            stored.push_back(get_time(it->key().data() + 5));
        if (!it->status().ok()) return db_.convert(it->status(), "read rollups");
    }
    size_t k = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
        const int64_t b = starts[i];
        while (k < stored.size() && stored[k] < b) batch.Delete(db_.cf(Cf::rollups), rollup_key(series, res, stored[k++]));
        const bool exists = k < stored.size() && stored[k] == b;
        if (exists) ++k;
        if (policy_.keep(res, rows[i])) {
            batch.Put(db_.cf(Cf::rollups), rollup_key(series, res, b), encode_row(rows[i], b));
            ++rows_written;
        } else if (exists) {
            batch.Delete(db_.cf(Cf::rollups), rollup_key(series, res, b));
        }
    }
    while (k < stored.size()) batch.Delete(db_.cf(Cf::rollups), rollup_key(series, res, stored[k++]));
    return Status::ok();
}

CounterRule Roller::rule_of(uint32_t series) const {
    if (!registry_) return {};
    auto m = registry_->get(series);
    return m ? counter_rule(*m) : CounterRule{};
}

Status Roller::raw_to_minutes(const Item& item, const rocksdb::Snapshot* snap, rocksdb::WriteBatch& batch,
                              size_t& rows_written) {
    int64_t from = item.from;
    if (item.repair) {
        // Never rebuild minutes whose raw samples may have expired (a late
        // sample older than raw retention): the rows keep what they had.
        const int64_t raw_cut = db_.cutoffs().raw();
        if (raw_cut != RetentionCutoffs::kKeepAll) from = std::max(from, ceil_to(raw_cut, kMinute));
        if (from >= item.to) return Status::ok();
    }
    ChunkCursor raw(db_, snap, item.series);
    Aggregator agg(raw, nullptr, grid_, item.rule, Aggregator::kNoRows);
    std::vector<RollupRow> rows;
    std::vector<int64_t> starts;
    if (Status st = agg.minutes(from, item.to, starts, rows); !st) return st;
    return store_rows(item.series, Resolution::min1, from, item.to, starts, rows, batch, rows_written);
}

Status Roller::coarse_rows(const Item& item, Resolution coarse, const rocksdb::Snapshot* snap,
                           rocksdb::WriteBatch& batch, size_t& rows_written) {
    // Blocks of `coarse` that overlap [from, to) and end at or before the limit.
    int64_t first = grid_.start(coarse, item.from);
    // A repair cannot rebuild a coarse block from finer rows or raw samples
    // that have expired: it keeps the coarse row as it was.
    if (item.repair) {
        const Resolution fine = static_cast<Resolution>(static_cast<uint8_t>(coarse) - 1);
        for (int64_t cut : {db_.cutoffs().rollup(fine), db_.cutoffs().raw()}) {
            if (cut == RetentionCutoffs::kKeepAll || cut <= first) continue;
            int64_t s = grid_.start(coarse, std::min(cut, kMaxStoreTime));
            first = s < cut ? grid_.end(coarse, s) : s;
        }
    }
    if (first >= item.to || grid_.end(coarse, first) > item.coarse_limit) return Status::ok();
    // Finer rows at the latest state (this pass has just written them), raw
    // samples at the pass's snapshot; every finer row below the limit is exact.
    ChunkCursor raw(db_, snap, item.series);
    StoredRows finer(db_, nullptr, item.series);
    Aggregator agg(raw, &finer, grid_, item.rule, item.coarse_limit);
    std::vector<RollupRow> rows;
    std::vector<int64_t> starts;
    int64_t s = first, hi = first;
    while (s < item.to) {
        auto next = agg.next_data(s);
        if (!next) return next.status();
        if (!*next || **next >= item.to) break;
        if (**next > s) s = std::max(s, grid_.start(coarse, **next));  // skip empty blocks
        const int64_t e = grid_.end(coarse, s);
        if (e > item.coarse_limit) break;
        auto row = agg.recompute(coarse, s);
        if (!row) return row.status();
        if (!row->empty()) {
            starts.push_back(s);
            rows.push_back(*row);
        }
        hi = e;
        s = e;
    }
    // Stored rows in [first, hi) that were not rewritten are deleted (a
    // block whose samples all turned bad); skipped stretches hold no data.
    if (hi == first) return Status::ok();
    return store_rows(item.series, coarse, first, hi, starts, rows, batch, rows_written);
}

Expected<Roller::PassStats> Roller::roll_once() {
    PassStats stats;
    const rocksdb::Snapshot* snap = nullptr;
    std::vector<RollClaim> claims = writer_.claim_rollups(&snap);
    SnapshotGuard guard{db_.db(), snap};
    auto fail = [&](Status st) {
        for (const RollClaim& c : claims) writer_.release_claim(c);
        return st;
    };

    std::vector<Item> items;
    ChunkReader reader(db_, snap);
    for (const RollClaim& c : claims) {
        Item it;
        it.series = c.series;
        it.to = c.to;
        it.coarse_limit = c.to;
        it.rule = rule_of(c.series);
        if (c.from == RollClaim::kFromStart) {
            auto f = reader.first(c.series);
            if (!f) return fail(f.status());
            if (!*f) continue;
            it.from = floor_to((*f)->ts, kMinute);
        } else {
            it.from = c.from;
        }
        if (it.from < it.to) items.push_back(it);
    }
    // Dirty minutes (read at the snapshot, deleted at the end).
    std::vector<std::string> handled;
    std::map<uint32_t, std::vector<int64_t>> dirty;
    {
        rocksdb::ReadOptions ro;
        ro.snapshot = snap;
        std::unique_ptr<rocksdb::Iterator> it(db_.db()->NewIterator(ro, db_.cf(Cf::rollup_meta)));
        for (it->Seek("D"); it->Valid() && it->key().starts_with("D"); it->Next()) {
            if (it->key().size() != 21) continue;
            handled.emplace_back(it->key().data(), it->key().size());
            dirty[get_be32(it->key().data() + 1)].push_back(get_time(it->key().data() + 5));
        }
        if (!it->status().ok()) return fail(db_.convert(it->status(), "read dirty rollup markers"));
    }
    for (auto& [series, minutes] : dirty) {
        auto w = read_watermark(db_, series, nullptr);
        if (!w) return fail(w.status());
        int64_t limit = *w;
        for (const Item& i : items)
            if (i.series == series) limit = std::max(limit, i.to);
        if (limit == kNoWatermark) continue;
        Item it;
        it.series = series;
        it.rule = rule_of(series);
        it.coarse_limit = limit;
        it.repair = true;
        auto stale = stale_range(db_, snap, series, it.rule, *std::min_element(minutes.begin(), minutes.end()),
                                 *std::max_element(minutes.begin(), minutes.end()) + kMinute);
        if (!stale) return fail(stale.status());
        it.from = stale->first;
        it.to = std::min(stale->end, limit);
        stats.dirty_minutes += minutes.size();
        if (it.from < it.to) items.push_back(it);
    }
    if (items.empty() && handled.empty()) return stats;

    // Phase 1: 1-min rows from raw. Phases 2-4: coarser rows from finer rows.
    rocksdb::WriteBatch batch;
    auto flush_batch = [&](bool force) -> Status {
        if (batch.Count() == 0 || (!force && batch.GetDataSize() < kBatchBytes)) return Status::ok();
        Status st = db_.write(batch, "write rollups");
        batch.Clear();
        return st;
    };
    for (const Item& it : items) {
        Status st = raw_to_minutes(it, snap, batch, stats.rows);
        if (!st || !(st = flush_batch(false))) return fail(st);
    }
    if (Status st = flush_batch(true); !st) return fail(st);
    for (Resolution r : {Resolution::min15, Resolution::hour1, Resolution::day1}) {
        for (const Item& it : items) {
            Status st = coarse_rows(it, r, snap, batch, stats.rows);
            if (!st || !(st = flush_batch(false))) return fail(st);
        }
        if (Status st = flush_batch(true); !st) return fail(st);
    }
    // Phase 5: watermarks and markers.
    for (const RollClaim& c : claims) {
        std::string v;
        put_time(v, c.to);
        batch.Put(db_.cf(Cf::rollup_meta), watermark_key(c.series), v);
    }
    for (const std::string& k : handled) batch.Delete(db_.cf(Cf::rollup_meta), k);
    if (Status st = flush_batch(true); !st) return fail(st);
    stats.series = claims.size();
    return stats;
}

}  // namespace gridlet::store

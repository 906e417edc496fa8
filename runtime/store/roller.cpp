#include "store/roller.h"

#include <algorithm>
#include <map>
#include <memory>

#include <rocksdb/write_batch.h>

#include "store/chunk_reader.h"
#include "store/keys.h"

namespace gridlet::store {

namespace {
constexpr int64_t kMinute = 60'000;
constexpr size_t kBatchBytes = 4u << 20;

Resolution finer(Resolution r) { return static_cast<Resolution>(static_cast<uint8_t>(r) - 1); }

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
            batch.Put(db_.cf(Cf::rollups), rollup_key(series, res, b), encode_row(rows[i]));
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
    ChunkReader reader(db_, snap);
    int64_t from = item.from;
    if (item.repair) {
        // Never rebuild minutes whose raw samples may have expired (a late
        // sample older than raw retention): the rows keep what they had.
        const int64_t raw_cut = db_.cutoffs().raw();
        if (raw_cut != RetentionCutoffs::kKeepAll) from = std::max(from, ceil_to(raw_cut, kMinute));
        if (from >= item.to) return Status::ok();
    }
    std::vector<RollupRow> rows;
    std::vector<int64_t> starts;
    RowFolder folder(rows, item.rule);
    auto row_of = [&](int64_t ts) {
        int64_t m = floor_to(ts, kMinute);
        if (starts.empty() || starts.back() != m) {
            starts.push_back(m);
            rows.emplace_back();
        }
        return rows.size() - 1;
    };
    std::optional<Sample> after;
    Status st = reader.scan(
        item.series, from, item.to,
        [&](std::span<const Sample> run) {
            for (const Sample& s : run) folder.add(s, row_of(s.ts));
        },
        &after);
    if (!st) return st;
    if (after) folder.add(*after, RowFolder::npos);
    return store_rows(item.series, Resolution::min1, from, item.to, starts, rows, batch, rows_written);
}

Status Roller::coarse_rows(const Item& item, Resolution fine, Resolution coarse, const rocksdb::Snapshot* snap,
                           rocksdb::WriteBatch& batch, size_t& rows_written) {
    const int64_t width = resolution_ms(coarse);
    const int64_t fine_width = resolution_ms(fine);
    int64_t first = floor_to(item.from, width);
    int64_t last_end = floor_to(std::min(item.to + width - 1, item.coarse_limit), width);  // buckets ending <= limit
    if (item.to <= first || last_end <= first) return Status::ok();
    // A repair cannot rebuild a coarse bucket from finer rows or raw samples
    // that have expired: it keeps the coarse row as it was.
    for (int64_t cut : {db_.cutoffs().rollup(fine), db_.cutoffs().raw()})
        if (item.repair && cut != RetentionCutoffs::kKeepAll) first = std::max(first, ceil_to(cut, width));
    if (last_end <= first) return Status::ok();
    const size_t n = static_cast<size_t>((last_end - first) / width);
    std::vector<RollupRow> acc(n);
    std::vector<int64_t> starts(n);
    for (size_t i = 0; i < n; ++i) starts[i] = first + static_cast<int64_t>(i) * width;
    auto index_of = [&](int64_t t) { return static_cast<size_t>((floor_to(t, width) - first) / width); };
    // Fine buckets without a row held too few samples to be stored (or none):
    // they are read from raw, at the snapshot the fine rows were computed at.
    ChunkReader reader(db_, snap);
    auto from_raw = [&](int64_t lo, int64_t hi) -> Status {
        if (lo >= hi) return Status::ok();
        RowFolder folder(acc, item.rule);
        std::optional<Sample> after;
        Status st = reader.scan(
            item.series, lo, hi,
            [&](std::span<const Sample> run) {
                for (const Sample& s : run) folder.add(s, index_of(s.ts));
            },
            &after);
        if (!st) return st;
        if (after) folder.add(*after, RowFolder::npos);
        return Status::ok();
    };
    std::unique_ptr<rocksdb::Iterator> it(db_.db()->NewIterator(rocksdb::ReadOptions(), db_.cf(Cf::rollups)));
    const std::string end_key = rollup_key(item.series, fine, last_end);
    int64_t next = first;  // the first fine bucket not covered yet
    for (it->Seek(rollup_key(item.series, fine, first)); it->Valid() && it->key().compare(end_key) < 0; it->Next()) {
        int64_t t = get_time(it->key().data() + 5);
        auto row = decode_row(std::string_view(it->value().data(), it->value().size()));
        if (!row) return row.status().with_context("store " + db_.path() + ": series " + std::to_string(item.series));
        if (Status st = from_raw(next, t); !st) return st;
        acc[index_of(t)].merge(*row);
        next = t + fine_width;
    }
    if (!it->status().ok()) return db_.convert(it->status(), "read rollups");
    if (Status st = from_raw(next, last_end); !st) return st;
    return store_rows(item.series, coarse, first, last_end, starts, acc, batch, rows_written);
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
        it.from = *std::min_element(minutes.begin(), minutes.end());
        it.to = std::min(*std::max_element(minutes.begin(), minutes.end()) + kMinute, limit);
        it.coarse_limit = limit;
        it.repair = true;
        if (it.rule.counter) {
            // The interval ending at the first dirty sample starts earlier.
            auto prev = reader.last_good_before(series, it.from);
            if (!prev) return fail(prev.status());
            if (*prev) it.from = floor_to((*prev)->ts, kMinute);
        }
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
            Status st = coarse_rows(it, finer(r), r, snap, batch, stats.rows);
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

// Roller: keeps the rollups (1 min, 15 min, 1 h, 1 day) up to date with the
// raw chunks. Runs on the store's maintenance thread (or when asked).
//
// Watermark rule: for each series, rollup_meta 'W' holds W such that every
// rollup bucket ending at or before W is exact, except buckets holding a
// dirty minute ('D' markers, written by the writer with late samples).
// A pass:
//   1. claims, under the writer lock, the complete minutes of each written
//      series ([W, floor_1m(last ts))) and takes a snapshot;
//   2. computes the 1-min rows of the claimed ranges and of dirty minutes
//      from raw samples (aggregation.h: counters read the good reading
//      before the range and two after it; a late counter reading repairs
//      from the second good reading before it to the first one after it);
//   3. computes 15-min rows from 1-min rows, 1-h from 15-min, 1-d from 1-h
//      (local days of the grid's day zone), for the blocks that ended, in
//      the summation order of aggregation.h (finer blocks without a row,
//      because they held too few samples to be stored, from raw samples);
//   4. writes the new W and deletes the markers it handled.
// Each step is idempotent, so a crash between steps only redoes work.
//
// Threads: roll_once() from one thread at a time (the store's maintenance
// thread); the writer keeps appending meanwhile.
#pragma once

#include <array>
#include <cstdint>

#include "core/series_registry.h"
#include "store/aggregation.h"
#include "store/chunk_writer.h"
#include "store/db.h"
#include "store/keys.h"
#include "store/options.h"
#include "store/rollup.h"

namespace gridlet::store {

// Which rollup rows are stored. A row of a *sparse* resolution is stored only
// if its bucket holds at least kMinRowSamples good samples: a row summarizing
// fewer costs more bytes than the raw samples it replaces (a row is ~20-25 B
// on disk, a raw sample ~1 B) and saves little reading. A bucket without a
// row is answered from the next finer resolution, and finally from raw (the
// query engine and the roller never take a missing row for "no data"), so a
// resolution may only be sparse while raw samples are kept as long as its
// rows would be: raw retention forever, or >= that resolution's retention
// (with the validated chain raw <= 1m <= 15m <= 1h <= 1d, that is equal).
// 1 day is never sparse (it is the backstop; a day of 10-min readings is 144
// samples per row anyway). Policy from the retention of the running store;
// rows stored under another policy stay exact (rows are rewritten or deleted
// only when their bucket is recomputed).
inline constexpr uint32_t kMinRowSamples = 16;
struct RollupPolicy {
    std::array<bool, 4> sparse{};  // index: key byte - 1 (kResolutions order)

    static RollupPolicy from_retention(const RetentionOptions& r);
    bool is_sparse(Resolution r) const { return sparse[static_cast<size_t>(r) - 1]; }
    // Whether `row` is stored at `r` (never an empty row).
    bool keep(Resolution r, const RollupRow& row) const {
        return !row.empty() && (!is_sparse(r) || row.count >= kMinRowSamples);
    }
};

class Roller {
public:
    // `registry` (series kinds, rollover tags) may be null: every series is a gauge.
    Roller(StoreDb& db, ChunkWriter& writer, const SeriesRegistry* registry, RollupPolicy policy = {},
           BlockGrid grid = BlockGrid())
        : db_(db), writer_(writer), registry_(registry), policy_(policy), grid_(std::move(grid)) {}

    struct PassStats {
        size_t series = 0;         // series whose rollups advanced
        size_t dirty_minutes = 0;  // markers handled
        size_t rows = 0;           // rows written
    };
    Expected<PassStats> roll_once();

private:
    struct Item {
        uint32_t series = 0;
        int64_t from = 0, to = 0;  // 1-min rows recomputed over [from, to)
        int64_t coarse_limit = 0;  // coarse buckets ending <= this are rewritten
        CounterRule rule;
        bool repair = false;       // dirty minutes (not a new claim)
    };
    Status raw_to_minutes(const Item& item, const rocksdb::Snapshot* snap, rocksdb::WriteBatch& batch, size_t& rows);
    Status coarse_rows(const Item& item, Resolution coarse, const rocksdb::Snapshot* snap,
                       rocksdb::WriteBatch& batch, size_t& rows);
    // Writes the rows of buckets [lo, hi) at `res` (bucket starts `starts`):
    // Put those the policy keeps, Delete the stored rows of the others.
    Status store_rows(uint32_t series, Resolution res, int64_t lo, int64_t hi, const std::vector<int64_t>& starts,
                      const std::vector<RollupRow>& rows, rocksdb::WriteBatch& batch, size_t& rows_written);
    CounterRule rule_of(uint32_t series) const;

    StoreDb& db_;
    ChunkWriter& writer_;
    const SeriesRegistry* registry_;
    RollupPolicy policy_;
    BlockGrid grid_;
};

// The watermark of a series (kNoWatermark when none) and its dirty minutes,
// as a query sees them.
inline constexpr int64_t kNoWatermark = std::numeric_limits<int64_t>::min();
Expected<int64_t> read_watermark(const StoreDb& db, uint32_t series, const rocksdb::Snapshot* snap);
Expected<std::vector<int64_t>> read_dirty_minutes(const StoreDb& db, uint32_t series, const rocksdb::Snapshot* snap);

// The minutes [first, end) whose rows late samples in the dirty minutes
// [lo, hi) (minute-aligned) can change (aggregation.h): those minutes; for
// counters also back to the minute of the second good reading before lo
// and on to the minute of the first good reading at or after hi (end =
// INT64_MAX when there is none yet).
struct StaleRange {
    int64_t first = 0, end = 0;
};
Expected<StaleRange> stale_range(const StoreDb& db, const rocksdb::Snapshot* snap, uint32_t series,
                                 const CounterRule& rule, int64_t lo, int64_t hi);

}  // namespace gridlet::store

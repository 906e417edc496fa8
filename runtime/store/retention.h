// Retention: data older than its resolution's retention is dropped by
// RocksDB compaction filters, in background compactions, so enforcing it
// never stalls writes. The cutoffs (now - retention) are atomics that the
// store's maintenance thread refreshes; periodic compaction
// (StoreOptions::retention_compaction_interval_ms) makes sure every file is
// filtered eventually, and Store::enforce_retention() compacts at once.
//
//   chunks:  a chunk (or merge operand) goes once its last sample < cutoff
//   rollups: a row goes once its bucket ends at or before the cutoff
//   events:  an event goes once its ts < cutoff
//
// RetentionCutoffs is thread-safe. The factories hold a shared_ptr to it.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>

#include <rocksdb/compaction_filter.h>

#include "store/keys.h"
#include "store/options.h"

namespace gridlet::store {

class RetentionCutoffs {
public:
    static constexpr int64_t kKeepAll = std::numeric_limits<int64_t>::min();

    // Recomputes every cutoff as now_ms - retention (kKeepAll for 0).
    void update(int64_t now_ms, const RetentionOptions& r);

    // The effective cutoffs: the later of retention's and the disk budget's.
    int64_t raw() const { return std::max(raw_.load(std::memory_order_relaxed), budget_raw_.load(std::memory_order_relaxed)); }
    int64_t rollup(Resolution r) const {
        const int i = static_cast<int>(r) - 1;
        return std::max(rollup_[i].load(std::memory_order_relaxed), budget_rollup_[i].load(std::memory_order_relaxed));
    }
    int64_t events() const {
        return std::max(events_.load(std::memory_order_relaxed), budget_events_.load(std::memory_order_relaxed));
    }

    // The disk budget's cutoffs (store/disk_budget.h): data before them goes
    // too, whatever retention keeps. They only move forward.
    void budget_raw(int64_t cutoff) { raise(budget_raw_, cutoff); }
    void budget_rollup(Resolution r, int64_t cutoff) { raise(budget_rollup_[static_cast<int>(r) - 1], cutoff); }
    void budget_events(int64_t cutoff) { raise(budget_events_, cutoff); }

private:
    static void raise(std::atomic<int64_t>& a, int64_t v) {
        int64_t cur = a.load(std::memory_order_relaxed);
        while (cur < v && !a.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {}
    }
    std::atomic<int64_t> budget_raw_{kKeepAll};
    std::atomic<int64_t> budget_rollup_[4] = {kKeepAll, kKeepAll, kKeepAll, kKeepAll};
    std::atomic<int64_t> budget_events_{kKeepAll};
    std::atomic<int64_t> raw_{kKeepAll};
    std::atomic<int64_t> rollup_[4] = {kKeepAll, kKeepAll, kKeepAll, kKeepAll};
    std::atomic<int64_t> events_{kKeepAll};
};

std::shared_ptr<rocksdb::CompactionFilterFactory> chunk_retention_filter(std::shared_ptr<const RetentionCutoffs> c);
std::shared_ptr<rocksdb::CompactionFilterFactory> rollup_retention_filter(std::shared_ptr<const RetentionCutoffs> c);
std::shared_ptr<rocksdb::CompactionFilterFactory> event_retention_filter(std::shared_ptr<const RetentionCutoffs> c);

}  // namespace gridlet::store

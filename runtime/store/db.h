// StoreDb: the RocksDB database of the store and its column families, opened
// either as the primary (read-write, one process) or as a secondary instance
// (read-only, any number of processes, also while the primary runs: it tails
// the primary's MANIFEST and WAL; catch_up() refreshes it).
//
// Owns the rocksdb::DB, the column family handles and the secondary's
// scratch folder; closes them in its destructor. RocksDB handles are
// thread-safe, so is StoreDb (catch_up() included).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <rocksdb/db.h>

#include "core/status.h"
#include "store/chunk_merge.h"
#include "store/options.h"
#include "store/retention.h"

namespace gridlet::store {

enum class OpenMode {
    read_write,  // the primary: the running gridlet, tests, the benchmark
    read_only,   // a secondary instance: the CLI, on a running or stopped gridlet
};

enum class Cf { registry = 0, chunks, rollups, rollup_meta, events, state, outbox, count_ };

class StoreDb {
public:
    static Expected<std::unique_ptr<StoreDb>> open(const StoreOptions& options, OpenMode mode);
    ~StoreDb();
    StoreDb(const StoreDb&) = delete;
    StoreDb& operator=(const StoreDb&) = delete;

    rocksdb::DB* db() const { return db_; }
    rocksdb::ColumnFamilyHandle* cf(Cf c) const { return handles_[static_cast<size_t>(c) + 1]; }
    bool read_only() const { return mode_ == OpenMode::read_only; }
    const std::string& path() const { return path_; }

    // Write options implementing the sync policy (batch: sync = true).
    const rocksdb::WriteOptions& write_options() const { return write_options_; }
    // Writes `batch`; the error names the store path and `what`.
    Status write(rocksdb::WriteBatch& batch, const char* what);

    // fsync the WAL (sync policy interval).
    Status sync_wal();
    // Secondary: catch up with the primary. Primary: no-op.
    Status catch_up();

    RetentionCutoffs& cutoffs() { return *cutoffs_; }
    const ChunkMergeOperator& chunk_merge() const { return *merge_; }

    // Turns a RocksDB status into ours, prefixed "store <path>: <what>: ".
    Status convert(const rocksdb::Status& s, const std::string& what) const;

private:
    StoreDb() = default;
    rocksdb::DB* db_ = nullptr;
    std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // [0] is "default"
    OpenMode mode_ = OpenMode::read_write;
    std::string path_;
    std::string secondary_dir_;
    rocksdb::WriteOptions write_options_;
    std::shared_ptr<RetentionCutoffs> cutoffs_;
    std::shared_ptr<ChunkMergeOperator> merge_;
    std::shared_ptr<rocksdb::Cache> cache_;
};

// The RocksDB options the store uses (exposed for the benchmark and tests).
rocksdb::DBOptions make_db_options(const StoreOptions& o, OpenMode mode);

}  // namespace gridlet::store

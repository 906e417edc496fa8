// StoreDb: the RocksDB database of the store and its column families, opened
// either as the primary (read-write, one process) or as a secondary instance
// (read-only, any number of processes, also while the primary runs: it tails
// the primary's MANIFEST and WAL; catch_up() refreshes it).
//
// Owns the rocksdb::DB, the column family handles and the secondary's
// scratch folder; closes them in its destructor. RocksDB handles are
// thread-safe, so is StoreDb (catch_up() included).
#pragma once

#include <atomic>
#include <filesystem>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
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

// Whether the primary can write. RocksDB stops writes after an I/O error on
// the WAL or in a flush or compaction (a full disk, a filesystem remounted
// read-only); they fail until DB::Resume() succeeds. The store tries that
// every resume_interval_ms (store.cpp) and counts what it could not write.
struct WriteHealth {
    bool failing = false;
    std::string error;           // the first error of the current failure ("" when writing)
    int64_t failing_since_ms = 0;  // wall clock
    uint64_t failures = 0;       // episodes since open
    uint64_t resumes = 0;        // episodes that ended with writes resumed
    uint64_t batches_not_written = 0;
};

enum class Cf { registry = 0, chunks, rollups, rollup_meta, events, state, outbox, count_ };

// Creation record: when a store is created, a file `.<folder>.gridlet-store`
// is written beside its folder (in the parent folder) with the time and the
// path. Opening a store whose folder is missing or empty while its record
// exists is refused: the store existed and is gone (deleted, or on a disk
// that is not mounted), and an empty store in its place would hide it.
// `gridlet store init` (init_store) creates a store explicitly, also over a
// record.
std::filesystem::path creation_record(const std::filesystem::path& store_dir);
// What opening the store of `options` read-write would refuse before it
// touches anything: a file where the folder should be, database files
// without CURRENT, a store that existed and is gone (its creation record),
// and a missing store with [store] create = "never". `gridlet check` and
// `gridlet run` both call it. Any thread.
Status check_store_openable(const StoreOptions& options);
// Creates an empty store at `dir` (refused where a database is). Writes the
// creation record.
Status init_store(const StoreOptions& options);

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

    // fsync the WAL (sync policy interval). Refused while writes are failing:
    // RocksDB must not sync a WAL file that saw a write error (it asserts).
    Status sync_wal();

    WriteHealth health() const;
    // Records a write failure (also done by RocksDB's error listener).
    void note_failure(const std::string& error);
    // Tries DB::Resume() when writes are failing; ok when writing again
    // (or never stopped). Maintenance thread.
    Status try_resume();
    // The store folder was deleted or replaced under us: every later write
    // is refused (it would go to unlinked files and be lost at exit).
    void mark_lost(const std::string& why);
    // Checks that the folder opened is still there (same inode, CURRENT
    // present); marks the store lost when not. Maintenance thread.
    Status check_folder();
    // Flushes every family that holds data only in its memtable (so only
    // in the WAL) and has no table file yet: a young store's registry,
    // state or events. RocksDB's RepairDB learns a family from its table
    // files and drops the WAL records of the families it does not know, so
    // a repair would lose them. Returns how many families were flushed.
    // Primary; maintenance thread.
    Expected<int> flush_tableless_families();
    // Flushes every family's memtable to table files (a clean close; waits).
    // Primary only.
    Status flush_all();
    // Secondary: catch up with the primary. Primary: no-op.
    Status catch_up();

    RetentionCutoffs& cutoffs() { return *cutoffs_; }
    const ChunkMergeOperator& chunk_merge() const { return *merge_; }

    // Turns a RocksDB status into ours, prefixed "store <path>: <what>: ".
    Status convert(const rocksdb::Status& s, const std::string& what) const;

private:
    class HealthListener;
    StoreDb() = default;
    void note_resumed();
    rocksdb::DB* db_ = nullptr;
    std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // [0] is "default"
    OpenMode mode_ = OpenMode::read_write;
    std::string path_;
    std::string secondary_dir_;
    rocksdb::WriteOptions write_options_;
    std::shared_ptr<RetentionCutoffs> cutoffs_;
    std::shared_ptr<ChunkMergeOperator> merge_;
    std::shared_ptr<rocksdb::Cache> cache_;
    std::shared_ptr<rocksdb::Env> env_;  // kept alive while the DB uses it
    // Writes share it; sync_wal() takes it alone, so that no WAL write can
    // fail between its health check and the sync.
    std::shared_mutex io_mu_;
    mutable std::mutex health_mu_;
    WriteHealth health_;
    std::atomic<bool> failing_{false};
    std::atomic<bool> lost_{false};
    uint64_t folder_dev_ = 0, folder_ino_ = 0;
};

// ---- integrity: `gridlet store verify` and `gridlet store repair` ----

struct FileProblem {
    std::string file;     // name within the store folder ("" for the whole store)
    std::string problem;  // what is wrong with it
};

struct VerifyReport {
    size_t table_files = 0;  // .sst files whose every block checksum was read
    uint64_t table_bytes = 0;
    std::vector<FileProblem> problems;
    bool ok() const { return problems.empty(); }
};

// Whether another process holds the store at `dir` open (RocksDB's fcntl
// lock on <dir>/LOCK): a running gridlet, or a CLI command reading it. The
// calling process's own lock does not count. No store there: false.
bool store_in_use(const std::filesystem::path& dir);

// Reads every table file of the store at `path` and checks every block's
// checksum, checks that CURRENT and the MANIFEST are there and readable, and
// replays the WAL read-only (damage before its last record is a problem).
// Changes nothing; works while a gridlet runs. Errors: no folder there.
Expected<VerifyReport> verify_store(const std::filesystem::path& path);

struct RepairReport {
    std::filesystem::path backup;     // the untouched copy of the damaged folder
    VerifyReport before;              // what verify found before the repair
    VerifyReport after;               // and after it
    std::vector<std::string> lost_tables;  // damaged table files moved to lost/ (their data is not in the store)
    std::vector<uint32_t> unnamed_series;  // series with samples whose registry entry was lost: now lost/series-<id>
    std::vector<std::string> losses;       // other data known lost: missing table files, skipped WAL records
    // Whether anything is damaged still or was left out (exit 1 in the CLI).
    bool complete() const { return after.ok() && lost_tables.empty() && unnamed_series.empty() && losses.empty(); }
};

// Repairs a copy of the store (`<path>.repairing-<UTC time>`) and, once it
// opens, renames the damaged folder to `<path>.damaged-<UTC time>` and puts
// the copy in its place (a repair that fails or is killed changes nothing).
// In the copy it moves the table files whose checksums fail to `lost/`, then
// salvages the rest: an ordinary open that skips
// damaged WAL records when only the WAL is damaged, RocksDB's RepairDB
// otherwise (it rebuilds the MANIFEST from the table files and the WAL).
// Afterwards the store is verified again and every series with samples but
// no registry entry is listed. Refuses a folder with no database files (a
// store that is gone: `gridlet store init`) and a store a process holds
// open. Errors: nothing to repair, locked, the copy failed, RepairDB failed.
Expected<RepairReport> repair_store(const std::filesystem::path& path);

// The RocksDB options the store uses (exposed for the benchmark and tests).
rocksdb::DBOptions make_db_options(const StoreOptions& o, OpenMode mode);

}  // namespace gridlet::store

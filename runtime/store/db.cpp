#include "store/db.h"
#include "store/db_internal.h"
#include "store/registry_backend.h"

#include "core/timezone.h"

#include <chrono>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cerrno>
#include <algorithm>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rocksdb/sst_file_writer.h>
#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_buffer_manager.h>
#include <rocksdb/convenience.h>
#include <rocksdb/listener.h>
#include <rocksdb/sst_file_reader.h>
#include <spdlog/spdlog.h>

#include "store/keys.h"

namespace gridlet::store {

using namespace detail;

namespace detail {

const char* const kCfNames[] = {kCfRegistry, kCfChunks, kCfRollups, kCfRollupMeta, kCfEvents, kCfState, kCfOutbox};

bool supported(rocksdb::CompressionType t) {
    for (auto s : rocksdb::GetSupportedCompressions())
        if (s == t) return true;
    return false;
}


int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Files only a RocksDB database has. A folder holding any of them but no
// CURRENT is a damaged store: opening it with create_if_missing would start
// an empty database there and later delete the old table files as obsolete.
std::vector<std::string> database_files_without_current(const std::filesystem::path& dir) {
    std::vector<std::string> found;
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec) || std::filesystem::exists(dir / "CURRENT", ec)) return found;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        const std::string name = e.path().filename().string();
        const auto ends = [&](const char* suffix) {
            const size_t n = std::strlen(suffix);
            return name.size() > n && name.compare(name.size() - n, n, suffix) == 0;
        };
        // RocksDB's own names only: NNNNNN.sst/.log/.blob, MANIFEST-NNNNNN,
        // OPTIONS-NNNNNN (a gridlet.log or a CSV is not a database).
        const auto numbered = [&](size_t from, size_t to) {
            return to > from && name.find_first_not_of("0123456789", from) >= to;
        };
        const size_t dot = name.rfind('.');
        if ((name.rfind("MANIFEST-", 0) == 0 && numbered(9, name.size())) ||
            (name.rfind("OPTIONS-", 0) == 0 && numbered(8, name.size())) ||
            ((ends(".sst") || ends(".log") || ends(".blob")) && dot != std::string::npos && numbered(0, dot)))
            found.push_back(name);
    }
    return found;
}

// "pid 1234 (running)" from the owner file of a store, or "".
std::string describe_owner(const std::filesystem::path& dir) {
    std::ifstream in(dir / kOwnerFile);
    long pid = 0;
    if (!(in >> pid) || pid <= 0) return "";
    const bool alive = ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
    return "pid " + std::to_string(pid) + (alive ? "" : ", which is no longer running");
}

rocksdb::ColumnFamilyOptions family_options(Cf c, const StoreOptions& o, const std::shared_ptr<rocksdb::Cache>& cache,
                                            const std::shared_ptr<RetentionCutoffs>& cutoffs,
                                            const std::shared_ptr<ChunkMergeOperator>& merge) {
    rocksdb::ColumnFamilyOptions cf;
    rocksdb::BlockBasedTableOptions t;
    t.block_cache = cache;
    t.cache_index_and_filter_blocks = true;  // index memory is bounded by the cache
    t.pin_l0_filter_and_index_blocks_in_cache = true;
    t.format_version = 5;
    t.block_size = 16 * 1024;
    size_t wb = 1u << 20;
    switch (c) {
        case Cf::chunks:
            cf.merge_operator = merge;
            cf.compaction_filter_factory = chunk_retention_filter(cutoffs);
            wb = o.chunk_write_buffer_bytes;
            break;
        case Cf::rollups:
            cf.compaction_filter_factory = rollup_retention_filter(cutoffs);
            wb = 2u << 20;
            break;
        case Cf::events:
            cf.compaction_filter_factory = event_retention_filter(cutoffs);
            wb = 2u << 20;
            break;
        case Cf::state:
        case Cf::registry:
            t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
            break;
        case Cf::outbox: wb = 2u << 20; break;
        default: break;
    }
    cf.write_buffer_size = wb;
    cf.max_write_buffer_number = 2;
    cf.target_file_size_base = 16u << 20;
    cf.max_bytes_for_level_base = 64u << 20;
    cf.level_compaction_dynamic_level_bytes = true;
    if (cf.compaction_filter_factory)
        cf.periodic_compaction_seconds = static_cast<uint64_t>(std::max<int64_t>(o.retention_compaction_interval_ms / 1000, 1));
    // Chunks are already compressed by the codec: LZ4 only squeezes keys and
    // headers, ZSTD on the last level a little more.
    cf.compression = supported(rocksdb::kLZ4Compression) ? rocksdb::kLZ4Compression : rocksdb::kSnappyCompression;
    if (supported(rocksdb::kZSTD)) cf.bottommost_compression = rocksdb::kZSTD;
    cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
    return cf;
}
}  // namespace detail

class StoreDb::HealthListener : public rocksdb::EventListener {
public:
    explicit HealthListener(StoreDb* db) : db_(db) {}
    void OnBackgroundError(rocksdb::BackgroundErrorReason reason, rocksdb::Status* error) override {
        if (error == nullptr || error->ok()) return;
        // RocksDB rates an I/O error while writing the WAL (a full disk, a
        // filesystem remounted read-only) fatal: writes would then fail
        // until the process restarts. The write that failed was not
        // acknowledged and not applied to the memtable, and Resume() starts
        // a new WAL after flushing the memtables, so the store treats it as
        // a hard error, which Resume() may clear once the disk is writable
        // again. Corruption and data loss stay fatal.
        const bool io = error->IsIOError() && !error->IsCorruption() && !error->IsIOFenced();
        if (io && error->severity() == rocksdb::Status::Severity::kFatalError &&
            (reason == rocksdb::BackgroundErrorReason::kWriteCallback ||
             reason == rocksdb::BackgroundErrorReason::kFlush ||
             reason == rocksdb::BackgroundErrorReason::kManifestWrite ||
             reason == rocksdb::BackgroundErrorReason::kCompaction ||
             // The write path reports the same WAL error again as a memtable
             // error (MemTableInsertStatusCheck); the memtable was not touched.
             reason == rocksdb::BackgroundErrorReason::kMemTable))
            *error = rocksdb::Status(*error, rocksdb::Status::Severity::kHardError);
        db_->note_failure(error->ToString());
    }
    // One recovery mechanism, at one pace: the store's own Resume() every
    // resume_interval_ms (RocksDB's automatic one for a full disk polls
    // every few seconds and makes a manual Resume() fail with Busy).
    void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status, bool* auto_recovery) override {
        if (auto_recovery != nullptr) *auto_recovery = false;
    }
    void OnErrorRecoveryEnd(const rocksdb::BackgroundErrorRecoveryInfo& info) override {
        if (info.new_bg_error.ok()) db_->note_resumed();
    }

private:
    StoreDb* db_;
};

rocksdb::DBOptions make_db_options(const StoreOptions& o, OpenMode mode) {
    rocksdb::DBOptions d;
    d.create_if_missing = mode == OpenMode::read_write;
    d.create_missing_column_families = mode == OpenMode::read_write;
    d.max_background_jobs = o.max_background_jobs;
    d.max_open_files = mode == OpenMode::read_only ? -1 : 512;
    // A read-only (secondary) instance replays the primary's writes without
    // flushing them: its "stopping writes" warnings are about nothing it
    // does, and only alarm the user of `gridlet query`. Errors still show.
    const auto level =
        mode == OpenMode::read_only ? rocksdb::InfoLogLevel::ERROR_LEVEL : rocksdb::InfoLogLevel::WARN_LEVEL;
    d.info_log = std::make_shared<RocksLogger>(level);
    d.info_log_level = level;
    d.max_total_wal_size = 64u << 20;  // forces flushes of rarely written families
    d.bytes_per_sync = 1u << 20;
    d.wal_bytes_per_sync = 0;
    d.avoid_unnecessary_blocking_io = true;
    d.write_buffer_manager = std::make_shared<rocksdb::WriteBufferManager>(o.memtable_budget_bytes);
    // A torn last record (power cut mid-write) is dropped; damage anywhere
    // else in the WAL refuses the open instead of silently dropping every
    // later write (kPointInTimeRecovery, RocksDB's default, does that).
    d.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
    d.paranoid_checks = true;
    // WAL files that were closed (rotated) are recorded in the MANIFEST: one
    // deleted or cut short refuses the open. The live WAL is not tracked by
    // RocksDB; a clean close flushes it empty (Store::~Store).
    d.track_and_verify_wals_in_manifest = true;
    if (o.env) d.env = o.env.get();
    return d;
}

namespace detail {

// Not found when `path` holds no database file at all (an empty folder:
// the store is gone or was never made), naming `gridlet store init`.
Status database_there(const std::filesystem::path& path) {
    std::error_code ec;
    if (std::filesystem::exists(path / "CURRENT", ec) || !database_files_without_current(path).empty())
        return Status::ok();
    if (ec && ec != std::errc::no_such_file_or_directory)  // e.g. the service's store, 0750, read by another user
        return Status::io_error("store " + path.string() + ": " + ec.message() +
                                " (it belongs to another user: run this as that user or as root, e.g. `sudo -u "
                                "gridlet gridlet ...`, or join its group)");
    const std::filesystem::path record = creation_record(path);
    std::string next;
    if (std::filesystem::exists(record, ec)) {
        std::ifstream in(record);
        std::string when;
        std::getline(in, when);
        next = "; the store created here " + when + " (" + record.string() +
               ") is gone: restore it from a backup or mount its disk, or start an empty one with";
    } else {
        next = "; to start an empty store there, run";
    }
    return Status::not_found("store " + path.string() + ": no database files there, so nothing to check or repair" +
                             next + " `gridlet store init --db " + path.string() + "`");
}

}  // namespace detail

namespace detail {

std::vector<rocksdb::ColumnFamilyDescriptor> all_families(const StoreOptions& o, const std::shared_ptr<rocksdb::Cache>& cache,
                                                         const std::shared_ptr<RetentionCutoffs>& cutoffs,
                                                         const std::shared_ptr<ChunkMergeOperator>& merge) {
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    cfs.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
    for (size_t i = 0; i < static_cast<size_t>(Cf::count_); ++i)
        cfs.emplace_back(kCfNames[i], family_options(static_cast<Cf>(i), o, cache, cutoffs, merge));
    return cfs;
}

// Opens the store read-only and closes it: this reads the MANIFEST, checks
// that every table file it lists is there with its size and readable
// footer, and replays the WAL. Unlike a secondary instance, which quietly
// falls back to an older version when a file is missing, it fails.
rocksdb::Status probe_read_only(const StoreOptions& o) {
    auto cutoffs = std::make_shared<RetentionCutoffs>();
    auto merge = std::make_shared<ChunkMergeOperator>();
    auto cache = rocksdb::NewLRUCache(8u << 20);
    rocksdb::DBOptions dbo = make_db_options(o, OpenMode::read_only);
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    rocksdb::Status st =
        rocksdb::DB::OpenForReadOnly(dbo, o.path.string(), all_families(o, cache, cutoffs, merge), &handles, &db);
    if (st.ok()) {
        for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
        db->Close();
        delete db;
    }
    return st;
}

}  // namespace detail

Status check_store_openable(const StoreOptions& o) {
    const std::string path = o.path.string();
    std::error_code ec;
    if (std::filesystem::exists(o.path, ec) && !std::filesystem::is_directory(o.path, ec))
        return Status::invalid("store " + path + " is not a folder ([store] path names a file)");
    if (!std::filesystem::exists(o.path, ec)) {
        // It would be created: its nearest existing folder must take it.
        std::filesystem::path up = std::filesystem::absolute(o.path, ec).parent_path();
        while (!up.empty() && !std::filesystem::exists(up, ec) && up != up.root_path()) up = up.parent_path();
        if (!std::filesystem::is_directory(up, ec))
            return Status::invalid("store " + path + " cannot be created: " + up.string() + " is not a folder");
        // Make (and remove) a folder there, as opening will: a permission
        // check alone says yes to root on /proc or a read-only mount.
        const std::filesystem::path probe = up / (".gridlet-probe-" + std::to_string(::getpid()));
        if (::mkdir(probe.c_str(), 0700) != 0)
            return Status::invalid("store " + path + " cannot be created: " + up.string() + " is not writable (" +
                                   std::strerror(errno) + ")");
        ::rmdir(probe.c_str());
    }
    if (auto files = database_files_without_current(o.path); !files.empty()) {
        return Status::corruption("store " + path + ": the folder holds database files (" + files.front() +
                                  (files.size() > 1 ? " and " + std::to_string(files.size() - 1) + " more" : "") +
                                  ") but no CURRENT file, so it cannot be opened; gridlet leaves it untouched. "
                                  "Run `gridlet store repair --db " + path + "` to salvage it");
    }
    if (std::filesystem::exists(o.path / "CURRENT", ec)) return Status::ok();
    // A folder with other files and no store: never mix the store's files
    // with a user's (a typo in the path, a folder reused).
    if (std::filesystem::is_directory(o.path, ec)) {
        std::vector<std::string> others;
        for (const auto& e : std::filesystem::directory_iterator(o.path, ec)) others.push_back(e.path().filename().string());
        if (!others.empty()) {
            std::sort(others.begin(), others.end());
            return Status::invalid("store " + path + ": the folder holds other files (" + others.front() +
                                   (others.size() > 1 ? " and " + std::to_string(others.size() - 1) + " more" : "") +
                                   ") and no store; gridlet does not put its files among others: name an empty or "
                                   "new folder");
        }
    }
    const std::filesystem::path record = creation_record(o.path);
    if (std::filesystem::exists(record, ec) && !o.creating) {
        std::ifstream in(record);
        std::string when;
        std::getline(in, when);
        return Status::not_found("store " + path + " is gone: it was created " + when + " (" + record.string() +
                                 ") and its folder is now missing or empty. Deleted, or on a disk that is not "
                                 "mounted? Restore it, or start an empty store with `gridlet store init --db " +
                                 path + "`");
    }
    if (!o.create_if_missing && !o.creating)
        return Status::not_found("store " + path + " does not exist, and [store] create = \"never\": "
                                 "create it with `gridlet store init --db " + path + "`");
    return Status::ok();
}

Expected<std::unique_ptr<StoreDb>> StoreDb::open(const StoreOptions& o, OpenMode mode) {
    Status st = validate_options(o);
    if (!st) return st;
    std::unique_ptr<StoreDb> s(new StoreDb());
    s->mode_ = mode;
    s->path_ = o.path.string();
    s->cutoffs_ = std::make_shared<RetentionCutoffs>();
    if (o.apply_retention) s->cutoffs_->update((o.clock ? o.clock : &SystemClock::instance())->now_ms(), o.retention);
    s->merge_ = std::make_shared<ChunkMergeOperator>();
    // Shards of at least 2 MB (RocksDB's default is 512 KB: 16 shards of an
    // 8 MB cache). Blocks go to shards by hash, so with small shards a scan
    // that fits in the cache as a whole still overflows some of them and
    // misses on every pass (a year of 15-min rows of four meters, 6.4 MB:
    // consumption_bench). A gateway's few reading threads need few shards.
    int shard_bits = 0;
    while (shard_bits < 4 && (o.block_cache_bytes >> (shard_bits + 1)) >= (2u << 20)) ++shard_bits;
    s->cache_ = rocksdb::NewLRUCache(o.block_cache_bytes, shard_bits);
    s->write_options_.sync = o.sync == SyncPolicy::batch;
    s->env_ = o.env;

    rocksdb::DBOptions dbo = make_db_options(o, mode);
    dbo.listeners.push_back(std::make_shared<HealthListener>(s.get()));
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    cfs.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
    for (size_t i = 0; i < static_cast<size_t>(Cf::count_); ++i)
        cfs.emplace_back(kCfNames[i], family_options(static_cast<Cf>(i), o, s->cache_, s->cutoffs_, s->merge_));

    rocksdb::Status rs;
    if (mode == OpenMode::read_write) {
        std::error_code ec;
        if (Status pre = check_store_openable(o); !pre) return pre;
        const bool exists = std::filesystem::exists(o.path / "CURRENT", ec);
        std::filesystem::create_directories(o.path, ec);
        if (ec) return Status::io_error("store " + s->path_ + ": cannot create the folder: " + ec.message());
        rs = rocksdb::DB::Open(dbo, s->path_, cfs, &s->handles_, &s->db_);
        if (rs.ok() && !exists) {
            // The creation record, beside the folder (a deleted folder leaves it).
            const std::filesystem::path record = creation_record(o.path);
            std::ofstream out(record, std::ios::trunc);
            out << TimeZone::utc().format_iso(wall_ms()) << "\n" << std::filesystem::absolute(o.path).string() << "\n";
            if (!out) spdlog::warn("store {}: cannot write its creation record {}", s->path_, record.string());
        }
        // "While lock file: .../LOCK: Resource temporarily unavailable"; not
        // "While open a file for appending: .../LOCK: Read-only file system".
        const std::string why = rs.ToString();
        if (!rs.ok() && why.find("LOCK") != std::string::npos &&
            (why.find("lock file") != std::string::npos || why.find("lock hold") != std::string::npos ||
             why.find("temporarily unavailable") != std::string::npos) &&
            why.find("Read-only") == std::string::npos) {
            const std::string owner = describe_owner(o.path);
            return Status::unavailable("store " + s->path_ + ": another gridlet" +
                                       (owner.empty() ? "" : " (" + owner + ")") +
                                       " has this store open; stop it first, or give this site a [store] path "
                                       "of its own (" + rs.ToString() + ")");
        }
        if (rs.ok()) {
            std::ofstream(o.path / kOwnerFile, std::ios::trunc) << ::getpid() << "\n";
            struct stat st {};
            if (::stat(s->path_.c_str(), &st) == 0) {
                s->folder_dev_ = st.st_dev;
                s->folder_ino_ = st.st_ino;
            }
        }
    } else {
        std::error_code access_ec;
        const bool current = std::filesystem::exists(o.path / "CURRENT", access_ec);
        if (access_ec)  // not readable by this user (the service's store, 0750)
            return Status::io_error("store " + s->path_ + ": " + access_ec.message() +
                                    " (it belongs to another user: run this as that user or as root, e.g. "
                                    "`sudo -u gridlet gridlet ...`, or join its group)");
        if (!current) {
            if (auto files = database_files_without_current(o.path); !files.empty())
                return Status::corruption("store " + s->path_ + " is damaged: it holds database files (" + files.front() +
                                          (files.size() > 1 ? " and " + std::to_string(files.size() - 1) + " more" : "") +
                                          ") but no CURRENT file. `gridlet store verify --db " + s->path_ +
                                          "` lists what is damaged, `gridlet store repair --db " + s->path_ +
                                          "` salvages it (an untouched copy is kept)");
            if (Status st = database_there(o.path); !st) return st;
            return Status::not_found("store " + s->path_ + ": no database there (no CURRENT file)");
        }
        std::string tmpl = (std::filesystem::temp_directory_path() / "gridlet-secondary-XXXXXX").string();
        if (!mkdtemp(tmpl.data())) return Status::io_error("store: cannot create a scratch folder in /tmp");
        s->secondary_dir_ = tmpl;
        dbo.track_and_verify_wals_in_manifest = false;  // not supported by a secondary
        rocksdb::Options opts(dbo, rocksdb::ColumnFamilyOptions());
        // Only list the families this version knows; an older database
        // missing some is an error from RocksDB that names it.
        rs = rocksdb::DB::OpenAsSecondary(opts, s->path_, s->secondary_dir_, cfs, &s->handles_, &s->db_);
        // A secondary skips table files it cannot find (the primary may
        // have just compacted them away), so a deleted or truncated file
        // would make every read answer short without an error.
        if (rs.ok()) {
            rocksdb::Status probe = probe_read_only(o);
            // A file the primary compacted away between the MANIFEST read
            // and the table open is not damage: look again.
            for (int attempt = 0; attempt < 2 && !probe.ok(); ++attempt) probe = probe_read_only(o);
            if (!probe.ok()) {
                // RocksDB names a missing table file by its legacy name
                // (.ldb) after trying .sst; gridlet only writes .sst.
                std::string why = probe.ToString();
                for (size_t at; (at = why.find(".ldb:")) != std::string::npos;) why.replace(at, 4, ".sst");
                return Status::corruption(
                    "store " + s->path_ + " is damaged (" + why +
                    "): answers from it would be incomplete, so none are given. `gridlet store verify --db " +
                    s->path_ + "` lists what is damaged, `gridlet store repair --db " + s->path_ +
                    "` salvages what is readable (an untouched copy is kept)");
            }
        }
    }
    if (!rs.ok()) {
        s->db_ = nullptr;
        Status st = s->convert(rs, mode == OpenMode::read_write ? "open" : "open read-only (secondary)");
        if (rs.IsCorruption())
            st = Status::corruption(st.message() + ". The store is damaged; nothing was changed. `gridlet store verify --db " +
                                    s->path_ + "` lists what is damaged, `gridlet store repair --db " + s->path_ +
                                    "` salvages what is readable (an untouched copy is kept)");
        return st;
    }
    return s;
}

std::filesystem::path creation_record(const std::filesystem::path& store_dir) {
    std::filesystem::path dir = store_dir;
    if (!dir.has_filename()) dir = dir.parent_path();  // "data/db/" -> "data/db"
    return dir.parent_path() / ("." + dir.filename().string() + ".gridlet-store");
}

Status init_store(const StoreOptions& options) {
    std::error_code ec;
    if (std::filesystem::exists(options.path / "CURRENT", ec) || !database_files_without_current(options.path).empty())
        return Status(StatusCode::already_exists, "store " + options.path.string() + ": a database is already there");
    // The parent folder must exist: a store is not made on the root disk
    // where a data disk is not mounted (/mnt/data/gridlet/db).
    std::filesystem::path dir = options.path;
    if (!dir.has_filename()) dir = dir.parent_path();
    const std::filesystem::path parent = dir.parent_path().empty() ? std::filesystem::path(".") : dir.parent_path();
    if (!std::filesystem::is_directory(parent, ec))
        return Status::not_found("store " + options.path.string() + ": its folder " + parent.string() +
                                 " does not exist (a disk not mounted?); create it first");
    StoreOptions o = options;
    o.creating = true;
    auto db = StoreDb::open(o, OpenMode::read_write);
    if (!db) return db.status();
    return Status::ok();
}

StoreDb::~StoreDb() {
    if (db_) {
        for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
        handles_.clear();
        db_->Close();
        delete db_;
    }
    if (!secondary_dir_.empty()) {
        std::error_code ec;
        std::filesystem::remove_all(secondary_dir_, ec);
    }
}

Status StoreDb::convert(const rocksdb::Status& s, const std::string& what) const {
    if (s.ok()) return Status::ok();
    std::string msg = "store " + path_ + ": " + what + ": " + s.ToString();
    if (s.IsNotFound()) return Status::not_found(msg);
    if (s.IsCorruption()) return Status::corruption(msg);
    if (s.IsInvalidArgument()) return Status::invalid(msg);
    if (s.IsNotSupported()) return Status::unsupported(msg);
    if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut()) return Status::unavailable(msg);
    return Status::io_error(msg);
}

Status StoreDb::write(rocksdb::WriteBatch& batch, const char* what) {
    if (read_only()) return Status::unsupported("store " + path_ + ": " + what + ": opened read-only");
    if (lost_.load()) {
        std::lock_guard lock(health_mu_);
        ++health_.batches_not_written;
        return Status::io_error("store " + path_ + ": " + what + ": " + health_.error);
    }
    rocksdb::Status rs;
    {
        std::shared_lock lock(io_mu_);
        rs = db_->Write(write_options_, &batch);
    }
    if (!rs.ok()) {
        if (rs.IsIOError() || rs.IsNoSpace() || rs.IsCorruption()) note_failure(rs.ToString());
        std::lock_guard lock(health_mu_);
        ++health_.batches_not_written;
    }
    return convert(rs, what);
}

Status StoreDb::sync_wal() {
    if (read_only()) return Status::ok();
    std::unique_lock lock(io_mu_);
    if (failing_.load()) return Status::unavailable("store " + path_ + ": sync WAL: skipped while writes are failing");
    return convert(db_->SyncWAL(), "sync WAL");
}

WriteHealth StoreDb::health() const {
    std::lock_guard lock(health_mu_);
    return health_;
}

void StoreDb::note_failure(const std::string& error) {
    std::lock_guard lock(health_mu_);
    if (health_.failing) return;
    health_.failing = true;
    health_.error = error;
    health_.failing_since_ms = wall_ms();
    ++health_.failures;
    failing_.store(true);
    spdlog::error("store {}: writes are failing: {} (retrying every few seconds; what cannot be written is counted)",
                  path_, error);
}

void StoreDb::note_resumed() {
    std::lock_guard lock(health_mu_);
    if (!health_.failing || lost_.load()) return;
    spdlog::info("store {}: writes resumed after {} s ({}; {} write batches were not written)", path_,
                 (wall_ms() - health_.failing_since_ms) / 1000, health_.error, health_.batches_not_written);
    health_.failing = false;
    health_.error.clear();
    ++health_.resumes;
    failing_.store(false);
}

Status StoreDb::try_resume() {
    if (read_only() || !failing_.load()) return Status::ok();
    if (lost_.load()) return Status::io_error("store " + path_ + ": " + health().error);
    rocksdb::Status rs;
    {
        std::unique_lock lock(io_mu_);
        rs = db_->Resume();
    }
    if (!rs.ok()) return convert(rs, "resume writes");
    note_resumed();
    return Status::ok();
}

void StoreDb::mark_lost(const std::string& why) {
    if (lost_.exchange(true)) return;
    std::lock_guard lock(health_mu_);
    health_.failing = true;
    health_.error = why;
    health_.failing_since_ms = wall_ms();
    ++health_.failures;
    failing_.store(true);
    spdlog::error("store {}: {}", path_, why);
}

Status StoreDb::check_folder() {
    if (read_only() || lost_.load()) return Status::ok();
    struct stat st {};
    std::error_code ec;
    const bool same = ::stat(path_.c_str(), &st) == 0 && st.st_dev == folder_dev_ && st.st_ino == folder_ino_;
    if (same && !std::filesystem::exists(std::filesystem::path(path_) / "CURRENT", ec)) {
        // The folder is ours, only CURRENT is gone: it names the MANIFEST in
        // use, which RocksDB knows. Write it again, as RocksDB does (a
        // temporary file renamed over).
        std::vector<std::string> live;
        uint64_t manifest_size = 0;
        if (db_->GetLiveFiles(live, &manifest_size, /*flush_memtable=*/false).ok()) {
            for (const std::string& f : live) {
                const std::string name = std::filesystem::path(f).filename().string();
                if (name.rfind("MANIFEST-", 0) != 0) continue;
                const std::filesystem::path dir(path_);
                {
                    std::ofstream out(dir / "CURRENT.gridlet-tmp", std::ios::trunc);
                    out << name << "\n";
                    out.flush();
                    if (!out) break;
                }
                std::filesystem::rename(dir / "CURRENT.gridlet-tmp", dir / "CURRENT", ec);
                if (ec) break;
                spdlog::warn("store {}: its CURRENT file was deleted while gridlet ran; written again (it names {})",
                             path_, name);
                return Status::ok();
            }
        }
        mark_lost("the store's CURRENT file was deleted while gridlet ran: nothing written from now on can be kept "
                  "(writes are refused and counted). Stop gridlet, then `gridlet store repair --db " + path_ +
                  "` rewrites it (an untouched copy is kept)");
        return Status::io_error("store " + path_ + ": CURRENT deleted");
    }
    if (!same) {
        mark_lost("the store folder was deleted or replaced while gridlet ran: nothing written from now on can be "
                  "kept (writes are refused and counted). Restore the folder from a backup, or move it away, "
                  "then restart gridlet");
        return Status::io_error("store " + path_ + ": folder deleted or replaced");
    }
    return Status::ok();
}

Expected<int> StoreDb::flush_tableless_families() {
    if (read_only() || failing_.load()) return 0;
    int flushed = 0;
    for (size_t i = 0; i < static_cast<size_t>(Cf::count_); ++i) {
        rocksdb::ColumnFamilyHandle* h = cf(static_cast<Cf>(i));
        rocksdb::ColumnFamilyMetaData meta;
        db_->GetColumnFamilyMetaData(h, &meta);
        if (meta.file_count > 0) continue;
        uint64_t entries = 0;
        if (!db_->GetIntProperty(h, rocksdb::DB::Properties::kNumEntriesActiveMemTable, &entries) || entries == 0)
            continue;
        rocksdb::FlushOptions fo;
        if (rocksdb::Status rs = db_->Flush(fo, h); !rs.ok())
            return convert(rs, std::string("flush family ") + kCfNames[i]);
        ++flushed;
    }
    return flushed;
}

Status StoreDb::flush_all() {
    if (read_only() || failing_.load()) return Status::ok();
    std::vector<rocksdb::ColumnFamilyHandle*> all(handles_.begin() + 1, handles_.end());
    return convert(db_->Flush(rocksdb::FlushOptions(), all), "flush at close");
}

Status StoreDb::catch_up() {
    if (!read_only()) return Status::ok();
    return convert(db_->TryCatchUpWithPrimary(), "catch up with the primary");
}

}  // namespace gridlet::store

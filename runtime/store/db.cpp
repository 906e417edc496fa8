#include "store/db.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>

#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_buffer_manager.h>
#include <rocksdb/convenience.h>

#include "store/keys.h"

namespace gridlet::store {

namespace {
const char* const kCfNames[] = {kCfRegistry, kCfChunks, kCfRollups, kCfRollupMeta, kCfEvents, kCfState, kCfOutbox};

bool supported(rocksdb::CompressionType t) {
    for (auto s : rocksdb::GetSupportedCompressions())
        if (s == t) return true;
    return false;
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
}  // namespace

rocksdb::DBOptions make_db_options(const StoreOptions& o, OpenMode mode) {
    rocksdb::DBOptions d;
    d.create_if_missing = mode == OpenMode::read_write;
    d.create_missing_column_families = mode == OpenMode::read_write;
    d.max_background_jobs = o.max_background_jobs;
    d.max_open_files = mode == OpenMode::read_only ? -1 : 512;
    d.keep_log_file_num = 3;
    d.max_log_file_size = 1u << 20;
    d.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
    d.max_total_wal_size = 64u << 20;  // forces flushes of rarely written families
    d.bytes_per_sync = 1u << 20;
    d.wal_bytes_per_sync = 0;
    d.avoid_unnecessary_blocking_io = true;
    d.write_buffer_manager = std::make_shared<rocksdb::WriteBufferManager>(o.memtable_budget_bytes);
    return d;
}

Expected<std::unique_ptr<StoreDb>> StoreDb::open(const StoreOptions& o, OpenMode mode) {
    Status st = validate_options(o);
    if (!st) return st;
    std::unique_ptr<StoreDb> s(new StoreDb());
    s->mode_ = mode;
    s->path_ = o.path.string();
    s->cutoffs_ = std::make_shared<RetentionCutoffs>();
    s->cutoffs_->update((o.clock ? o.clock : &SystemClock::instance())->now_ms(), o.retention);
    s->merge_ = std::make_shared<ChunkMergeOperator>();
    s->cache_ = rocksdb::NewLRUCache(o.block_cache_bytes);
    s->write_options_.sync = o.sync == SyncPolicy::batch;

    rocksdb::DBOptions dbo = make_db_options(o, mode);
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    cfs.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
    for (size_t i = 0; i < static_cast<size_t>(Cf::count_); ++i)
        cfs.emplace_back(kCfNames[i], family_options(static_cast<Cf>(i), o, s->cache_, s->cutoffs_, s->merge_));

    rocksdb::Status rs;
    if (mode == OpenMode::read_write) {
        std::error_code ec;
        std::filesystem::create_directories(o.path, ec);
        if (ec) return Status::io_error("store " + s->path_ + ": cannot create the folder: " + ec.message());
        rs = rocksdb::DB::Open(dbo, s->path_, cfs, &s->handles_, &s->db_);
    } else {
        if (!std::filesystem::exists(o.path / "CURRENT"))
            return Status::not_found("store " + s->path_ + ": no database there (no CURRENT file)");
        std::string tmpl = (std::filesystem::temp_directory_path() / "gridlet-secondary-XXXXXX").string();
        if (!mkdtemp(tmpl.data())) return Status::io_error("store: cannot create a scratch folder in /tmp");
        s->secondary_dir_ = tmpl;
        rocksdb::Options opts(dbo, rocksdb::ColumnFamilyOptions());
        // Only list the families this version knows; an older database
        // missing some is an error from RocksDB that names it.
        rs = rocksdb::DB::OpenAsSecondary(opts, s->path_, s->secondary_dir_, cfs, &s->handles_, &s->db_);
    }
    if (!rs.ok()) {
        s->db_ = nullptr;
        return s->convert(rs, mode == OpenMode::read_write ? "open" : "open read-only (secondary)");
    }
    return s;
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
    return convert(db_->Write(write_options_, &batch), what);
}

Status StoreDb::sync_wal() {
    if (read_only()) return Status::ok();
    return convert(db_->SyncWAL(), "sync WAL");
}

Status StoreDb::catch_up() {
    if (!read_only()) return Status::ok();
    return convert(db_->TryCatchUpWithPrimary(), "catch up with the primary");
}

}  // namespace gridlet::store

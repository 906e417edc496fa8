// Internal to the store: what db.cpp (open, health) and integrity.cpp
// (verify, repair) share. Not installed; not for other components.
// Threads: RocksLogger may be called from any RocksDB thread; the rest is
// pure or touches only the files named.
#pragma once

#include <rocksdb/cache.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/chunk_merge.h"
#include "store/options.h"
#include "store/retention.h"

namespace gridlet::store::detail {

// Column family names, in Cf order.
extern const char* const kCfNames[];

// RocksDB's own messages (warnings and errors) go to gridlet's log, not to a
// LOG file in the store folder: on a full disk RocksDB's file logger asserts
// on its second failed append (measured: an abort in DB::Open), and an
// operator reads one log. At most 20 lines a minute; the rest are counted.
class RocksLogger : public rocksdb::Logger {
public:
    explicit RocksLogger(rocksdb::InfoLogLevel level = rocksdb::InfoLogLevel::WARN_LEVEL) : Logger(level) {}
    using Logger::Logv;
    void Logv(const char* format, va_list ap) override { Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap); }
    void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
        if (level < GetInfoLogLevel() || level == rocksdb::InfoLogLevel::HEADER_LEVEL) return;
        char line[1024];
        std::vsnprintf(line, sizeof line, format, ap);
        const auto now = std::chrono::steady_clock::now();
        size_t dropped = 0;
        {
            std::lock_guard lock(mu_);
            if (now - window_start_ > std::chrono::minutes(1)) {
                dropped = dropped_;
                dropped_ = 0;
                lines_ = 0;
                window_start_ = now;
            }
            if (++lines_ > 20) {
                ++dropped_;
                return;
            }
        }
        if (dropped > 0) spdlog::warn("rocksdb: {} more messages not logged", dropped);
        if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL) {
            spdlog::error("rocksdb: {}", line);
        } else {
            spdlog::warn("rocksdb: {}", line);
        }
    }

private:
    std::mutex mu_;
    std::chrono::steady_clock::time_point window_start_{};
    size_t lines_ = 0;
    size_t dropped_ = 0;
};

// The file in a store folder naming the process that has the store open.
inline constexpr const char* kOwnerFile = "gridlet.pid";
// "pid 1234 (running)" from the owner file of the store in `dir`, or "".
std::string describe_owner(const std::filesystem::path& dir);
// Wall clock, ms since 1970.
int64_t wall_ms();
// The RocksDB files in `dir` when it holds some but no CURRENT (damage).
std::vector<std::string> database_files_without_current(const std::filesystem::path& dir);
// Not found when `path` holds no database file at all, naming `gridlet store init`.
Status database_there(const std::filesystem::path& path);
// The column families of a store with their options (default family first).
std::vector<rocksdb::ColumnFamilyDescriptor> all_families(const StoreOptions& o, const std::shared_ptr<rocksdb::Cache>& cache,
                                                         const std::shared_ptr<RetentionCutoffs>& cutoffs,
                                                         const std::shared_ptr<ChunkMergeOperator>& merge);
// Opens the store read-only and closes it (MANIFEST, table files, WAL):
// fails where a secondary instance would quietly fall back.
rocksdb::Status probe_read_only(const StoreOptions& o);

}  // namespace gridlet::store::detail

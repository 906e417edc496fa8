// Backup and restore of a site: one tar.gz archive (libarchive) holding its
// configuration, its accounts and certificates, and a consistent copy of
// its store (a RocksDB checkpoint taken while the site runs).
//
// The archive, in this order:
//   gridlet-backup.json   {format, gridlet, site, site_file, created_ms}: read first,
//                         so that an archive of a newer format is refused at once
//   config/<path>         the site file's folder (the store and the http data
//                         folder left out when they are inside it)
//   outside/<abs path>    [[rules]] files outside that folder
//   http/<path>           the [http] data_dir: users.json (password hashes),
//                         tokens, the TLS certificate and its key
//   store/<path>          the store's checkpoint
//   manifest.json         {files: {name: {size, sha256}}}: read last; any
//                         difference (a file changed, missing or added) is damage
// The archive holds password hashes and a private key: it is written 0600.
//
// Threads: any (each call works on its own files); write_archive reads the
// checkpoint folder, which the caller made and removes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/site_config.h"
#include "core/status.h"

namespace gridlet::backup {

// The archive format this gridlet writes and the newest it reads.
inline constexpr int kFormat = 1;

struct BackupPlan {
    std::string site_file;          // the site TOML (absolute)
    std::string store_checkpoint;   // a checkpoint folder of the store; "" none
    std::string store_path;         // the live store (left out of config/)
    std::string http_data_dir;      // "" none
    std::vector<std::string> outside_files;  // absolute paths
    std::string site_name, version;
    int64_t created_ms = 0;
};

// What a site names: its folder, the store path and the rule files outside
// the folder; `http_data_dir` its [http] data_dir ("" none). Errors: the
// site's [store].
Expected<BackupPlan> plan_backup(const SiteConfig& site, const std::string& http_data_dir, const std::string& version,
                                 int64_t now_ms);

// Whether write_archive can take the plan's configuration (before a
// checkpoint is made and an answer begun): the site file's folder holds at
// most 256 MB besides the store (invalid_argument otherwise: a shared
// folder), the outside rule files exist (not_found).
Status check_backup(const BackupPlan& plan);

// Bytes out; false: the reader went away (the archive stops there).
using ByteSink = std::function<bool(const void* data, size_t size)>;

// Writes the archive to `out`. Errors: io_error (a file unreadable, the
// sink gone).
Status write_archive(const BackupPlan& plan, const ByteSink& out);
// Writes it to `path` (mode 0600; a temporary name renamed when complete).
// Returns the archive's size in bytes.
Expected<uint64_t> write_archive_file(const BackupPlan& plan, const std::string& path);

// A checkpoint folder beside the store (same file system: hard links):
// <store>.backup-<pid>-<n>, not yet existing.
std::string checkpoint_dir_for(const std::string& store_path);

struct RestoreOptions {
    std::string archive;
    std::string site_file;  // where the site file goes; its folder receives config/
    bool force = false;     // replace an existing store / data folder (the old one is kept aside)
    bool dry_run = false;   // check the archive and say what would happen; change nothing
};

struct RestoreReport {
    nlohmann::json header;              // gridlet-backup.json
    std::vector<std::string> actions;   // what was done (or would be, dry run), one line each
    uint64_t files = 0, bytes = 0;
};

// Checks the archive whole (format, every file against the manifest) in a
// staging folder, then puts it in place. Refused, changing nothing: an
// archive of a newer format (unsupported), a damaged one (data_loss: a
// file that differs from the manifest, a missing or extra file, a truncated
// archive), a path outside its folder (invalid_argument), an existing store
// or data folder without `force` (already_exists). With `force` what is
// replaced is moved aside (<name>.before-restore-<UTC time>), never deleted.
Expected<RestoreReport> restore_archive(const RestoreOptions& options, int64_t now_ms);

}  // namespace gridlet::backup

#include "cli/store_access.h"

#include <sys/stat.h>
#include <unistd.h>

#include "answers/query_answer.h"

#include <cmath>

#include <CLI/CLI.hpp>

#include <charconv>
#include <cstdio>

#include "core/clock.h"
#include "store/site_file.h"
#include "store/time_spec.h"

namespace gridlet::cli {

void fail(const char* command, int code, const std::string& msg) {
    std::fprintf(stderr, "gridlet %s: %s\n", command, msg.c_str());
    throw CLI::RuntimeError(code);
}

KeepOwner::KeepOwner(const std::filesystem::path& dir) {
    if (::geteuid() != 0) return;
    std::error_code ec;
    std::filesystem::path p = std::filesystem::absolute(dir, ec);
    while (!p.empty() && !std::filesystem::exists(p, ec)) {
        if (p == p.parent_path()) return;
        p = p.parent_path();
    }
    struct stat st {};
    if (p.empty() || ::stat(p.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid == 0) return;
    dir_ = p;
    uid_ = st.st_uid;
    gid_ = st.st_gid;
    active_ = true;
}

KeepOwner::~KeepOwner() {
    if (!active_) return;
    std::error_code ec;
    size_t given = 0;
    for (auto it = std::filesystem::recursive_directory_iterator(dir_, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        struct stat st {};
        if (::lstat(it->path().c_str(), &st) != 0 || st.st_uid != 0) continue;
        if (::lchown(it->path().c_str(), uid_, gid_) == 0) ++given;
    }
    if (given > 0)
        std::fprintf(stderr, "note: %zu file%s made by root in %s given to its owner (uid %u), as the service runs as it\n",
                     given, given == 1 ? "" : "s", dir_.c_str(), uid_);
}

StoreLocation locate_store(const char* command, const std::string& db, const std::string& config) {
    if (db.empty() == config.empty()) fail(command, 2, "give exactly one of --db <path> or --config <site.toml>");
    StoreLocation loc;
    loc.path = db;
    if (!config.empty()) {
        auto site = store::read_site_store(config);
        if (!site) fail(command, 2, site.status().message());
        loc.path = site->options.path;
        loc.timezone = site->timezone;
    }
    return loc;
}

void add_store_options(CLI::App* cmd, std::string& db, std::string& config) {
    cmd->add_option("--db", db, "Store folder (RocksDB)");
    cmd->add_option("--config", config, "Site file: the store path (and the site's time zone) come from it");
}

void on_run(CLI::App* cmd, const char* command, std::function<void()> run) {
    // Unexpected arguments are ours to report, with exit status 2.
    cmd->allow_extras();
    cmd->callback([cmd, command, run = std::move(run)] {
        if (!cmd->remaining().empty())
            fail(command, 2, "unexpected argument '" + cmd->remaining().front() + "' (see --help)");
        run();
    });
}

std::pair<int64_t, int64_t> parse_time_range(const char* command, const std::string& from, const std::string& to,
                                             const TimeZone& tz) {
    auto range = answers::parse_time_range(from, to, SystemClock::instance().now_ms(), tz, "--");
    if (!range) fail(command, 2, range.status().message());
    return *range;
}

std::unique_ptr<store::Store> open_store_read_only(const char* command, const std::filesystem::path& path) {
    auto st = store::Store::open_read_only(path);
    if (!st) fail(command, st.status().code() == StatusCode::not_found ? 2 : 1, st.status().message());
    return std::move(*st);
}

}  // namespace gridlet::cli

#include "cli/store_access.h"

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

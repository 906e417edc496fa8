#include "cli/store_access.h"

#include <CLI/CLI.hpp>

#include <charconv>
#include <cstdio>

#include "store/site_file.h"

namespace gridlet::cli {

void fail(const char* command, int code, const std::string& msg) {
    std::fprintf(stderr, "gridlet %s: %s\n", command, msg.c_str());
    throw CLI::RuntimeError(code);
}

std::string format_number(double v) {
    char buf[32];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return ec == std::errc() ? std::string(buf, p) : "nan";
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

std::unique_ptr<store::Store> open_store_read_only(const char* command, const std::filesystem::path& path) {
    auto st = store::Store::open_read_only(path);
    if (!st) fail(command, st.status().code() == StatusCode::not_found ? 2 : 1, st.status().message());
    return std::move(*st);
}

}  // namespace gridlet::cli

// What the commands that read a store (query, series) share: where the
// store is (--db or --config), opening it read-only (works beside a running
// gridlet), number formatting and failing with an exit status. CLI thread.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "store/store.h"

namespace gridlet::cli {

// Prints "gridlet <command>: <msg>" and exits the command with `code`.
[[noreturn]] void fail(const char* command, int code, const std::string& msg);

// Shortest text that reads back as the same double ("nan" if none).
std::string format_number(double v);

struct StoreLocation {
    std::filesystem::path path;
    std::string timezone = "UTC";  // the site's, when given --config
};

// Exactly one of `db` (a store folder) and `config` (a site file); exit 2 otherwise.
StoreLocation locate_store(const char* command, const std::string& db, const std::string& config);

// Exit 2 if there is no store there, 1 if it cannot be opened.
std::unique_ptr<store::Store> open_store_read_only(const char* command, const std::filesystem::path& path);

}  // namespace gridlet::cli

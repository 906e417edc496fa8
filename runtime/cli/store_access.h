// What the commands that read a store (query, series, events) share: where the
// store is (--db or --config), opening it read-only (works beside a running
// gridlet), number formatting and failing with an exit status. CLI thread.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "answers/number_text.h"
#include "core/timezone.h"
#include "store/store.h"

namespace CLI {
class App;
}

namespace gridlet::cli {

// Prints "gridlet <command>: <msg>" and exits the command with `code`.
[[noreturn]] void fail(const char* command, int code, const std::string& msg);

// Root running a command that writes into a folder another user owns (the
// service's /var/lib/gridlet, owned by the user gridlet): when the command
// ends, however it ends, what it made there (owned by root) is given to the
// folder's owner and group, so that the service can still open it. Nothing
// for other users, or for a folder root owns. `dir`: the folder, or a file
// or folder not made yet inside it (its nearest existing parent counts).
class KeepOwner {
public:
    explicit KeepOwner(const std::filesystem::path& dir);
    ~KeepOwner();
    KeepOwner(const KeepOwner&) = delete;
    KeepOwner& operator=(const KeepOwner&) = delete;

private:
    std::filesystem::path dir_;
    unsigned uid_ = 0, gid_ = 0;
    bool active_ = false;
};

// Numbers as text: the same functions as the HTTP API (answers/number_text.h).
using answers::csv_field;
using answers::format_number;
using answers::json_number;
using answers::round_decimals;

struct StoreLocation {
    std::filesystem::path path;
    std::string timezone = "UTC";  // the site's, when given --config
};

// Exactly one of `db` (a store folder) and `config` (a site file); exit 2 otherwise.
StoreLocation locate_store(const char* command, const std::string& db, const std::string& config);

// --db and --config: where the store is (see locate_store).
void add_store_options(CLI::App* cmd, std::string& db, std::string& config);

// The command's callback: unexpected arguments exit 2, then `run`.
void on_run(CLI::App* cmd, const char* command, std::function<void()> run);

// --from and --to (time specs relative to now, in `tz`); exit 2 naming the
// option if one is bad or the range is empty.
std::pair<int64_t, int64_t> parse_time_range(const char* command, const std::string& from, const std::string& to,
                                             const TimeZone& tz);

// Exit 2 if there is no store there, 1 if it cannot be opened.
std::unique_ptr<store::Store> open_store_read_only(const char* command, const std::filesystem::path& path);

}  // namespace gridlet::cli

// StateStore: persistent key-value state of the rules, one namespace per rule
// ("state" family, key rule | 0x00 | key). Values are opaque bytes (the
// script layer stores JSON). put()/erase() return once in the WAL.
//
// Thread-safe (RocksDB is). Rule names must not contain a NUL byte.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "store/db.h"

namespace gridlet::store {

class StateStore {
public:
    explicit StateStore(StoreDb& db) : db_(db) {}

    Expected<std::optional<std::string>> get(std::string_view rule, std::string_view key) const;
    Status put(std::string_view rule, std::string_view key, std::string_view value);
    Status erase(std::string_view rule, std::string_view key);
    // Every (key, value) of `rule`, in key order.
    Expected<std::vector<std::pair<std::string, std::string>>> list(std::string_view rule) const;
    // Removes every key of `rule`.
    Status erase_all(std::string_view rule);

private:
    StoreDb& db_;
};

}  // namespace gridlet::store

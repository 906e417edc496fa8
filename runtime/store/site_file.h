// Where a site file puts its store, for tools that open the database of a
// site without starting it (gridlet query / series --config site.toml).
// Reads only [site].timezone and [store] (validated with store_config_keys()).
// Pure function; any thread.
#pragma once

#include <string>

#include "core/status.h"
#include "store/options.h"

namespace gridlet::store {

struct SiteStore {
    StoreOptions options;          // path resolved against the site file's folder
    std::string timezone = "UTC";  // [site].timezone
};

// Errors: the file does not parse or its [store] is invalid (invalid, with
// file:line); the site has no [store] (not_found: it keeps no data).
Expected<SiteStore> read_site_store(const std::string& site_file);

}  // namespace gridlet::store

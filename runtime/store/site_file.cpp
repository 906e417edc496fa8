#include "store/site_file.h"
#include "toml_syntax.h"

#include <filesystem>

#include <toml++/toml.h>

namespace gridlet::store {

Expected<SiteStore> read_site_store(const std::string& site_file) {
    toml::table root;
    try {
        root = toml::parse_file(site_file);
    } catch (const toml::parse_error& e) {
        auto line = e.source().begin.line;
        return Status::invalid(site_file + ":" + std::to_string(line) + ": " + toml_syntax_message(e.description()));
    }
    SiteStore out;
    if (auto tz = root["site"]["timezone"].value<std::string>()) out.timezone = *tz;
    const toml::table* store = root["store"].as_table();
    if (!store)
        return Status::not_found(site_file + ": the site has no [store] section, so it keeps no data (add [store] "
                                             "to keep its series and events)");
    config::Diagnostics diags;
    nlohmann::json j =
        config::validate_table(*store, store_config_keys(), site_file, "[store]", diags, config::line_of(*store));
    if (!diags.empty()) return Status::invalid(diags.front().to_string());
    auto dir = std::filesystem::absolute(site_file).parent_path();
    auto o = store_options_from_json(j, dir);
    if (!o) return o.status().with_context(site_file);
    out.options = *o;
    out.options.day_zone = out.timezone;
    return out;
}

}  // namespace gridlet::store

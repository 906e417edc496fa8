#include "core/config_schema.h"

#include <gtest/gtest.h>

using namespace gridlet::config;

namespace {
std::vector<KeySpec> store_like() {
    return {
        {"path", ValueType::string, std::nullopt, "database folder", true, {}, {}, {}},
        {"sync", ValueType::string, "\"batch\"", "WAL sync policy", false, {"none", "interval", "batch"}, {}, {}},
        {"cache_mb", ValueType::integer, "8", "block cache", false, {}, 1.0, 4096.0},
        {"ratio", ValueType::number, "0.5", "a ratio", false, {}, 0.0, 1.0},
    };
}

toml::table parse(const std::string& text) { return toml::parse(std::string_view(text), std::string_view("site.toml")); }
}  // namespace

TEST(ConfigSchema, FillsDefaults) {
    Diagnostics d;
    auto t = parse("path = \"/tmp/x\"\n");
    auto j = validate_table(t, store_like(), "site.toml", "[store]", d);
    ASSERT_TRUE(d.empty());
    EXPECT_EQ(j["sync"], "batch");
    EXPECT_EQ(j["cache_mb"], 8);
    EXPECT_DOUBLE_EQ(j["ratio"].get<double>(), 0.5);
}

TEST(ConfigSchema, UnknownKeyNamesFileLineAndKnownKeys) {
    Diagnostics d;
    auto t = parse("path = \"/tmp/x\"\n\ncahce_mb = 3\n");
    validate_table(t, store_like(), "site.toml", "[store]", d);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].to_string(),
              "site.toml:3: unknown key 'cahce_mb' in [store] (known keys: path, sync, cache_mb, ratio)");
}

TEST(ConfigSchema, WrongTypeBadValueAndRange) {
    Diagnostics d;
    auto t = parse("path = 3\nsync = \"sometimes\"\ncache_mb = 0\nratio = 2\n");
    validate_table(t, store_like(), "site.toml", "[store]", d);
    ASSERT_EQ(d.size(), 4u);
    EXPECT_EQ(d[0].to_string(), "site.toml:1: [store]: 'path' must be string, not integer");
    EXPECT_EQ(d[1].to_string(), "site.toml:2: [store]: 'sync' is \"sometimes\"; expected one of: none, interval, batch");
    EXPECT_EQ(d[2].to_string(), "site.toml:3: [store]: 'cache_mb' is 0; it must be between 1 and 4096");
    EXPECT_EQ(d[3].to_string(), "site.toml:4: [store]: 'ratio' is 2; it must be between 0 and 1");
}

TEST(ConfigSchema, MissingRequiredKey) {
    Diagnostics d;
    auto t = parse("sync = \"none\"\n");
    validate_table(t, store_like(), "site.toml", "[store]", d, 7);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].to_string(), "site.toml:7: [store]: missing required key 'path' (database folder)");
}

TEST(ConfigSchema, IntegerAcceptedAsNumber) {
    Diagnostics d;
    auto t = parse("path = \"p\"\nratio = 1\n");
    auto j = validate_table(t, store_like(), "site.toml", "[store]", d);
    ASSERT_TRUE(d.empty());
    EXPECT_TRUE(j["ratio"].is_number_float());
}

TEST(ConfigSchema, TomlLiterals) {
    EXPECT_EQ(*parse_toml_literal("\"x\""), "x");
    EXPECT_EQ(*parse_toml_literal("[1, 2]"), nlohmann::json::array({1, 2}));
    EXPECT_FALSE(parse_toml_literal("not toml"));
}

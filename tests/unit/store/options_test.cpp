#include <toml++/toml.h>

#include "store/time_spec.h"
#include "test_util.h"

using namespace gridlet;
using namespace gridlet::store;

namespace {
Expected<StoreOptions> from_toml(const std::string& text, config::Diagnostics& diags) {
    auto doc = toml::parse(text);
    auto* t = doc["store"].as_table();
    nlohmann::json j = config::validate_table(*t, store_config_keys(), "site.toml", "[store]", diags);
    return store_options_from_json(j, "/var/lib/gridlet");
}
}  // namespace

TEST(StoreConfig, DefaultsAndValues) {
    config::Diagnostics diags;
    auto o = from_toml("[store]\n", diags);
    ASSERT_TRUE(diags.empty());
    ASSERT_TRUE(o) << o.status().to_string();
    EXPECT_EQ(o->path, "/var/lib/gridlet/data/db");
    EXPECT_EQ(o->sync, SyncPolicy::interval);
    EXPECT_EQ(o->retention.raw_ms, 90LL * 86'400'000);
    o = from_toml("[store]\npath = \"/data/db\"\nsync = \"batch\"\nblock_cache_mb = 4\nretention_raw_days = 30\n",
                  diags);
    ASSERT_TRUE(o);
    EXPECT_EQ(o->path, "/data/db");
    EXPECT_EQ(o->sync, SyncPolicy::batch);
    EXPECT_EQ(o->block_cache_bytes, 4u << 20);
    EXPECT_EQ(o->retention.raw_ms, 30LL * 86'400'000);
}

TEST(StoreConfig, BadValuesAreDiagnosedWithLines) {
    config::Diagnostics diags;
    (void)from_toml("[store]\nsync = \"sometimes\"\ncolour = 3\n", diags);
    ASSERT_EQ(diags.size(), 2u);
    EXPECT_NE(diags[0].to_string().find("site.toml:2"), std::string::npos);
    diags.clear();
    auto o = from_toml("[store]\nretention_raw_days = 400\nretention_1m_days = 365\n", diags);
    ASSERT_FALSE(o);
    EXPECT_NE(o.status().message().find("retention_1m_days"), std::string::npos);
    o = from_toml("[store]\nretention_1m_days = 0\nretention_15m_days = 10\n", diags);
    ASSERT_FALSE(o);
    EXPECT_FALSE(store_options_from_json(nlohmann::json::object()));
}

TEST(TimeSpec, RelativeIsoAndDurations) {
    auto paris = *TimeZone::load("Europe/Paris");
    const int64_t now = *TimeZone::utc().parse_iso("2024-03-31T10:00:00Z");
    EXPECT_EQ(*parse_time_spec("now", now, paris), now);
    EXPECT_EQ(*parse_time_spec("-1h", now, paris), now - 3'600'000);
    EXPECT_EQ(*parse_time_spec("now-15m", now, paris), now - 900'000);
    EXPECT_EQ(*parse_time_spec("today", now, paris), *TimeZone::utc().parse_iso("2024-03-30T23:00:00Z"));
    EXPECT_EQ(*parse_time_spec("yesterday", now, paris), *TimeZone::utc().parse_iso("2024-03-29T23:00:00Z"));
    EXPECT_EQ(*parse_time_spec("2024-03-31T12:00", now, paris), *TimeZone::utc().parse_iso("2024-03-31T10:00:00Z"));
    EXPECT_EQ(*parse_time_spec("@1000", now, paris), 1000);
    // Found by tests/fuzz/time_spec_fuzz: now +- a huge duration overflowed.
    EXPECT_FALSE(parse_time_spec("now+9223372036854775807", now, paris));
    EXPECT_FALSE(parse_time_spec("-1 hour", now, paris));
    EXPECT_FALSE(parse_time_spec("soon", now, paris));
    // A local time without an offset must exist once (the retest: --from
    // 2026-03-29T02:30 was moved to 03:00 without a word, while the site
    // model's dates and gridlet import refuse it).
    auto gap = parse_time_spec("2024-03-31T02:30", now, paris);
    ASSERT_FALSE(gap);
    EXPECT_NE(gap.status().message().find("'2024-03-31T02:30' does not exist in Europe/Paris"), std::string::npos)
        << gap.status().message();
    auto fold = parse_time_spec("2024-10-27T02:30:00", now, paris);
    ASSERT_FALSE(fold);
    EXPECT_NE(fold.status().message().find("happens twice in Europe/Paris"), std::string::npos) << fold.status().message();
    EXPECT_NE(fold.status().message().find("2024-10-27T02:30+02:00"), std::string::npos) << fold.status().message();
    EXPECT_EQ(*parse_time_spec("2024-10-27T02:30+01:00", now, paris), *TimeZone::utc().parse_iso("2024-10-27T01:30:00Z"));
    EXPECT_EQ(*parse_time_spec("2024-10-27T02:30Z", now, paris), *TimeZone::utc().parse_iso("2024-10-27T02:30:00Z"));
    EXPECT_EQ(*parse_time_spec("2024-10-27", now, paris), *TimeZone::utc().parse_iso("2024-10-26T22:00:00Z"));
    EXPECT_EQ(*parse_time_spec("2024-10-27T03:00", now, paris), *TimeZone::utc().parse_iso("2024-10-27T02:00:00Z"));
    EXPECT_EQ(*parse_time_spec("2024-03-31T03:00", now, paris), *TimeZone::utc().parse_iso("2024-03-31T01:00:00Z"));
    EXPECT_EQ(*parse_duration_ms("15m"), 900'000);
    EXPECT_EQ(*parse_duration_ms("1w"), 604'800'000);
    EXPECT_EQ(*parse_duration_ms("250"), 250);
    EXPECT_FALSE(parse_duration_ms("15x"));
    EXPECT_FALSE(parse_duration_ms("-5m"));
}

// settings_not_applied(): what a SIGHUP reload names as waiting for a
// restart (issue 10 item 12), one line per changed key, nested tables and
// arrays of tables key by key, numbers in their shortest form; and
// device_and_plugin_changes(): what it applies live (issue 21 item 3).
#include <gtest/gtest.h>

#include "kernel/reload_diff.h"
#include "kernel/site_plan.h"

using namespace gridlet;

namespace {

SiteConfig parse(const std::string& text) {
    config::Diagnostics diags;
    SiteConfig s = parse_site_config(text, "site.toml", kernel::section_schemas(), diags);
    EXPECT_TRUE(diags.empty()) << diags.front().to_string();
    return s;
}

std::string joined(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
}

}  // namespace

TEST(ReloadDiff, NamesEachChangedKeyOnOneLine) {
    const std::string head = "[[plugins]]\nname = \"sim\"\nfile = \"sim\"\n";
    SiteConfig before = parse(head + "[[plugins.config.evse]]\nport = 15030\nresponse_ms = 2000\nnoise = 0.03\n"
                                     "[store]\nretention_raw_days = 30\n[logging]\nlevel = \"info\"\n");
    SiteConfig after = parse(head + "[[plugins.config.evse]]\nport = 15030\nnoise = 0.05\n"
                                    "[store]\nretention_raw_days = 60\n[logging]\nlevel = \"debug\"\n");
    // Applied by the reload: the plugin's settings.
    const std::string live = joined(kernel::device_and_plugin_changes(before, after));
    EXPECT_EQ(live,
              "plugin 'sim' config: evse[0].noise: 0.03 -> 0.05\n"
              "plugin 'sim' config: evse[0].response_ms: 2000 -> (not set: the default)\n");
    // Not applied: the store's.
    const auto lines = kernel::settings_not_applied(before, after);
    const std::string all = joined(lines);
    EXPECT_EQ(all, "[store] retention_raw_days: 30 -> 60\n");
    EXPECT_EQ(all.find("level"), std::string::npos) << "the log level is applied: " << all;
}

// Devices added, changed and removed, each on its line with the line of its
// [[devices]] header (in the running file for a removed one); plugins added
// and disabled.
TEST(ReloadDiff, DevicesAndPluginsChangedAddedAndRemoved) {
    const std::string plugins = "[[plugins]]\nname = \"a\"\nfile = \"sim\"\n";
    SiteConfig before = parse(plugins + "[[plugins]]\nname = \"b\"\nfile = \"sim\"\n"
                                        "[[devices]]\nname = \"d1\"\nplugin = \"a\"\npoll_ms = 1000\n"
                                        "[[devices]]\nname = \"d2\"\nplugin = \"a\"\n"
                                        "[[devices]]\nname = \"d3\"\nplugin = \"b\"\n");
    SiteConfig after = parse(plugins + "[[plugins]]\nname = \"b\"\nfile = \"sim\"\nenabled = false\n"
                                       "[[plugins]]\nname = \"c\"\nfile = \"sim\"\n"
                                       "[[devices]]\nname = \"d1\"\nplugin = \"a\"\npoll_ms = 500\n"
                                       "[[devices]]\nname = \"d3\"\nplugin = \"b\"\n"
                                       "[[devices]]\nname = \"d4\"\nplugin = \"c\"\n");
    EXPECT_EQ(joined(kernel::device_and_plugin_changes(before, after)),
              "plugin 'b': enabled: true -> false\n"
              "plugin 'c' added\n"
              "device 'd1' (site.toml:11): poll_ms: 1000 -> 500\n"
              "device 'd2' (site.toml:11) removed\n"
              "device 'd4' (site.toml:18) added\n");
    EXPECT_TRUE(kernel::settings_not_applied(before, after).empty()) << "plugins and devices are applied live";
    EXPECT_TRUE(kernel::device_and_plugin_changes(after, after).empty());
}

TEST(ReloadDiff, AnUnchangedSiteNamesNothing) {
    const std::string text = "[site]\nname = \"x\"\n[[plugins]]\nname = \"sim\"\nfile = \"sim\"\n";
    EXPECT_TRUE(kernel::settings_not_applied(parse(text), parse(text)).empty());
}

// The alarms, notifications, site model and exports: a change to them is
// named, entry by entry or key by key, never silently left out.
TEST(ReloadDiff, ExportsAlarmsAndTheModelChangedAreNamed) {
    const std::string head = "[site]\nname = \"x\"\n";
    const std::string exp = "[[exports]]\nname = \"e\"\nformat = \"socomec_csv\"\nevery = \"";
    SiteConfig before = parse(head + exp + "10m\"\n[[alarms]]\nname = \"a\"\n");
    SiteConfig after = parse(head + exp + "15m\"\n[[alarms]]\nname = \"a\"\n");
    EXPECT_EQ(joined(kernel::settings_not_applied(before, after)), "[[exports]] 'e': every: \"10m\" -> \"15m\"\n");
    EXPECT_TRUE(kernel::section_changed(before, after, "exports"));
    EXPECT_FALSE(kernel::section_changed(before, after, "alarms"));
    // Applied by this reload: not named as waiting.
    EXPECT_TRUE(kernel::settings_not_applied(before, after, {"exports"}).empty());
    SiteConfig model = parse(head + exp + "10m\"\n[[alarms]]\nname = \"a\"\n[model]\ncurrency = \"EUR\"\n");
    EXPECT_EQ(joined(kernel::settings_not_applied(before, model)), "[model] currency: (not set: the default) -> \"EUR\"\n");
    // Entries of an array of tables by name: added, removed, changed.
    SiteConfig two = parse(head + exp + "15m\"\n[[alarms]]\nname = \"b\"\n[[alarms]]\nname = \"a\"\nthreshold = 2\n");
    EXPECT_EQ(joined(kernel::named_entry_changes(after, two, "alarms")),
              "[[alarms]] 'a': threshold: (not set: the default) -> 2\n[[alarms]] 'b' added\n");
    EXPECT_EQ(joined(kernel::named_entry_changes(two, after, "alarms")),
              "[[alarms]] 'b' removed\n[[alarms]] 'a': threshold: 2 -> (not set: the default)\n");
    EXPECT_TRUE(kernel::named_entry_changes(two, two, "alarms").empty());
}

// [http] (and any part not applied by a reload) names its keys too: the API
// keeps its port, certificate and limits until the next start.
TEST(ReloadDiff, HttpSettingsAreNamedKeyByKey) {
    const std::string head = "[site]\nname = \"x\"\n[http]\nport = ";
    SiteConfig before = parse(head + "8443\nmax_query_rows = 1000\n");
    SiteConfig after = parse(head + "9443\nmax_query_rows = 1000\n");
    EXPECT_EQ(joined(kernel::settings_not_applied(before, after)), "[http] port: 8443 -> 9443\n");
    SiteConfig none = parse("[site]\nname = \"x\"\n");
    EXPECT_EQ(joined(kernel::settings_not_applied(none, after)),
              "[http] max_query_rows: (not set: the default) -> 1000\n[http] port: (not set: the default) -> 9443\n");
}

// Numbers read as written, in their shortest form (1000.0 is "1000", not
// "1e+03").
TEST(ReloadDiff, NumbersKeepTheirDigits) {
    EXPECT_EQ(joined(kernel::named_entry_changes(parse("[[alarms]]\nname = \"a\"\nthreshold = 1000.0\n"),
                                                 parse("[[alarms]]\nname = \"a\"\nthreshold = 900.0\n"), "alarms")),
              "[[alarms]] 'a': threshold: 1000 -> 900\n");
    EXPECT_EQ(joined(kernel::named_entry_changes(parse("[[alarms]]\nname = \"a\"\nthreshold = 0.1\n"),
                                                 parse("[[alarms]]\nname = \"a\"\nthreshold = 1234.5\n"), "alarms")),
              "[[alarms]] 'a': threshold: 0.1 -> 1234.5\n");
}

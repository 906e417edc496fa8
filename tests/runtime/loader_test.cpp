// The plugin host's refusals, each asserted word for word on a real .so
// fixture, and the site checks that use plugin schemas.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "kernel/site_plan.h"
#include "plugin/plugin_instance.h"

using namespace gridlet;

namespace {
std::string fixture(const std::string& name) { return std::string(GRIDLET_FIXTURE_DIR) + "/" + name + ".so"; }

std::string refusal(const std::string& name) {
    auto lib = plugin::PluginLibrary::open(fixture(name), plugin::host_api_table());
    EXPECT_FALSE(lib) << name << " must be refused";
    return lib ? "" : lib.status().message();
}

std::string write_site(const std::string& body) {
    static int n = 0;
    // ctest runs each test in its own process, two at a time: the pid keeps
    // their files apart.
    std::string path = ::testing::TempDir() + "/site-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".toml";
    std::ofstream(path) << body;
    return path;
}
}  // namespace

TEST(Loader, RefusesAnotherAbiMajorNamingFileAndBothVersions) {
    EXPECT_EQ(refusal("fx_wrong_major"),
              "plugin " + fixture("fx_wrong_major") + ": plugin ABI 2.0, host wants ABI 1.3 (major 1)");
}

TEST(Loader, RefusesAMissingEntryPoint) {
    std::string m = refusal("fx_no_entry");
    EXPECT_EQ(m.rfind("plugin " + fixture("fx_no_entry") + ": missing entry point 'gridlet_plugin_entry'", 0), 0u) << m;
}

TEST(Loader, RefusesATooSmallDescriptorWithBothSizes) {
    std::string m = refusal("fx_small_descriptor");
    EXPECT_EQ(m, "plugin " + fixture("fx_small_descriptor") + ": descriptor is " +
                     std::to_string(offsetof(gl_plugin_descriptor, description)) + " bytes; ABI 1.0 wants at least " +
                     std::to_string(plugin::kMinDescriptorSize));
}

TEST(Loader, ReportsAPluginThatRefusesTheHost) {
    EXPECT_EQ(refusal("fx_refuses_host"), "plugin " + fixture("fx_refuses_host") +
                                              ": refused the host (host ABI 1.3); it was built for another ABI major");
}

TEST(Loader, RefusesAFileThatIsNotALibrary) {
    std::string path = write_site("not an ELF file");
    auto lib = plugin::PluginLibrary::open(path, plugin::host_api_table());
    ASSERT_FALSE(lib);
    EXPECT_EQ(lib.status().message().rfind("plugin " + path + ": cannot load: ", 0), 0u) << lib.status().message();
}

TEST(Loader, DescribesAWellFormedPlugin) {
    auto lib = plugin::PluginLibrary::open(fixture("fx_schema"), plugin::host_api_table());
    ASSERT_TRUE(lib) << lib.status().message();
    EXPECT_STREQ((*lib)->descriptor().name, "schema");
    EXPECT_STREQ((*lib)->descriptor().version, "1.2.3");
    ASSERT_EQ((*lib)->config_keys().size(), 3u);
    EXPECT_TRUE((*lib)->config_keys()[0].required);
    EXPECT_EQ((*lib)->device_keys().size(), 2u);
}

TEST(Loader, FindsPluginsByNameInTheSearchPath) {
    auto p = plugin::find_plugin_file("fx_schema", {"/nonexistent", GRIDLET_FIXTURE_DIR});
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, fixture("fx_schema"));
    auto missing = plugin::find_plugin_file("nope", {"/nonexistent"});
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.status().message().find("/nonexistent"), std::string::npos);
}

TEST(SitePlan, RefusesAPluginConfigThatFailsItsSchemaWithFileAndLine) {
    std::string path = write_site(
        "[[plugins]]\n"
        "name = \"meter\"\n"
        "file = \"" + fixture("fx_schema") + "\"\n"
        "[plugins.config]\n"
        "mode = 3\n"
        "colour = \"red\"\n");
    config::Diagnostics d;
    kernel::load_site(path, d);
    ASSERT_EQ(d.size(), 3u);
    EXPECT_EQ(d[0].to_string(), path + ":4: plugin 'meter' ([plugins.config]): missing required key 'port' (TCP port)");
    EXPECT_EQ(d[1].to_string(), path + ":5: plugin 'meter' ([plugins.config]): 'mode' must be string, not integer");
    EXPECT_EQ(d[2].to_string(), path + ":6: unknown key 'colour' in plugin 'meter' ([plugins.config]) (known keys: port, mode, ratio)");
}

TEST(SitePlan, ChecksDevicesAgainstTheirPluginsDeviceSchema) {
    std::string path = write_site(
        "[[plugins]]\nname = \"meter\"\nfile = \"" + fixture("fx_schema") + "\"\nconfig = { port = 502 }\n"
        "[[devices]]\nname = \"m1\"\nplugin = \"meter\"\naddress = \"127.0.0.1:5020\"\n"
        "[[devices]]\nname = \"m2\"\nplugin = \"meter\"\npoll_ms = \"fast\"\n");
    config::Diagnostics d;
    kernel::SitePlan plan = kernel::load_site(path, d);
    ASSERT_EQ(d.size(), 2u);
    EXPECT_EQ(d[0].to_string(), path + ":9: device 'm2': missing required key 'address' (host:port)");
    EXPECT_EQ(d[1].to_string(), path + ":12: device 'm2': 'poll_ms' must be integer, not string");
}

TEST(SitePlan, AcceptsAValidSiteAndFillsDefaults) {
    std::string path = write_site(
        "[site]\nname = \"s\"\n[[plugins]]\nname = \"meter\"\nfile = \"" + fixture("fx_schema") +
        "\"\nconfig = { port = 502 }\n[[devices]]\nname = \"m1\"\nplugin = \"meter\"\naddress = \"a:1\"\n");
    config::Diagnostics d;
    kernel::SitePlan plan = kernel::load_site(path, d);
    ASSERT_TRUE(d.empty()) << d[0].to_string();
    ASSERT_EQ(plan.plugins.size(), 1u);
    EXPECT_EQ(plan.plugins[0].config["mode"], "fast");
    EXPECT_EQ(plan.plugins[0].devices[0]["poll_ms"], 1000);
}

TEST(SitePlan, UnknownPluginFileIsReportedAtItsLine) {
    std::string path = write_site("[[plugins]]\nname = \"x\"\nfile = \"does-not-exist\"\n");
    config::Diagnostics d;
    kernel::load_site(path, d);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].to_string().rfind(path + ":1: plugin 'x': plugin 'does-not-exist' not found", 0), 0u) << d[0].to_string();
}

TEST(SitePlan, PluginCreateRefusingABadValueIsReported) {
    std::string path = write_site("[[plugins]]\nname = \"meter\"\nfile = \"" + fixture("fx_schema") +
                                  "\"\nconfig = { port = 1, mode = \"medium\" }\n");
    config::Diagnostics d;
    kernel::SitePlan plan = kernel::load_site(path, d);
    ASSERT_TRUE(d.empty());
    SeriesRegistry reg;
    bus::Bus bus({}, reg);
    plugin::CommandRouter router;
    auto inst = plugin::PluginInstance::make("meter", plan.plugins[0].library, plan.plugins[0].config, nlohmann::json::array(),
                                             {bus, reg, SystemClock::instance(), router}, 0);
    ASSERT_TRUE(inst);
    Status st = (*inst)->start();
    EXPECT_FALSE(st);
    EXPECT_EQ(st.message(), "plugin 'meter' (" + fixture("fx_schema") + "): create failed: mode must be fast or slow, not 'medium'");
    EXPECT_TRUE((*inst)->wait_stopped(2000));
    EXPECT_EQ((*inst)->state(), plugin::InstanceState::failed);
    inst->reset();
}

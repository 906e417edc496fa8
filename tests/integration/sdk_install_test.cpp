// The installed SDK: `cmake --install` into a temporary prefix, then the
// example plugin built OUT of tree with find_package(gridlet) and with
// pkg-config, then loaded by `gridlet plugins`; and the whole install run
// from its own prefix.
#include <gtest/gtest.h>

#include <fstream>

#include "integration/process.h"

using namespace gridlet::testing;

TEST(Sdk, InstalledSdkBuildsTheExamplePluginOutOfTree) {
    std::string root = "/tmp/gridlet-sdk-" + std::to_string(getpid());
    std::string prefix = root + "/prefix";
    Result inst = run({"cmake", "--install", build_dir(), "--component", "sdk", "--prefix", prefix});
    ASSERT_EQ(inst.code, 0) << inst.out << inst.err;
    EXPECT_EQ(slurp(prefix + "/include/gridlet/plugin.h").empty(), false);
    EXPECT_FALSE(slurp(prefix + "/share/cmake/gridlet/gridletConfig.cmake").empty());
    EXPECT_FALSE(slurp(prefix + "/share/pkgconfig/gridlet.pc").empty());

    // CMake package.
    std::string out = root + "/hello-cmake";
    Result conf = run({"cmake", "-S", source_dir() + "/examples/plugin-hello", "-B", out, "-DCMAKE_PREFIX_PATH=" + prefix,
                       "-DCMAKE_BUILD_TYPE=Release"});
    ASSERT_EQ(conf.code, 0) << conf.out << conf.err;
    Result build = run({"cmake", "--build", out});
    ASSERT_EQ(build.code, 0) << build.out << build.err;
    Result desc = run({gridlet_bin(), "plugins", out + "/hello.so"});
    EXPECT_EQ(desc.code, 0) << desc.err;
    EXPECT_NE(desc.out.find("name:        hello"), std::string::npos) << desc.out;

    // pkg-config, no CMake.
    std::string so = root + "/hello-pc.so";
    Result pc = run({"sh", "-c",
                     "PKG_CONFIG_PATH=" + prefix + "/share/pkgconfig g++ -std=c++17 -shared -fPIC $(PKG_CONFIG_PATH=" + prefix +
                         "/share/pkgconfig pkg-config --cflags gridlet) " + source_dir() +
                         "/examples/plugin-hello/hello.cpp -o " + so});
    ASSERT_EQ(pc.code, 0) << pc.out << pc.err;
    Result desc2 = run({gridlet_bin(), "plugins", so});
    EXPECT_EQ(desc2.code, 0) << desc2.err;
    // Only the entry point is exported.
    Result syms = run({"sh", "-c", "nm -D --defined-only " + out + "/hello.so | grep -c ' T '"});
    EXPECT_EQ(syms.out, "1\n") << "exported functions: " << syms.out;
    run({"rm", "-rf", root});
}

// An installed gridlet uses its own prefix (issue 10 item 14): plugins from
// <prefix>/lib/gridlet/plugins, Modbus profiles and the Lua library from
// <prefix>/share/gridlet, run from a folder that holds none of them, and
// never the build tree's.
TEST(Install, InstalledBinaryFindsItsOwnPluginsProfilesAndLuaLibrary) {
    const std::string root = "/tmp/gridlet-install-" + std::to_string(getpid());
    const std::string prefix = root + "/opt/gl";
    Result inst = run({"cmake", "--install", build_dir(), "--prefix", prefix});
    ASSERT_EQ(inst.code, 0) << inst.out << inst.err;
    const std::string bin = prefix + "/bin/gridlet";

    Result where = run({bin, "plugins", "modbus"});
    ASSERT_EQ(where.code, 0) << where.err;
    EXPECT_EQ(where.out.rfind(prefix + "/", 0), 0u) << "loaded from outside the prefix: " << where.out;

    std::ofstream(root + "/g.lua") << "local greenup = require('gridlet.greenup')\n"
                                      "assert(type(greenup) == 'table')\n";
    std::ofstream(root + "/site.toml") << "[site]\nname = \"inst-" << getpid()
                                       << "\"\n[[plugins]]\nname = \"modbus\"\nfile = \"modbus\"\n"
                                          "[[devices]]\nname = \"m\"\nplugin = \"modbus\"\nprofile = \"meter3ph\"\n"
                                          "address = \"127.0.0.1:1502\"\nunit_id = 1\n"
                                          "[[rules]]\nname = \"g\"\nfile = \"g.lua\"\n";
    Result check = run({"sh", "-c", "cd " + root + " && " + bin + " check site.toml"});
    EXPECT_EQ(check.code, 0) << check.out << check.err;
    EXPECT_NE(check.out.find("ok (site"), std::string::npos) << check.out;

    // A profile that is not installed is looked for in the prefix, and the
    // message says where.
    std::ofstream(root + "/site2.toml") << "[[plugins]]\nname = \"modbus\"\nfile = \"modbus\"\n"
                                           "[[devices]]\nname = \"m\"\nplugin = \"modbus\"\nprofile = \"nosuch\"\n"
                                           "address = \"127.0.0.1:1502\"\nunit_id = 1\n";
    Result bad = run({"sh", "-c", "cd " + root + " && " + bin + " check site2.toml"});
    EXPECT_EQ(bad.code, 2);
    EXPECT_NE(bad.err.find(prefix + "/share/gridlet/config/profiles"), std::string::npos) << bad.err;
    EXPECT_EQ(bad.err.find(source_dir() + "/config"), std::string::npos) << bad.err;
    run({"rm", "-rf", root});
}

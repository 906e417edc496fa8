// The installed SDK: `cmake --install` into a temporary prefix, then the
// example plugin built OUT of tree with find_package(gridlet) and with
// pkg-config, then loaded by `gridlet plugins`.
#include <gtest/gtest.h>

#include "integration/process.h"

using namespace gridlet::testing;

TEST(Sdk, InstalledSdkBuildsTheExamplePluginOutOfTree) {
    std::string root = "/tmp/gridlet-sdk-" + std::to_string(getpid());
    std::string prefix = root + "/prefix";
    Result inst = run({"cmake", "--install", build_dir(), "--component", "sdk", "--prefix", prefix});
    ASSERT_EQ(inst.code, 0) << inst.out << inst.err;
    EXPECT_EQ(slurp(prefix + "/include/gridlet/plugin.h").empty(), false);
    EXPECT_FALSE(slurp(prefix + "/lib/cmake/gridlet/gridletConfig.cmake").empty());
    EXPECT_FALSE(slurp(prefix + "/lib/pkgconfig/gridlet.pc").empty());

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
                     "PKG_CONFIG_PATH=" + prefix + "/lib/pkgconfig g++ -std=c++17 -shared -fPIC $(PKG_CONFIG_PATH=" + prefix +
                         "/lib/pkgconfig pkg-config --cflags gridlet) " + source_dir() +
                         "/examples/plugin-hello/hello.cpp -o " + so});
    ASSERT_EQ(pc.code, 0) << pc.out << pc.err;
    Result desc2 = run({gridlet_bin(), "plugins", so});
    EXPECT_EQ(desc2.code, 0) << desc2.err;
    // Only the entry point is exported.
    Result syms = run({"sh", "-c", "nm -D --defined-only " + out + "/hello.so | grep -c ' T '"});
    EXPECT_EQ(syms.out, "1\n") << "exported functions: " << syms.out;
    run({"rm", "-rf", root});
}

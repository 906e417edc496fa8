// What the MQTT integration tests share: a site with the hello plugin as a
// source (devices d1..dN counting every interval_ms) and the mqtt plugin
// as "north", with its store under the test's folder.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "integration/process.h"

namespace gridlet::testing {

namespace fs = std::filesystem;

inline std::string north_site(const std::string& dir, const std::string& name, const std::string& mqtt_config,
                       int interval_ms = 100, int devices = 1) {
    std::string s = "[site]\nname = \"" + name + "\"\n[store]\npath = \"" + dir +
                    "/store\"\n[[plugins]]\nname = \"hello\"\nfile = \"" + build_dir() +
                    "/plugins/hello.so\"\n[plugins.config]\ninterval_ms = " + std::to_string(interval_ms) + "\n";
    for (int i = 1; i <= devices; ++i) s += "[[devices]]\nname = \"d" + std::to_string(i) + "\"\nplugin = \"hello\"\n";
    s += "[[plugins]]\nname = \"north\"\nfile = \"" + build_dir() + "/plugins/mqtt.so\"\n[plugins.config]\n" + mqtt_config;
    return s;
}

inline std::string write_site(const std::string& dir, const std::string& text) {
    fs::create_directories(dir);
    std::ofstream(dir + "/site.toml") << text;
    return dir + "/site.toml";
}

struct MqttNorth : ::testing::Test {
    std::string dir = "/tmp/gridlet-mqtt-" + std::to_string(getpid()) + "-" +
                      ::testing::UnitTest::GetInstance()->current_test_info()->name();
    void SetUp() override { fs::remove_all(dir); }
    void TearDown() override { fs::remove_all(dir); }
};


}  // namespace gridlet::testing

// The mqtt plugin's settings (plugins/mqtt/settings.h): defaults, and every
// refusal said with the key it is about.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include <unistd.h>

#include "settings.h"

using namespace gridlet::mqtt;

namespace {
std::vector<std::string> problems_of(const std::string& json) {
    std::vector<std::string> p;
    parse_settings(nlohmann::json::parse(json), p);
    return p;
}
bool has(const std::vector<std::string>& p, const std::string& what) {
    for (const std::string& x : p)
        if (x.find(what) != std::string::npos) return true;
    return false;
}
}  // namespace

TEST(MqttSettings, Defaults) {
    std::vector<std::string> p;
    const Settings s = parse_settings(nlohmann::json::parse(R"({"north":{}})"), p);
    ASSERT_TRUE(p.empty());
    EXPECT_EQ(s.broker.host, "127.0.0.1");
    EXPECT_EQ(s.broker.port, 1883);
    EXPECT_FALSE(s.broker.tls);
    EXPECT_EQ(s.broker.protocol, 5);
    EXPECT_TRUE(s.north.enabled);
    EXPECT_EQ(s.north.format, Format::json_batch);
    EXPECT_EQ(s.north.topic, "gridlet/{site}/{device}");
    EXPECT_EQ(s.north.qos, 1);
    EXPECT_EQ(s.north.series, std::vector<std::string>{"**"});
    EXPECT_EQ(s.north.max_backlog_bytes, 1024ull << 20);
    const Settings none = parse_settings(nlohmann::json::parse("{}"), p);
    EXPECT_FALSE(none.north.enabled) << "no north table: nothing is published";
}

TEST(MqttSettings, BrokerUrls) {
    std::vector<std::string> p;
    Settings s = parse_settings(nlohmann::json::parse(R"({"broker":"mqtts://broker.example:9883"})"), p);
    EXPECT_TRUE(p.empty());
    EXPECT_TRUE(s.broker.tls);
    EXPECT_EQ(s.broker.host, "broker.example");
    EXPECT_EQ(s.broker.port, 9883);
    s = parse_settings(nlohmann::json::parse(R"({"broker":"mqtts://[::1]"})"), p);
    EXPECT_EQ(s.broker.host, "::1");
    EXPECT_EQ(s.broker.port, 8883);
    EXPECT_TRUE(has(problems_of(R"({"broker":"tcp://x:1"})"), "broker: 'tcp://x:1' must start with mqtt://"));
    EXPECT_TRUE(has(problems_of(R"({"broker":"mqtt://x:0"})"), "port must be 1..65535"));
    EXPECT_TRUE(has(problems_of(R"({"broker":"mqtt://u@x:1883"})"), "no user in the URL"));
}

TEST(MqttSettings, EveryRefusalNamesItsKey) {
    unsetenv("GRIDLET_TEST_UNSET");
    const auto p = problems_of(R"({"password_env":"GRIDLET_TEST_UNSET","cert_file":"/etc/hostname",
        "tls_min_version":"1.1","keepalive_s":1,"reconnect_min_ms":5000,"reconnect_max_ms":1000,
        "status_topic":"s/{nope}",
        "north":{"format":"xml","qos":-1,"max_inflight":0,"drain_rate":0,"max_backlog_mb":0,
                 "series":["a b"],"events":[1],"measurement":"a b","oops":true}})");
    for (const char* what :
         {"password_env: the environment variable 'GRIDLET_TEST_UNSET' is not set", "password_env: a password needs a username",
          "cert_file: cert_file and key_file go together", "tls_min_version: must be \"1.2\" or \"1.3\"",
          "keepalive_s: must be 5..65535", "reconnect_max_ms: must be at least reconnect_min_ms",
          "status_topic: 's/{nope}': unknown placeholder", "north.format: must be json, json_batch or line",
          "north.qos: must be 0..2", "north.max_inflight: must be 1..65535", "north.drain_rate: must be 1..",
          "north.max_backlog_mb: must be 1..", "north.series: 'a b' can never match", "north.events: each entry",
          "north.measurement: must be a non-empty name", "north.oops: unknown key"})
        EXPECT_TRUE(has(p, what)) << what;
}

TEST(MqttSettings, TopicsFitTheFormat) {
    EXPECT_TRUE(has(problems_of(R"({"north":{"format":"json","topic":"g/{device}"}})"),
                    "each series needs its own topic"));
    EXPECT_TRUE(problems_of(R"({"north":{"format":"json","topic":"g/{series}"}})").empty());
    EXPECT_TRUE(has(problems_of(R"({"north":{"format":"line","topic":"g/{device}/{point}"}})"),
                    "need format = \"json\""));
    EXPECT_TRUE(problems_of(R"({"north":{"format":"line"}})").empty());
}

TEST(MqttSettings, SouthCommandsAndFleet) {
    std::vector<std::string> p;
    const Settings s = parse_settings(
        nlohmann::json::parse(R"({"south":{"qos":2},"commands":{"allow":["a/b"]},"fleet":{"topics":["gw/+/#"],"site_level":2}})"),
        p);
    EXPECT_TRUE(p.empty());
    EXPECT_EQ(s.south.qos, 2);
    EXPECT_TRUE(s.commands.enabled);
    EXPECT_EQ(s.commands.topic, "gridlet/{site}/command");
    EXPECT_TRUE(s.fleet.enabled);
    EXPECT_EQ(s.fleet.topics, std::vector<std::string>{"gw/+/#"});
    const auto bad = problems_of(R"({"south":{"x":1},"commands":{"timeout_ms":5},"fleet":{"topics":["a/#/b","c+"],"site_level":0}})");
    for (const char* what : {"south.x: unknown key", "commands.allow: names no point", "commands.timeout_ms: must be 100..",
                             "fleet.topics: each entry must be an MQTT topic filter", "fleet.site_level: must be 1..32"})
        EXPECT_TRUE(has(bad, what)) << what;
}

TEST(MqttSettings, CertificatesMustBePemFiles) {
    EXPECT_TRUE(has(problems_of(R"({"ca_file":"/etc/hostname"})"), "ca_file: '/etc/hostname' holds no PEM block"));
    EXPECT_TRUE(has(problems_of(R"({"ca_file":"/etc"})"), "ca_file: '/etc' is not a readable file"));
    // A client certificate with another key than its own.
    const std::string d = "/tmp/gridlet-mqtt-keys-" + std::to_string(getpid());
    ASSERT_EQ(std::system(("mkdir -p " + d + " && cd " + d +
                           " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout a.key "
                           "-out a.pem -subj /CN=a -days 1 2>/dev/null && openssl genpkey -algorithm EC -pkeyopt "
                           "ec_paramgen_curve:P-256 -out b.key 2>/dev/null")
                              .c_str()),
              0);
    const std::string base = R"({"broker":"mqtts://x:8883","cert_file":")" + d + R"(/a.pem","key_file":")";
    EXPECT_TRUE(problems_of(base + d + R"(/a.key"})").empty());
    EXPECT_TRUE(has(problems_of(base + d + R"(/b.key"})"), "key_file: '" + d + "/b.key' is not the key of '" + d + "/a.pem'"));
    EXPECT_EQ(std::system(("rm -rf " + d).c_str()), 0);
}

TEST(MqttSettings, EventPatternsNameSourceAndType) {
    // An event is "source/type": a pattern without '/' can never match one.
    EXPECT_TRUE(has(problems_of(R"({"north":{"events":["alarm"]}})"), "north.events: 'alarm' can never match"));
    EXPECT_TRUE(problems_of(R"({"north":{"events":["*/alarm","kernel/*","**"]}})").empty());
    // Nothing at all north is refused; events only (series = []) is allowed.
    EXPECT_TRUE(has(problems_of(R"({"north":{"series":[],"events":[]}})"), "nothing would go north"));
    EXPECT_TRUE(problems_of(R"({"north":{"series":[]}})").empty());
    EXPECT_TRUE(problems_of(R"({"north":{"series":[],"events":[],"enabled":false}})").empty());
}

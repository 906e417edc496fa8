// MQTT north against a real Mosquitto broker (started by the test on a free
// loopback port): samples, events and the online/offline status reach a
// subscriber in each payload format; TLS with a client certificate made by
// the test's own CA; a broker refusing the credentials; `gridlet check`
// refusing bad settings with file:line.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <algorithm>
#include <iostream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "integration/process.h"
#include "support/mosquitto_broker.h"
#include "support/mqtt_subscriber.h"
#include "integration/mqtt_site.h"

using namespace gridlet::testing;

namespace {

TEST_F(MqttNorth, PublishesSamplesAsJsonWithRetainedStatusAndEvents) {
    MosquittoBroker broker(dir + "/broker");
    MqttSubscriber sub(broker.port, "gridlet/#", "it-json");
    ASSERT_TRUE(sub.ready());
    const std::string site = write_site(
        dir, north_site(dir, "mqtt-json",
                        "broker = \"mqtt://127.0.0.1:" + std::to_string(broker.port) +
                            "\"\nnorth = { format = \"json\", retain = true, events = [\"north/*\"] }\n"));
    Process gw({gridlet_bin(), "run", site});
    ASSERT_TRUE(sub.wait_until(
        [](const std::vector<MqttMessage>& m) {
            int n = 0;
            for (const MqttMessage& x : m) n += x.topic == "gridlet/mqtt-json/d1/count";
            return n >= 10;
        },
        std::chrono::seconds(20)))
        << gw.err();
    gw.signal(SIGTERM);
    EXPECT_EQ(gw.wait(std::chrono::seconds(20)), 0) << gw.err();
    ASSERT_TRUE(sub.wait_until(
        [](const std::vector<MqttMessage>& m) {
            return !m.empty() && m.back().topic == "gridlet/mqtt-json/status" && m.back().payload == "offline";
        },
        std::chrono::seconds(10)));

    std::vector<double> values;
    int64_t last_ts = 0;
    bool online = false, broker_online_event = false;
    for (const MqttMessage& m : sub.messages()) {
        if (m.topic == "gridlet/mqtt-json/status") online = online || m.payload == "online";
        if (m.topic == "gridlet/mqtt-json/event/north/broker_online") {
            auto e = nlohmann::json::parse(m.payload);
            EXPECT_EQ(e["source"], "north");
            EXPECT_EQ(e["severity"], "info");
            broker_online_event = true;
        }
        if (m.topic != "gridlet/mqtt-json/d1/count") continue;
        auto j = nlohmann::json::parse(m.payload);
        ASSERT_TRUE(j.contains("ts") && j.contains("value") && j.contains("quality") && j.contains("resent")) << m.payload;
        EXPECT_EQ(j["quality"], 192);
        EXPECT_GT(j["ts"].get<int64_t>(), last_ts) << "in order";
        last_ts = j["ts"].get<int64_t>();
        values.push_back(j["value"].get<double>());
    }
    EXPECT_TRUE(online);
    EXPECT_TRUE(broker_online_event) << "the plugin's own events go north when chosen";
    for (size_t i = 1; i < values.size(); ++i) EXPECT_EQ(values[i], values[i - 1] + 1) << "no sample missing";

    // A new subscriber gets the retained last value and the offline status.
    MqttSubscriber late(broker.port, "gridlet/mqtt-json/#", "it-json-late");
    ASSERT_TRUE(late.wait_until(
        [](const std::vector<MqttMessage>& m) {
            bool value = false, offline = false;
            for (const MqttMessage& x : m) {
                value = value || (x.retain && x.topic == "gridlet/mqtt-json/d1/count");
                offline = offline || (x.retain && x.topic == "gridlet/mqtt-json/status" && x.payload == "offline");
            }
            return value && offline;
        },
        std::chrono::seconds(10)));
}

TEST_F(MqttNorth, BatchesAndLineProtocolOverTlsWithAClientCertificate) {
    ASSERT_TRUE(make_test_pki(dir + "/pki")) << "openssl could not make the test certificates";
    MosquittoBroker broker(dir + "/broker", {true, true, dir + "/pki", "", ""});
    MqttSubscriber sub(broker.port, "gw/#", "it-tls");
    ASSERT_TRUE(sub.ready());
    for (const std::string format : {"json_batch", "line"}) {
        SCOPED_TRACE(format);
        fs::remove_all(dir + "/site");
        const std::string site = write_site(
            dir + "/site",
            north_site(dir + "/site", "mqtt-tls",
                       "broker = \"mqtts://127.0.0.1:" + std::to_string(broker.tls_port) + "\"\nca_file = \"" + dir +
                           "/pki/ca.pem\"\ncert_file = \"" + dir + "/pki/client.pem\"\nkey_file = \"" + dir +
                           "/pki/client.key\"\nstatus_topic = \"gw/{site}/status\"\n[plugins.config.north]\nformat = \"" +
                           format + "\"\ntopic = \"gw/{site}/" + format + "/{device}\"\nevents = []\n",
                       50, 3));
        Process gw({gridlet_bin(), "run", site});
        const std::string topic = "gw/mqtt-tls/" + format + "/d2";
        ASSERT_TRUE(sub.wait_until(
            [&](const std::vector<MqttMessage>& m) {
                int n = 0;
                for (const MqttMessage& x : m) n += x.topic == topic;
                return n >= 5;
            },
            std::chrono::seconds(20)))
            << gw.err() << broker.log();
        gw.signal(SIGTERM);
        EXPECT_EQ(gw.wait(std::chrono::seconds(20)), 0) << gw.err();
        for (const MqttMessage& m : sub.messages()) {
            if (m.topic != topic) continue;
            if (format == "json_batch") {
                auto j = nlohmann::json::parse(m.payload);
                EXPECT_EQ(j["device"], "d2");
                ASSERT_FALSE(j["samples"].empty());
                EXPECT_EQ(j["samples"][0]["point"], "count");
                EXPECT_EQ(j["samples"][0]["quality"], 192);
            } else {
                EXPECT_EQ(m.payload.rfind("gridlet,site=mqtt-tls,device=d2,point=count value=", 0), 0u) << m.payload;
                // What the store took before the connection came up goes from
                // the backlog, marked resent.
                EXPECT_TRUE(m.payload.find(",quality=192i ") != std::string::npos ||
                            m.payload.find(",quality=192i,resent=true ") != std::string::npos)
                    << m.payload;
                EXPECT_EQ(m.payload.back(), '\n');
            }
        }
    }

    // Without the client certificate the broker refuses the handshake: said,
    // retried, no crash; gridlet still stops cleanly.
    fs::remove_all(dir + "/site");
    const std::string site = write_site(
        dir + "/site", north_site(dir + "/site", "mqtt-tls", "broker = \"mqtts://127.0.0.1:" +
                                                                 std::to_string(broker.tls_port) + "\"\nca_file = \"" +
                                                                 dir + "/pki/ca.pem\"\nnorth = {}\n"));
    Process gw({gridlet_bin(), "run", site});
    EXPECT_TRUE(gw.wait_for_err("cannot connect to broker 127.0.0.1:" + std::to_string(broker.tls_port),
                                std::chrono::seconds(20)))
        << gw.err();
    gw.signal(SIGTERM);
    EXPECT_EQ(gw.wait(std::chrono::seconds(20)), 0) << gw.err();
}

TEST_F(MqttNorth, ABrokerRefusingTheCredentialsIsSaidAndTheDataWaits) {
    MosquittoBroker broker(dir + "/broker", {false, false, "", "gw", "right"});
    setenv("GRIDLET_TEST_MQTT_PW", "wrong", 1);
    const std::string site = write_site(
        dir, north_site(dir, "mqtt-auth",
                        "broker = \"mqtt://127.0.0.1:" + std::to_string(broker.port) +
                            "\"\nusername = \"gw\"\npassword_env = \"GRIDLET_TEST_MQTT_PW\"\nnorth = {}\n"));
    {
        Process gw({gridlet_bin(), "run", site});
        EXPECT_TRUE(gw.wait_for_err("the broker refused the connection", std::chrono::seconds(20))) << gw.err();
        std::this_thread::sleep_for(std::chrono::seconds(1));
        gw.signal(SIGTERM);
        EXPECT_EQ(gw.wait(std::chrono::seconds(20)), 0) << gw.err();
    }
    // With the right password, what waited goes out first (from the backlog).
    setenv("GRIDLET_TEST_MQTT_PW", "right", 1);
    Process gw({gridlet_bin(), "run", site});
    EXPECT_TRUE(gw.wait_for_err("entries of backlog to send", std::chrono::seconds(20))) << gw.err();
    EXPECT_TRUE(gw.wait_for_err("backlog sent:", std::chrono::seconds(20))) << gw.err();
    gw.signal(SIGTERM);
    EXPECT_EQ(gw.wait(std::chrono::seconds(20)), 0) << gw.err();
}

TEST_F(MqttNorth, CheckRefusesBadSettingsWithFileAndLine) {
    const std::string site = write_site(
        dir, north_site(dir, "mqtt-check",
                        "broker = \"http://x\"\nprotocol = \"4\"\npassword_env = \"GRIDLET_NO_SUCH_VAR\"\n"
                        "ca_file = \"/nonexistent/ca.pem\"\n[plugins.config.north]\nformat = \"json\"\n"
                        "topic = \"a/{device}/#\"\nqos = 3\nseries = [\"bad name\"]\ncolour = 1\n"));
    const Result r = run({gridlet_bin(), "check", site});
    EXPECT_EQ(r.code, 2) << r.out << r.err;
    const std::string all = r.out + r.err;
    for (const char* what : {"broker: 'http://x' must start with mqtt://", "protocol: must be \"5\" or \"3.1.1\"",
                             "GRIDLET_NO_SUCH_VAR' is not set", "ca_file: '/nonexistent/ca.pem' is not a readable file",
                             "north.topic: 'a/{device}/#' holds '+', '#'", "north.qos: must be 0..2",
                             "north.series: 'bad name' can never match", "north.colour: unknown key"})
        EXPECT_NE(all.find(what), std::string::npos) << what << "\n" << all;
    // A key of a nested table is said at its own line, not at [plugins.config].
    std::ifstream in(site);
    std::string line;
    int n = 0, qos_line = 0;
    while (std::getline(in, line) && !qos_line)
        if (++n && line == "qos = 3") qos_line = n;
    ASSERT_GT(qos_line, 0);
    EXPECT_NE(all.find("site.toml:" + std::to_string(qos_line) + ": plugin 'north' ([plugins.config]): north.qos: must be 0..2"),
              std::string::npos)
        << all;
}

}  // namespace

namespace {

TEST_F(MqttNorth, ABacklogOverItsBudgetDropsTheOldestCountedAndAlarmed) {
    const int port = free_port();  // no broker there
    const std::string site =
        write_site(dir, north_site(dir, "mqtt-budget",
                                   "broker = \"mqtt://127.0.0.1:" + std::to_string(port) +
                                       "\"\nreconnect_max_ms = 1000\nnorth = { max_backlog_mb = 1, events = [] }\n",
                                   10, 200));
    Process gw({gridlet_bin(), "run", site});
    EXPECT_TRUE(gw.wait_for_err("north/north: ", std::chrono::seconds(40)) &&
                gw.wait_for_err("over its budget of 1048576 bytes: dropped the oldest", std::chrono::seconds(40)))
        << gw.err();
    // Dropping goes on while the broker stays away: one active alarm (no
    // raise and clear every second), and one log line a minute.
    std::this_thread::sleep_for(std::chrono::seconds(5));
    const Result alarms = run({gridlet_bin(), "alarms", "--status", "all", "--format", "json", "--config", site});
    ASSERT_EQ(alarms.code, 0) << alarms.err;
    int raised = 0;
    for (const auto& a : nlohmann::json::parse(alarms.out))
        if (a.dump().find("north_backlog_dropped") != std::string::npos) {
            ++raised;
            EXPECT_EQ(a["status"].get<std::string>().find("active"), 0u) << a.dump();
        }
    EXPECT_EQ(raised, 1) << alarms.out;
    const std::string log = gw.err();
    size_t lines = 0;
    for (size_t at = log.find("over its budget of"); at != std::string::npos; at = log.find("over its budget of", at + 1)) ++lines;
    EXPECT_EQ(lines, 1u) << log;
    gw.signal(SIGTERM);
    EXPECT_EQ(gw.wait(std::chrono::seconds(20)), 0) << gw.err();
}

}  // namespace

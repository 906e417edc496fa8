// MQTT south against a real Mosquitto: `gridlet sim sensors` publishes a
// building of Building-IoT sensors; a site made from its --print-site
// entries stores them with their site/building/floor/space tags (queryable
// by tag), their online/offline state (silent sensors go offline), and
// refuses bad payloads (malformed JSON, wrong types, values out of range,
// huge payloads, bad timestamps) with counters and the topic in the log.
// The fleet aggregator stores other gateways under their names. Commands
// over MQTT: allowed points are written through their driver and
// every request is answered (MQTT 5 response topic and correlation data).
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <map>
#include <mutex>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include <nlohmann/json.hpp>

#include "integration/mqtt_site.h"
#include "integration/process.h"
#include "support/mosquitto_broker.h"
#include "support/mqtt_subscriber.h"

using namespace gridlet::testing;

namespace {

std::string south_site(const std::string& dir, const std::string& name, int port, const std::string& devices) {
    return "[site]\nname = \"" + name + "\"\n[store]\npath = \"" + dir + "/store\"\n[[plugins]]\nname = \"mqtt\"\nfile = \"" +
           build_dir() + "/plugins/mqtt.so\"\n[plugins.config]\nbroker = \"mqtt://127.0.0.1:" + std::to_string(port) +
           "\"\nprofiles_dir = \"" + source_dir() + "/config/profiles\"\n" + devices;
}

nlohmann::json query(const std::string& site, const std::vector<std::string>& args) {
    std::vector<std::string> argv{gridlet_bin(), "query"};
    argv.insert(argv.end(), args.begin(), args.end());
    for (const char* a : {"--from", "-1h", "--format", "json", "--config"}) argv.push_back(a);
    argv.push_back(site);
    const Result r = run(argv);
    EXPECT_EQ(r.code, 0) << r.err;
    return nlohmann::json::parse(r.out, nullptr, false);
}

TEST_F(MqttNorth, SimulatedSensorsAreStoredTaggedAndGoOfflineWhenSilent) {
    MosquittoBroker broker(dir + "/broker");
    const Result devices = run({gridlet_bin(), "sim", "sensors", "--floors", "2", "--spaces", "5", "--print-site",
                                "--offline-after", "6"});
    ASSERT_EQ(devices.code, 0) << devices.err;
    EXPECT_NE(devices.out.find("profile = \"iot_room_occupancy\""), std::string::npos) << devices.out;
    const std::string site = write_site(dir, south_site(dir, "mqtt-south", broker.port, devices.out));
    const Result check = run({gridlet_bin(), "check", site});
    ASSERT_EQ(check.code, 0) << check.out << check.err;
    Process gw({gridlet_bin(), "run", site});
    ASSERT_TRUE(gw.wait_for_err("connected to broker", std::chrono::seconds(20))) << gw.err();
    // 100 times faster: air quality every 3 s; half of the sensors fall
    // silent after 60 simulated seconds (0.6 s here), and go offline 6 s later.
    const Result sim = run({gridlet_bin(), "sim", "sensors", "--broker", "mqtt://127.0.0.1:" + std::to_string(broker.port),
                            "--floors", "2", "--spaces", "5", "--time-scale", "100", "--silent", "0.5", "--silent-after",
                            "60", "--duration", "12", "--seed", "3"});
    ASSERT_EQ(sim.code, 0) << sim.out << sim.err;
    EXPECT_NE(sim.out.find("published "), std::string::npos) << sim.out;
    std::this_thread::sleep_for(std::chrono::seconds(2));
    gw.signal(SIGTERM);
    ASSERT_EQ(gw.wait(std::chrono::seconds(20)), 0) << gw.err();

    // Tags: the series of floor f2 only, found by tag.
    const Result series = run({gridlet_bin(), "series", "--tags", "floor=f2,space=s03", "--config", site});
    ASSERT_EQ(series.code, 0) << series.err;
    EXPECT_NE(series.out.find("f2-s03-iaq/co2"), std::string::npos) << series.out;
    EXPECT_EQ(series.out.find("f1-"), std::string::npos) << series.out;
    // Values: CO2 of a Well-Being sensor within its range; occupancy states.
    const auto co2 = query(site, {"f1-s03-iaq/co2"});
    ASSERT_EQ(co2.size(), 1u);
    ASSERT_FALSE(co2[0]["points"].empty());
    for (const auto& p : co2[0]["points"]) EXPECT_GE(p["value"].get<double>(), 400);
    EXPECT_EQ(co2[0]["unit"], "ppm");
    const auto occ = query(site, {"f1-s01-desk/occupancy"});
    ASSERT_FALSE(occ[0]["points"].empty());
    const auto link = query(site, {"f1-s01-desk/link_quality"});
    ASSERT_FALSE(link[0]["points"].empty());
    EXPECT_LE(link[0]["points"][0]["value"].get<double>(), 2);
    // States: some sensors went offline (2), the others stayed online (1).
    int online = 0, offline = 0;
    for (const auto& s : query(site, {"f?-s*-*/status"})) {
        const double last = s["points"].back()["value"];
        online += last == 1;
        offline += last == 2;
    }
    EXPECT_GT(online, 0);
    EXPECT_GT(offline, 0) << "silent sensors go offline after offline_after_s";
    EXPECT_NE(gw.err().find("is offline"), std::string::npos) << gw.err();
}

TEST_F(MqttNorth, BadPayloadsAreCountedSaidWithTheirTopicAndNeverStored) {
    MosquittoBroker broker(dir + "/broker");
    const std::string devices =
        "[[devices]]\nname = \"room1\"\nplugin = \"mqtt\"\nprofile = \"iot_well_being\"\ntopic = \"t/room1\"\n"
        "tags = \"site=hq,floor=f1,space=room1\"\n";
    const std::string site = write_site(dir, south_site(dir, "mqtt-bad", broker.port, devices));
    Process gw({gridlet_bin(), "run", site});
    ASSERT_TRUE(gw.wait_for_err("connected to broker", std::chrono::seconds(20))) << gw.err();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    const std::string ts = std::to_string(now);
    for (const std::string& bad :
         {std::string("{not json"), std::string("[1,2]"), "{\"ts\":" + ts + ",\"co2\":\"high\"}",
          "{\"ts\":" + ts + ",\"co2\":-5}", std::string("{\"ts\":\"yesterday\",\"co2\":500}"), std::string("{\"co2\":500}"),
          "{\"ts\":" + ts + ",\"co2\":" + std::string(70'000, '1') + "}"})
        ASSERT_TRUE(mqtt_publish_once(broker.port, "t/room1", bad));
    ASSERT_TRUE(mqtt_publish_once(broker.port, "t/unknown", "{\"co2\":1}"));
    ASSERT_TRUE(mqtt_publish_once(broker.port, "t/room1", "{\"ts\":" + ts + ",\"co2\":612,\"noise\":true}"));
    ASSERT_TRUE(gw.wait_for_err("south: invalid payload on 't/room1'", std::chrono::seconds(10))) << gw.err();
    std::this_thread::sleep_for(std::chrono::seconds(11));  // the counters go out every 10 s
    gw.signal(SIGTERM);
    ASSERT_EQ(gw.wait(std::chrono::seconds(20)), 0) << gw.err();
    const auto co2 = query(site, {"room1/co2"});
    ASSERT_EQ(co2[0]["points"].size(), 1u) << co2.dump();
    EXPECT_EQ(co2[0]["points"][0]["value"], 612);
    EXPECT_EQ(co2[0]["points"][0]["ts_ms"], now);
    const auto noise = query(site, {"room1/noise"});
    EXPECT_TRUE(noise.empty() || noise[0]["points"].empty()) << "a boolean is no noise level: " << noise.dump();
    const auto invalid = query(site, {"mqtt/south/invalid"});
    ASSERT_FALSE(invalid[0]["points"].empty());
    EXPECT_EQ(invalid[0]["points"].back()["value"], 8) << "each bad payload, and the bad point, counted once";
}

}  // namespace

namespace {

// An MQTT 5 requester: publishes a request with a response topic and
// correlation data, and keeps the replies with theirs.
struct V5Requester {
    struct Got {
        std::string topic, payload, correlation;
    };
    mosquitto* m = nullptr;
    std::mutex mu;
    std::vector<Got> got;
    explicit V5Requester(int port) {
        mosquitto_lib_init();
        m = mosquitto_new("it-v5-requester", true, this);
        mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
        mosquitto_message_v5_callback_set(m, [](mosquitto*, void* self, const mosquitto_message* msg,
                                                const mosquitto_property* props) {
            auto* r = static_cast<V5Requester*>(self);
            void* c = nullptr;
            uint16_t n = 0;
            mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &c, &n, false);
            std::lock_guard lock(r->mu);
            r->got.push_back({msg->topic, std::string(static_cast<const char*>(msg->payload), msg->payloadlen),
                              c ? std::string(static_cast<const char*>(c), n) : std::string()});
            std::free(c);
        });
        mosquitto_connect_bind_v5(m, "127.0.0.1", port, 30, nullptr, nullptr);
        mosquitto_loop_start(m);
        mosquitto_subscribe_v5(m, nullptr, "replies/#", 1, 0, nullptr);
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
    ~V5Requester() {
        mosquitto_disconnect(m);
        mosquitto_loop_stop(m, true);
        mosquitto_destroy(m);
    }
    void request(const std::string& topic, const std::string& payload, const std::string& correlation) {
        mosquitto_property* props = nullptr;
        mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, "replies/me");
        mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, correlation.data(),
                                      static_cast<uint16_t>(correlation.size()));
        mosquitto_publish_v5(m, nullptr, topic.c_str(), static_cast<int>(payload.size()), payload.data(), 1, false, props);
        mosquitto_property_free_all(&props);
    }
    bool wait(size_t n) {
        for (int i = 0; i < 500; ++i) {
            {
                std::lock_guard lock(mu);
                if (got.size() >= n) return true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return false;
    }
};

TEST_F(MqttNorth, CommandsOverMqttWriteAllowedPointsAndAnswerEveryRequest) {
    MosquittoBroker broker(dir + "/broker");
    const std::string site = write_site(
        dir, "[site]\nname = \"mqtt-cmd\"\n[store]\npath = \"" + dir + "/store\"\n[[plugins]]\nname = \"hello\"\nfile = \"" +
                 build_dir() + "/plugins/hello.so\"\n[[devices]]\nname = \"d1\"\nplugin = \"hello\"\n[[plugins]]\n"
                 "name = \"mqtt\"\nfile = \"" + build_dir() + "/plugins/mqtt.so\"\n[plugins.config]\nbroker = \"mqtt://127.0.0.1:" +
                 std::to_string(broker.port) + "\"\ncommands = { allow = [\"d1/count\", \"ghost/*\"], timeout_ms = 2000 }\n");
    Process gw({gridlet_bin(), "run", site});
    ASSERT_TRUE(gw.wait_for_err("connected to broker", std::chrono::seconds(20))) << gw.err();
    MqttSubscriber plain(broker.port, "gridlet/mqtt-cmd/command/reply", "it-cmd-replies");
    ASSERT_TRUE(plain.ready());
    V5Requester v5(broker.port);
    const std::string topic = "gridlet/mqtt-cmd/command";
    v5.request(topic, R"({"target":"d1/count","value":1000,"id":"r1"})", "corr-1");
    v5.request(topic, R"({"target":"d1/secret","value":1,"id":2})", "corr-2");
    v5.request(topic, R"({"target":"ghost/x","value":1,"id":"r3"})", "corr-3");
    v5.request(topic, R"({"target":"d1/count"})", "corr-4");
    ASSERT_TRUE(v5.wait(4)) << gw.err();
    // Without a response topic (MQTT 3.1.1): the reply goes to <topic>/reply.
    ASSERT_TRUE(mqtt_publish_once(broker.port, topic, "{not json"));
    ASSERT_TRUE(plain.wait_until([](const std::vector<MqttMessage>& m) { return !m.empty(); }, std::chrono::seconds(10)));
    std::map<std::string, nlohmann::json> by_corr;
    for (const auto& g : v5.got) {
        EXPECT_EQ(g.topic, "replies/me");
        by_corr[g.correlation] = nlohmann::json::parse(g.payload);
    }
    EXPECT_EQ(by_corr["corr-1"]["status"], "ok") << by_corr["corr-1"].dump();
    EXPECT_EQ(by_corr["corr-1"]["id"], "r1");
    EXPECT_EQ(by_corr["corr-2"]["status"], "refused");
    EXPECT_EQ(by_corr["corr-2"]["id"], 2);
    EXPECT_EQ(by_corr["corr-3"]["status"], "not_found");
    EXPECT_EQ(by_corr["corr-4"]["status"], "invalid");
    const auto bad = nlohmann::json::parse(plain.messages().front().payload);
    EXPECT_EQ(bad["status"], "invalid");
    // The write took effect: hello counts on from 1000.
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    gw.signal(SIGTERM);
    ASSERT_EQ(gw.wait(std::chrono::seconds(20)), 0) << gw.err();
    const auto count = query(site, {"d1/count"});
    ASSERT_FALSE(count[0]["points"].empty());
    EXPECT_GE(count[0]["points"].back()["value"].get<double>(), 1000);
}

TEST_F(MqttNorth, CommandsWithoutAnAllowListAreRefusedByCheck) {
    const std::string site = write_site(
        dir, "[site]\nname = \"mqtt-cmd-check\"\n[[plugins]]\nname = \"mqtt\"\nfile = \"" + build_dir() +
                 "/plugins/mqtt.so\"\n[plugins.config]\ncommands = { topic = \"x/#\" }\n");
    const Result r = run({gridlet_bin(), "check", site});
    EXPECT_EQ(r.code, 2);
    // A missing key is said at the table it belongs in (line 7: commands = {...}).
    EXPECT_NE(r.err.find("site.toml:7: plugin 'mqtt' ([plugins.config]): commands.allow: names no point"), std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("commands.topic: 'x/#' holds '+', '#'"), std::string::npos) << r.err;
}

// A sensor behind an offline gateway stays offline while it talks (no
// online/offline flapping at each message), and is online again with its
// gateway.
TEST_F(MqttNorth, ASensorStaysOfflineWithItsGateway) {
    MosquittoBroker broker(dir + "/broker");
    const std::string site = write_site(
        dir, south_site(dir, "mqtt-gw-flap", broker.port,
                        "[[devices]]\nname = \"gw\"\nplugin = \"mqtt\"\ntopic = \"b/gw\"\nprofile = \"iot_gateway\"\n"
                        "offline_after_s = 2\n"
                        "[[devices]]\nname = \"s1\"\nplugin = \"mqtt\"\ntopic = \"b/s1\"\nprofile = \"iot_well_being\"\n"
                        "gateway = \"gw\"\n"));
    Process gw({gridlet_bin(), "run", site});
    ASSERT_TRUE(gw.wait_for_err("connected to broker", std::chrono::seconds(20))) << gw.err();
    const auto now_ms = [] {
        return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch()).count());
    };
    ASSERT_TRUE(mqtt_publish_once(broker.port, "b/gw", R"({"ts":)" + now_ms() + R"(,"sensors":1,"uptime":5})"));
    ASSERT_TRUE(mqtt_publish_once(broker.port, "b/s1", R"({"ts":)" + now_ms() + R"(,"co2":500})"));
    ASSERT_TRUE(gw.wait_for_err("sensor 'gw' is offline", std::chrono::seconds(10))) << gw.err();
    for (int i = 0; i < 4; ++i) {  // s1 talks while its gateway is offline
        ASSERT_TRUE(mqtt_publish_once(broker.port, "b/s1", R"({"ts":)" + now_ms() + R"(,"co2":)" + std::to_string(510 + i) + "}"));
        std::this_thread::sleep_for(std::chrono::milliseconds(400));
    }
    ASSERT_TRUE(mqtt_publish_once(broker.port, "b/gw", R"({"ts":)" + now_ms() + R"(,"sensors":1,"uptime":9})"));
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    gw.signal(SIGTERM);
    ASSERT_EQ(gw.wait(std::chrono::seconds(20)), 0) << gw.err();
    const auto status = query(site, {"s1/status"});
    ASSERT_EQ(status.size(), 1u);
    std::vector<double> seen;
    for (const auto& p : status[0]["points"]) seen.push_back(p["value"].get<double>());
    // unknown, online, offline (with its gateway), online (with its gateway): no flapping between.
    EXPECT_EQ(seen, (std::vector<double>{0, 1, 2, 1})) << status.dump();
    const auto co2 = query(site, {"s1/co2"});
    EXPECT_EQ(co2[0]["points"].size(), 5u) << "what it said while offline is stored";
}

TEST_F(MqttNorth, OverlappingSensorTopicsAreWarnedByCheck) {
    const std::string site = write_site(
        dir, south_site(dir, "mqtt-overlap", 1883,
                        "[[devices]]\nname = \"room1\"\nplugin = \"mqtt\"\ntopic = \"iot/room1/#\"\nprofile = \"iot_well_being\"\n"
                        "[[devices]]\nname = \"co2\"\nplugin = \"mqtt\"\ntopic = \"iot/+/co2\"\nprofile = \"iot_well_being\"\n"
                        "[[devices]]\nname = \"room2\"\nplugin = \"mqtt\"\ntopic = \"iot/room2\"\nprofile = \"iot_well_being\"\n"));
    const Result r = run({gridlet_bin(), "check", site});
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    const std::string all = r.out + r.err;
    EXPECT_NE(all.find("devices 'room1' ('iot/room1/#') and 'co2' ('iot/+/co2') have overlapping topics"), std::string::npos)
        << all;
    EXPECT_EQ(all.find("'room2' ('iot/room2') have overlapping"), std::string::npos) << all;
}

}  // namespace

namespace {

// The fleet: two gateways publish north (one per-device batches, one per
// sample with a counter), an aggregator stores both under their names, and
// sees a gateway go offline through its status topic.
TEST_F(MqttNorth, AnAggregatorStoresEveryGatewayUnderItsName) {
    MosquittoBroker broker(dir + "/broker");
    const std::string broker_url = "broker = \"mqtt://127.0.0.1:" + std::to_string(broker.port) + "\"\n";
    const std::string agg = write_site(
        dir + "/agg", "[site]\nname = \"fleet-master\"\n[store]\npath = \"" + dir + "/agg/store\"\n[[plugins]]\n"
                      "name = \"mqtt\"\nfile = \"" + build_dir() + "/plugins/mqtt.so\"\n[plugins.config]\n" + broker_url +
                      "fleet = { topics = [\"gridlet/#\"] }\n");
    Process master({gridlet_bin(), "run", agg});
    ASSERT_TRUE(master.wait_for_err("connected to broker", std::chrono::seconds(20))) << master.err();
    const std::string a = write_site(dir + "/a", north_site(dir + "/a", "gw-a", broker_url + "north = { events = [] }\n", 100, 2));
    const std::string b = write_site(
        dir + "/b", north_site(dir + "/b", "gw-b", broker_url + "north = { format = \"json\", events = [] }\n", 100, 1));
    Process ga({gridlet_bin(), "run", a});
    Process gb({gridlet_bin(), "run", b});
    std::this_thread::sleep_for(std::chrono::seconds(3));
    ga.signal(SIGTERM);
    EXPECT_EQ(ga.wait(std::chrono::seconds(20)), 0) << ga.err();
    std::this_thread::sleep_for(std::chrono::seconds(1));
    gb.signal(SIGTERM);
    EXPECT_EQ(gb.wait(std::chrono::seconds(20)), 0) << gb.err();
    // A message with a bad sample is refused whole: no series is left behind.
    ASSERT_TRUE(mqtt_publish_once(broker.port, "gridlet/gw-x/dev",
                                  R"({"device":"dev","samples":[{"point":"p1","ts":5,"value":1},)"
                                  R"({"point":"../../x","ts":5,"value":2}]})"));
    // A state series keeps its labels.
    ASSERT_TRUE(mqtt_publish_once(broker.port, "gridlet/gw-y/desk1",
                                  R"({"device":"desk1","samples":[{"point":"status","ts":5,"value":1,"kind":"state",)"
                                  R"("states":"0=unknown,1=online,2=offline"}]})"));
    std::this_thread::sleep_for(std::chrono::seconds(1));
    master.signal(SIGTERM);
    ASSERT_EQ(master.wait(std::chrono::seconds(20)), 0) << master.err();
    EXPECT_NE(master.err().find("fleet: cannot read the message on 'gridlet/gw-x/dev'"), std::string::npos)
        << master.err();
    const Result labels = run({gridlet_bin(), "series", "gw-y/**", "--format", "json", "--config", agg});
    const auto listed = nlohmann::json::parse(labels.out, nullptr, false);
    ASSERT_TRUE(listed.is_array() && listed.size() == 1) << labels.out << labels.err;
    EXPECT_EQ(listed[0]["kind"], "state") << labels.out;
    EXPECT_EQ(listed[0]["states"], nlohmann::json({{"0", "unknown"}, {"1", "online"}, {"2", "offline"}})) << labels.out;
    const Result phantom = run({gridlet_bin(), "series", "gw-x/", "--config", agg});
    EXPECT_EQ(phantom.out.find("gw-x/dev"), std::string::npos) << phantom.out;

    for (const std::string name : {"gw-a/d1/count", "gw-a/d2/count", "gw-b/d1/count"}) {
        const auto got = query(agg, {name});
        ASSERT_EQ(got.size(), 1u) << name;
        EXPECT_GE(got[0]["points"].size(), 10u) << name;
        // The values go on by one: nothing lost between gateway and master.
        const auto& pts = got[0]["points"];
        for (size_t i = 1; i < pts.size(); ++i)
            EXPECT_EQ(pts[i]["value"].get<double>(), pts[i - 1]["value"].get<double>() + 1) << name;
    }
    const Result series = run({gridlet_bin(), "series", "--tags", "gateway=gw-b", "--config", agg});
    EXPECT_NE(series.out.find("gw-b/d1/count"), std::string::npos) << series.out;
    EXPECT_EQ(series.out.find("gw-a/"), std::string::npos) << series.out;
    const auto online = query(agg, {"gw-a/gateway/online"});
    ASSERT_FALSE(online[0]["points"].empty());
    EXPECT_EQ(online[0]["points"].front()["value"], 1);
    EXPECT_EQ(online[0]["points"].back()["value"], 0) << "gw-a stopped: offline";
}

}  // namespace

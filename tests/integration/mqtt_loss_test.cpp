// The loss test of issue 18 (slow: 2.5 minutes), against a real Mosquitto
// with persistence and a persistent subscriber session.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <iostream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "integration/mqtt_site.h"
#include "integration/process.h"
#include "support/mosquitto_broker.h"
#include "support/mqtt_subscriber.h"

using namespace gridlet::testing;

namespace {

// 1,000 samples a second for 2 minutes (10
// devices every 10 ms); the broker is stopped for 60 s and gridlet is killed
// with -9 once while it is away. Every sample the store holds reaches a
// persistent subscriber, in order per series within each lane (live, and
// re-sent from the backlog); duplicates are counted and reported.
TEST_F(MqttNorth, LossTestNothingLostAcrossABrokerOutageAndKill9) {
    MosquittoBroker broker(dir + "/broker");
    auto sub = std::make_unique<MqttSubscriber>(broker.port, "gridlet/mqtt-loss/#", "it-loss", 1);
    ASSERT_TRUE(sub->ready());
    const std::string mqtt = "broker = \"mqtt://127.0.0.1:" + std::to_string(broker.port) +
                             "\"\nreconnect_max_ms = 2000\nnorth = { events = [], qos = 1 }\n";
    const std::string site = write_site(dir, north_site(dir, "mqtt-loss", mqtt, 10, 10));
    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    auto at = [&](int s) { std::this_thread::sleep_until(t0 + std::chrono::seconds(s)); };
    auto gw = std::make_unique<Process>(std::vector<std::string>{gridlet_bin(), "run", site});
    at(20);
    broker.stop();
    at(50);
    gw->signal(SIGKILL);
    gw->wait();
    gw = std::make_unique<Process>(std::vector<std::string>{gridlet_bin(), "run", site});
    at(80);
    broker.start();
    EXPECT_TRUE(gw->wait_for_err("backlog sent:", std::chrono::seconds(40))) << gw->err();
    at(120);
    gw->signal(SIGTERM);
    EXPECT_EQ(gw->wait(std::chrono::seconds(30)), 0) << gw->err();
    // What the store writer took at the very end waits in the feed: a start
    // without the source sends it.
    const std::string drain = write_site(dir, north_site(dir, "mqtt-loss", mqtt, 10, 0));
    {
        Process last({gridlet_bin(), "run", drain});
        std::this_thread::sleep_for(std::chrono::seconds(5));
        last.signal(SIGTERM);
        EXPECT_EQ(last.wait(std::chrono::seconds(30)), 0) << last.err();
    }
    std::this_thread::sleep_for(std::chrono::seconds(2));

    // Received: (series, ts) per lane, in arrival order.
    std::map<std::string, std::vector<int64_t>> live, resent;
    std::map<std::string, std::set<int64_t>> received;
    size_t total = 0;
    for (const MqttMessage& m : sub->messages()) {
        if (m.topic.rfind("gridlet/mqtt-loss/d", 0) != 0) continue;
        auto j = nlohmann::json::parse(m.payload);
        const std::string device = j["device"];
        for (const auto& s : j["samples"]) {
            const std::string series = device + "/" + s["point"].get<std::string>();
            const int64_t ts = s["ts"];
            (j["resent"] == true ? resent : live)[series].push_back(ts);
            received[series].insert(ts);
            ++total;
        }
    }
    sub.reset();
    size_t unique = 0;
    for (const auto& [series, set] : received) unique += set.size();
    // Each lane keeps each series in order. A sample that arrives again
    // (the gateway re-sent it after a disconnect, or the broker re-delivered
    // it to the subscriber after its restart) is a duplicate, not a
    // reordering: only first arrivals are compared.
    size_t out_of_order = 0;
    for (auto* lane : {&live, &resent})
        for (const auto& [series, v] : *lane) {
            std::set<int64_t> seen;
            int64_t last = INT64_MIN;
            for (int64_t ts : v) {
                if (!seen.insert(ts).second) continue;
                if (ts <= last) ++out_of_order;
                last = std::max(last, ts);
            }
        }
    // Stored: every raw sample of the 10 series.
    const Result q = run({gridlet_bin(), "query", "d*/count", "--from", "@0", "--format", "json", "--config", site});
    ASSERT_EQ(q.code, 0) << q.err;
    size_t stored = 0, lost = 0;
    for (const auto& series : nlohmann::json::parse(q.out))
        for (const auto& p : series["points"]) {
            ++stored;
            if (!received[series["series"].get<std::string>()].count(p["ts_ms"].get<int64_t>())) ++lost;
        }
    std::cout << "[ loss ] stored " << stored << ", received " << total << " (" << unique << " distinct, "
              << total - unique << " duplicates), lost " << lost << ", out of order " << out_of_order << "\n";
    EXPECT_GT(stored, 80'000u) << "the source ran about 115 s at 1,000 samples/s";
    EXPECT_EQ(lost, 0u);
    EXPECT_EQ(out_of_order, 0u);
}

}  // namespace

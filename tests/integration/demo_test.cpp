// End to end through the real binary: the demo site (BCPM simulator, Modbus
// driver, console) and `gridlet sim bcpm`.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <sys/socket.h>

#include <cctype>
#include <cstring>
#include <filesystem>
#include <regex>
#include <sstream>

#include "integration/process.h"

using namespace gridlet::testing;

namespace {
// config/demo.toml on another port, site name and store folder, so that
// tests run beside a demo; paths relative to config/ made absolute.
std::string demo_copy(int port, int ev_port, const std::string& store_dir, int building_port = free_port()) {
    std::string text = slurp(source_dir() + "/config/demo.toml");
    text = std::regex_replace(text, std::regex("15020"), std::to_string(port));
    text = std::regex_replace(text, std::regex("15030"), std::to_string(ev_port));
    text = std::regex_replace(text, std::regex("15040"), std::to_string(building_port));
    text = std::regex_replace(text, std::regex("port = 8443"), "port = " + std::to_string(free_port()));
    text = std::regex_replace(text, std::regex("name = \"demo\""), "name = \"demo-it-" + std::to_string(getpid()) + "\"");
    text = std::regex_replace(text, std::regex("path = \"\\.\\./var/demo-store\""), "path = \"" + store_dir + "\"");
    text = std::regex_replace(text, std::regex("\"\\.\\./scripts/"), "\"" + source_dir() + "/scripts/");
    text = std::regex_replace(text, std::regex("dir = \"\\.\\./var/demo-exports\""), "dir = \"" + store_dir + "-exports\"");
    text = std::regex_replace(text, std::regex("dir = \"\\.\\./var/demo-history\""), "dir = \"" + store_dir + "-history\"");
    return temp_file("demo.toml", text);
}
}  // namespace

// The sample output in the README's first section, as patterns: every run
// of digits stands for any number, "..." for anything, a UTC offset may have
// either sign, a rule file's folder may be anywhere, and a live line may go
// on differently after its first " | " (the stations' states vary).
std::vector<std::regex> readme_sample_lines() {
    const std::string readme = slurp(source_dir() + "/README.md");
    const size_t at = readme.find("Three Lua rules run");
    const size_t open = readme.find("\n```\n", at);
    const size_t close = readme.find("\n```\n", open + 5);
    std::vector<std::regex> out;
    if (at == std::string::npos || open == std::string::npos || close == std::string::npos) return out;
    std::istringstream lines(readme.substr(open + 5, close - open - 5));
    for (std::string l; std::getline(lines, l);) {
        if (size_t bar = l.find(" | "); bar != std::string::npos) l = l.substr(0, bar) + "...";
        std::string re;
        for (size_t i = 0; i < l.size();) {
            if (l.compare(i, 3, "...") == 0) {
                re += ".*";
                i += 3;
            } else if (std::isdigit(static_cast<unsigned char>(l[i]))) {
                while (i < l.size() && std::isdigit(static_cast<unsigned char>(l[i]))) ++i;
                re += "[0-9]+";
            } else if (l[i] == '+' && i + 1 < l.size() && std::isdigit(static_cast<unsigned char>(l[i + 1]))) {
                re += "[+-]";
                ++i;
            } else if (l[i] == ' ' && l.find("/scripts/", i) != std::string::npos &&
                       l.find(' ', i + 1) > l.find("/scripts/", i)) {
                re += " \\S*";  // the rule file's folder
                i = l.find("/scripts/", i);
            } else {
                if (std::strchr("\\^$.|?*+()[]{}", l[i])) re += '\\';
                re += l[i++];
            }
        }
        out.emplace_back(re);
    }
    return out;
}

TEST(Demo, PollsBothSimulatedPanelsAndShowsLiveValues) {
    int port = free_port();
    std::string store_dir = "/tmp/gridlet-it-store-" + std::to_string(getpid());
    remove_store(store_dir);
    run({"rm", "-rf", store_dir + "-history", store_dir + "-exports"});
    std::string site = demo_copy(port, free_port(), store_dir);
    ASSERT_EQ(slurp(site).find("../"), std::string::npos) << slurp(site);
    Process p({gridlet_bin(), "run", site});
    ASSERT_TRUE(p.wait_for_err("device 'panel1' is online")) << p.err();
    ASSERT_TRUE(p.wait_for_err("device 'panel2' is online")) << p.err();
    // The console prints mains power of both panels with real numbers.
    std::regex line("panel1/mains/kw=([0-9.]+) panel2/mains/kw=([0-9.]+)");
    std::smatch m;
    bool seen = false;
    for (int i = 0; i < 500 && !seen; ++i) {
        std::string out = p.out();
        seen = std::regex_search(out, m, line);
        if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_TRUE(seen) << p.out() << p.err();
    EXPECT_GT(std::stod(m[1]), 1.0);
    EXPECT_GT(std::stod(m[2]), 1.0);

    Result r = run({gridlet_bin(), "metrics", "--config", site});
    ASSERT_EQ(r.code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_GT(j["plugins"]["modbus"]["samples_out"].get<int>(), 1000);
    EXPECT_GT(j["series"].get<int>(), 1000) << "both panels' points are registered";
    EXPECT_EQ(j["plugins"]["modbus"]["drops_out"], 0);
    EXPECT_GT(j["store"]["samples_written"].get<int>(), 1000) << "the store writer stores what the bus carries";
    EXPECT_NE(p.err().find("3 of 3 rule(s) running"), std::string::npos) << p.err();
    // The Legrand history tree is written at start (this month's; the month
    // before has no data in this new store, so no files).
    const auto monthly = [&] {
        size_t n = 0;
        if (std::filesystem::exists(store_dir + "-history/energy"))
            for (const auto& e : std::filesystem::directory_iterator(store_dir + "-history/energy"))
                n += e.path().filename().string().rfind("devices_", 0) == 0;
        return n;
    };
    for (int i = 0; i < 100 && monthly() < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(monthly(), 1u) << "energy/devices_<month>.csv of this month only";
    EXPECT_TRUE(std::filesystem::exists(store_dir + "-history/settings/EnergySettings.csv")) << p.err();
    // The EV rule's live line: area, installation current, each station.
    EXPECT_TRUE(p.wait_for_err("GREEN ")) << p.err();
    EXPECT_NE(p.err().find("| ev1 "), std::string::npos) << p.err();
    // The README shows these very lines.
    const auto sample = readme_sample_lines();
    ASSERT_EQ(sample.size(), 3u) << "the README's sample output block";
    EXPECT_TRUE(std::regex_search(p.out(), sample[0])) << "README line 1 vs\n" << p.out();
    EXPECT_TRUE(std::regex_search(p.out(), sample[1])) << "README line 2 vs\n" << p.out();
    EXPECT_TRUE(std::regex_search(p.err(), sample[2])) << "README line 3 vs\n" << p.err();

    // The running gridlet's store answers queries (read-only secondary), in
    // CSV that starts with the tidy header.
    Result q = run({gridlet_bin(), "query", "panel1/mains/kw", "--from", "-10m", "--config", site});
    ASSERT_EQ(q.code, 0) << q.err;
    EXPECT_EQ(q.out.rfind("time,series,value,quality\n", 0), 0u) << q.out;
    EXPECT_NE(q.out.find(",panel1/mains/kw,"), std::string::npos) << q.out;
    EXPECT_EQ(q.out.find("panel1/mains/kwh"), std::string::npos) << "a plain name selects that series only";
    p.signal(SIGINT);
    EXPECT_EQ(p.wait(), 0) << p.err();

    // Stopped: the same store opens again and still has the samples.
    Result after = run({gridlet_bin(), "query", "panel2/mains/kw", "--from", "-10m", "--config", site});
    ASSERT_EQ(after.code, 0) << after.err;
    EXPECT_NE(after.out.find(",panel2/mains/kw,"), std::string::npos) << after.out;
    remove_store(store_dir);
    run({"rm", "-rf", store_dir + "-history", store_dir + "-exports"});
}

// The README's alarm walk-through on the demo site: the overloaded branch
// raises its alarm, the panels made silent raise communication_lost, and
// both are acknowledged from the CLI.
TEST(Demo, RaisesTheOverloadAndCommunicationLossAlarmsAndTheCliAcknowledgesThem) {
    const int port = free_port();
    std::string store_dir = "/tmp/gridlet-it-alarm-store-" + std::to_string(getpid());
    remove_store(store_dir);
    run({"rm", "-rf", store_dir + "-history", store_dir + "-exports"});
    std::string site = demo_copy(port, free_port(), store_dir);
    Process p({gridlet_bin(), "run", site});
    ASSERT_TRUE(p.wait_for_err("device 'panel1' is online")) << p.err();
    const auto alarms = [&](const std::string& status) {
        Result r = run({gridlet_bin(), "alarms", "--config", site, "--status", status, "--format", "json"});
        auto j = nlohmann::json::parse(r.out, nullptr, false);
        return j.is_discarded() ? nlohmann::json::array() : j;
    };
    const auto wait_named = [&](const std::string& name, int seconds) {
        for (int i = 0; i < seconds * 4; ++i) {
            for (const auto& a : alarms("active"))
                if (a["name"] == name) return a;
            std::this_thread::sleep_for(std::chrono::milliseconds(250));
        }
        return nlohmann::json();
    };
    nlohmann::json overload = wait_named("branch_overload", 20);
    ASSERT_FALSE(overload.is_null()) << p.err();
    EXPECT_EQ(overload["series"], "panel1/branch07/current");
    Result silent = run({gridlet_bin(), "publish", "bcpm_sim/fault/silent", "1", "--config", site});
    ASSERT_EQ(silent.code, 0) << silent.err;
    nlohmann::json lost = wait_named("communication_lost", 30);
    ASSERT_FALSE(lost.is_null()) << p.err();
    for (const auto* a : {&overload, &lost}) {
        Result ack = run({gridlet_bin(), "alarms", "ack", std::to_string((*a)["id"].get<int>()), "--comment", "seen",
                          "--config", site});
        EXPECT_EQ(ack.code, 0) << ack.err;
    }
    int acknowledged = 0;
    for (const auto& a : alarms("active")) {
        if (a["id"] != overload["id"] && a["id"] != lost["id"]) continue;
        EXPECT_EQ(a["status"], "active_acknowledged") << a;
        ++acknowledged;
    }
    EXPECT_EQ(acknowledged, 2);
    p.signal(SIGINT);
    EXPECT_EQ(p.wait(), 0) << p.err();
    remove_store(store_dir);
    run({"rm", "-rf", store_dir + "-history", store_dir + "-exports"});
}

TEST(Demo, SimCommandServesTheBcpmRegisterMap) {
    int port = free_port();
    Process sim({gridlet_bin(), "sim", "bcpm", "--port", std::to_string(port)});
    for (int i = 0; i < 500 && sim.out().find("Modbus TCP on") == std::string::npos; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_NE(sim.out().find("Modbus TCP on 127.0.0.1:" + std::to_string(port) + ", unit ids 1..2"), std::string::npos)
        << sim.out() << sim.err();
    if (system("command -v mbpoll >/dev/null 2>&1") != 0) GTEST_SKIP() << "mbpoll is not installed (.ci/setup installs it)";
    // Register 4: the point map's firmware/serial block is readable on both units.
    for (int unit : {1, 2}) {
        Result r = run({"mbpoll", "-m", "tcp", "-p", std::to_string(port), "-a", std::to_string(unit), "-r", "1", "-c", "4",
                        "-1", "127.0.0.1"});
        EXPECT_EQ(r.code, 0) << r.out << r.err;
        EXPECT_NE(r.out.find("[4]:"), std::string::npos) << r.out;
    }
    // An unmapped register answers exception 02 (illegal data address).
    Result bad = run({"mbpoll", "-m", "tcp", "-p", std::to_string(port), "-a", "1", "-r", "9000", "-c", "1", "-1", "127.0.0.1"});
    EXPECT_NE((bad.out + bad.err).find("Illegal data address"), std::string::npos) << bad.out << bad.err;
    sim.signal(SIGTERM);
    EXPECT_EQ(sim.wait(), 0);
}

// A backup taken with `gridlet backup` while the demo runs, restored into
// the store folder: `gridlet query` reads the same samples up to the backup
// point as the original store (issue 19).
TEST(Demo, ABackupTakenWhileTheDemoRunsRestoresTheSameData) {
    const std::string dir = "/tmp/gridlet-it-demo-backup-" + std::to_string(getpid());
    run({"rm", "-rf", dir});
    std::filesystem::create_directories(dir);
    const std::string store = dir + "/store", site = dir + "/demo.toml";
    std::ofstream(site) << slurp(demo_copy(free_port(), free_port(), store));
    Process p({gridlet_bin(), "run", site});
    ASSERT_TRUE(p.wait_for_err("device 'panel1' is online")) << p.err();
    std::this_thread::sleep_for(std::chrono::seconds(3));
    const std::string archive = dir + "/demo.tar.gz";
    const Result b = run({gridlet_bin(), "backup", "--config", site, "-o", archive});
    ASSERT_EQ(b.code, 0) << b.err;
    std::this_thread::sleep_for(std::chrono::seconds(2));  // samples after the backup point
    p.signal(SIGINT);
    ASSERT_EQ(p.wait(), 0) << p.err();

    std::filesystem::rename(store, store + ".original");
    std::filesystem::rename(dir + "/http", dir + "/http.original");  // the API's accounts and certificate
    std::filesystem::remove(dir + "/.store.gridlet-store");
    const Result r = run({gridlet_bin(), "restore", archive, "--config", dir + "/restored/demo.toml"});
    ASSERT_EQ(r.code, 0) << r.err << r.out;
    auto points = [&](const std::string& config, const std::string& to) {
        const Result q = run({gridlet_bin(), "query", "panel1/mains/kw", "--from", "-10m", "--to", to, "--format", "json",
                              "--config", config});
        EXPECT_EQ(q.code, 0) << q.err;
        const auto j = nlohmann::json::parse(q.out, nullptr, false);
        return j.is_array() && !j.empty() ? j[0]["points"] : nlohmann::json::array();
    };
    const nlohmann::json restored = points(dir + "/restored/demo.toml", "now");
    ASSERT_GT(restored.size(), 2u);
    const int64_t backup_point = restored.back()["ts_ms"];
    std::filesystem::rename(store, store + ".restored");
    std::filesystem::rename(store + ".original", store);
    const nlohmann::json original = points(site, "@" + std::to_string(backup_point + 1));
    EXPECT_EQ(original, restored);
    EXPECT_GT(points(site, "now").size(), restored.size()) << "the original went on after the backup";
    run({"rm", "-rf", dir});
}

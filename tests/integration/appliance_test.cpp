// The gateway appliance (issue 21): `gridlet status` on a running site,
// `gridlet import` of InfluxDB line protocol and Socomec export files with
// its rejected-line report, and a store on a small tmpfs that reaches its
// disk budget and keeps running, intact.
#include <gtest/gtest.h>

#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <ctime>
#include <regex>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "integration/process.h"

using namespace gridlet::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

// An empty folder of this test process, /tmp/gridlet-<name>-<pid>.
std::string fresh_folder(const std::string& name) {
    const std::string path = "/tmp/gridlet-" + name + "-" + std::to_string(getpid());
    fs::remove_all(path);
    fs::create_directories(path);
    return path;
}

std::string modbus_site(const std::string& name, int port, const std::string& store, const std::string& control,
                        const std::string& store_extra = "") {
    return "[site]\nname = \"" + name + "\"\ntimezone = \"Europe/Paris\"\n"
           "[kernel]\ncontrol = \"ipc://" + control + "\"\n"
           "[store]\npath = \"" + store + "\"\n" + store_extra +
           "[[plugins]]\nname = \"modbus\"\nfile = \"modbus\"\n"
           "[[devices]]\nname = \"panel1\"\nplugin = \"modbus\"\nprofile = \"bcpm\"\naddress = \"127.0.0.1:" +
           std::to_string(port) +
           "\"\nunit_id = 1\npoll_ms = 500\ntimeout_ms = 200\nretries = 0\noffline_after = 2\noffline_poll_ms = 500\n";
}

json status_json(const std::string& site) {
    Result r = run({gridlet_bin(), "status", "--config", site, "--json"});
    auto j = json::parse(r.out, nullptr, false);
    return j.is_discarded() ? json() : j;
}

// Waits until `pred(status)` holds (at most `seconds`).
template <class Pred>
json wait_status(const std::string& site, int seconds, Pred pred) {
    json s;
    for (int i = 0; i < seconds * 5; ++i) {
        s = status_json(site);
        if (s.is_object() && pred(s)) return s;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return s;
}

std::string query_csv(const std::string& db, const std::string& series) {
    Result q = run({gridlet_bin(), "query", "--db", db, series, "--from", "2000-01-01", "--to", "2100-01-01"});
    EXPECT_EQ(q.code, 0) << q.err;
    return q.out;
}

}  // namespace

TEST(Status, OneScreenForAnOperatorFromTheRunningSite) {
    const int port = free_port();
    const std::string base = fresh_folder("status-it");
    Process sim({gridlet_bin(), "sim", "bcpm", "--port", std::to_string(port)});
    ASSERT_TRUE(sim.wait_for_out("Modbus TCP on")) << sim.err();
    const std::string site = base + "/site.toml";
    std::ofstream(site) << modbus_site("status-it", port, base + "/store", base + "/c.sock");
    Process gl({gridlet_bin(), "run", site});
    json s = wait_status(site, 30, [](const json& j) {
        return j.contains("devices") && !j["devices"].empty() && j["devices"][0].value("state", "") == "online";
    });
    ASSERT_TRUE(s.is_object()) << gl.err();
    EXPECT_EQ(s.value("site", ""), "status-it");
    EXPECT_EQ(s.value("time_zone", ""), "Europe/Paris");
    EXPECT_EQ(s["devices"][0].value("name", ""), "panel1");
    EXPECT_EQ(s["devices"][0].value("state", ""), "online") << s.dump(2);
    EXPECT_TRUE(s["devices"][0]["last_poll_ms"].is_number()) << s.dump(2);
    EXPECT_TRUE(s["store"]["size_bytes"].get<uint64_t>() > 0);
    EXPECT_TRUE(s["store"]["disk_free_bytes"].is_number());
    EXPECT_TRUE(s["store"]["budget"].is_null()) << "no budget set";
    EXPECT_EQ(s["alarms"].value("active", -1), 0);
    EXPECT_TRUE(s["problems"].empty()) << s.dump(2);
    bool modbus_running = false;
    for (const auto& p : s["plugins"]) modbus_running |= p.value("name", "") == "modbus" && p.value("state", "") == "running";
    EXPECT_TRUE(modbus_running) << s.dump(2);

    // The screen.
    Result text = run({gridlet_bin(), "status", "--config", site});
    EXPECT_EQ(text.code, 0) << text.err;
    EXPECT_TRUE(contains(text.out, "site 'status-it' (" + site + "), gridlet ")) << text.out;
    EXPECT_TRUE(contains(text.out, "problems: none")) << text.out;
    EXPECT_TRUE(std::regex_search(text.out, std::regex("\n  panel1 +modbus +online +[0-9]{2}:[0-9]{2}:[0-9]{2} \\("))) << text.out;
    EXPECT_TRUE(contains(text.out, "store: " + base + "/store, writing, ")) << text.out;
    EXPECT_TRUE(contains(text.out, "  budget: none")) << text.out;
    EXPECT_TRUE(contains(text.out, "alarms: 0 active")) << text.out;

    // A dry run of an import reads the store while gridlet runs on it.
    const std::string csv = base + "/manual.csv";
    {
        const std::time_t hour_ago = std::time(nullptr) - 3600;
        char when[32];
        std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&hour_ago));
        std::ofstream(csv) << "time,manual/meter/kwh\n" << when << ",12.5\n";
    }
    Result dry = run({gridlet_bin(), "import", "--config", site, "--dry-run", csv});
    EXPECT_EQ(dry.code, 0) << dry.out << dry.err;
    EXPECT_TRUE(contains(dry.out, "1 samples of 1 series")) << dry.out;
    EXPECT_TRUE(contains(dry.out, "--dry-run: nothing written")) << dry.out;

    // The device goes away: offline, with its error, and an alarm.
    sim.signal(SIGTERM);
    sim.wait();
    s = wait_status(site, 30, [](const json& j) {
        return !j["devices"].empty() && j["devices"][0].value("state", "") == "offline" && j["alarms"].value("active", 0) >= 1;
    });
    EXPECT_EQ(s["devices"][0].value("state", ""), "offline") << s.dump(2);
    EXPECT_TRUE(s["devices"][0]["last_error"].is_string()) << s.dump(2);
    EXPECT_GE(s["alarms"]["active_by_criticality"].value("critical", 0), 1) << s.dump(2);
    text = run({gridlet_bin(), "status", "--config", site});
    EXPECT_TRUE(std::regex_search(text.out, std::regex("\n  panel1 +modbus +offline "))) << text.out;
    EXPECT_TRUE(contains(text.out, "alarms: 1 active (1 critical")) << text.out;
    // The line systemd shows (STATUS=) says it too.
    EXPECT_TRUE(contains(text.out, "status: site 'status-it': ")) << text.out;
    EXPECT_TRUE(contains(text.out, ", 1 of 1 device offline, 1 critical alarm active, no problems")) << text.out;
    gl.signal(SIGTERM);
    EXPECT_EQ(gl.wait(std::chrono::seconds(30)), 0) << gl.err();

    // Nothing runs: said, exit 1.
    Result none = run({gridlet_bin(), "status", "--config", site, "--timeout-ms", "500"});
    EXPECT_EQ(none.code, 1);
    EXPECT_FALSE(none.err.empty());
    fs::remove_all(base);
}

TEST(ImportCli, LineProtocolWithRejectedLinesReportedAndImportedTwiceTheSame) {
    const std::string base = fresh_folder("import-lp");
    const std::string db = base + "/db";
    ASSERT_EQ(run({gridlet_bin(), "store", "init", "--db", db}).code, 0);
    // gridlet's own lines (the MQTT plugin's `line` format), Telegraf's, and bad ones.
    const std::string lp = base + "/history.lp";
    std::ofstream(lp) << "# exported\n"
                         "gridlet,site=demo,device=panel1,point=branch07/current,unit=A value=12.5,quality=192i 1764680400000000000\n"
                         "gridlet,site=demo,device=panel1,point=branch07/current,unit=A value=13,quality=0i,resent=true 1764680401000000000\n"
                         "weather,station=roof,city=Paris temp_c=4.5,humidity=81i 1764680400000000000\n"
                         "weather,station=roof,city=Paris temp_c=4.75,ok=true 1764680460000000000\n"
                         "\n"
                         "weather,station=roof temp_c=abc 1764680400000000000\n"   // line 7: not a number
                         "weather,station=roof temp_c=1.5\n"                       // line 8: no timestamp
                         "weather,station=roof note=\"cold\" 1764680400000000000\n"  // line 9: a string
                         "weather,station temp_c=1 1764680400000000000\n"           // line 10: tag without value
                         "gridlet,site=demo,device=panel1,point=branch07/current,unit=kA value=0.1 1764680402000000000\n"  // 11: another unit
                         "weather,station=roof,city=Paris temp_c=5,sky=\"clear\" 1764680520000000000\n";  // 12: a string beside a number
    const std::string rejects = base + "/rejects.csv";
    Result dry = run({gridlet_bin(), "import", "--db", db, "--dry-run", "--rejects", rejects, lp});
    EXPECT_EQ(dry.code, 2) << dry.out << dry.err;
    EXPECT_TRUE(contains(dry.err, "history.lp:7: field 'temp_c': 'abc' is not a number")) << dry.err;
    EXPECT_TRUE(contains(dry.err, "history.lp:8: no timestamp")) << dry.err;
    EXPECT_TRUE(contains(dry.err, "history.lp:9: no number among the fields (string fields are not samples)")) << dry.err;
    EXPECT_TRUE(contains(dry.err, "history.lp:10: tag 'station' has no value")) << dry.err;
    EXPECT_TRUE(contains(dry.err, "history.lp:11: unit 'kA' of panel1/branch07/current differs from 'A', given earlier"))
        << dry.err;
    EXPECT_TRUE(contains(dry.out, "2 string fields left out")) << dry.out;
    EXPECT_TRUE(contains(dry.err, "--keep-going")) << dry.err;
    const std::string report = slurp(rejects);
    EXPECT_TRUE(contains(report, "file,line,reason,text\n")) << report;
    EXPECT_TRUE(contains(report, lp + ",8,no timestamp (an import needs the time of each line),\"weather,station=roof temp_c=1.5\"\n"))
        << report;
    EXPECT_TRUE(contains(report, ",9,no number among the fields (string fields are not samples),\"weather,station=roof note=\"\"cold\"\" 1764680400000000000\"\n"))
        << report;
    EXPECT_TRUE(contains(report, ",7,field 'temp_c': 'abc' is not a number (column 29),")) << report;
    EXPECT_TRUE(query_csv(db, "panel1/branch07/current").find("12.5") == std::string::npos) << "nothing written";

    // --keep-going: the good lines, twice: the same store.
    for (int pass = 0; pass < 2; ++pass) {
        Result imp = run({gridlet_bin(), "import", "--db", db, "--keep-going", lp});
        ASSERT_EQ(imp.code, 0) << imp.out << imp.err;
        EXPECT_TRUE(contains(imp.err, "5 lines rejected; --keep-going: the others are imported")) << imp.err;
        EXPECT_TRUE(contains(imp.out, "imported 7 rows into 4 series (" + std::string(pass == 0 ? "4" : "0") + " new"))
            << imp.out;
    }
    const std::string cur = query_csv(db, "panel1/branch07/current");
    EXPECT_TRUE(contains(cur, "2025-12-02T13:00:00.000Z,panel1/branch07/current,12.5,192\n")) << cur;
    EXPECT_TRUE(contains(cur, "2025-12-02T13:00:01.000Z,panel1/branch07/current,13,0\n")) << cur;
    const std::string temp = query_csv(db, "weather/Paris/roof/temp_c");
    EXPECT_TRUE(contains(temp, "2025-12-02T13:00:00.000Z,weather/Paris/roof/temp_c,4.5,192\n")) << temp;
    EXPECT_TRUE(contains(temp, "2025-12-02T13:01:00.000Z,weather/Paris/roof/temp_c,4.75,192\n")) << temp;
    EXPECT_TRUE(contains(temp, "2025-12-02T13:02:00.000Z,weather/Paris/roof/temp_c,5,192\n")) << temp;
    EXPECT_TRUE(contains(query_csv(db, "weather/Paris/roof/ok"), ",1,192\n"));
    Result series = run({gridlet_bin(), "series", "--db", db, "panel1/"});
    EXPECT_TRUE(std::regex_search(series.out, std::regex("panel1/branch07/current +gauge +A "))) << "the unit tag: " << series.out;

    // --precision s.
    const std::string sec = base + "/sec.lp";
    std::ofstream(sec) << "meter,id=m1 kwh=100.5 1764680400\n";
    Result imp = run({gridlet_bin(), "import", "--db", db, "--precision", "s", sec});
    ASSERT_EQ(imp.code, 0) << imp.err;
    EXPECT_TRUE(contains(query_csv(db, "meter/m1/kwh"), "2025-12-02T13:00:00.000Z,meter/m1/kwh,100.5,192\n"));
    fs::remove_all(base);
}

TEST(ImportCli, SocomecEmsAndCsvExportsGoBackIntoTheStore) {
    const std::string base = fresh_folder("import-socomec");
    const std::string db = base + "/db";
    ASSERT_EQ(run({gridlet_bin(), "store", "init", "--db", db}).code, 0);
    // The manual's Annex II (EMS) and Annex I (CSV), as our exporter writes them.
    const std::string ems = source_dir() + "/tests/unit/export/golden/annex2_ems.default.csv";
    const std::string csv = source_dir() + "/tests/unit/export/golden/annex1_csv.default.csv";
    Result dry = run({gridlet_bin(), "import", "--db", db, "--dry-run", ems, csv});
    ASSERT_EQ(dry.code, 0) << dry.out << dry.err;
    Result imp = run({gridlet_bin(), "import", "--db", db, "--tz", "UTC", ems, csv});
    ASSERT_EQ(imp.code, 0) << imp.out << imp.err;
    // EMS: Value / Coef, in the file's TimeZone (UTC), named <device>/<circuit>/<quantity>.
    const std::string thd = query_csv(db, "I-35_4/PC_1-2-3/THD_I1");
    EXPECT_TRUE(contains(thd, "2019-01-18T15:14:00.000Z,I-35_4/PC_1-2-3/THD_I1,2.34,192\n")) << thd;
    const std::string thd2 = query_csv(db, "I-35_4/PC_1-2-3/THD_I2");
    EXPECT_TRUE(contains(thd2, "2019-01-18T15:13:00.000Z,I-35_4/PC_1-2-3/THD_I2,216.05,192\n")) << thd2;
    EXPECT_EQ(std::count(thd2.begin(), thd2.end(), '\n'), 5) << "4 rows and the header: " << thd2;
    // CSV: cell x Scale, <device>/<load>/<measured value>.
    const std::string ea = query_csv(db, "I35_102/Security_lighting_Circulation/EA_plus");
    EXPECT_TRUE(contains(ea, "2018-09-26T09:50:00.000Z,I35_102/Security_lighting_Circulation/EA_plus,0,192\n")) << ea;
    Result series = run({gridlet_bin(), "series", "--db", db});
    EXPECT_TRUE(contains(series.out, "I35_102/Security_lighting_Circulation/EA-")) << series.out;

    // The hour repeated when clocks go back (Europe/Paris, 2026-10-25): rows
    // go newest first, so the first 02:50 is the later instant (CET).
    const std::string dst = base + "/dst_ems.csv";
    std::ofstream(dst) << "Data Type;TimeZone;Datation;Transfer Cycle (sec);Pooling Time;Version;Site name;Server name\n"
                          "Avg;Europe/Paris;Local;86400;N/A;1;site;gw\n\n"
                          "Index Key;Key;Type;Name;Fluid;Use;Coef;Unit;Path;Device Id;Index Data Id;Index;Data Id\n"
                          "0;site gw 1 1 ANA 1;ANA;P of L1 of M1;ELEC;Use1;1;kW;/;1;1;1;1\n\n"
                          "Index Key;Date;Value;Quality\n"
                          "0;2026-10-25T03:00:00;300;192\n0;2026-10-25T02:50:00;250;192\n0;2026-10-25T02:50:00;150;192\n";
    Result dst_imp = run({gridlet_bin(), "import", "--db", db, dst});
    ASSERT_EQ(dst_imp.code, 0) << dst_imp.out << dst_imp.err;
    const std::string p = query_csv(db, "M1/L1/P");
    EXPECT_TRUE(contains(p, "2026-10-25T00:50:00.000Z,M1/L1/P,150,192\n2026-10-25T01:50:00.000Z,M1/L1/P,250,192\n"
                            "2026-10-25T02:00:00.000Z,M1/L1/P,300,192\n"))
        << p;

    // A damaged EMS data row is reported with its line.
    std::string text = slurp(ems);
    const size_t at = text.find("0;2019-01-18T15:13:00;237;192");
    ASSERT_NE(at, std::string::npos);
    text.replace(at, 29, "0;2019-01-18T15:13:00;2x7;192");
    const std::string bad = base + "/bad_ems.csv";
    std::ofstream(bad) << text;
    Result refused = run({gridlet_bin(), "import", "--db", db, bad});
    EXPECT_EQ(refused.code, 2);
    EXPECT_TRUE(contains(refused.err, "bad_ems.csv:14: Value '2x7' is not a number")) << refused.err;
    fs::remove_all(base);
}

// A store on a 160 MB tmpfs with nine days of history, a free-space floor
// the disk crosses while gridlet runs: the oldest raw samples are shed, an
// alarm says so, polling goes on, and the store verifies intact.
TEST(DiskBudget, AStoreOnASmallTmpfsShedsItsOldestDataAndKeepsRunning) {
    const std::string base = "/tmp/gridlet-budget-it-" + std::to_string(getpid());
    fs::remove_all(base);
    fs::create_directories(base + "/disk");
    if (mount("tmpfs", (base + "/disk").c_str(), "tmpfs", 0, "size=160m") != 0) {
        const std::string why = std::strerror(errno);
        fs::remove_all(base);
        GTEST_SKIP() << "this machine does not let the test mount a tmpfs (" << why
                     << "); the budget's order of shedding is tested on a folder by store_test DiskBudget.*";
    }
    struct Unmount {
        std::string dir;
        ~Unmount() {
            umount2(dir.c_str(), MNT_DETACH);
            fs::remove_all(fs::path(dir).parent_path());
        }
    } unmount{base + "/disk"};
    const int port = free_port();
    const std::string store = base + "/disk/store";
    const std::string site = base + "/site.toml";
    std::ofstream(site) << modbus_site("budget-it", port, store, base + "/c.sock",
                                       "min_free_mb = 24\nbudget_check_s = 1\nretention_raw_days = 30\n");
    ASSERT_EQ(run({gridlet_bin(), "store", "init", "--config", site}).code, 0);
    // Nine days of history, ending two days ago: 48 series every 10 s.
    const std::string lp = base + "/history.lp";
    {
        std::ofstream out(lp);
        const int64_t end_ns = (std::chrono::duration_cast<std::chrono::seconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count() -
                                2 * 86400) *
                               1'000'000'000LL;
        uint64_t x = 88172645463325252ull;
        for (int s = 0; s < 48; ++s)
            for (int64_t t = end_ns - 9 * 86400LL * 1'000'000'000LL; t < end_ns; t += 10'000'000'000LL) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                out << "history,meter=m" << s << " kw=" << (x % 1000000) / 1000.0 << ' ' << t << '\n';
            }
    }
    Result imp = run({gridlet_bin(), "import", "--config", site, lp}, std::chrono::seconds(240));
    ASSERT_EQ(imp.code, 0) << imp.out << imp.err;
    ASSERT_GT(fs::space(base + "/disk").available, 30'000'000u) << "the history must leave room above the floor";
    const std::string before = query_csv(store, "history/m0/kw").substr(0, 200);

    Process sim({gridlet_bin(), "sim", "bcpm", "--port", std::to_string(port)});
    ASSERT_TRUE(sim.wait_for_out("Modbus TCP on")) << sim.err();
    Process gl({gridlet_bin(), "run", site});
    // Within its budget at first.
    json s = wait_status(site, 60, [](const json& j) {
        return j["store"].is_object() && j["store"]["budget"].is_object() &&
               j["store"]["budget"]["checked_ms"].is_number() && !j["store"]["budget"].value("over", true);
    });
    ASSERT_TRUE(s.is_object()) << gl.err();
    EXPECT_EQ(s["store"]["budget"].value("raw_steps", -1), 0) << s.dump(2);
    // Then the disk fills (another program's file): 3 MB below the floor.
    const auto space = fs::space(base + "/disk");
    ASSERT_GT(space.available, 21'000'000u);
    {
        std::ofstream ballast(base + "/disk/ballast", std::ios::binary);
        std::string mb(1'000'000, 'b');
        for (uint64_t n = 0; n + mb.size() <= space.available - 21'000'000; n += mb.size()) ballast << mb;
    }
    const int64_t filled_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
    s = wait_status(site, 90, [filled_ms](const json& j) {
        const json& b = j["store"]["budget"];
        return b.is_object() && b["checked_ms"].is_number() && b["checked_ms"].get<int64_t>() > filled_ms + 1000 &&
               b.value("raw_steps", 0) >= 1 && !b.value("over", true);
    });
    ASSERT_TRUE(s.is_object()) << gl.err();
    const json b = s["store"]["budget"];
    EXPECT_GE(b.value("raw_steps", 0), 1) << s.dump(2) << gl.err();
    EXPECT_FALSE(b.value("exhausted", true)) << s.dump(2);
    // At its last check: above the floor. (A shedding step goes 5 % inside
    // it; the free space then moves by a few MB between checks, as RocksDB
    // preallocates its log files.)
    EXPECT_TRUE(b["free_bytes"].is_number() && b["free_bytes"].get<uint64_t>() >= 24'000'000u) << s.dump(2) << gl.err();
    EXPECT_FALSE(b.value("last_action", std::string()).empty()) << b.dump();
    // Told: the alarm, in the alarm list.
    Result alarms = run({gridlet_bin(), "alarms", "--config", site, "--status", "all", "--format", "json"});
    EXPECT_TRUE(contains(alarms.out, "store_over_budget")) << alarms.out;
    // Polling goes on, written to the store.
    Result recent = run({gridlet_bin(), "query", "--config", site, "panel1/mains/kw", "--from", "-5s"});
    EXPECT_GE(std::count(recent.out.begin(), recent.out.end(), '\n'), 3) << recent.out << recent.err;
    gl.signal(SIGTERM);
    EXPECT_EQ(gl.wait(std::chrono::seconds(30)), 0) << gl.err();
    // The oldest history is gone from the raw samples, the rollups still answer it.
    const std::string after = query_csv(store, "history/m0/kw").substr(0, 200);
    EXPECT_NE(before, after);
    Result verify = run({gridlet_bin(), "store", "verify", "--config", site});
    EXPECT_EQ(verify.code, 0) << verify.out << verify.err;
}

// The service's store (0750, user gridlet) read by another user: a clear
// refusal that says why, never an abort.
TEST(StoreAccess, AnotherUsersStoreIsRefusedWithTheReasonNotACrash) {
    if (::geteuid() != 0 || run({"sh", "-c", "command -v runuser && id nobody"}).code != 0)
        GTEST_SKIP() << "needs root, runuser and the user nobody";
    const std::string base = fresh_folder("access-it");
    ASSERT_EQ(run({gridlet_bin(), "store", "init", "--db", base + "/store"}).code, 0);
    fs::permissions(base + "/store", fs::perms::owner_all);
    // A copy of the binary that nobody may run (the build folder may sit in
    // a folder only root enters).
    fs::permissions(base, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
    const std::string bin = base + "/gridlet";
    fs::copy_file(gridlet_bin(), bin);
    fs::permissions(bin, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                             fs::perms::others_read | fs::perms::others_exec);
    for (std::vector<std::string> args : {std::vector<std::string>{"query", "x"}, {"series"}, {"events"}, {"store", "verify"}}) {
        std::vector<std::string> argv = {"runuser", "-u", "nobody", "--", bin};
        argv.insert(argv.end(), args.begin(), args.end());
        argv.insert(argv.end(), {"--db", base + "/store"});
        Result r = run(argv);
        EXPECT_TRUE(r.code == 1 || r.code == 2) << args[0] << ": " << r.code << " " << r.err;
        EXPECT_TRUE(contains(r.err, "Permission denied")) << args[0] << ": " << r.err;
        EXPECT_TRUE(contains(r.err, "belongs to another user")) << args[0] << ": " << r.err;
    }
    fs::remove_all(base);
}

namespace {

// The times (UTC ms) of `series` in the running site's store.
std::vector<int64_t> sample_times(const std::string& site, const std::string& series, int64_t from_ms) {
    Result q = run({gridlet_bin(), "query", "--config", site, series, "--from", "@" + std::to_string(from_ms), "--to",
                    "now", "--format", "json"});
    EXPECT_EQ(q.code, 0) << q.err;
    std::vector<int64_t> out;
    auto j = json::parse(q.out, nullptr, false);
    if (j.is_array() && !j.empty())
        for (const auto& p : j[0]["points"]) out.push_back(p["ts_ms"].get<int64_t>());
    return out;
}

std::string device_state(const json& status, const std::string& name) {
    for (const auto& d : status.value("devices", json::array()))
        if (d.value("name", "") == name) return d.value("state", "");
    return "";
}

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

// Issue 21 item 3: a SIGHUP applies added, changed and removed devices and
// plugins, and [[alarms]], while a device of a plugin that did not change
// keeps polling without a gap; a broken file is refused and the running
// configuration kept.
TEST(LiveReconfiguration, DevicesAddedChangedAndRemovedWhileAnotherKeepsPolling) {
    const int port_a = free_port();
    Process sim_a({gridlet_bin(), "sim", "bcpm", "--port", std::to_string(port_a)});
    ASSERT_TRUE(sim_a.wait_for_out("Modbus TCP on")) << sim_a.err();
    const int port_b = free_port();
    Process sim_b({gridlet_bin(), "sim", "bcpm", "--port", std::to_string(port_b)});
    ASSERT_TRUE(sim_b.wait_for_out("Modbus TCP on")) << sim_b.err();
    const std::string base = fresh_folder("live-it");
    const std::string site = base + "/site.toml";
    const std::string log = base + "/gridlet.log";
    // A device's own profile (a copy of the shipped one), to edit later.
    const std::string profile = base + "/my_bcpm.toml";
    fs::copy_file(gridlet::testing::source_dir() + "/config/profiles/bcpm.toml", profile);
    const auto device = [](const std::string& name, const std::string& plugin, int port, int unit, int poll_ms,
                           const std::string& prof = "bcpm") {
        return "[[devices]]\nname = \"" + name + "\"\nplugin = \"" + plugin + "\"\nprofile = \"" + prof +
               "\"\naddress = \"127.0.0.1:" + std::to_string(port) + "\"\nunit_id = " + std::to_string(unit) +
               "\npoll_ms = " + std::to_string(poll_ms) + "\ntimeout_ms = 300\n";
    };
    const std::string head = "[site]\nname = \"live-it\"\n[kernel]\ncontrol = \"ipc://" + base + "/c.sock\"\n"
                             "[logging]\nfile = \"" + log + "\"\n[store]\npath = \"" + base + "/store\"\n"
                             "[[plugins]]\nname = \"field_a\"\nfile = \"modbus\"\n"
                             "[[plugins]]\nname = \"field_b\"\nfile = \"modbus\"\n";
    // One alarm per device polled: d2's must end when d2 goes.
    const std::string polled = "[[alarms]]\nname = \"polled\"\nseries = \"d?/comm/requests\"\ncondition = \"high\"\n"
                               "threshold = 0\ncriticality = \"information\"\n";
    const std::string d3 = device("d3", "field_b", port_b, 1, 1000);
    std::ofstream(site) << head << device("d1", "field_a", port_a, 1, 1000) << device("d2", "field_a", port_a, 2, 1000) << d3
                        << polled;
    Process gl({gridlet_bin(), "run", site});
    json s = wait_status(site, 30, [](const json& j) {
        return device_state(j, "d1") == "online" && device_state(j, "d2") == "online" && device_state(j, "d3") == "online" &&
               j["alarms"].value("active", 0) == 3;
    });
    ASSERT_EQ(device_state(s, "d3"), "online") << s.dump(2) << slurp(log);
    ASSERT_EQ(s["alarms"].value("active", 0), 3) << s.dump(2);
    std::this_thread::sleep_for(std::chrono::seconds(3));  // d3 polls a few times before the reload

    // d1 changed (its period), d2 removed, d4 added on a new plugin field_c,
    // d5 (nobody answers) added there too; d3 and field_b as they were.
    const std::string plugin_c = "[[plugins]]\nname = \"field_c\"\nfile = \"modbus\"\n";
    const int dead_port = free_port();
    const std::string d5 = "[[devices]]\nname = \"d5\"\nplugin = \"field_c\"\nprofile = \"bcpm\"\naddress = \"127.0.0.1:" +
                           std::to_string(dead_port) + "\"\nunit_id = 1\npoll_ms = 500\ntimeout_ms = 200\noffline_after = 1\n";
    const int64_t reload_ms = now_ms();
    std::ofstream(site) << head << plugin_c << device("d1", "field_a", port_a, 1, 500) << device("d4", "field_c", port_a, 2, 1000)
                        << d3 << d5 << polled;
    gl.signal(SIGHUP);
    ASSERT_TRUE(wait_in(log, "reloaded " + site)) << slurp(log);
    std::string text = slurp(log);
    EXPECT_TRUE(contains(text, "reload: plugin 'field_c' added")) << text;
    EXPECT_TRUE(contains(text, "reload: device 'd1' (" + site + ":18): poll_ms: 1000 -> 500")) << text;
    EXPECT_TRUE(contains(text, "reload: device 'd2' (" + site + ":23) removed")) << text;
    EXPECT_TRUE(contains(text, "reload: device 'd4' (" + site + ":26) added")) << text;
    EXPECT_TRUE(contains(text, "reload: plugin 'field_a' restarted with its new configuration (1 device)")) << text;
    EXPECT_TRUE(contains(text, "plugin 'field_c' started (modbus ")) << text;
    EXPECT_FALSE(contains(text, "plugin 'field_b' restarted")) << text;
    EXPECT_FALSE(contains(text, "not applied until gridlet restarts")) << text;
    s = wait_status(site, 30, [](const json& j) {
        return device_state(j, "d4") == "online" && device_state(j, "d1") == "online" &&
               device_state(j, "d5") == "offline" && j["alarms"]["active_by_criticality"].value("critical", 0) == 1;
    });
    EXPECT_EQ(device_state(s, "d4"), "online") << s.dump(2);
    EXPECT_EQ(device_state(s, "d2"), "") << "removed: " << s.dump(2);
    EXPECT_EQ(device_state(s, "d5"), "offline") << s.dump(2);
    EXPECT_EQ(s["alarms"]["active_by_criticality"].value("critical", 0), 1)
        << "d5's communication alarm, raised while the site was reloading: " << s.dump(2);
    EXPECT_TRUE(s["problems"].empty()) << s.dump(2);
    // d2's alarm ended with d2 (its series stays in the store); d1's, d3's and d4's are active.
    Result al = run({gridlet_bin(), "alarms", "--config", site, "--status", "all", "--format", "json"});
    auto alarms = json::parse(al.out, nullptr, false);
    ASSERT_TRUE(alarms.is_array()) << al.out << al.err;
    std::map<std::string, std::string> alarm_status;
    for (const auto& a : alarms)
        if (a.value("key", "").rfind("site/polled|", 0) == 0) alarm_status[a.value("key", "")] = a.value("status", "");
    EXPECT_EQ(alarm_status["site/polled|d2/comm/requests"].rfind("finished", 0), 0u) << al.out;
    for (const char* d : {"d1", "d3", "d4"})
        EXPECT_EQ(alarm_status["site/polled|" + std::string(d) + "/comm/requests"].rfind("active", 0), 0u) << d << al.out;

    // d3 kept its period through the reload: no poll missed (the grid is
    // 1000 ms; a missed one would leave 2000 ms between two samples).
    std::vector<int64_t> t3;
    for (int i = 0; i < 100; ++i) {
        t3 = sample_times(site, "d3/comm/requests", reload_ms - 3000);
        if (!t3.empty() && t3.back() >= reload_ms + 4000) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    ASSERT_GE(t3.size(), 6u);
    EXPECT_LE(t3.front(), reload_ms - 1000);
    EXPECT_GE(t3.back(), reload_ms + 4000);
    for (size_t i = 1; i < t3.size(); ++i)
        EXPECT_LT(t3[i] - t3[i - 1], 1900) << "d3 missed a poll between " << t3[i - 1] << " and " << t3[i];
    // d1 polls at its new period.
    const std::vector<int64_t> t1 = sample_times(site, "d1/comm/requests", now_ms() - 2500);
    ASSERT_GE(t1.size(), 3u);
    EXPECT_LT(t1.back() - t1[t1.size() - 2], 900) << "d1's new period of 500 ms";
    // What the new plugin sent first (d4's "online" event, at its first
    // poll) reached the store: the store writer was connected before it ran.
    Result ev = run({gridlet_bin(), "events", "--config", site, "--from", "@" + std::to_string(reload_ms)});
    EXPECT_TRUE(std::regex_search(ev.out, std::regex("\n[^\n]*,d4,online,info,"))) << ev.out << ev.err;
    // d2's series stays in the store (its history), with no new sample.
    const std::vector<int64_t> t2 = sample_times(site, "d2/comm/requests", reload_ms + 2000);
    EXPECT_TRUE(t2.empty()) << t2.size() << " samples of a removed device";

    // [[rules]], [[exports]] and an alarm rule on a site that had no rule
    // and no export, by `gridlet reload`: the rule engine and the exporter
    // start, the devices go on.
    const std::string rule = base + "/count.lua";
    std::ofstream(rule) << "gridlet.every(1000, function() end)\n";
    const std::string more = polled +
                             "[[alarms]]\nname = \"d3_polled\"\nseries = \"d3/comm/requests\"\ncondition = \"high\"\n"
                             "threshold = 0\ncriticality = \"information\"\n"
                             "[[rules]]\nname = \"count\"\nfile = \"" + rule + "\"\n" +
                             "[[exports]]\nname = \"d3_avg\"\nformat = \"socomec_csv\"\nevery = \"10m\"\ndir = \"" + base +
                             "/exports\"\n[[exports.variables]]\nseries = \"d3/comm/requests\"\n";
    const std::string devices_now = device("d1", "field_a", port_a, 1, 500) + device("d4", "field_c", port_a, 2, 1000) + d3 + d5;
    std::ofstream(site) << head << plugin_c << devices_now << more;
    Result rl = run({gridlet_bin(), "reload", "--config", site});
    EXPECT_EQ(rl.code, 0) << rl.out << rl.err;
    EXPECT_TRUE(contains(rl.out, "applied: alarms, exports, rules\n")) << rl.out;
    EXPECT_TRUE(contains(rl.out, "  [[alarms]] 'd3_polled' added\n")) << rl.out;
    EXPECT_TRUE(contains(rl.out, "  [[exports]] 'd3_avg' added\n")) << rl.out;
    EXPECT_TRUE(contains(rl.out, "  [[rules]] 'count' added\n")) << rl.out;
    EXPECT_FALSE(contains(rl.out, "plugins restarted")) << rl.out;
    ASSERT_TRUE(wait_in(log, "reload: [[exports]] applied: 1 scheduled")) << slurp(log);
    EXPECT_TRUE(wait_in(log, "reload: [[alarms]] applied: 2 rules")) << slurp(log);
    s = wait_status(site, 20, [](const json& j) { return !j["rules"].empty() && j["rules"][0].value("status", "") == "running"; });
    ASSERT_FALSE(s["rules"].empty()) << s.dump(2);
    EXPECT_EQ(s["rules"][0].value("name", ""), "count") << s.dump(2);
    Result m = run({gridlet_bin(), "metrics", "--config", site});
    auto metrics = json::parse(m.out, nullptr, false);
    ASSERT_TRUE(metrics.is_object()) << m.out << m.err;
    EXPECT_EQ(metrics["exports"].value("scheduled", 0), 1) << m.out;
    EXPECT_EQ(metrics["plugins"]["exporter"].value("state", ""), "running") << m.out;
    EXPECT_EQ(metrics["alarms"].value("rules", 0), 2) << m.out;

    // A broken rule is refused as `gridlet check` refuses it, the running
    // configuration kept.
    std::ofstream(rule) << "local a =\n";
    rl = run({gridlet_bin(), "reload", "--config", site});
    EXPECT_EQ(rl.code, 2) << rl.out << rl.err;
    EXPECT_TRUE(contains(rl.err, "count.lua")) << rl.err;
    std::ofstream(rule) << "gridlet.every(1000, function() end)\n";

    // d4 moves from field_c to field_a, which comes first in the file: both
    // restart, and field_a takes d4's commands (field_c let go of them
    // first). d1's own profile file is edited: its plugin restarts too.
    std::ofstream(site) << head << plugin_c << device("d1", "field_a", port_a, 1, 500, profile)
                        << device("d4", "field_a", port_a, 2, 1000) << d3 << d5 << more;
    rl = run({gridlet_bin(), "reload", "--config", site});
    EXPECT_EQ(rl.code, 0) << rl.out << rl.err;
    EXPECT_TRUE(contains(rl.out, "  device 'd4' (" + site + ":26): plugin: \"field_c\" -> \"field_a\"\n")) << rl.out;
    EXPECT_TRUE(contains(rl.out, "plugins restarted: field_a, field_c\n")) << rl.out;
    s = wait_status(site, 20, [](const json& j) { return device_state(j, "d4") == "online" && device_state(j, "d1") == "online"; });
    EXPECT_EQ(device_state(s, "d4"), "online") << s.dump(2);
    EXPECT_TRUE(s["problems"].empty()) << s.dump(2);
    for (const auto& p : s["plugins"]) EXPECT_EQ(p.value("state", ""), "running") << s.dump(2);
    std::ofstream(profile, std::ios::app) << "\n# edited\n";
    rl = run({gridlet_bin(), "reload", "--config", site});
    EXPECT_EQ(rl.code, 0) << rl.out << rl.err;
    EXPECT_TRUE(contains(rl.out, "  plugin 'field_a': file '" + profile + "' edited\n")) << rl.out;
    EXPECT_TRUE(contains(rl.out, "plugins restarted: field_a\n")) << rl.out;

    // An edited rule file is named.
    std::ofstream(rule, std::ios::app) << "-- edited\n";
    rl = run({gridlet_bin(), "reload", "--config", site});
    EXPECT_EQ(rl.code, 0) << rl.out << rl.err;
    EXPECT_TRUE(contains(rl.out, "  [[rules]] 'count': file '" + rule + "' edited\n")) << rl.out;
    EXPECT_TRUE(contains(rl.out, "applied: rules\n")) << rl.out;

    // A file written in two pieces, the reload asked in between: the reload
    // reads it once it has been still for a second, so the first piece (a
    // valid site without the devices) is never applied.
    const std::string full = head + plugin_c + device("d1", "field_a", port_a, 1, 500, profile) +
                             device("d4", "field_a", port_a, 2, 1000) + d3 + d5 + more;
    {
        std::ofstream out(site, std::ios::trunc);
        out << full.substr(0, full.find("[[devices]]")) << std::flush;
        gl.signal(SIGHUP);
        std::this_thread::sleep_for(std::chrono::milliseconds(400));
        out << full.substr(full.find("[[devices]]")) << std::flush;
    }
    ASSERT_TRUE(wait_in(log, "reading it once it is still")) << slurp(log);
    std::this_thread::sleep_for(std::chrono::seconds(2));
    {
        const std::string all = slurp(log);
        const std::string after = all.substr(all.rfind("reading it once it is still"));
        EXPECT_FALSE(contains(after, "removed")) << after;
        EXPECT_TRUE(contains(after, "reloaded " + site)) << after;
    }
    // The site file named must be the running one's: nothing is sent otherwise.
    const std::string other = base + "/other.toml";
    std::ofstream(other) << full;
    rl = run({gridlet_bin(), "reload", "--config", other});
    EXPECT_EQ(rl.code, 2) << rl.out << rl.err;
    EXPECT_TRUE(contains(rl.err, "runs the site file " + site + ", not " + other + ": nothing was sent")) << rl.err;

    // field_c disabled: stopped and dropped; its device d5 is "stopped", and
    // d5's communication alarm ends (nothing polls it).
    std::ofstream(site) << head << "[[plugins]]\nname = \"field_c\"\nfile = \"modbus\"\nenabled = false\n"
                        << device("d1", "field_a", port_a, 1, 500, profile) << device("d4", "field_a", port_a, 2, 1000) << d3
                        << d5 << more;
    rl = run({gridlet_bin(), "reload", "--config", site});
    EXPECT_EQ(rl.code, 0) << rl.out << rl.err;
    EXPECT_TRUE(contains(rl.out, "plugins removed: field_c\n")) << rl.out;
    s = status_json(site);
    for (const auto& d : s["devices"])
        if (d.value("name", "") == "d5") {
            EXPECT_EQ(d.value("state", ""), "stopped") << s.dump(2);
            EXPECT_EQ(d.value("plugin_state", ""), "not_running") << s.dump(2);
        }
    s = wait_status(site, 10, [](const json& j) { return j["alarms"]["active_by_criticality"].value("critical", 1) == 0; });
    EXPECT_EQ(s["alarms"]["active_by_criticality"].value("critical", -1), 0) << "d5's alarm ended: " << s.dump(2);

    // Broken files: refused, said with file:line, the running one kept.
    std::ofstream(site) << head << plugin_c << device("d1", "field_a", port_a, 1, 500) << d3
                        << "[[devices]]\nname = \"d9\"\nplugin = \"nowhere\"\n";
    rl = run({gridlet_bin(), "reload", "--config", site});
    EXPECT_EQ(rl.code, 2) << rl.out << rl.err;
    EXPECT_TRUE(contains(rl.err, site + ":36: [[devices]]: device 'd9' names plugin 'nowhere'")) << rl.err;
    EXPECT_TRUE(contains(rl.err, "gridlet reload: " + site + " has errors; the running configuration is kept")) << rl.err;
    // An empty file (a half-written one) does not stop every plugin.
    std::ofstream(site, std::ios::trunc).flush();
    gl.signal(SIGHUP);
    EXPECT_TRUE(wait_in(log, "it names no enabled [[plugins]]: a reload does not stop every plugin")) << slurp(log);
    EXPECT_TRUE(wait_in(log, "keeping the running configuration")) << slurp(log);
    std::this_thread::sleep_for(std::chrono::seconds(2));
    s = json::parse(run({gridlet_bin(), "status", "--control", "ipc://" + base + "/c.sock", "--json"}).out, nullptr, false);
    EXPECT_EQ(device_state(s, "d4"), "online") << "kept: " << s.dump(2);
    gl.signal(SIGTERM);
    EXPECT_EQ(gl.wait(std::chrono::seconds(30)), 0) << gl.err();
    // Nobody listens any more: said at once, not after the 60 s timeout.
    const auto asked = std::chrono::steady_clock::now();
    rl = run({gridlet_bin(), "reload", "--control", "ipc://" + base + "/c.sock"});
    EXPECT_EQ(rl.code, 1) << rl.out << rl.err;
    EXPECT_TRUE(contains(rl.err, "gridlet reload: no gridlet listens on ipc://" + base + "/c.sock")) << rl.err;
    EXPECT_LT(std::chrono::steady_clock::now() - asked, std::chrono::seconds(10));
    fs::remove_all(base);
}

// `gridlet export` through the real binary: samples imported with `gridlet
// import`, the site's [[exports]] written for a range of periods as Socomec
// EMS and CSV files; a second run writes nothing new; a site whose EMS site
// name is still the factory "SITE" is refused by check and export alike.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/timezone.h"

#include "integration/process.h"

using namespace gridlet::testing;

namespace {

std::string site(const std::string& store, const std::string& site_name = "acme") {
    return "[site]\nname = \"" + site_name + "\"\ntimezone = \"Europe/Paris\"\n\n[store]\npath = \"" + store +
           "\"\nretention_raw_days = 0\nretention_1m_days = 0\n\n"
           "[model]\n[[model.points]]\nname = \"pc123\"\nenergy = \"I-35/ea_plus\"\nusage = \"heating\"\n\n"
           "[[exports]]\nname = \"avg\"\nformat = \"socomec_ems\"\nserver_name = \"E5C801\"\ndevice = \"I-35@4\"\n"
           "device_id = 14\nstep = \"1m\"\nevery = \"10m\"\n"
           "[[exports.variables]]\nseries = \"I-35/thd_i1\"\nquantity = \"THD I1\"\nunit = \"%\"\ncoef = 100\n"
           "data_id = 100006\n\n"
           "[[exports]]\nname = \"index\"\nformat = \"socomec_csv\"\ndata_type = \"index\"\nserver_name = \"E5C801\"\n"
           "step = \"10m\"\nevery = \"1h\"\n"
           "[[exports.variables]]\nseries = \"I-35/ea_plus\"\npoint = \"pc123\"\nquantity = \"EA+\"\nunit = \"Wh\"\n";
}

}  // namespace

TEST(Export, SocomecFilesForARangeOfPeriodsOnceEach) {
    const std::string store = "/tmp/gridlet-export-it-" + std::to_string(getpid());
    const std::string out = store + "-out";
    remove_store(store);
    run({"rm", "-rf", out});
    const std::string file = temp_file("export-site.toml", site(store));
    // One hour of readings every minute, local time: THD 2.34 %, an index +60 Wh a minute.
    std::ostringstream csv;
    csv << "time,I-35/thd_i1,I-35/ea_plus\n";
    for (int m = 0; m < 60; ++m) {
        char t[32];
        std::snprintf(t, sizeof t, "2026-03-02T10:%02d:00", m);
        csv << t << ",2.34," << 1000 + 60 * m << "\n";
    }
    const std::string data = temp_file("export-data.csv", csv.str());
    ASSERT_EQ(run({gridlet_bin(), "store", "init", "--config", file}).code, 0);
    const Result imp = run({gridlet_bin(), "import", "--config", file, data});
    ASSERT_EQ(imp.code, 0) << imp.err;

    const Result list = run({gridlet_bin(), "export", "--config", file, "--list"});
    ASSERT_EQ(list.code, 0) << list.err;
    EXPECT_NE(list.out.find("avg\tsocomec_ems\tAvg\tstep 60s\tevery 600s\t1 variable\tdevice I-35@4"), std::string::npos)
        << list.out;

    const Result r = run({gridlet_bin(), "export", "--config", file, "--from", "2026-03-02T10:00", "--to",
                          "2026-03-02T11:00", "--out", out});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.err.find("7 periods: 7 files written"), std::string::npos) << r.err;
    // The six 10-minute EMS files and the hour's CSV.
    const std::string ems = out + "/acme_E5C801_I-35@4_Avg_2026-03-02_10-10-00.csv";
    ASSERT_TRUE(std::filesystem::exists(ems)) << r.out;
    const std::string text = slurp(ems);
    EXPECT_EQ(text.substr(0, text.find("\r\n\r\n")),
              "Data Type;TimeZone;Datation;Transfer Cycle (sec);Pooling Time;Version;Site name;Server name\r\n"
              "Avg;Europe/Paris;Local;600;N/A;1;acme;E5C801");
    EXPECT_NE(text.find("0;acme E5C801 14 1 ANA 100006;ANA;THD I1 of I-35@4;ELEC;;100;%;/;14;1;100006\r\n"),
              std::string::npos);
    EXPECT_NE(text.find("Index Key;Date;Value;Quality\r\n0;2026-03-02T10:09:00;234;192\r\n"), std::string::npos) << text;
    EXPECT_NE(text.find("0;2026-03-02T10:00:00;234;192\r\n"), std::string::npos);
    const std::string idx = slurp(out + "/acme_E5C801_I-35_Index_2026-03-02_11-00-00.csv");
    EXPECT_NE(idx.find("Load Name;pc123\r\nUsage;Heating\r\nNature;Elec\r\nMeasured value;EA+\r\nUnit;Wh\r\n"
                       "Scale;1.0000000\r\n2026-03-02T10:50:00;4000\r\n"),
              std::string::npos)
        << idx;

    // Again: the same files, nothing written.
    const Result again = run({gridlet_bin(), "export", "--config", file, "--from", "2026-03-02T10:00", "--to",
                              "2026-03-02T11:00", "--out", out});
    ASSERT_EQ(again.code, 0) << again.err;
    EXPECT_NE(again.err.find("7 periods: 0 files written, 7 already there and unchanged"), std::string::npos)
        << again.err;
    EXPECT_EQ(slurp(ems), text);
    size_t files = 0;
    for (const auto& e : std::filesystem::directory_iterator(out)) files += e.path().extension() == ".csv";
    EXPECT_EQ(files, 7u);

    // The Legrand history tree of that month, on demand.
    const Result lg = run({gridlet_bin(), "export", "--config", file, "--legrand", "--from", "2026-03-02", "--to",
                           "2026-03-03", "--out", out + "/legrand"});
    ASSERT_EQ(lg.code, 0) << lg.err;
    EXPECT_NE(lg.out.find(out + "/legrand/energy/devices_2026-03.csv"), std::string::npos) << lg.out;
    const std::string dev = slurp(out + "/legrand/energy/devices_2026-03.csv");
    EXPECT_EQ(dev.substr(0, dev.find("\r\n")), "Date;pc123") << dev;
    EXPECT_TRUE(std::filesystem::exists(out + "/legrand/settings/EnergySettings.csv"));
    EXPECT_EQ(run({gridlet_bin(), "export", "--config", file, "--legrand"}).code, 2) << "--out is required";

    // The Legrand data download: reportdata.zip (read back by Python's zipfile) and datalogger.csv.
    const std::string zip = out + "/reportdata.zip";
    const Result dl = run({gridlet_bin(), "export", "--config", file, "--download", zip, "--from", "2026-03-02T10:00",
                           "--to", "2026-03-02T11:00", "--rate", "hour"});
    ASSERT_EQ(dl.code, 0) << dl.err;
    const Result names = run({"/usr/bin/python3", "-c",
                              "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); print(z.namelist()); "
                              "print(z.read('electricity_consumption.csv').decode().splitlines()[0])",
                              zip});
    ASSERT_EQ(names.code, 0) << names.err;
    EXPECT_EQ(names.out, "['electricity_consumption.csv']\nDate;pc123\n");
    EXPECT_FALSE(std::filesystem::exists(zip + ".part"));
    const Result logger = run({gridlet_bin(), "export", "--config", file, "--download", out + "/datalogger.csv", "--from",
                            "2026-03-02T10:00", "--to", "2026-03-02T11:00", "--items", "pc123"});
    ASSERT_EQ(logger.code, 0) << logger.err;
    EXPECT_EQ(slurp(out + "/datalogger.csv").substr(0, 29), "Date;pc123\r\n2026-03-02 10:00;");
    const Result wrong = run({gridlet_bin(), "export", "--config", file, "--download", out + "/x.zip", "--items", "nope",
                              "--from", "2026-03-02"});
    EXPECT_EQ(wrong.code, 2);
    EXPECT_NE(wrong.err.find("'nope' is not a point"), std::string::npos) << wrong.err;
    const Result txt = run({gridlet_bin(), "export", "--config", file, "--download", out + "/x.txt", "--from", "2026-03-02"});
    EXPECT_EQ(txt.code, 2);
    EXPECT_NE(txt.err.find("a .zip (reportdata.zip, every fluid) or a .csv"), std::string::npos) << txt.err;
    const Result deep = run({gridlet_bin(), "export", "--config", file, "--download", out + "/new/folder/r.ZIP", "--from",
                             "2026-03-02T10:00", "--to", "2026-03-02T11:00"});
    EXPECT_EQ(deep.code, 0) << deep.err;
    EXPECT_TRUE(std::filesystem::exists(out + "/new/folder/r.ZIP"));
    // The tree's folder may not be the store's.
    const std::string inside = temp_file("export-legrand-in-store.toml",
                                         site(store) + "\n[legrand_history]\ndir = \"" + store + "\"\n");
    const Result chk = run({gridlet_bin(), "check", inside});
    EXPECT_EQ(chk.code, 2);
    EXPECT_NE(chk.err.find("must not be inside one another"), std::string::npos) << chk.err;
    const std::string beside = temp_file("export-legrand-beside.toml",
                                         site(store) + "\n[legrand_history]\ndir = \"" + out + "/tree\"\n");
    const Result ok = run({gridlet_bin(), "check", beside});
    EXPECT_EQ(ok.code, 0) << ok.err;
    EXPECT_NE(ok.out.find("2 exports, the Legrand history tree in " + out + "/tree)"), std::string::npos) << ok.out;
    remove_store(store);
    run({"rm", "-rf", out});
}

TEST(Export, TheFactorySiteNameIsRefusedByCheckAndExportAlike) {
    const std::string file = temp_file("export-site-name.toml", site("/tmp/gridlet-export-never", "SITE"));
    const Result check = run({gridlet_bin(), "check", file});
    EXPECT_EQ(check.code, 2);
    const Result exp = run({gridlet_bin(), "export", "--config", file, "--out", "/tmp/gridlet-export-never-out"});
    EXPECT_EQ(exp.code, 2);
    const std::string first = check.err.substr(0, check.err.find('\n'));
    EXPECT_NE(first.find("the site name is still \"SITE\""), std::string::npos) << check.err;
    EXPECT_NE(exp.err.find(first.substr(first.find("export-site-name.toml"))), std::string::npos)
        << "check: " << check.err << "\nexport: " << exp.err;
    EXPECT_FALSE(std::filesystem::exists("/tmp/gridlet-export-never-out"));
}

// `gridlet run` writes a scheduled export into its folder; killed with -9
// and started again, the periods it missed are written after the restart,
// and every period is there exactly once, in order, without a gap.
TEST(Export, ScheduledFilesSurviveKill9EachPeriodOnce) {
    const std::string base = "/tmp/gridlet-export-run-" + std::to_string(getpid());
    run({"rm", "-rf", base});
    const std::string out = base + "/out";
    const std::string file = temp_file(
        "export-run-site.toml",
        "[site]\nname = \"acme\"\ntimezone = \"Europe/Paris\"\n[store]\npath = \"" + base + "/db\"\n"
        "[[plugins]]\nname = \"hello\"\nfile = \"" + build_dir() + "/plugins/hello.so\"\n[plugins.config]\ninterval_ms = 100\n"
        "[[devices]]\nname = \"d1\"\nplugin = \"hello\"\n"
        "[[exports]]\nname = \"count\"\nformat = \"socomec_csv\"\ndata_type = \"index\"\nstep = \"1s\"\nevery = \"2s\"\n"
        "delay = \"1s\"\nserver_name = \"srv\"\ndir = \"" + out + "\"\n"
        "[[exports.variables]]\nseries = \"d1/count\"\nquantity = \"count\"\n");
    auto files = [&] {
        std::vector<std::string> v;
        if (std::filesystem::exists(out))
            for (const auto& e : std::filesystem::directory_iterator(out)) v.push_back(e.path().filename().string());
        std::sort(v.begin(), v.end());
        return v;
    };
    {
        Process p({gridlet_bin(), "run", file});
        for (int i = 0; i < 100 && files().size() < 3; ++i) usleep(100'000);
        ASSERT_GE(files().size(), 3u) << p.err();
        p.signal(SIGKILL);
    }
    sleep(4);  // periods pass while it is down
    const size_t before_restart = files().size();
    {
        Process p({gridlet_bin(), "run", file});
        for (int i = 0; i < 100 && files().size() < before_restart + 5; ++i) usleep(100'000);
        ASSERT_GE(files().size(), before_restart + 5) << p.err();
        p.signal(SIGTERM);
        EXPECT_EQ(p.wait(), 0) << p.err();
    }
    // The names carry the periods' ends: every 2 s from the first to the
    // last, none missing, none twice, no .part left.
    const std::vector<std::string> v = files();
    const gridlet::TimeZone paris = *gridlet::TimeZone::load("Europe/Paris");
    std::vector<int64_t> ends;
    for (const std::string& n : v) {
        ASSERT_EQ(n.rfind("acme_srv_d1_Index_", 0), 0u) << n;
        ASSERT_EQ(n.substr(n.size() - 4), ".csv") << n;
        std::string when = n.substr(18, 19);  // 2026-12-02_10-00-02
        when[10] = 'T';
        when[13] = ':';
        when[16] = ':';
        ends.push_back(*paris.parse_iso(when));
    }
    for (size_t i = 1; i < ends.size(); ++i) EXPECT_EQ(ends[i] - ends[i - 1], 2000) << v[i - 1] << " then " << v[i];
    // A period while it ran holds the counts of its two seconds.
    const std::string some = slurp(out + "/" + v[1]);
    EXPECT_NE(some.find("Measured value;count\r\n"), std::string::npos) << some;
    run({"rm", "-rf", base});
}

// `gridlet query` CSV is read by pandas.read_csv with no options: a running
// site stores counter samples, the query writes CSV, Debian's python3-pandas
// reads it and checks columns, types and values.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include <zmq.h>

#include "store/store.h"

#include "integration/process.h"

using namespace gridlet::testing;

TEST(QueryCsv, PandasReadsItWithoutOptions) {
    const char* py = "/usr/bin/python3";
    if (run({py, "-c", "import pandas"}).code != 0)
        GTEST_SKIP() << "python3-pandas is not installed (.ci/setup installs it)";
    std::string dir = "/tmp/gridlet-it-pandas-" + std::to_string(getpid());
    run({"rm", "-rf", dir});
    run({"mkdir", "-p", dir});
    std::string site = dir + "/site.toml";
    std::ofstream(site) << "[site]\nname = \"pandas-it-" << getpid() << "\"\n"
                        << "[store]\npath = \"" << dir << "/db\"\n"
                        << "[[plugins]]\nname = \"hello\"\nfile = \"" << build_dir() << "/plugins/hello.so\"\n"
                        << "config = { interval_ms = 20 }\n"
                        << "[[devices]]\nname = \"c1\"\nplugin = \"hello\"\nstep = 0.5\n"
                        << "[[devices]]\nname = \"c2\"\nplugin = \"hello\"\nstep = 2\n";
    Process p({gridlet_bin(), "run", site});
    ASSERT_TRUE(p.wait_for_err("plugin 'hello' started")) << p.err();
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    p.signal(SIGTERM);
    ASSERT_EQ(p.wait(), 0) << p.err();

    Result tidy = run({gridlet_bin(), "query", "c?/count", "--from", "-10m", "--config", site});
    ASSERT_EQ(tidy.code, 0) << tidy.err;
    std::string csv = dir + "/tidy.csv";
    std::ofstream(csv) << tidy.out;
    std::string check =
        "import pandas as pd, sys\n"
        "df = pd.read_csv(sys.argv[1])\n"
        "assert list(df.columns) == ['time', 'series', 'value', 'quality'], list(df.columns)\n"
        "assert (df['quality'] == 192).all(), df['quality'].tolist()\n"
        "assert df['value'].dtype.kind == 'f', df['value'].dtype\n"
        "assert set(df['series']) == {'c1/count', 'c2/count'}, set(df['series'])\n"
        "t = pd.to_datetime(df['time'], utc=True)\n"
        "c1 = df[df['series'] == 'c1/count']['value']\n"
        "assert len(c1) >= 5 and (c1.diff().dropna() == 0.5).all(), c1.tolist()\n"
        "print(len(df))\n";
    Result py_tidy = run({py, "-c", check, csv});
    EXPECT_EQ(py_tidy.code, 0) << py_tidy.out << py_tidy.err << tidy.out.substr(0, 400);

    // --wide: one column per series, still read as is.
    Result wide = run({gridlet_bin(), "query", "c?/count", "--from", "-10m", "--wide", "--config", site});
    ASSERT_EQ(wide.code, 0) << wide.err;
    std::string wcsv = dir + "/wide.csv";
    std::ofstream(wcsv) << wide.out;
    Result py_wide = run({py, "-c",
                          "import pandas as pd, sys\n"
                          "df = pd.read_csv(sys.argv[1])\n"
                          "assert list(df.columns) == ['time', 'c1/count', 'c1/count:quality', 'c2/count', "
                          "'c2/count:quality'], list(df.columns)\n"
                          "assert len(df) >= 5\n",
                          wcsv});
    EXPECT_EQ(py_wide.code, 0) << py_wide.out << py_wide.err << wide.out.substr(0, 400);
    run({"rm", "-rf", dir});
}

// Issue 11 items 8, 14, 15: a store with samples across the Paris spring
// change, NaN, inf and bad readings. Raw CSV carries quality and tells nan,
// inf and -inf apart; the README recipe gives a tz-aware time column across
// DST; local-day consumption has 23 h days; far queries exit 2.
TEST(QueryCsv, QualityNonFiniteValuesAndDstWithPandas) {
    const char* py = "/usr/bin/python3";
    if (run({py, "-c", "import pandas"}).code != 0)
        GTEST_SKIP() << "python3-pandas is not installed (.ci/setup installs it)";
    std::string dir = "/tmp/gridlet-it-dst-" + std::to_string(getpid());
    run({"rm", "-rf", dir});
    run({"mkdir", "-p", dir});
    const int64_t t0 = 1711756800000;  // 2024-03-30T00:00:00Z
    {
        gridlet::store::StoreOptions o;
        o.path = dir + "/db";
        auto store = gridlet::store::Store::open(o);
        ASSERT_TRUE(store) << store.status().to_string();
        gridlet::SeriesMeta t{};
        t.name = "m/t";
        t.unit = "C";
        gridlet::SeriesMeta e{};
        e.name = "m/kwh";
        e.unit = "kWh";
        e.kind = gridlet::SeriesKind::counter;
        const uint32_t ti = *(*store)->registry().intern(t), ei = *(*store)->registry().intern(e);
        gridlet::SeriesMeta x{};
        x.name = "m/x";
        const uint32_t xi = *(*store)->registry().intern(x);
        std::vector<gl_sample> b;
        // Values that need all 17 digits: pandas' default parser gets about
        // a quarter of such values 1 ulp wrong; the recipe's round_trip none.
        std::ofstream exact(dir + "/exact.txt");
        std::mt19937_64 rng(11);
        for (int i = 0; i < 200; ++i) {
            const double v = std::ldexp(static_cast<double>(rng() >> 11), -33) - 1e6;
            char text[40];
            std::snprintf(text, sizeof text, "%.17g\n", v);
            exact << text;
            b.push_back(gl_sample{t0 + i * 1000LL, v, xi, GL_QUALITY_GOOD, {0, 0, 0}});
        }
        exact.close();
        for (int h = 0; h <= 48; ++h) {
            const int64_t ts = t0 + h * 3'600'000LL;
            double v = 20 + h % 5;
            uint8_t q = GL_QUALITY_GOOD;
            if (h == 3) v = std::nan("");
            if (h == 4) v = HUGE_VAL;
            if (h == 5) v = -HUGE_VAL;
            if (h == 6) q = GL_QUALITY_BAD;
            b.push_back(gl_sample{ts, v, ti, q, {0, 0, 0}});
            b.push_back(gl_sample{ts, 100.0 + h, ei, GL_QUALITY_GOOD, {0, 0, 0}});
        }
        ASSERT_TRUE((*store)->append(b));
    }
    const std::string db = dir + "/db";
    Result raw = run({gridlet_bin(), "query", "m/t", "--from", "2024-03-30T00:00Z", "--to", "2024-04-01T01:00Z",
                      "--tz", "Europe/Paris", "--db", db});
    ASSERT_EQ(raw.code, 0) << raw.err;
    std::ofstream(dir + "/raw.csv") << raw.out;
    // The recipe of the store README, "Reading the CSV with pandas".
    Result py_raw = run({py, "-c",
                         "import pandas as pd, math, sys\n"
                         "df = pd.read_csv(sys.argv[1], float_precision='round_trip')\n"
                         "df['time'] = pd.to_datetime(df['time'], utc=True).dt.tz_convert('Europe/Paris')\n"
                         "assert str(df['time'].dtype) == 'datetime64[ns, Europe/Paris]', df['time'].dtype\n"
                         "assert list(df.columns) == ['time', 'series', 'value', 'quality'], list(df.columns)\n"
                         "assert len(df) == 49, len(df)\n"
                         "v = df['value']\n"
                         "assert math.isnan(v[3]) and v[4] == math.inf and v[5] == -math.inf, v[:7].tolist()\n"
                         "assert df['quality'][3] == 0 and df['quality'][4] == 0 and df['quality'][6] == 0\n"
                         "assert df['quality'][7] == 192\n"
                         "assert df['time'][0].utcoffset().total_seconds() == 3600\n"
                         "assert df['time'][48].utcoffset().total_seconds() == 7200\n",
                         dir + "/raw.csv"});
    EXPECT_EQ(py_raw.code, 0) << py_raw.out << py_raw.err << raw.out.substr(0, 600);
    Result xs = run({gridlet_bin(), "query", "m/x", "--from", "2024-03-30T00:00Z", "--to", "2024-04-01T01:00Z", "--db",
                     dir + "/db"});
    ASSERT_EQ(xs.code, 0) << xs.err;
    std::ofstream(dir + "/x.csv") << xs.out;
    Result py_exact = run({py, "-c",
                           "import pandas as pd, sys\n"
                           "df = pd.read_csv(sys.argv[1], float_precision='round_trip')\n"
                           "want = [float(l) for l in open(sys.argv[2])]\n"
                           "got = df['value'].tolist()\n"
                           "assert got == want, [(g, w) for g, w in zip(got, want) if g != w][:3]\n",
                           dir + "/x.csv", dir + "/exact.txt"});
    EXPECT_EQ(py_exact.code, 0) << py_exact.out << py_exact.err;
    Result json = run({gridlet_bin(), "query", "m/t", "--from", "2024-03-30T02:00Z", "--to", "2024-03-30T07:00Z",
                       "--format", "json", "--db", db});
    ASSERT_EQ(json.code, 0) << json.err;
    EXPECT_NE(json.out.find("\"value\": \"NaN\""), std::string::npos) << json.out;
    EXPECT_NE(json.out.find("\"value\": \"Infinity\""), std::string::npos) << json.out;
    EXPECT_NE(json.out.find("\"value\": \"-Infinity\""), std::string::npos) << json.out;
    EXPECT_NE(json.out.find("\"quality\": 0"), std::string::npos) << json.out;
    // Local days: March 31 in Paris is 23 h, so 23 kWh (1 kWh an hour, charged to the hour it starts in).
    Result days = run({gridlet_bin(), "query", "m/kwh", "--from", "2024-03-31", "--to", "2024-04-01", "--step", "day",
                       "--agg", "consumption", "--tz", "Europe/Paris", "--db", db});
    ASSERT_EQ(days.code, 0) << days.err;
    EXPECT_EQ(days.out, "time,series,value\n2024-03-31T00:00:00.000+01:00,m/kwh,23\n");
    // Far queries refuse (exit 2), never abort.
    Result far = run({gridlet_bin(), "query", "m/t", "--from", "@9223372036854775000", "--to",
                      "@9223372036854775807", "--step", "1m", "--agg", "count", "--db", db});
    EXPECT_EQ(far.code, 2) << far.err;
    EXPECT_NE(far.err.find("between 0001-01-01"), std::string::npos) << far.err;
    Result low = run({gridlet_bin(), "query", "m/t", "--from", "@-9223372036854775808", "--to", "@0", "--step",
                      "1d", "--agg", "count", "--db", db});
    EXPECT_EQ(low.code, 2) << low.err;
    run({"rm", "-rf", dir});
}

// `gridlet events`: events a rule emitted on a running site, read back from
// its store as CSV (pandas reads it; the body stays one JSON field even with
// commas and quotes) and JSON, filtered; bad arguments exit 2.
TEST(EventsCli, ReadsStoredEventsAsCsvAndJson) {
    const char* py = "/usr/bin/python3";
    if (run({py, "-c", "import pandas"}).code != 0)
        GTEST_SKIP() << "python3-pandas is not installed (.ci/setup installs it)";
    std::string dir = "/tmp/gridlet-it-events-" + std::to_string(getpid());
    run({"rm", "-rf", dir});
    run({"mkdir", "-p", dir});
    std::ofstream(dir + "/emit.lua") << "gridlet.emit(\"door_open\", \"warning\", {zone = \"a, b\", note = 'say \"hi\"'})\n"
                                     << "gridlet.emit(\"heartbeat\", \"info\", {n = 1})\n";
    std::string site = dir + "/site.toml";
    std::ofstream(site) << "[site]\nname = \"events-it-" << getpid() << "\"\n"
                        << "[store]\npath = \"" << dir << "/db\"\n"
                        << "[[rules]]\nname = \"emit\"\nfile = \"emit.lua\"\n";
    Process p({gridlet_bin(), "run", site});
    ASSERT_TRUE(p.wait_for_err("rule 'emit': loaded")) << p.err();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    p.signal(SIGTERM);
    ASSERT_EQ(p.wait(), 0) << p.err();

    Result all = run({gridlet_bin(), "events", "--source", "rule/", "--config", site});
    ASSERT_EQ(all.code, 0) << all.err;
    std::string csv = dir + "/events.csv";
    std::ofstream(csv) << all.out;
    Result py_check = run({py, "-c",
                           "import pandas as pd, json, sys\n"
                           "df = pd.read_csv(sys.argv[1])\n"
                           "assert list(df.columns) == ['time', 'source', 'type', 'severity', 'body'], list(df.columns)\n"
                           "assert list(df['type']) == ['door_open', 'heartbeat'], list(df['type'])\n"
                           "assert set(df['source']) == {'rule/emit'}, set(df['source'])\n"
                           "b = json.loads(df['body'][0])\n"
                           "assert b == {'zone': 'a, b', 'note': 'say \"hi\"'}, b\n"
                           "pd.to_datetime(df['time'], utc=True)\n",
                           csv});
    EXPECT_EQ(py_check.code, 0) << py_check.out << py_check.err << all.out;

    Result warn = run({gridlet_bin(), "events", "--severity", "warning", "--format", "json", "--config", site});
    ASSERT_EQ(warn.code, 0) << warn.err;
    EXPECT_NE(warn.out.find("\"type\": \"door_open\""), std::string::npos) << warn.out;
    EXPECT_EQ(warn.out.find("heartbeat"), std::string::npos) << warn.out;
    Result typed = run({gridlet_bin(), "events", "--type", "heartbeat", "--format", "json", "--config", site});
    EXPECT_NE(typed.out.find("\"n\": 1"), std::string::npos) << typed.out;
    EXPECT_EQ(typed.out.find("door_open"), std::string::npos) << typed.out;

    Result bad = run({gridlet_bin(), "events", "--severity", "loud", "--config", site});
    EXPECT_EQ(bad.code, 2);
    EXPECT_NE(bad.err.find("gridlet events: --severity:"), std::string::npos) << bad.err;
    Result no_store = run({gridlet_bin(), "events", "--db", dir + "/nothing"});
    EXPECT_EQ(no_store.code, 2) << no_store.err;
    Result bad_format = run({gridlet_bin(), "events", "--format", "xml", "--config", site});
    EXPECT_EQ(bad_format.code, 2) << bad_format.err;
    run({"rm", "-rf", dir});
}

// `gridlet store verify|repair` on a store written by a real run, and a
// second `gridlet run` on the same store told who holds it.
TEST(StoreCli, VerifyRepairAndASecondRunOnTheSameStore) {
    std::string dir = "/tmp/gridlet-it-storecli-" + std::to_string(getpid());
    run({"rm", "-rf", dir});
    run({"mkdir", "-p", dir});
    std::string site = dir + "/site.toml";
    std::ofstream(site) << "[site]\nname = \"storecli-" << getpid() << "\"\n"
                        << "[store]\npath = \"" << dir << "/db\"\n"
                        << "[[plugins]]\nname = \"hello\"\nfile = \"" << build_dir() << "/plugins/hello.so\"\n"
                        << "config = { interval_ms = 20 }\n"
                        << "[[devices]]\nname = \"c1\"\nplugin = \"hello\"\nstep = 0.5\n";
    std::string other = dir + "/other.toml";  // same store, another control socket
    std::ofstream(other) << "[site]\nname = \"storecli-other-" << getpid() << "\"\n"
                         << "[store]\npath = \"" << dir << "/db\"\n";
    {
        Process p({gridlet_bin(), "run", site});
        ASSERT_TRUE(p.wait_for_err("plugin 'hello' started")) << p.err();
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        Result second = run({gridlet_bin(), "run", other});
        EXPECT_EQ(second.code, 1) << second.err;
        EXPECT_NE(second.err.find("another gridlet (pid " + std::to_string(p.pid()) + ") has this store open"),
                  std::string::npos)
            << second.err;
        Result live = run({gridlet_bin(), "store", "verify", "--config", site});  // works beside a running gridlet
        EXPECT_EQ(live.code, 0) << live.out << live.err;
        // Same site name (so the same control socket), another store: refused,
        // and the running gridlet keeps its socket.
        std::string twin = dir + "/twin.toml";
        std::ofstream(twin) << "[site]\nname = \"storecli-" << getpid() << "\"\n"
                            << "[store]\npath = \"" << dir << "/db2\"\n";
        Result clash = run({gridlet_bin(), "run", twin});
        EXPECT_EQ(clash.code, 1) << clash.err;
        EXPECT_NE(clash.err.find("is in use by a running gridlet"), std::string::npos) << clash.err;
        Result metrics = run({gridlet_bin(), "metrics", "--config", site});
        EXPECT_EQ(metrics.code, 0) << metrics.out << metrics.err;
        EXPECT_NE(metrics.out.find("\"pid\": " + std::to_string(p.pid())), std::string::npos) << metrics.out;
        p.signal(SIGTERM);
        ASSERT_EQ(p.wait(), 0) << p.err();
    }
    Result ok = run({gridlet_bin(), "store", "verify", "--db", dir + "/db"});
    EXPECT_EQ(ok.code, 0) << ok.out << ok.err;
    EXPECT_NE(ok.out.find("no damage found"), std::string::npos) << ok.out;

    run({"rm", dir + "/db/CURRENT"});
    Result refused = run({gridlet_bin(), "run", site});
    EXPECT_EQ(refused.code, 2) << "refused before anything starts";
    EXPECT_NE(refused.err.find("no CURRENT file"), std::string::npos) << refused.err;
    Result refused_check = run({gridlet_bin(), "check", site});
    EXPECT_EQ(refused_check.code, 2) << "check refuses what run refuses";
    EXPECT_NE(refused_check.err.find("no CURRENT file"), std::string::npos) << refused_check.err;
    Result bad = run({gridlet_bin(), "store", "verify", "--db", dir + "/db"});
    EXPECT_EQ(bad.code, 1);
    EXPECT_NE(bad.out.find("CURRENT: missing"), std::string::npos) << bad.out;
    Result repaired = run({gridlet_bin(), "store", "repair", "--db", dir + "/db"});
    EXPECT_EQ(repaired.code, 0) << repaired.out << repaired.err;
    EXPECT_NE(repaired.out.find("the damaged store, untouched: " + dir + "/db.damaged-"), std::string::npos)
        << repaired.out;
    Result series = run({gridlet_bin(), "series", "c1/", "--db", dir + "/db"});
    EXPECT_EQ(series.code, 0) << series.err;
    EXPECT_NE(series.out.find("c1/"), std::string::npos) << series.out;

    // The store folder is gone (deleted; a disk not mounted): refused, not replaced.
    Result exists = run({gridlet_bin(), "store", "init", "--config", site});
    EXPECT_EQ(exists.code, 2) << exists.out << exists.err;
    run({"rm", "-rf", dir + "/db"});
    Result gone = run({gridlet_bin(), "run", site});
    EXPECT_EQ(gone.code, 2) << gone.err;
    EXPECT_NE(gone.err.find("is gone"), std::string::npos) << gone.err;
    Result gone_check = run({gridlet_bin(), "check", site});
    EXPECT_EQ(gone_check.code, 2) << gone_check.err;
    EXPECT_NE(gone_check.err.find("is gone"), std::string::npos) << gone_check.err;
    run({"mkdir", dir + "/db"});  // an empty mount point: nothing to repair, nothing made
    Result no_repair = run({gridlet_bin(), "store", "repair", "--config", site});
    EXPECT_EQ(no_repair.code, 2) << no_repair.out << no_repair.err;
    EXPECT_NE(no_repair.err.find("gridlet store init"), std::string::npos) << no_repair.err;
    Result no_verify = run({gridlet_bin(), "store", "verify", "--config", site});
    EXPECT_EQ(no_verify.code, 2) << no_verify.out << no_verify.err;
    run({"rmdir", dir + "/db"});
    Result init = run({gridlet_bin(), "store", "init", "--config", site});
    EXPECT_EQ(init.code, 0) << init.out << init.err;
    Result empty = run({gridlet_bin(), "series", "--db", dir + "/db"});
    EXPECT_EQ(empty.code, 0) << empty.err;
    run({"rm", "-rf", dir});
}

// Issue 11 item 12: `gridlet publish` answers once the sample is in the
// store's WAL. The request is sent on the control socket as the CLI sends
// it, and the gridlet is killed with SIGKILL the moment the answer arrives:
// no acknowledged sample is lost.
TEST(PublishCli, AcknowledgedSamplesSurviveKill9) {
    std::string dir = "/tmp/gridlet-it-publish-" + std::to_string(getpid());
    run({"rm", "-rf", dir});
    run({"mkdir", "-p", dir});
    const std::string name = "publish-it-" + std::to_string(getpid());
    std::string site = dir + "/site.toml";
    std::ofstream(site) << "[site]\nname = \"" << name << "\"\n"
                        << "[store]\npath = \"" << dir << "/db\"\nsync = \"none\"\n";
    const std::string endpoint = "ipc:///tmp/gridlet-" + name + ".sock";
    void* ctx = zmq_ctx_new();
    std::vector<int> acked;
    for (int i = 0; i < 20; ++i) {
        Process p({gridlet_bin(), "run", site});
        ASSERT_TRUE(p.wait_for_err("control socket")) << p.err();
        void* req = zmq_socket(ctx, ZMQ_REQ);
        int linger = 0;
        zmq_setsockopt(req, ZMQ_LINGER, &linger, sizeof linger);
        ASSERT_EQ(zmq_connect(req, endpoint.c_str()), 0);
        const std::string body = R"({"publish": {"series": "manual/value", "value": )" + std::to_string(1000 + i) + "}}";
        zmq_send(req, body.data(), body.size(), 0);
        char reply[512] = {};
        const int n = zmq_recv(req, reply, sizeof reply - 1, 0);
        p.signal(SIGKILL);  // the moment the answer is in
        p.wait();
        zmq_close(req);
        ASSERT_GT(n, 0);
        ASSERT_NE(std::string(reply).find("\"ok\":true"), std::string::npos) << reply;
        acked.push_back(1000 + i);
    }
    zmq_ctx_term(ctx);
    Result q = run({gridlet_bin(), "query", "manual/value", "--from", "-1h", "--no-quality", "--config", site});
    ASSERT_EQ(q.code, 0) << q.err;
    for (int v : acked)
        EXPECT_NE(q.out.find(",manual/value," + std::to_string(v) + "\n"), std::string::npos)
            << v << " acknowledged but lost:\n"
            << q.out;
    run({"rm", "-rf", dir});
}

// Bad arguments to the data commands exit 2 with a message, before anything
// is sent or read: a value that is not a finite number, negative limits and
// timeouts, raw queries outside years 0001..9999. An existing series keeps
// its kind and unit: `publish --kind` cannot turn a gauge into a counter.
TEST(PublishCli, BadValuesAndKindChangesAreRefused) {
    std::string dir = "/tmp/gridlet-it-publish-bad-" + std::to_string(getpid());
    run({"rm", "-rf", dir});
    run({"mkdir", "-p", dir});
    std::string site = dir + "/site.toml";
    std::ofstream(site) << "[site]\nname = \"publish-bad-" << getpid() << "\"\n"
                        << "[store]\npath = \"" << dir << "/db\"\n";
    {
        Process p({gridlet_bin(), "run", site});
        ASSERT_TRUE(p.wait_for_err("control socket")) << p.err();
        for (const char* v : {"nan", "inf", "NaN", "-inf"}) {
            Result r = run({gridlet_bin(), "publish", "m/t", "--config", site, "--", v});
            EXPECT_EQ(r.code, 2) << v << ": " << r.out << r.err;
            EXPECT_NE(r.err.find("finite number"), std::string::npos) << r.err;
        }
        Result first = run({gridlet_bin(), "publish", "m/t", "1.5", "--kind", "gauge", "--unit", "kW", "--config", site});
        EXPECT_EQ(first.code, 0) << first.out << first.err;
        Result same = run({gridlet_bin(), "publish", "m/t", "2", "--kind", "gauge", "--config", site});
        EXPECT_EQ(same.code, 0) << same.out << same.err;
        Result kind = run({gridlet_bin(), "publish", "m/t", "3", "--kind", "counter", "--config", site});
        EXPECT_EQ(kind.code, 1) << kind.out << kind.err;
        EXPECT_NE(kind.err.find("exists as a gauge"), std::string::npos) << kind.err;
        Result unit = run({gridlet_bin(), "publish", "m/t", "3", "--unit", "W", "--config", site});
        EXPECT_EQ(unit.code, 1) << unit.out << unit.err;
        EXPECT_NE(unit.err.find("exists with unit 'kW'"), std::string::npos) << unit.err;
        Result timeout = run({gridlet_bin(), "publish", "m/t", "3", "--timeout-ms", "-5", "--config", site});
        EXPECT_EQ(timeout.code, 2) << timeout.out << timeout.err;
        p.signal(SIGTERM);
        ASSERT_EQ(p.wait(), 0) << p.err();
    }
    Result series = run({gridlet_bin(), "series", "m/t", "--format", "csv", "--config", site});
    EXPECT_NE(series.out.find("gauge"), std::string::npos) << series.out;
    Result values = run({gridlet_bin(), "query", "m/t", "--from", "-1h", "--config", site});
    EXPECT_EQ(values.code, 0) << values.err;
    EXPECT_NE(values.out.find(",m/t,2,"), std::string::npos) << values.out;
    EXPECT_EQ(values.out.find(",m/t,3,"), std::string::npos) << values.out;  // refused, not stored
    for (const char* limit : {"-1", "0"}) {
        Result r = run({gridlet_bin(), "events", "--limit", limit, "--config", site});
        EXPECT_EQ(r.code, 2) << limit << ": " << r.out << r.err;
    }
    Result far = run({gridlet_bin(), "query", "m/t", "--from", "@-70000000000000", "--to", "now", "--config", site});
    EXPECT_EQ(far.code, 2) << far.out << far.err;
    EXPECT_NE(far.err.find("between 0001-01-01"), std::string::npos) << far.err;
    run({"rm", "-rf", dir});
}

// Issue 11 item 10: historic data in. What `gridlet query` writes (tidy and
// --wide) imports into another store and reads back the same; a file with a
// bad row writes nothing and names file and line; an existing series keeps
// its kind; a store a gridlet has open is refused; no store is created.
TEST(ImportCli, QueryOutputRoundTripsAndBadRowsWriteNothing) {
    std::string dir = "/tmp/gridlet-it-import-" + std::to_string(getpid());
    run({"rm", "-rf", dir});
    run({"mkdir", "-p", dir});
    std::string site = dir + "/site.toml";
    std::ofstream(site) << "[site]\nname = \"import-it-" << getpid() << "\"\n"
                        << "[store]\npath = \"" << dir << "/db\"\n"
                        << "[[plugins]]\nname = \"hello\"\nfile = \"" << build_dir() << "/plugins/hello.so\"\n"
                        << "config = { interval_ms = 20 }\n"
                        << "[[devices]]\nname = \"c1\"\nplugin = \"hello\"\nstep = 0.5\n";
    const std::string copy = dir + "/copy";
    {
        Process p({gridlet_bin(), "run", site});
        ASSERT_TRUE(p.wait_for_err("plugin 'hello' started")) << p.err();
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        std::ofstream(dir + "/one.csv") << "time,series,value\n2024-01-01T00:00Z,m/x,1\n";
        Result locked = run({gridlet_bin(), "import", dir + "/one.csv", "--config", site});
        EXPECT_EQ(locked.code, 1) << locked.out << locked.err;
        EXPECT_NE(locked.err.find("has this store open"), std::string::npos) << locked.err;
        p.signal(SIGTERM);
        ASSERT_EQ(p.wait(), 0) << p.err();
    }
    Result none = run({gridlet_bin(), "import", dir + "/one.csv", "--db", copy});
    EXPECT_EQ(none.code, 2) << none.out << none.err;
    EXPECT_NE(none.err.find("gridlet store init"), std::string::npos) << none.err;
    EXPECT_FALSE(std::filesystem::exists(copy));
    ASSERT_EQ(run({gridlet_bin(), "store", "init", "--db", copy}).code, 0);

    Result tidy = run({gridlet_bin(), "query", "c1/count", "--from", "-1h", "--db", dir + "/db"});
    ASSERT_EQ(tidy.code, 0) << tidy.err;
    ASSERT_GT(std::count(tidy.out.begin(), tidy.out.end(), '\n'), 5) << tidy.out;
    std::ofstream(dir + "/tidy.csv") << tidy.out;
    Result in = run({gridlet_bin(), "import", dir + "/tidy.csv", "--kind", "counter", "--db", copy});
    EXPECT_EQ(in.code, 0) << in.out << in.err;
    Result back = run({gridlet_bin(), "query", "c1/count", "--from", "-1h", "--db", copy});
    EXPECT_EQ(back.out, tidy.out);
    Result kind = run({gridlet_bin(), "series", "c1/count", "--format", "csv", "--db", copy});
    EXPECT_NE(kind.out.find("counter"), std::string::npos) << kind.out;
    // With the series' own metadata (what `gridlet series --format csv`
    // writes): kind, unit, tags and description come along.
    Result meta = run({gridlet_bin(), "series", "--format", "csv", "--db", dir + "/db"});
    ASSERT_EQ(meta.code, 0) << meta.err;
    std::ofstream(dir + "/series.csv") << meta.out;
    const std::string copy2 = dir + "/copy2";
    ASSERT_EQ(run({gridlet_bin(), "store", "init", "--db", copy2}).code, 0);
    Result with_meta = run({gridlet_bin(), "import", dir + "/tidy.csv", "--series", dir + "/series.csv", "--db", copy2});
    EXPECT_EQ(with_meta.code, 0) << with_meta.out << with_meta.err;
    Result meta2 = run({gridlet_bin(), "series", "c1/count", "--format", "csv", "--db", copy2});
    Result meta1 = run({gridlet_bin(), "series", "c1/count", "--format", "csv", "--db", dir + "/db"});
    // Same line but the id (1 in both) and the last sample (the same): all equal.
    EXPECT_EQ(meta2.out, meta1.out);
    Result clash = run({gridlet_bin(), "import", dir + "/tidy.csv", "--series", dir + "/series.csv", "--kind", "gauge",
                        "--db", copy});  // copy's c1/count is a counter, as series.csv says: no clash
    EXPECT_EQ(clash.code, 0) << clash.out << clash.err;

    // Wide, with a quality column, a blank cell (no sample) and local times.
    std::ofstream(dir + "/wide.csv") << "time,w/a,w/b,w/b:quality\n"
                                     << "2024-03-31 01:00,1.5,10,192\n"
                                     << "2024-03-31 03:00,2.5,,\n"
                                     << "2024-03-31 04:00,,\"12\",0\n";
    Result wide = run({gridlet_bin(), "import", dir + "/wide.csv", "--tz", "Europe/Paris", "--db", copy});
    EXPECT_EQ(wide.code, 0) << wide.out << wide.err;
    Result wback = run({gridlet_bin(), "query", "w/*", "--from", "2024-03-30", "--to", "2024-04-01", "--db", copy});
    EXPECT_EQ(wback.out, "time,series,value,quality\n"
                         "2024-03-31T00:00:00.000Z,w/a,1.5,192\n"
                         "2024-03-31T01:00:00.000Z,w/a,2.5,192\n"
                         "2024-03-31T00:00:00.000Z,w/b,10,192\n"
                         "2024-03-31T02:00:00.000Z,w/b,12,0\n")
        << wback.err;

    // Excel's CSV: a byte order mark, CRLF, quoted fields; a quoted line
    // break is part of the field (and no number).
    std::ofstream(dir + "/excel.csv") << "\xEF\xBB\xBFtime,series,value\r\n2024-01-02T00:00Z,x/a,\"7\"\r\n"
                                      << "2024-01-02T00:01Z,x/a,8\r\n";
    Result excel = run({gridlet_bin(), "import", dir + "/excel.csv", "--db", copy});
    EXPECT_EQ(excel.code, 0) << excel.out << excel.err;
    Result xback = run({gridlet_bin(), "query", "x/a", "--from", "2024-01-02", "--to", "2024-01-03", "--db", copy});
    EXPECT_EQ(xback.out, "time,series,value,quality\n2024-01-02T00:00:00.000Z,x/a,7,192\n"
                         "2024-01-02T00:01:00.000Z,x/a,8,192\n");
    std::ofstream(dir + "/broken.csv") << "time,series,value\n2024-01-02T00:00Z,x/a,\"7\n8\"\n";
    Result broken = run({gridlet_bin(), "import", dir + "/broken.csv", "--db", copy});
    EXPECT_EQ(broken.code, 2) << broken.out << broken.err;
    EXPECT_NE(broken.err.find("broken.csv:2: value '7\n8' is not a number"), std::string::npos) << broken.err;

    // Bad rows: all named, nothing written (the good first row neither).
    std::ofstream(dir + "/bad.csv") << "time,series,value\n"
                                    << "2024-01-01T00:00Z,b/a,1\n"
                                    << "yesterday,b/a,2\n"
                                    << "2024-01-01T00:03Z,b/a,abc\n"
                                    << "2024-01-01T00:04Z,b/a\n"
                                    << "1990-01-01T00:00Z,b/a,5\n";
    Result bad = run({gridlet_bin(), "import", dir + "/bad.csv", "--db", copy});
    EXPECT_EQ(bad.code, 2) << bad.out << bad.err;
    for (const char* line : {"bad.csv:3:", "bad.csv:4:", "bad.csv:5:", "bad.csv:6:", "nothing was written"})
        EXPECT_NE(bad.err.find(line), std::string::npos) << line << " in " << bad.err;
    Result nothing = run({gridlet_bin(), "series", "b/", "--db", copy});
    EXPECT_EQ(nothing.out.find("b/a"), std::string::npos) << nothing.out;
    Result gauge = run({gridlet_bin(), "import", dir + "/tidy.csv", "--kind", "gauge", "--db", copy});
    EXPECT_EQ(gauge.code, 2) << gauge.out << gauge.err;
    EXPECT_NE(gauge.err.find("exists as a counter"), std::string::npos) << gauge.err;
    run({"rm", "-rf", dir});
}

// Issue 12 item 10: a rule on a running gridlet asks for calendar days
// (step = "day") and gets the site's local days, 23 h across the spring DST
// change, the same answer as `gridlet query --step day`.
TEST(RulesQuery, CalendarStepsGiveTheSitesLocalDays) {
    std::string dir = "/tmp/gridlet-it-rulecal-" + std::to_string(getpid());
    run({"rm", "-rf", dir});
    run({"mkdir", "-p", dir});
    {
        gridlet::store::StoreOptions o;
        o.path = dir + "/db";
        o.day_zone = "Europe/Paris";
        auto store = gridlet::store::Store::open(o);
        ASSERT_TRUE(store) << store.status().to_string();
        gridlet::SeriesMeta e{};
        e.name = "m/kwh";
        e.unit = "kWh";
        e.kind = gridlet::SeriesKind::counter;
        const uint32_t id = *(*store)->registry().intern(e);
        std::vector<gl_sample> b;
        const int64_t t0 = 1711753200000;  // 2024-03-29T23:00:00Z, 2024-03-30 00:00 in Paris
        for (int h = 0; h <= 72; ++h) b.push_back(gl_sample{t0 + h * 3'600'000LL, 100.0 + h, id, GL_QUALITY_GOOD, {0, 0, 0}});
        ASSERT_TRUE((*store)->append(b));
    }
    std::ofstream(dir + "/days.lua")
        << "local from = os.time{year = 2024, month = 3, day = 30, hour = 0} * 1000\n"
        << "local to = os.time{year = 2024, month = 4, day = 2, hour = 0} * 1000\n"
        << "local rows = gridlet.query{series = 'm/kwh', from = from, to = to, step = 'day', agg = 'consumption'}\n"
        << "local out = {}\n"
        << "for i, r in ipairs(rows) do out[i] = os.date('%Y-%m-%d', r.ts / 1000) .. '=' .. r.value end\n"
        << "gridlet.emit('days', 'info', {days = table.concat(out, ' ')})\n";
    std::string site = dir + "/site.toml";
    std::ofstream(site) << "[site]\nname = \"rulecal-" << getpid() << "\"\ntimezone = \"Europe/Paris\"\n"
                        << "[store]\npath = \"" << dir << "/db\"\naccept_from_year = 2020\n"
                        << "[[rules]]\nname = \"days\"\nfile = \"days.lua\"\n";
    {
        Process p({gridlet_bin(), "run", site});
        ASSERT_TRUE(p.wait_for_err("rule 'days': loaded")) << p.err();
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        p.signal(SIGTERM);
        ASSERT_EQ(p.wait(), 0) << p.err();
    }
    Result ev = run({gridlet_bin(), "events", "--type", "days", "--format", "json", "--config", site});
    ASSERT_EQ(ev.code, 0) << ev.err;
    EXPECT_NE(ev.out.find("2024-03-30=24 2024-03-31=23 2024-04-01=24"), std::string::npos) << ev.out;
    Result cli = run({gridlet_bin(), "query", "m/kwh", "--from", "2024-03-30", "--to", "2024-04-02", "--step", "day",
                      "--agg", "consumption", "--config", site});
    EXPECT_EQ(cli.out, "time,series,value\n2024-03-30T00:00:00.000+01:00,m/kwh,24\n"
                       "2024-03-31T00:00:00.000+01:00,m/kwh,23\n2024-04-01T00:00:00.000+02:00,m/kwh,24\n")
        << cli.err;
    run({"rm", "-rf", dir});
}

// Issue 12 item 8: a rule's persistent state is shown (also beside a running
// gridlet) and cleared (only with gridlet stopped: the rule would write it
// back) from the CLI.
TEST(StateCli, ShowAndClearARulesState) {
    std::string dir = "/tmp/gridlet-it-state-" + std::to_string(getpid());
    run({"rm", "-rf", dir});
    run({"mkdir", "-p", dir});
    std::ofstream(dir + "/keep.lua") << "gridlet.state.count = (gridlet.state.count or 0) + 1\n"
                                     << "gridlet.state.note = {text = 'a \"b\"', n = {1, 2}}\n";
    std::string site = dir + "/site.toml";
    std::ofstream(site) << "[site]\nname = \"state-it-" << getpid() << "\"\n"
                        << "[store]\npath = \"" << dir << "/db\"\n"
                        << "[[rules]]\nname = \"keep\"\nfile = \"keep.lua\"\n";
    {
        Process p({gridlet_bin(), "run", site});
        ASSERT_TRUE(p.wait_for_err("rule 'keep': loaded")) << p.err();
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        Result live = run({gridlet_bin(), "state", "show", "keep", "--config", site});
        EXPECT_EQ(live.code, 0) << live.err;
        EXPECT_NE(live.out.find("count = 1"), std::string::npos) << live.out;
        Result busy = run({gridlet_bin(), "state", "clear", "keep", "--config", site});
        EXPECT_EQ(busy.code, 1) << busy.out << busy.err;
        EXPECT_NE(busy.err.find("would write it back"), std::string::npos) << busy.err;
        p.signal(SIGTERM);
        ASSERT_EQ(p.wait(), 0) << p.err();
    }
    Result json = run({gridlet_bin(), "state", "show", "keep", "--json", "--config", site});
    EXPECT_EQ(json.code, 0) << json.err;
    EXPECT_NE(json.out.find("\"text\": \"a \\\"b\\\"\""), std::string::npos) << json.out;
    Result cleared = run({gridlet_bin(), "state", "clear", "keep", "--config", site});
    EXPECT_EQ(cleared.code, 0) << cleared.err;
    EXPECT_NE(cleared.out.find("2 keys of state cleared"), std::string::npos) << cleared.out;
    Result empty = run({gridlet_bin(), "state", "show", "keep", "--config", site});
    EXPECT_NE(empty.out.find("0 keys"), std::string::npos) << empty.out;
    Result again = run({gridlet_bin(), "state", "clear", "keep", "--config", site});
    EXPECT_EQ(again.code, 0);
    EXPECT_NE(again.out.find("no state to clear"), std::string::npos) << again.out;
    run({"rm", "-rf", dir});
}

// What the first fresh-user test of `gridlet import` found: times in the
// spring gap or the autumn fold of the site's zone, samples older than the
// raw retention, a series column twice, a quality column alone, a folder.
// Each is refused with file:line and nothing is written.
TEST(ImportCli, AmbiguousTimesOldSamplesAndBadHeadersAreRefused) {
    std::string dir = "/tmp/gridlet-it-import2-" + std::to_string(getpid());
    run({"rm", "-rf", dir});
    run({"mkdir", "-p", dir});
    std::string site = dir + "/site.toml";
    std::ofstream(site) << "[site]\nname = \"import2-" << getpid() << "\"\ntimezone = \"Europe/Paris\"\n"
                        << "[store]\npath = \"" << dir << "/db\"\nretention_raw_days = 0\nretention_1m_days = 0\n";
    ASSERT_EQ(run({gridlet_bin(), "store", "init", "--config", site}).code, 0);
    std::ofstream(dir + "/dst.csv") << "time,series,value\n"
                                    << "2024-03-31T01:45:00,g/x,1\n"
                                    << "2024-03-31T02:30:00,g/x,2\n"
                                    << "2024-10-27T02:30,g/x,3\n"
                                    << "2024-10-27T02:30+01:00,g/x,4\n";
    Result dst = run({gridlet_bin(), "import", dir + "/dst.csv", "--config", site});
    EXPECT_EQ(dst.code, 2) << dst.out << dst.err;
    EXPECT_NE(dst.err.find("dst.csv:3: local time 2024-03-31T02:30:00 does not exist in Europe/Paris"), std::string::npos)
        << dst.err;
    EXPECT_NE(dst.err.find("dst.csv:4: local time 2024-10-27T02:30 occurs twice in Europe/Paris"), std::string::npos)
        << dst.err;
    EXPECT_EQ(dst.err.find("dst.csv:2"), std::string::npos) << dst.err;
    EXPECT_EQ(dst.err.find("dst.csv:5"), std::string::npos) << dst.err;

    std::ofstream(dir + "/short.toml") << "[site]\nname = \"import2s-" << getpid() << "\"\n"
                                       << "[store]\npath = \"" << dir << "/db\"\nretention_raw_days = 30\n";
    std::ofstream(dir + "/old.csv") << "time,series,value\n2024-01-01T00:00Z,g/y,1\n";
    Result old = run({gridlet_bin(), "import", dir + "/old.csv", "--config", dir + "/short.toml"});
    EXPECT_EQ(old.code, 2) << old.out << old.err;
    EXPECT_NE(old.err.find("older than [store] retention_raw_days (30 days)"), std::string::npos) << old.err;
    Result kept = run({gridlet_bin(), "import", dir + "/old.csv", "--config", site});  // raw kept forever: taken
    EXPECT_EQ(kept.code, 0) << kept.out << kept.err;

    std::ofstream(dir + "/twice.csv") << "time,a/b,a/b\n2024-01-01T00:00Z,1,2\n";
    Result twice = run({gridlet_bin(), "import", dir + "/twice.csv", "--config", site});
    EXPECT_EQ(twice.code, 2);
    EXPECT_NE(twice.err.find("column 3 'a/b' is column 2 too"), std::string::npos) << twice.err;
    std::ofstream(dir + "/alone.csv") << "time,a/b:quality\n2024-01-01T00:00Z,0\n";
    Result alone = run({gridlet_bin(), "import", dir + "/alone.csv", "--config", site});
    EXPECT_EQ(alone.code, 2);
    EXPECT_NE(alone.err.find("has no column 'a/b'"), std::string::npos) << alone.err;
    Result folder = run({gridlet_bin(), "import", dir, "--config", site});
    EXPECT_EQ(folder.code, 2);
    EXPECT_NE(folder.err.find("is a folder, not a file to import"), std::string::npos) << folder.err;
    Result series = run({gridlet_bin(), "series", "--config", site});
    EXPECT_EQ(series.out.find("g/x"), std::string::npos) << series.out;  // nothing of the refused files
    EXPECT_EQ(series.out.find("a/b"), std::string::npos) << series.out;
    run({"rm", "-rf", dir});
}

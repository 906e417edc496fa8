// `gridlet query` CSV is read by pandas.read_csv with no options: a running
// site stores counter samples, the query writes CSV, Debian's python3-pandas
// reads it and checks columns, types and values.
#include <gtest/gtest.h>

#include <fstream>

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
        "assert list(df.columns) == ['time', 'series', 'value'], list(df.columns)\n"
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
                          "assert list(df.columns) == ['time', 'c1/count', 'c2/count'], list(df.columns)\n"
                          "assert len(df) >= 5\n",
                          wcsv});
    EXPECT_EQ(py_wide.code, 0) << py_wide.out << py_wide.err << wide.out.substr(0, 400);
    run({"rm", "-rf", dir});
}

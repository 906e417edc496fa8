// What an operator sees in the first hour (issue 10 items 12 and 16): the
// version and help, TOML mistakes explained, `sim evse` on its own, the
// series table, log times with their offset, a rule load error logged once
// per attempt, a SIGHUP that names what it did not apply, a site without a
// store said so.
#include <gtest/gtest.h>

#include <regex>

#include "integration/process.h"

using namespace gridlet::testing;

namespace {

std::string hello() { return build_dir() + "/plugins/hello.so"; }

bool has(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

size_t count(const std::string& text, const std::string& needle) {
    size_t n = 0;
    for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
    return n;
}

// One Modbus TCP request (fc 3, one register at 0) to `unit`; the reply's
// function code (3, or 0x83 for an exception), or -1 without a reply.
int read_one_register(int port, int unit) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{2, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int fc = -1;
    if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
        const unsigned char req[12] = {0, 7, 0, 0, 0, 6, static_cast<unsigned char>(unit), 3, 0, 0, 0, 1};
        unsigned char rep[64];
        if (write(s, req, sizeof req) == static_cast<ssize_t>(sizeof req)) {
            ssize_t n = read(s, rep, sizeof rep);
            if (n >= 8 && rep[0] == 0 && rep[1] == 7 && rep[6] == unit) fc = rep[7];
        }
    }
    close(s);
    return fc;
}

}  // namespace

TEST(OperatorMessages, VersionAndHelpAnswerInsteadOfAskingForACommand) {
    Result v = run({gridlet_bin(), "--version"});
    EXPECT_EQ(v.code, 0);
    EXPECT_TRUE(std::regex_search(v.out, std::regex("^gridlet [0-9]+\\.[0-9]+\\.[0-9]+\n$"))) << v.out;
    Result h = run({gridlet_bin(), "help"});
    EXPECT_EQ(h.code, 0) << h.err;
    EXPECT_NE(h.out.find("Subcommands:"), std::string::npos) << h.out;
    EXPECT_NE(h.out.find("query"), std::string::npos) << h.out;
    Result hs = run({gridlet_bin(), "help", "store", "repair"});
    EXPECT_EQ(hs.code, 0) << hs.err;
    EXPECT_NE(hs.out.find("Salvage a damaged store"), std::string::npos) << hs.out;
    Result nope = run({gridlet_bin(), "help", "nope"});
    EXPECT_EQ(nope.code, 2);
    EXPECT_NE(nope.err.find("no command 'nope'"), std::string::npos) << nope.err;
    Result none = run({gridlet_bin()});
    EXPECT_EQ(none.code, 2);
    EXPECT_NE(none.err.find("Subcommands:"), std::string::npos) << "the help, not only 'a subcommand is required'";
    EXPECT_NE(none.err.find("a command is required"), std::string::npos) << none.err;
}

TEST(OperatorMessages, TomlMistakesSayWhatTomlWants) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"name = foo", "text needs quotes"},
        {"name = fl", "text needs quotes"},
        {"name = \"x", "closing quote is missing"},
        {"name = 1.2.3", "write text in quotes"},
        {"[site", "a table header is [name]"},
        {"name = \"a\"\nname = \"b\"", "defined only once"},
        {"name = [1, 2", "closed by ]"},
        {"name = { a = 1", "closed by }"},
        {"name = 2024-13-01", "dates are 2024-03-31"},
    };
    for (const auto& [body, hint] : cases) {
        std::string site = temp_file("toml.toml", "[site]\n" + body + "\n");
        Result r = run({gridlet_bin(), "check", site});
        EXPECT_EQ(r.code, 2) << body;
        EXPECT_NE(r.err.find(site + ":"), std::string::npos) << body << ": " << r.err;
        EXPECT_NE(r.err.find(hint), std::string::npos) << body << ": " << r.err;
    }
}

TEST(OperatorMessages, SimEvseRunsOnItsOwn) {
    Process sim({gridlet_bin(), "sim", "evse", "--port", "0", "--stations", "2"});
    int port = 0;
    for (int i = 0; i < 500 && port == 0; ++i) {
        std::smatch m;
        const std::string out = sim.out();
        if (std::regex_search(out, m, std::regex("127\\.0\\.0\\.1:([0-9]+)"))) port = std::stoi(m[1]);
        else std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_NE(port, 0) << sim.out() << sim.err();
    EXPECT_NE(sim.out().find("stations on unit ids 1..2, main meter on unit id 100"), std::string::npos) << sim.out();
    EXPECT_EQ(read_one_register(port, 1), 3) << "station 1 answers";
    EXPECT_EQ(read_one_register(port, 100), 3) << "the meter answers";
    sim.signal(SIGINT);
    EXPECT_EQ(sim.wait(), 0) << sim.err();
    Result clash = run({gridlet_bin(), "sim", "evse", "--port", "0", "--stations", "4", "--meter-unit", "3"});
    EXPECT_EQ(clash.code, 2);
    EXPECT_NE(clash.err.find("--meter-unit 3 is a station's unit id"), std::string::npos) << clash.err;
}

// Aggregates are exact by default (what the store README promises: the sum
// reproduced from raw output bit for bit); --digits rounds for people.
TEST(OperatorMessages, QueryDigitsRoundsForDisplayOnly) {
    const std::string db = "/tmp/gridlet-it-" + std::to_string(getpid()) + "-digits-db";
    remove_store(db);
    ASSERT_EQ(run({gridlet_bin(), "store", "init", "--db", db}).code, 0);
    std::string data = temp_file("digits.csv", "time,series,value\n2026-11-30T10:00:00Z,m/e,0.1\n"
                                               "2026-11-30T10:00:01Z,m/e,0.2\n2026-11-30T10:00:02Z,m/e,-0.0004\n");
    Result imp = run({gridlet_bin(), "import", "--db", db, "--kind", "gauge", data});
    ASSERT_EQ(imp.code, 0) << imp.err;
    const std::vector<std::string> q = {gridlet_bin(), "query", "m/e", "--db", db, "--from", "2026-11-30T10:00:00Z",
                                        "--to", "2026-11-30T10:01:00Z", "--step", "1m", "--agg", "sum"};
    Result exact = run(q);
    ASSERT_EQ(exact.code, 0) << exact.err;
    EXPECT_NE(exact.out.find(",m/e,0.29960000000000003\n"), std::string::npos) << exact.out;
    auto rounded_q = q;
    rounded_q.insert(rounded_q.end(), {"--digits", "2"});
    Result rounded = run(rounded_q);
    EXPECT_NE(rounded.out.find(",m/e,0.3\n"), std::string::npos) << rounded.out;
    rounded_q.insert(rounded_q.end(), {"--format", "json"});
    EXPECT_NE(run(rounded_q).out.find("\"value\": 0.3\n"), std::string::npos);
    auto raw_q = std::vector<std::string>(q.begin(), q.end() - 4);
    raw_q.insert(raw_q.end(), {"--digits", "3"});
    EXPECT_NE(run(raw_q).out.find(",m/e,0,192\n"), std::string::npos) << "-0.0004 to 3 decimals is 0, not -0";
    auto bad = q;
    bad.insert(bad.end(), {"--digits", "16"});
    EXPECT_EQ(run(bad).code, 2);
    remove_store(db);
}

TEST(OperatorMessages, SeriesTableHasAHeaderAndStateNames) {
    const std::string db = "/tmp/gridlet-it-" + std::to_string(getpid()) + "-series-db";
    remove_store(db);
    ASSERT_EQ(run({gridlet_bin(), "store", "init", "--db", db}).code, 0);
    std::string meta = temp_file("meta.csv", "name,kind,unit,states\nev1/state,state,,\"0=available,2=charging\"\n");
    std::string data = temp_file("data.csv", "time,series,value\n2026-11-30T10:00:00Z,ev1/state,2\n");
    Result imp = run({gridlet_bin(), "import", "--db", db, "--series", meta, data});
    ASSERT_EQ(imp.code, 0) << imp.err;
    Result table = run({gridlet_bin(), "series", "--db", db});
    ASSERT_EQ(table.code, 0) << table.err;
    EXPECT_EQ(table.out.rfind("    id  name", 0), 0u) << "a header line first: " << table.out;
    EXPECT_NE(table.out.find("2 (charging)"), std::string::npos) << table.out;
    Result csv = run({gridlet_bin(), "series", "--db", db, "--format", "csv"});
    EXPECT_NE(csv.out.find("description,states\n"), std::string::npos) << csv.out;
    EXPECT_NE(csv.out.find(",\"0=available,2=charging\"\n"), std::string::npos) << csv.out;
    Result json = run({gridlet_bin(), "series", "--db", db, "--format", "json"});
    EXPECT_NE(json.out.find("\"last_state\": \"charging\""), std::string::npos) << json.out;
    remove_store(db);
}

TEST(OperatorMessages, ReloadRefusesABrokenRuleNamesWhatItDidNotApplyAndLogsEachLoadErrorOnce) {
    const std::string tag = std::to_string(getpid());
    const std::string log = "/tmp/gridlet-it-" + tag + "-reload.log";
    std::remove(log.c_str());
    const std::string rule = temp_file("reload_rule.lua", "gridlet.every(1000, function() end)\n");
    const std::string head = "[site]\nname = \"reload-" + tag + "\"\n[logging]\nfile = \"" + log +
                             "\"\n[[plugins]]\nname = \"h\"\nfile = \"" + hello() + "\"\n";
    const std::string tail = "[[rules]]\nname = \"r\"\nfile = \"" + rule + "\"\n";
    const std::string site = temp_file("reload.toml", head + "[plugins.config]\ninterval_ms = 1000\n" + tail);
    Process p({gridlet_bin(), "run", site});
    ASSERT_TRUE(wait_in(log, "rule(s) running")) << slurp(log);
    EXPECT_TRUE(wait_in(log, "no [store] in " + site)) << "a site without a store says so: " << slurp(log);
    // Log times carry their UTC offset.
    EXPECT_TRUE(std::regex_search(slurp(log), std::regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}[+-][0-9]{2}:[0-9]{2} ")))
        << slurp(log);

    // A broken rule: the file watch tries it once and logs it once.
    std::ofstream(rule) << "local a =\n";
    ASSERT_TRUE(wait_in(log, "not loaded")) << slurp(log);
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    EXPECT_EQ(count(slurp(log), "not loaded"), 1u) << slurp(log);
    EXPECT_EQ(count(slurp(log), "unexpected symbol"), 1u) << "one line per failure: " << slurp(log);

    // SIGHUP: the checks of `gridlet check` refuse the broken rule, with
    // the site file's line and the rule's, and the running configuration
    // (the rule's previous version among it) is kept.
    std::ofstream(site) << head << "[plugins.config]\ninterval_ms = 250\n" << tail << "[store]\npath = \"" << log
                        << ".db\"\n";
    p.signal(SIGHUP);
    ASSERT_TRUE(wait_in(log, "keeping the running configuration")) << slurp(log);
    EXPECT_TRUE(has(slurp(log), "reload: " + site + ":10: rule 'r': " + rule + ":2: unexpected symbol")) << slurp(log);
    EXPECT_FALSE(has(slurp(log), "restarted with its new configuration")) << slurp(log);

    // The rule mended: the same file applies. The plugin setting is applied
    // (the plugin restarts with it) and named; the [store] one, which waits
    // for a restart, is named as such.
    std::ofstream(rule) << "gridlet.every(1000, function() end)\n";
    p.signal(SIGHUP);
    ASSERT_TRUE(wait_in(log, "reloaded")) << slurp(log);
    EXPECT_TRUE(wait_in(log, "reload: plugin 'h' config: interval_ms: 1000 -> 250")) << slurp(log);
    EXPECT_TRUE(wait_in(log, "reload: plugin 'h' restarted with its new configuration")) << slurp(log);
    EXPECT_TRUE(wait_in(log, "not applied until gridlet restarts: [store] path: (not set: the default) -> ")) << slurp(log);
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    EXPECT_EQ(count(slurp(log), "not loaded"), 1u) << "the file watch said it once: " << slurp(log);
    p.signal(SIGTERM);
    p.wait();
    std::remove(log.c_str());
}

TEST(OperatorMessages, CheckNotesASiteWithoutAStore) {
    std::string site = temp_file("nostore.toml", "[site]\nname = \"x\"\n");
    Result r = run({gridlet_bin(), "check", site});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("note: no [store]: samples and events are not kept"), std::string::npos) << r.out;
}

// Every command's help is plain text (a uint8_t default once printed as a
// raw byte: "--unit ...=^A").
TEST(OperatorMessages, EveryHelpIsPlainText) {
    const std::vector<std::vector<std::string>> commands = {
        {}, {"run"}, {"check"}, {"plugins"}, {"metrics"}, {"reload"}, {"publish"}, {"sim"}, {"sim", "bcpm"}, {"sim", "evse"},
        {"test-rule"}, {"query"}, {"series"}, {"events"}, {"store"}, {"store", "init"}, {"store", "verify"},
        {"store", "repair"}, {"import"}, {"state"}, {"state", "show"}, {"state", "clear"}, {"version"}};
    for (const auto& c : commands) {
        std::vector<std::string> argv = {gridlet_bin(), "help"};
        argv.insert(argv.end(), c.begin(), c.end());
        Result r = run(argv);
        std::string name;
        for (const auto& w : c) name += " " + w;
        EXPECT_EQ(r.code, 0) << name << ": " << r.err;
        for (unsigned char ch : r.out)
            if (ch < 0x20 && ch != '\n') {
                ADD_FAILURE() << "gridlet help" << name << ": control byte " << int(ch) << " in\n" << r.out;
                break;
            }
    }
}

// SIGHUP runs the checks of `gridlet check`: a change that would be refused
// at the next start is said now, and the running configuration is kept.
TEST(OperatorMessages, ReloadRefusesWhatCheckRefusesAndSaysWhy) {
    const std::string tag = std::to_string(getpid());
    const std::string log = "/tmp/gridlet-it-" + tag + "-reload2.log";
    std::remove(log.c_str());
    const std::string head = "[site]\nname = \"reload2-" + tag + "\"\n[logging]\nfile = \"" + log + "\"\n";
    const std::string site = temp_file("reload2.toml", head + "[[plugins]]\nname = \"h\"\nfile = \"" + hello() + "\"\n");
    Process p({gridlet_bin(), "run", site});
    ASSERT_TRUE(wait_in(log, "plugin 'h' started")) << slurp(log);
    std::ofstream(site) << head << "[kernel]\ncontrol = \"tcp://nothing\"\n[[plugins]]\nname = \"h\"\nfile = \"" << hello()
                        << "\"\n";
    p.signal(SIGHUP);
    EXPECT_TRUE(wait_in(log, "is not an ipc:// endpoint")) << slurp(log);
    EXPECT_TRUE(wait_in(log, "keeping the running configuration")) << slurp(log);
    p.signal(SIGTERM);
    p.wait();
    std::remove(log.c_str());
}

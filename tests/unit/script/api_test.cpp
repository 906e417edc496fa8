// The gridlet Lua API, function by function, as a rule author sees it.
#include <cmath>

#include "script_fixture.h"

namespace gridlet::script::test {

namespace {

class ApiTest : public ScriptTest {};

TEST_F(ApiTest, OnDeliversEachSampleWithNameTimeAndQuality) {
    load(rule("r", R"(
        gridlet.on("meter/current", function(v, series, ts, q)
          gridlet.state.seen = {v = v, series = series, ts = ts, q = q}
        end)
    )"));
    feed("meter/current", 12.5);
    feed("meter/voltage", 230);  // not subscribed
    EXPECT_EQ(state("r", "seen"), R"({"q":192,"series":"meter/current","ts":1711800000000,"v":12.5})");
}

TEST_F(ApiTest, OnPatternsAreExactPrefixOrGlob) {
    load(rule("r", R"(
        local n = {exact = 0, prefix = 0, glob = 0}
        gridlet.on("a/b", function() n.exact = n.exact + 1; gridlet.state.n = n end)
        gridlet.on("a/", function() n.prefix = n.prefix + 1; gridlet.state.n = n end)
        gridlet.on("*/b*", function() n.glob = n.glob + 1; gridlet.state.n = n end)
    )"));
    feed("a/b", 1);
    feed("a/bc", 1);
    feed("x/y", 1);
    EXPECT_EQ(state("r", "n"), R"({"exact":1,"glob":2,"prefix":2})");
}

TEST_F(ApiTest, BatchDeliveryGivesColumns) {
    load(rule("r", R"(
        gridlet.on("m/", function(b)
          local sum = 0
          for i = 1, b.n do sum = sum + b.value[i] end
          gridlet.state.batch = {n = b.n, sum = sum, first = b.series[1], last_ts = b.ts[b.n]}
        end, {batch = true})
    )"));
    std::vector<gl_sample> batch;
    for (int i = 0; i < 10; ++i) {
        batch.push_back({kStart + i, double(i), host_->intern(i % 2 ? "m/odd" : "m/even"), GL_QUALITY_GOOD, {0, 0, 0}});
    }
    engine_->on_samples(batch);
    EXPECT_EQ(state("r", "batch"), R"({"first":"m/even","last_ts":1711800000009,"n":10,"sum":45})");
    // A smaller batch does not show stale entries of the previous one.
    load(rule("r", R"(
        gridlet.on("m/", function(b) gridlet.state.len = #b.value end, {batch = true})
    )"));
    engine_->on_samples(batch);
    engine_->on_samples({batch.data(), 3});
    EXPECT_EQ(state("r", "len"), "3");
}

TEST_F(ApiTest, OnTakesAListOfPatternsAsOneSubscription) {
    load(rule("r", R"(
        local calls, seen = 0, {}
        gridlet.on({"meter/l1", "meter/l2", "cmd/"}, function(b)
          calls = calls + 1
          for i = 1, b.n do seen[#seen + 1] = b.series[i] end
          gridlet.state.got = {calls = calls, seen = table.concat(seen, " ")}
        end, {batch = true})
    )"));
    std::vector<gl_sample> batch = {
        {kStart, 1, host_->intern("meter/l1"), GL_QUALITY_GOOD, {0, 0, 0}},
        {kStart, 2, host_->intern("meter/l3"), GL_QUALITY_GOOD, {0, 0, 0}},  // not in the list
        {kStart, 3, host_->intern("meter/l2"), GL_QUALITY_GOOD, {0, 0, 0}},
        {kStart, 4, host_->intern("cmd/start"), GL_QUALITY_GOOD, {0, 0, 0}},
    };
    engine_->on_samples(batch);
    EXPECT_EQ(state("r", "got"), R"({"calls":1,"seen":"meter/l1 meter/l2 cmd/start"})");
    EXPECT_NE(load_error(rule("bad", R"(gridlet.on({"a", 3}, function() end))")).find("gridlet.on: entry 2 of the list is not a string"),
              std::string::npos);
    EXPECT_NE(load_error(rule("bad", R"(gridlet.on({}, function() end))")).find("the list must hold 1..1000 names (has 0)"),
              std::string::npos);
}

TEST_F(ApiTest, LatestKeepsTheLatestGoodSampleOfEachSeries) {
    feed("ev1/state", 2, kStart - 5000);  // known before the rule starts: the view begins with it
    load(rule("r", R"(
        local v = gridlet.latest({"ev1/state", "ev1/current", "ev2/current"})
        gridlet.on("x/go", function()
          gridlet.state.view = {n = v.n, s1 = v.value[1], t1 = v.ts[1], c1 = v.value[2], c2 = v.value[3] or "nil",
                                name2 = v.series[2], handle = type(v.handle)}
        end)
    )"));
    feed("x/go", 1);
    EXPECT_EQ(state("r", "view"), R"({"c2":"nil","handle":"number","n":3,"name2":"ev1/current","s1":2,"t1":1711799995000})");
    // One delivery: the view holds its newest good sample before any callback
    // runs; bad quality and NaN leave the previous value.
    std::vector<gl_sample> batch = {
        {kStart + 1, 10, host_->intern("ev1/current"), GL_QUALITY_GOOD, {0, 0, 0}},
        {kStart + 2, 11, host_->intern("ev1/current"), GL_QUALITY_GOOD, {0, 0, 0}},
        {kStart + 3, 99, host_->intern("ev1/current"), 0, {0, 0, 0}},
        {kStart + 3, std::nan(""), host_->intern("ev2/current"), GL_QUALITY_GOOD, {0, 0, 0}},
        {kStart + 4, 1, host_->intern("x/go"), GL_QUALITY_GOOD, {0, 0, 0}},
    };
    engine_->on_samples(batch);
    EXPECT_EQ(state("r", "view"), R"({"c1":11,"c2":"nil","handle":"number","n":3,"name2":"ev1/current","s1":2,"t1":1711799995000})");
}

TEST_F(ApiTest, LatestRefusesPatternsAndCanBeCancelled) {
    EXPECT_NE(load_error(rule("bad", R"(gridlet.latest({"ev1/", "x"}))")).find("gridlet.latest: 'ev1/': exact series names only"),
              std::string::npos);
    EXPECT_NE(load_error(rule("bad", R"(gridlet.latest("ev*/state"))")).find("exact series names only"), std::string::npos);
    EXPECT_NE(load_error(rule("bad", R"(gridlet.latest({"a/b", "a/c", "a/b"}))")).find("gridlet.latest: 'a/b' is listed twice"),
              std::string::npos);
    load(rule("r", R"(
        local v = gridlet.latest("m/p")
        gridlet.on("x/go", function(x)
          if x == 1 then gridlet.state.cancelled = gridlet.cancel(v.handle) end
          gridlet.state.p = v.value[1]
        end)
    )"));
    feed("m/p", 5);
    feed("x/go", 1);
    feed("m/p", 6);
    feed("x/go", 2);
    EXPECT_EQ(state("r", "cancelled"), "true");
    EXPECT_EQ(state("r", "p"), "5");
}

TEST_F(ApiTest, CancelStopsDelivery) {
    load(rule("r", R"(
        local n = 0
        local h
        h = gridlet.on("a/b", function() n = n + 1; gridlet.state.n = n; if n == 2 then gridlet.cancel(h) end end)
    )"));
    for (int i = 0; i < 5; ++i) feed("a/b", i);
    EXPECT_EQ(state("r", "n"), "2");
}

TEST_F(ApiTest, EveryFiresOnTheEngineClockWithoutDrift) {
    load(rule("r", R"(
        local n = 0
        gridlet.every("10s", function(now) n = n + 1; gridlet.state.n = n; gridlet.state.at = now end)
    )"));
    advance(35'000);
    EXPECT_EQ(state("r", "n"), "3");
    EXPECT_EQ(state("r", "at"), std::to_string(kStart + 30'000));
}

TEST_F(ApiTest, AtFiresDailyInTheSiteZone) {
    make_host(kStart, "Europe/Paris");  // 13:00 CET
    load(rule("r", R"(
        gridlet.at("14:30", function(now) gridlet.state.fired = os.date("%Y-%m-%d %H:%M", now / 1000) end)
    )"));
    advance(3'600'000);
    EXPECT_EQ(state("r", "fired"), "");
    advance(1'800'000);
    EXPECT_EQ(state("r", "fired"), "\"2024-03-30 14:30\"");
}

TEST_F(ApiTest, LastGivesValueTimeQualityOrNil) {
    load(rule("r", R"(
        gridlet.on("x/go", function()
          local v, ts, q = gridlet.last("m/p")
          gridlet.state.last = {v = v, ts = ts, q = q}
          gridlet.state.none = gridlet.last("no/such") == nil
        end)
    )"));
    feed("m/p", 3, kStart - 1000);
    feed("m/p", 4);
    feed("x/go", 1);
    EXPECT_EQ(state("r", "last"), R"({"q":192,"ts":1711800000000,"v":4})");
    EXPECT_EQ(state("r", "none"), "true");
}

TEST_F(ApiTest, WindowStatsIncludeHistoryFromTheStore) {
    // Samples from before the rule asked: back-filled through host.query().
    for (int i = 0; i < 5; ++i) {
        gl_sample s{kStart - 4000 + i * 1000, double(i + 1), host_->intern("m/p"), GL_QUALITY_GOOD, {0, 0, 0}};
        host_->record(s);
    }
    load(rule("r", R"(
        gridlet.on("x/go", function()
          local w = gridlet.window("m/p", "10s")
          gridlet.state.w = {avg = w.avg, min = w.min, max = w.max, sum = w.sum, count = w.count, delta = w.delta}
          gridlet.state.empty = gridlet.window("m/p", 0.5).count
        end)
    )"));
    feed("m/p", 10, kStart + 1);  // 1..5 then 10
    advance(1);
    feed("x/go", 1);
    EXPECT_EQ(state("r", "w"), R"({"avg":4.166666666666667,"count":6,"delta":9,"max":10,"min":1,"sum":25})");
    EXPECT_EQ(state("r", "empty"), "2");  // kStart (5) and kStart + 1 (10)
    advance(20'000);
    feed("x/go", 1);
    EXPECT_EQ(state("r", "w"), R"({"count":0})");
}

TEST_F(ApiTest, WindowDeltaOfACounterHandlesAReset) {
    host_->intern("m/kwh", SeriesKind::counter);
    load(rule("r", R"(
        gridlet.on("x/go", function() gridlet.state.d = gridlet.window("m/kwh", "1h").delta end)
    )"));
    for (double v : {100.0, 105.0, 2.0, 4.0}) {  // reset to 0 after 105
        feed("m/kwh", v);
        advance(1000);
    }
    feed("x/go", 1);
    EXPECT_EQ(state("r", "d"), "9");
}

TEST_F(ApiTest, QueryRawAndBucketed) {
    for (int i = 0; i < 60; ++i) host_->record({kStart - 60'000 + i * 1000, double(i), host_->intern("m/p"), GL_QUALITY_GOOD, {0, 0, 0}});
    load(rule("r", R"(
        gridlet.on("x/go", function()
          local raw = gridlet.query{series = "m/p", last = "10s"}
          local agg = gridlet.query{series = "m/*", last = "60s", step = "30s", agg = "max"}
          gridlet.state.q = {raw = #raw, first = raw[1].value, series = raw[1].series,
                             b1 = agg[1].value, b2 = agg[2].value, nb = #agg}
        end)
    )"));
    feed("x/go", 1);
    EXPECT_EQ(state("r", "q"), R"({"b1":29,"b2":59,"first":50,"nb":2,"raw":10,"series":"m/p"})");
}

TEST_F(ApiTest, QueryDeltaIsACounterConsumptionAsInTheStore) {
    const uint32_t kwh = host_->intern("m/kwh", SeriesKind::counter);
    for (int i = 0; i < 60; ++i) {
        host_->record({kStart - 60'000 + i * 1000, 100.0 + i, kwh, GL_QUALITY_GOOD, {0, 0, 0}});
        host_->record({kStart - 60'000 + i * 1000, double(i), host_->intern("m/p"), GL_QUALITY_GOOD, {0, 0, 0}});
    }
    load(rule("r", R"(
        gridlet.on("x/go", function()
          local d = gridlet.query{series = "m/kwh", last = "60s", step = "30s", agg = "delta"}
          gridlet.state.d = {d[1].value, d[2].value}
          local ok, err = pcall(gridlet.query, {series = "m/p", last = "60s", step = "30s", agg = "delta"})
          gridlet.state.gauge = err
        end)
    )"));
    feed("x/go", 1);
    // As the store charges it: each interval to the bucket of its start
    // (store/aggregation.h): 30 intervals start in the first half, 29 closed
    // ones in the second (the newest reading's interval is still open).
    EXPECT_EQ(state("r", "d"), "[30,29]");
    EXPECT_NE(state("r", "gauge").find("gridlet.query: series 'm/p' is a gauge: consumption needs a counter"), std::string::npos)
        << state("r", "gauge");
}

TEST_F(ApiTest, WriteSendsACommandAndDeliversTheReply) {
    host_->add_reply_rule({"ev2/setpoint", GL_ERR, "station offline", 200, -1});
    load(rule("r", R"(
        gridlet.on("x/go", function()
          gridlet.write("ev1/setpoint", 16, function(ok, err) gridlet.state.r1 = {ok = ok, err = err or "none"} end)
          gridlet.write("ev2/setpoint", 10, {timeout = "1s", on_reply = function(ok, err)
            gridlet.state.r2 = {ok = ok, err = err} end})
        end)
    )"));
    feed("x/go", 1);
    ASSERT_EQ(host_->commands().size(), 2u);
    EXPECT_EQ(host_->commands()[0].request.target, "ev1/setpoint");
    EXPECT_EQ(host_->commands()[0].request.value, 16);
    EXPECT_EQ(host_->commands()[1].request.timeout_ms, 1000u);
    advance(0);
    EXPECT_EQ(state("r", "r1"), R"({"err":"none","ok":true})");
    EXPECT_EQ(state("r", "r2"), "");
    advance(200);
    EXPECT_EQ(state("r", "r2"), R"({"err":"station offline","ok":false})");
}

TEST_F(ApiTest, WriteTimeoutReachesTheCallback) {
    host_->add_reply_rule({"ev1/*", GL_ERR_TIMEOUT, "", 0, -1});
    load(rule("r", R"(
        gridlet.on("x/go", function()
          gridlet.write("ev1/setpoint", 6, {timeout = 2, on_reply = function(ok, err) gridlet.state.err = err end})
        end)
    )"));
    feed("x/go", 1);
    advance(1999);
    EXPECT_EQ(state("r", "err"), "");
    advance(1);
    EXPECT_EQ(state("r", "err"), "\"timeout\"");
}

TEST_F(ApiTest, WriteRejectsBadTargetsAndValues) {
    load(rule("r", R"(
        gridlet.on("x/go", function()
          gridlet.state.a = select(2, pcall(gridlet.write, "nodevice", 1))
          gridlet.state.b = select(2, pcall(gridlet.write, "a/b", {}))
        end)
    )"));
    feed("x/go", 1);
    EXPECT_NE(state("r", "a").find("bad target 'nodevice'"), std::string::npos) << state("r", "a");
    EXPECT_NE(state("r", "b").find("value must be a number, boolean or string"), std::string::npos);
    EXPECT_TRUE(host_->commands().empty());
}

TEST_F(ApiTest, EmitRecordsAnEvent) {
    load(rule("r", R"(
        gridlet.on("x/go", function(v)
          gridlet.emit("overload", "warning", {current = v, limit = params.limit})
          gridlet.emit("note", 1, "plain text")
        end)
    )", {{"limit", 80}}));
    feed("x/go", 92);
    ASSERT_EQ(host_->events().size(), 2u);
    const RuleEvent& e = host_->events()[0];
    EXPECT_EQ(e.type, "overload");
    EXPECT_EQ(e.severity, Severity::warning);
    EXPECT_EQ(e.source, "rule/r");
    EXPECT_EQ(e.body_json, R"({"current":92,"limit":80})");
    EXPECT_EQ(host_->events()[1].body_json, R"({"message":"plain text"})");
}

TEST_F(ApiTest, StatePersistsAcrossARestart) {
    auto c = rule("r", R"(
        gridlet.state.boots = (gridlet.state.boots or 0) + 1
        gridlet.state.tmp = nil
    )");
    load(c);
    EXPECT_EQ(state("r", "boots"), "1");
    // A new engine on the same host (the store): the count goes on.
    EngineOptions o;
    engine_ = std::make_unique<Engine>(*host_, o);
    load(c);
    EXPECT_EQ(state("r", "boots"), "2");
}

TEST_F(ApiTest, StateRejectsUnstorableValues) {
    EXPECT_NE(load_error(rule("r", "gridlet.state.f = function() end")).find("cannot store a function"), std::string::npos);
}

TEST_F(ApiTest, LogIsTaggedWithRuleAndLine) {
    load(rule("r", "gridlet.log.warn('limit %d reached', 80)\nprint('hello', 1)"));
    ASSERT_EQ(host_->logs().size(), 3u);  // + "loaded"
    EXPECT_EQ(host_->logs()[0].rule, "r");
    EXPECT_EQ(host_->logs()[0].level, LogLevel::warn);
    EXPECT_NE(host_->logs()[0].message.find("r.lua:1: limit 80 reached"), std::string::npos) << host_->logs()[0].message;
    EXPECT_EQ(host_->logs()[1].message, "hello\t1");
}

TEST_F(ApiTest, NowAndOsTimeFollowTheEngineClock) {
    load(rule("r", R"(
        gridlet.every(60, function() gridlet.state.t = {now = gridlet.now(), os = os.time()} end)
    )"));
    advance(60'000);
    EXPECT_EQ(state("r", "t"), R"({"now":1711800060000,"os":1711800060})");
}

TEST_F(ApiTest, MonotonicDoesNotStepWithTheWallClock) {
    load(rule("r", R"(
        local t0 = gridlet.monotonic()
        gridlet.every(60, function() gridlet.state.d = {mono = gridlet.monotonic() - t0, wall = gridlet.now()} end)
    )"));
    host_->manual_clock().step_wall(-3'600'000);
    advance(60'000);
    EXPECT_EQ(state("r", "d"), R"({"mono":60000,"wall":1711796460000})");
}

TEST_F(ApiTest, ParamsAreVisibleAsGlobalAndInModule) {
    load(rule("r", R"(
        gridlet.state.p = {params.meter, gridlet.params.limits[2], params.nested.on}
    )", {{"meter", "main/current"}, {"limits", {10, 20}}, {"nested", {{"on", true}}}}));
    EXPECT_EQ(state("r", "p"), R"(["main/current",20,true])");
}

TEST_F(ApiTest, RequireFindsLibraryAndOwnFolderModules) {
    write_file("lib/gridlet/util.lua", "local M = {} function M.double(x) return 2 * x end return M");
    write_file("helpers.lua", "return {name = 'own'}");
    load(rule("r", R"(
        local util = require("gridlet.util")
        local h = require("helpers")
        assert(require("gridlet.util") == util)  -- cached
        assert(require("gridlet") == gridlet)
        gridlet.state.v = {util.double(21), h.name}
    )"));
    EXPECT_EQ(state("r", "v"), R"([42,"own"])");
}

}  // namespace


// Issue 12 item 8: a read is a copy; rawset/rawget cannot go around the
// proxy; the state's total size is limited (a quarter of the memory budget)
// so it always loads again, and an over-limit stored state says so.
// Issue 12 item 7: a store that refuses state writes (a full disk) is
// logged at once, then at most once a minute with the count; the first
// saved write after says how many were lost. It was one line per write.
TEST_F(ApiTest, StateWritesThatFailAreLoggedOnceAMinute) {
    load(rule("r", R"(
        local n = 0
        gridlet.every("1s", function() n = n + 1; gridlet.state.n = n end)
    )"));
    host_->fail_state_writes("No space left on device");
    advance(300'000);  // 300 failed writes
    std::vector<std::string> errors;
    for (const LogLine& l : host_->logs())
        if (l.level == LogLevel::error) errors.push_back(l.message);
    ASSERT_GE(errors.size(), 5u);
    EXPECT_LE(errors.size(), 6u);
    EXPECT_NE(errors[0].find("gridlet.state.n not saved: No space left on device"), std::string::npos) << errors[0];
    EXPECT_NE(errors[1].find("60 writes not saved since the last message"), std::string::npos) << errors[1];
    host_->fail_state_writes(std::nullopt);
    advance(1'000);
    EXPECT_NE(host_->logs().back().message.find("saved again (300 writes were not saved)"), std::string::npos)
        << host_->logs().back().message;
    EXPECT_EQ(state("r", "n"), "301");
}

// Issue 12 item 7: floods of output are limited per rule and per second of
// the engine clock: writes, events and state writes over the limit raise an
// error naming the limit; log lines over it are dropped, with a warning at
// once and a count once a minute.
TEST_F(ApiTest, OutputFloodsAreLimitedPerSecond) {
    RuleConfig c = rule("r", R"(
        local function flood(fn, n)
          local done = 0
          local ok, err = pcall(function() for i = 1, n do fn(i); done = done + 1 end end)
          return done, tostring(err)
        end
        local r = {}
        gridlet.on("x/go", function()
          r.writes, r.write_err = flood(function() gridlet.write("nobody/x", 1) end, 50)
          r.events, r.event_err = flood(function(i) gridlet.emit("flood", "info", {i = i}) end, 50)
          r.sets, r.state_err = flood(function(i) gridlet.state["k" .. i] = i end, 50)
          for i = 1, 100 do gridlet.log.info("line %d", i) end
        end)
        gridlet.on("x/report", function()  -- a second later: state writes fit again
          for k, v in pairs(r) do gridlet.state[k] = v end
        end)
    )");
    c.budgets.writes_per_s = 10;
    c.budgets.events_per_s = 5;
    c.budgets.state_writes_per_s = 30;
    c.budgets.log_lines_per_s = 20;
    load(c);
    feed("x/go", 1);
    advance(1'000);
    feed("x/report", 1);
    EXPECT_EQ(state("r", "writes"), "10");
    EXPECT_NE(state("r", "write_err").find("more than 10 writes in one second (writes_per_s)"), std::string::npos)
        << state("r", "write_err");
    EXPECT_EQ(state("r", "events"), "5");
    EXPECT_NE(state("r", "event_err").find("events_per_s"), std::string::npos) << state("r", "event_err");
    EXPECT_EQ(host_->commands().size(), 10u);
    EXPECT_EQ(count_events("flood"), 5u);
    EXPECT_EQ(state("r", "sets"), "30");
    EXPECT_NE(state("r", "state_err").find("more than 30 writes in one second (state_writes_per_s)"), std::string::npos)
        << state("r", "state_err");
    size_t lines = 0, warnings = 0;
    for (const LogLine& l : host_->logs()) {
        if (l.message.find("line ") != std::string::npos && l.level == LogLevel::info) ++lines;
        if (l.message.find("log lines in a second: lines are dropped") != std::string::npos) ++warnings;
    }
    EXPECT_LE(lines, 20u);
    EXPECT_EQ(warnings, 1u);
    // A second later the rule may write again; a minute on, the drops are counted.
    advance(61'000);
    feed("x/go", 2);
    EXPECT_EQ(host_->commands().size(), 20u);
    bool counted = false;
    for (const LogLine& l : host_->logs()) counted = counted || l.message.find("log lines dropped (over log_lines_per_s = 20 or log_bytes_per_s = 20000)") != std::string::npos;
    EXPECT_TRUE(counted);
}

TEST_F(ApiTest, StateReadsAreCopiesAndTheStateIsBounded) {
    RuleConfig c = rule("r", R"(
        gridlet.on("x/go", function()
          gridlet.state.q = {1, 2}
          local q = gridlet.state.q
          q[3] = 3                                   -- a copy: not stored
          gridlet.state.seen = #gridlet.state.q
          gridlet.state.raw = tostring(pcall(rawset, gridlet.state, "k", 1))
          gridlet.state.big = nil
          local ok, err = pcall(function() gridlet.state.big = string.rep("x", 600 * 1024) end)
          gridlet.state.err = tostring(err)
        end)
    )");
    c.budgets.memory_bytes = 2u << 20;  // state limit: 512 KiB
    load(c);
    feed("x/go", 1);
    EXPECT_EQ(state("r", "q"), "[1,2]");
    EXPECT_EQ(state("r", "seen"), "2");
    EXPECT_EQ(state("r", "raw"), "\"false\"");
    EXPECT_EQ(state("r", "big"), "");
    EXPECT_NE(state("r", "err").find("over its limit of 524288"), std::string::npos) << state("r", "err");

    // A stored state over the limit (written under a larger budget): the load says so and what to do.
    host_->set_state("s", "blob", "\"" + std::string(700 * 1024, 'y') + "\"");
    RuleConfig small = rule("s", "gridlet.on('x/go', function() end)");
    small.budgets.memory_bytes = 2u << 20;
    const std::string err = load_error(small);
    EXPECT_NE(err.find("persistent state (1 keys"), std::string::npos) << err;
    EXPECT_NE(err.find("raise the rule's memory_mb"), std::string::npos) << err;
}

}  // namespace gridlet::script::test

namespace gridlet::script::test {

// gridlet.devices(): the site's device names, sorted, for checking params
// at load; nil where the host does not know the site (the offline harness).
class DevicesTest : public ScriptTest {};

TEST_F(DevicesTest, TheSitesDeviceNamesSortedOrNilWithoutASite) {
    load(rule("a", R"(gridlet.state.devices = gridlet.devices() == nil and "nil" or "list")"));
    EXPECT_EQ(state("a", "devices"), "\"nil\"");
    host_->set_site_devices({"relays", "main", "ev1"});
    load(rule("b", R"(gridlet.state.devices = table.concat(gridlet.devices(), ","))"));
    EXPECT_EQ(state("b", "devices"), "\"ev1,main,relays\"");
    EXPECT_NE(load_error(rule("c", R"(
      local known = {}
      for _, d in ipairs(gridlet.devices()) do known[d] = true end
      if not known[params.meter] then error("params.meter: no device '" .. params.meter .. "' in this site", 0) end
    )", {{"meter", "mian"}})).find("params.meter: no device 'mian' in this site"), std::string::npos);
}

// gridlet.publish: a sample of the rule's own series, as a driver publishes
// one; it reaches rules on a later delivery, never inside the callback.
class PublishTest : public ScriptTest {};

TEST_F(PublishTest, PublishesASampleThatRulesGetOnTheNextDelivery) {
    load(rule("calc", R"(
        gridlet.on("meter/kw", function(v, _, ts)
          gridlet.publish("calc/double", v * 2, {unit = "kW"})
        end)
        gridlet.on("calc/double", function(v) gridlet.state.got = v end)
    )"));
    feed("meter/kw", 21);
    ASSERT_EQ(host_->published().size(), 1u);
    EXPECT_EQ(host_->published()[0].first, "calc/double");
    EXPECT_EQ(host_->published()[0].second.value, 42);
    EXPECT_EQ(host_->published()[0].second.ts_ms, host_->clock().now_ms());
    EXPECT_EQ(state("calc", "got"), "") << "not delivered inside the publishing callback";
    auto batch = host_->take_undelivered();
    ASSERT_EQ(batch.size(), 1u);
    engine_->on_samples(batch);
    EXPECT_EQ(state("calc", "got"), "42");
    auto ref = host_->find_series("calc/double");
    ASSERT_TRUE(ref);
    EXPECT_EQ(host_->registry().get(ref->id)->unit, "kW");
}

TEST_F(PublishTest, TakesATimeAndAKindAndRefusesBadArguments) {
    load(rule("calc", R"(
        gridlet.publish("calc/energy", 5, {ts = 1711800000000 - 60000, kind = "counter", unit = "kWh"})
        local function why(f) local ok, err = pcall(f); return ok and "ok" or tostring(err) end
        gridlet.state.bad_name = why(function() gridlet.publish("no_slash", 1) end)
        gridlet.state.nan = why(function() gridlet.publish("calc/x", 0 / 0) end)
        gridlet.state.text = why(function() gridlet.publish("calc/x", "1") end)
        gridlet.state.kind = why(function() gridlet.publish("calc/x", 1, {kind = "meter"}) end)
        gridlet.state.ts = why(function() gridlet.publish("calc/x", 1, {ts = "now"}) end)
        gridlet.state.opts = why(function() gridlet.publish("calc/x", 1, 5) end)
        gridlet.state.bool = why(function() gridlet.publish("calc/flag", true) end)
    )"));
    ASSERT_EQ(host_->published().size(), 2u);
    EXPECT_EQ(host_->published()[0].second.ts_ms, kStart - 60000);
    auto ref = host_->find_series("calc/energy");
    ASSERT_TRUE(ref);
    EXPECT_EQ(ref->kind, SeriesKind::counter);
    EXPECT_EQ(host_->published()[1].second.value, 1);
    EXPECT_NE(state("calc", "bad_name").find("gridlet.publish: bad series 'no_slash'"), std::string::npos) << state("calc", "bad_name");
    EXPECT_NE(state("calc", "nan").find("value is NaN or infinite"), std::string::npos);
    EXPECT_NE(state("calc", "text").find("value must be a number or a boolean, got string"), std::string::npos);
    EXPECT_NE(state("calc", "kind").find("kind must be \\\"gauge\\\", \\\"counter\\\" or \\\"state\\\""), std::string::npos)
        << state("calc", "kind");
    EXPECT_NE(state("calc", "ts").find("ts must be UTC milliseconds"), std::string::npos);
    EXPECT_NE(state("calc", "opts").find("third argument must be an options table"), std::string::npos);
    EXPECT_EQ(state("calc", "bool"), "\"ok\"");
}

TEST_F(PublishTest, AnExistingSeriesOfAnotherKindIsRefusedAndSaid) {
    host_->intern("calc/energy", SeriesKind::counter, "kWh");
    load(rule("calc", R"(gridlet.publish("calc/energy", 1, {kind = "gauge"}))"));
    EXPECT_TRUE(host_->published().empty());
    EXPECT_NE(logs().find("gridlet.publish calc/energy: not published: the series exists as a counter"), std::string::npos)
        << logs();
}

// gridlet.export: a rule's own file (text, or a table as JSON) queued for
// a target; bad arguments are Lua errors at the call.
class ExportApiTest : public ScriptTest {};

TEST_F(ExportApiTest, QueuesTextAndJsonFilesAndRefusesBadArguments) {
    load(rule("report", R"(
        gridlet.export{target = "office", name = "day.csv", content = "time;kwh\r\n2026-11-30;42\r\n"}
        gridlet.export{target = "office", name = "day.json", content = {site = "acme", kwh = 42, days = {1, 2}}}
        local function why(f) local ok, err = pcall(f); return ok and "ok" or tostring(err) end
        gridlet.state.no_target = why(function() gridlet.export{name = "x", content = "y"} end)
        gridlet.state.slash = why(function() gridlet.export{target = "office", name = "../x", content = "y"} end)
        gridlet.state.number = why(function() gridlet.export{target = "office", name = "x", content = 5} end)
        gridlet.state.not_table = why(function() gridlet.export("office") end)
        gridlet.state.long = why(function() gridlet.export{target = "office", name = string.rep("n", 200), content = ""} end)
        gridlet.state.unknown = why(function() gridlet.export{target = "office", name = "x", content = "y", bogus = 1} end)
        gridlet.state.dots = why(function() gridlet.export{target = "office", name = "..", content = "y"} end)
        gridlet.on("meter/kw", function(v)
          gridlet.export{target = "office", name = "kw.csv", content = "kw\r\n" .. v .. "\r\n"}
        end)
    )"));
    ASSERT_EQ(host_->exported().size(), 2u) << logs();
    EXPECT_EQ(host_->exported()[0].rule, "report");
    EXPECT_EQ(host_->exported()[0].target, "office");
    EXPECT_EQ(host_->exported()[0].name, "day.csv");
    EXPECT_EQ(host_->exported()[0].content, "time;kwh\r\n2026-11-30;42\r\n");
    EXPECT_EQ(nlohmann::json::parse(host_->exported()[1].content),
              nlohmann::json::parse(R"({"site": "acme", "kwh": 42, "days": [1, 2]})"));
    EXPECT_NE(state("report", "no_target").find("gridlet.export: 'target' must be a string"), std::string::npos)
        << state("report", "no_target");
    EXPECT_NE(state("report", "slash").find("has a '/'"), std::string::npos) << state("report", "slash");
    EXPECT_NE(state("report", "number").find("'content' must be a string (the file's text) or a table (JSON)"),
              std::string::npos);
    EXPECT_NE(state("report", "not_table").find("gridlet.export: takes one table {target =, name =, content =}, got string"),
              std::string::npos)
        << state("report", "not_table");
    EXPECT_NE(state("report", "unknown").find("unknown key 'bogus' (target, name, content)"), std::string::npos);
    EXPECT_NE(state("report", "dots").find("name '..' is not a file name"), std::string::npos);
    EXPECT_NE(state("report", "long").find("'name' is 200 bytes, over the limit of 128"), std::string::npos);
    feed("meter/kw", 1);
    ASSERT_EQ(host_->exported().size(), 3u);
    EXPECT_EQ(host_->exported()[2].content, "kw\r\n1\r\n");
    EXPECT_NE(logs().find("gridlet.export: day.csv (25 bytes) queued for 'office'"), std::string::npos) << logs();
}

}  // namespace gridlet::script::test

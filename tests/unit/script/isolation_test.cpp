// Issue 12: one rule cannot take down the engine, the other rules or the
// kernel. Each fault found is kept here as a test, with a canary rule whose
// callbacks are counted.
#include <nlohmann/json.hpp>

#include "core/text.h"
#include "script_fixture.h"

namespace gridlet::script::test {

namespace {

constexpr const char* kCanary = "gridlet.on('x/ping', function() gridlet.state.pong = (gridlet.state.pong or 0) + 1 end)";

class IsolationTest : public ScriptTest {
protected:
    void load_with_canary(const RuleConfig& c) {
        auto failed = engine_->configure({c, rule("canary", kCanary)});
        ASSERT_TRUE(failed.empty()) << failed.front().status.message();
    }
    // Every event body is valid JSON (parsing throws otherwise).
    void expect_events_parse() {
        for (const auto& e : host_->events()) {
            EXPECT_TRUE(nlohmann::json::accept(e.body_json)) << e.type;
            EXPECT_TRUE(is_valid_text(e.body_json)) << e.body_json;
        }
        for (const auto& l : host_->logs()) EXPECT_TRUE(is_valid_text(l.message)) << l.message;
    }
    void expect_canary_alive(int pings = 1) {
        for (int i = 0; i < pings; ++i) feed("x/ping", 1);
        EXPECT_EQ(state("canary", "pong"), std::to_string(pings));
    }
};

TEST(ValidText, KeepsUtf8AndEscapesEverythingElse) {
    EXPECT_EQ(valid_text("déjà vu €"), "déjà vu €");
    EXPECT_EQ(valid_text("bad \xFF"), "bad \\xFF");
    EXPECT_EQ(valid_text("caf\xE9"), "caf\\xE9");                   // Latin-1
    EXPECT_EQ(valid_text(std::string("a\0b", 3)), "a\\x00b");       // NUL
    EXPECT_EQ(valid_text("\xC0\xAF"), "\\xC0\\xAF");               // overlong '/'
    EXPECT_EQ(valid_text("\xED\xA0\x80"), "\\xED\\xA0\\x80");      // surrogate
    EXPECT_EQ(valid_text("\xF4\x90\x80\x80"), "\\xF4\\x90\\x80\\x80");  // > U+10FFFF
    EXPECT_EQ(valid_text("\xE2\x82"), "\\xE2\\x82");               // cut short
    EXPECT_TRUE(is_valid_text(valid_text("\xF0\x9F\x98\x80 \x80")));
    EXPECT_EQ(dump_json(nlohmann::json("x\xFF")), "\"x\xEF\xBF\xBD\"");
}

TEST_F(IsolationTest, NonUtf8ErrorInASampleCallbackIsReportedAndTheRuleGoesOn) {
    load_with_canary(rule("bad", "gridlet.on('x/go', function() gridlet.state.n = (gridlet.state.n or 0) + 1 error('bad \\255') end)"));
    feed("x/go", 1);
    feed("x/go", 2);
    EXPECT_EQ(info("bad").status, RuleStatus::running);
    EXPECT_EQ(state("bad", "n"), "2");
    ASSERT_EQ(count_events("rule_error"), 2u);
    EXPECT_NE(host_->events().back().body_json.find("bad \\\\xFF"), std::string::npos) << host_->events().back().body_json;
    expect_events_parse();
    expect_canary_alive();
}

TEST_F(IsolationTest, NonUtf8ErrorInATimerIsReported) {
    load_with_canary(rule("bad", "gridlet.every(1, function() error('bad \\255') end)"));
    advance(3500);
    EXPECT_EQ(info("bad").status, RuleStatus::running);
    EXPECT_EQ(count_events("rule_error"), 3u);
    expect_events_parse();
    expect_canary_alive();
}

TEST_F(IsolationTest, Latin1RuleFileLoadsAndItsTextIsEscaped) {
    auto c = rule("latin", "local s = 'caf\xE9'\ngridlet.log.info(s)\ngridlet.emit('t', 'info', s)\n"
                           "gridlet.emit('u', 'info', {[s] = s})\ngridlet.state.name = s\n" + std::string(kCanary));
    load(c);
    EXPECT_NE(logs().find("caf\\xE9"), std::string::npos) << logs();
    ASSERT_EQ(count_events("t"), 1u);
    ASSERT_EQ(count_events("u"), 1u);
    EXPECT_EQ(state("latin", "name"), "\"caf\\\\xE9\"");
    expect_events_parse();
}

TEST_F(IsolationTest, Latin1SyntaxErrorIsALoadErrorInValidText) {
    const std::string err = load_error(rule("latin", "local s = 'caf\xE9' +"));
    EXPECT_NE(err.find("latin.lua:1:"), std::string::npos) << err;
    EXPECT_TRUE(is_valid_text(err)) << err;
    expect_events_parse();
}

TEST_F(IsolationTest, NonUtf8ErrorWhileLoadingIsALoadError) {
    const std::string err = load_error(rule("bad", "error('bad \\255')"));
    EXPECT_NE(err.find("bad \\xFF"), std::string::npos) << err;
    expect_events_parse();
}

TEST_F(IsolationTest, NulBytesInLogLinesAreKept) {
    load(rule("nul", "gridlet.log.info('a\\0b')"));
    EXPECT_NE(logs().find("a\\x00b"), std::string::npos) << logs();
}

TEST_F(IsolationTest, BoobyTrappedBatchTableDoesNotStopTheEngine) {
    // The callback clears the fields of its reused batch table and sets an
    // erroring __newindex on it: the next delivery must still work.
    load_with_canary(rule("trap", R"(
        gridlet.on('x/go', function(b)
          gridlet.state.seen = (gridlet.state.seen or 0) + b.n
          b.value, b.n, b.pos, b.ts, b.series, b.quality = nil, nil, nil, nil, nil, nil
          setmetatable(b, {__newindex = function() error('trapped') end,
                           __index = function() error('trapped') end})
        end, {batch = true})
        gridlet.on('x/each', function(v) gridlet.state.each = (gridlet.state.each or 0) + v end)
    )"));
    feed("x/go", 1);
    feed("x/go", 2);
    feed("x/go", 3);
    EXPECT_EQ(info("trap").status, RuleStatus::running) << info("trap").error;
    EXPECT_EQ(state("trap", "seen"), "3");
    expect_canary_alive();
}

TEST_F(IsolationTest, LoopingNewindexOnTheBatchTableIsStoppedByTheBudget) {
    auto c = rule("trap", R"(
        gridlet.on('x/go', function(b)
          b.n, b.pos = nil, nil
          setmetatable(b, {__newindex = function() while true do end end})
        end, {batch = true})
    )");
    c.budgets.time_ms = 100;
    load_with_canary(c);
    feed("x/go", 1);
    feed("x/go", 2);
    EXPECT_EQ(info("trap").status, RuleStatus::running);  // raw writes: the trap never runs
    expect_canary_alive();
}

TEST_F(IsolationTest, ErrorsDoNotRenewTheBudgetOfADelivery) {
    // Each sample spends ~30 ms then raises: a fresh budget per sample would
    // never stop it. The budget holds for the whole delivery (100 ms).
    auto c = rule("slow", R"(
        gridlet.on('x/', function()
          local t = os.clock() + 0.03
          while os.clock() < t do end
          error('again')
        end)
    )");
    c.budgets.time_ms = 100;
    c.budgets.instructions = 1'000'000'000;
    load_with_canary(c);
    std::vector<gl_sample> batch;
    for (int i = 0; i < 20; ++i)
        batch.push_back({kStart + i, 1.0, host_->intern("x/s" + std::to_string(i)), GL_QUALITY_GOOD, {0, 0, 0}});
    engine_->on_samples(batch);
    EXPECT_EQ(info("slow").status, RuleStatus::stopped);
    EXPECT_NE(info("slow").error.find("time budget"), std::string::npos) << info("slow").error;
    expect_canary_alive();
}

}  // namespace

}  // namespace gridlet::script::test

// Budgets stop runaway rules (also loops LuaJIT would compile), pcall cannot
// swallow the stop, and the other rules keep running.
#include <chrono>

#include "script_fixture.h"

namespace gridlet::script::test {

namespace {

class BudgetTest : public ScriptTest {
protected:
    RuleConfig limited(const std::string& name, const std::string& body, int64_t time_ms = 100,
                       uint64_t instructions = 1'000'000'000, size_t memory = 8u << 20) {
        auto c = rule(name, "gridlet.on('x/go', function()\n" + body + "\nend)\n"
                            "gridlet.on('x/ping', function() gridlet.state.pong = (gridlet.state.pong or 0) + 1 end)");
        c.budgets.time_ms = time_ms;
        c.budgets.instructions = instructions;
        c.budgets.memory_bytes = memory;
        return c;
    }
    // Loads `victim` and a healthy rule, runs x/go, checks the victim stopped
    // for `reason` and the healthy one still answers.
    void expect_stopped(const RuleConfig& victim, const std::string& reason) {
        auto healthy = rule("healthy", "gridlet.on('x/ping', function() gridlet.state.pong = (gridlet.state.pong or 0) + 1 end)");
        auto failed = engine_->configure({victim, healthy});
        ASSERT_TRUE(failed.empty()) << failed.front().status.message();
        const auto t0 = std::chrono::steady_clock::now();
        feed("x/go", 1);
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        EXPECT_LT(secs, 5.0);
        EXPECT_EQ(info(victim.name).status, RuleStatus::stopped);
        EXPECT_NE(info(victim.name).error.find(reason), std::string::npos) << info(victim.name).error;
        ASSERT_EQ(count_events("rule_stopped"), 1u);
        EXPECT_NE(host_->events().back().body_json.find("\"rule\":\"" + victim.name + "\""), std::string::npos);
        feed("x/ping", 1);
        EXPECT_EQ(state("healthy", "pong"), "1");
        EXPECT_EQ(state(victim.name, "pong"), "");  // stopped: no more callbacks
        EXPECT_EQ(info(victim.name).memory_bytes, 0u);
    }
};

TEST_F(BudgetTest, WhileTrueIsStoppedByTime) { expect_stopped(limited("spin", "while true do end"), "time budget of 100 ms"); }

TEST_F(BudgetTest, NumericForTo1e12IsStopped) {
    expect_stopped(limited("count", "for i = 1, 1e12 do end"), "time budget");
}

TEST_F(BudgetTest, LoopsStayStoppableAfterTheyWouldBeHot) {
    // Run the loop body many times first (LuaJIT would have compiled it).
    auto c = rule("hot", R"(
        local function work(n) local s = 0 for i = 1, n do s = s + i end return s end
        for k = 1, 2000 do work(100) end
        gridlet.on('x/go', function() work(1e12) end)
    )");
    c.budgets.time_ms = 100;
    c.budgets.instructions = 1'000'000'000;
    expect_stopped(c, "time budget");
}

TEST_F(BudgetTest, InstructionBudget) {
    expect_stopped(limited("busy", "local s = 0 for i = 1, 1e9 do s = s + i end", 10'000, 5'000'000),
                   "instruction budget of 5000000");
}

TEST_F(BudgetTest, MemoryBudget) {
    // A time budget of 5 s: on a loaded machine 8 MB can take over 100 ms
    // to fill, and the time budget must not stop it first.
    expect_stopped(limited("hog", "local t = {} for i = 1, 1e8 do t[i] = string.rep('x', 100) .. i end", 5000),
                   "memory budget of 8388608 bytes");
}

TEST_F(BudgetTest, PcallCannotSwallowTheStop) {
    expect_stopped(limited("sly", R"(
        while true do
          pcall(function() while true do end end)
          xpcall(function() while true do end end, function() while true do end end)
        end)"),
                   "time budget");
}

TEST_F(BudgetTest, PcallCannotSwallowOutOfMemory) {
    expect_stopped(limited("sly_mem", R"(
        local keep = {}
        while true do
          pcall(function() keep[#keep + 1] = string.rep('y', 1e6) .. #keep end)  -- distinct strings
        end)"),
                   "memory budget");
}

TEST_F(BudgetTest, ErrorHandlerLoopIsStopped) {
    expect_stopped(limited("handler", "xpcall(error, function() while true do end end)"), "time budget");
}

TEST_F(BudgetTest, LoadingIsBudgetedToo) {
    auto c = rule("top", "while true do end");
    c.budgets.time_ms = 50;
    c.budgets.instructions = 1'000'000'000;
    std::string err = load_error(c);
    EXPECT_NE(err.find("rule stopped while loading: time budget of 50 ms"), std::string::npos) << err;
    EXPECT_EQ(info("top").status, RuleStatus::failed);
}

TEST_F(BudgetTest, BudgetIsPerCallback) {
    // 300 callbacks of ~10k instructions each: far above the budget in total,
    // each well within it.
    auto c = limited("fine", "local s = 0 for i = 1, 3000 do s = s + i end", 1000, 100'000);
    load(c);
    for (int i = 0; i < 300; ++i) feed("x/go", i);
    EXPECT_EQ(info("fine").status, RuleStatus::running);
}

TEST_F(BudgetTest, StoppedRuleRestartsOnReload) {
    auto c = limited("spin", "while true do end", 50);
    load(c);
    feed("x/go", 1);
    ASSERT_EQ(info("spin").status, RuleStatus::stopped);
    EXPECT_TRUE(engine_->reload("spin").is_ok());
    EXPECT_EQ(info("spin").status, RuleStatus::running);
    feed("x/ping", 1);
    EXPECT_EQ(state("spin", "pong"), "1");
}

}  // namespace

}  // namespace gridlet::script::test

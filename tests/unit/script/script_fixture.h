// Shared fixture of the rule engine tests: rule files in a temp folder, a
// SimHost on a simulated clock, an Engine.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "script/engine.h"
#include "script/sim_host.h"

namespace gridlet::script::test {

// 2024-03-30T12:00:00Z, the day before the spring DST change in Europe/Paris.
inline constexpr int64_t kStart = 1711800000000;

class ScriptTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("gridlet_script_" + std::to_string(::getpid()) + "_" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir_);
        std::filesystem::create_directories(dir_ / "lib");
        make_host(kStart, "UTC");
    }
    void TearDown() override {
        engine_.reset();
        host_.reset();
        std::filesystem::remove_all(dir_);
    }

    void make_host(int64_t start, const std::string& tz) {
        engine_.reset();
        auto zone = TimeZone::load(tz);
        ASSERT_TRUE(zone) << zone.status().message();
        host_ = std::make_unique<SimHost>(start, *zone);
        EngineOptions o;
        o.lib_dirs = {(dir_ / "lib").string()};
        o.error_log_interval_ms = 0;
        engine_ = std::make_unique<Engine>(*host_, o);
    }

    std::string write_file(const std::string& rel, const std::string& text) {
        auto path = dir_ / rel;
        std::filesystem::create_directories(path.parent_path());
        std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
        return path.string();
    }

    RuleConfig rule(const std::string& name, const std::string& source, nlohmann::json params = nlohmann::json::object()) {
        RuleConfig c;
        c.name = name;
        c.file = write_file(name + ".lua", source);
        c.params = std::move(params);
        return c;
    }

    // Loads one rule; fails the test if it does not load.
    void load(const RuleConfig& c) {
        auto failed = engine_->configure({c});
        ASSERT_TRUE(failed.empty()) << failed.front().status.message();
    }
    // Loads one rule and returns the load error ("" if it loaded).
    std::string load_error(const RuleConfig& c) {
        auto failed = engine_->configure({c});
        return failed.empty() ? "" : failed.front().status.message();
    }

    void feed(const std::string& series, double value, int64_t ts = -1) {
        gl_sample s{ts < 0 ? host_->clock().now_ms() : ts, value, host_->intern(series), GL_QUALITY_GOOD, {0, 0, 0}};
        host_->record(s);
        engine_->on_samples({&s, 1});
    }

    // Moves the simulated clock, firing timers and replies on the way.
    void advance(int64_t ms) {
        const int64_t end = host_->clock().now_ms() + ms;
        for (;;) {
            const int64_t now = host_->clock().now_ms();
            int64_t next = INT64_MAX;
            if (int64_t in = engine_->next_timer_in_ms(); in >= 0) next = now + in;
            if (auto r = host_->next_reply_ms()) next = std::min(next, std::max(*r, now));
            if (next > end) break;
            host_->manual_clock().advance(next - now);
            for (const auto& r : host_->take_due_replies()) engine_->on_command_reply(r);
            engine_->run_due_timers();
        }
        host_->manual_clock().advance(end - host_->clock().now_ms());
    }

    // The messages logged so far, joined by newlines.
    std::string logs() const {
        std::string out;
        for (const auto& l : host_->logs()) out += l.message + "\n";
        return out;
    }
    std::string state(const std::string& rule, const std::string& key) const {
        auto& m = host_->state_of(rule);
        auto it = m.find(key);
        return it == m.end() ? "" : it->second;
    }
    RuleInfo info(const std::string& name) const {
        for (auto& i : engine_->rules()) {
            if (i.name == name) return i;
        }
        return {};
    }
    size_t count_events(const std::string& type) const {
        size_t n = 0;
        for (const auto& e : host_->events()) n += e.type == type;
        return n;
    }

    std::filesystem::path dir_;
    std::unique_ptr<SimHost> host_;
    std::unique_ptr<Engine> engine_;
};

}  // namespace gridlet::script::test

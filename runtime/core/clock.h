// Clocks. The runtime carries UTC milliseconds for data and a monotonic clock
// for periods and timeouts. Clock is an interface so that rules and tests can
// run on a simulated clock. Implementations are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>

namespace gridlet {

class Clock {
public:
    virtual ~Clock() = default;
    // UTC, ms since the Unix epoch.
    virtual int64_t now_ms() const = 0;
    // Monotonic ms (arbitrary origin); never goes back.
    virtual int64_t monotonic_ms() const = 0;
};

// The machine's clocks (CLOCK_REALTIME, CLOCK_MONOTONIC).
class SystemClock final : public Clock {
public:
    int64_t now_ms() const override;
    int64_t monotonic_ms() const override;
    static SystemClock& instance();
};

// A clock moved by hand (tests, offline rule runs). Starts at `start_utc_ms`;
// monotonic time equals UTC time minus the start, and both advance together
// unless step_wall() moves only the wall clock (a clock step).
class ManualClock final : public Clock {
public:
    explicit ManualClock(int64_t start_utc_ms) : wall_(start_utc_ms), mono_(0) {}
    int64_t now_ms() const override { return wall_.load(std::memory_order_acquire); }
    int64_t monotonic_ms() const override { return mono_.load(std::memory_order_acquire); }
    void advance(int64_t ms) {
        wall_.fetch_add(ms, std::memory_order_acq_rel);
        mono_.fetch_add(ms, std::memory_order_acq_rel);
    }
    void step_wall(int64_t ms) { wall_.fetch_add(ms, std::memory_order_acq_rel); }

private:
    std::atomic<int64_t> wall_;
    std::atomic<int64_t> mono_;
};

}  // namespace gridlet

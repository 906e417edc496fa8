#include "core/clock.h"

#include <ctime>

namespace gridlet {

namespace {
int64_t read_ms(clockid_t id) {
    timespec ts{};
    clock_gettime(id, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}
}  // namespace

int64_t SystemClock::now_ms() const { return read_ms(CLOCK_REALTIME); }
int64_t SystemClock::monotonic_ms() const { return read_ms(CLOCK_MONOTONIC); }

SystemClock& SystemClock::instance() {
    static SystemClock clock;
    return clock;
}

}  // namespace gridlet

// Snapshot<T>: a value that one thread replaces whole (a reload) while other
// threads read it. get() hands out the value as it was when asked; the
// reader's copy of the pointer keeps it alive however long it holds it, so a
// replacement never frees what a reader still uses.
// Threads: get() and set() from any thread.
#pragma once

#include <memory>
#include <mutex>
#include <utility>

namespace gridlet {

template <class T>
class Snapshot {
public:
    explicit Snapshot(T value = T{}) : value_(std::make_shared<const T>(std::move(value))) {}
    Snapshot(const Snapshot&) = delete;
    Snapshot& operator=(const Snapshot&) = delete;

    std::shared_ptr<const T> get() const {
        std::lock_guard lock(mu_);
        return value_;
    }
    void set(T value) {
        std::shared_ptr<const T> fresh = std::make_shared<const T>(std::move(value));
        std::lock_guard lock(mu_);
        value_.swap(fresh);  // the old value goes when its last reader lets go
    }

private:
    mutable std::mutex mu_;
    std::shared_ptr<const T> value_;
};

}  // namespace gridlet

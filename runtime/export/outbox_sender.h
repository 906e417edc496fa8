// The export outbox: each file for an [[export_targets]] server waits in the
// store's outbox (queue "export/<target>", store/outbox.h) until the server
// took it, so that a server away for hours, a restart or a kill -9 lose
// nothing; and it leaves only once (FTP/SFTP: renamed into place, so a
// repeat after a crash replaces the same name with the same bytes; HTTP:
// the same Idempotency-Key on every attempt).
//
//   - enqueue_file() adds a file unless it is already the newest of its
//     queue (the scheduler repeating a period after a crash). A queue holds
//     at most the target's max_files: beyond, enqueue is refused and the
//     export holds its period until there is room (nothing dropped).
//   - OutboxSender::poll() pushes each target's files oldest first; a file
//     is removed from the queue only once the server confirmed it. A
//     failure stops that target's queue (order is kept) and is retried with
//     backoff: the target's retry (10 s) doubling to 10 min. After 3 failures in a row the
//     critical system alarm system/export_delivery_failed|<target> is
//     raised; the next file delivered clears it. The failures in a row and
//     the last error are kept in the store's state ("#export_target"), also
//     for `gridlet export --outbox`.
//
// Threads: one thread calls start() and poll() of a sender (the kernel's
// "export_sender" component gives each target a sender and a thread of its
// own); counters() from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "alarm/alarm_table.h"
#include "core/status.h"
#include "export/export_target.h"
#include "store/outbox.h"
#include "store/state_store.h"

namespace gridlet::exporter {

inline constexpr const char* kTargetStateNamespace = "#export_target";

// One file waiting for a target.
struct QueuedFile {
    std::string export_name, file_name, bytes;
    int64_t period_end_ms = 0, queued_ms = 0;
    uint64_t seq = 0;  // its place in the queue (filled in by reads)
    // Set by OutboxSender, never stored: an earlier attempt of this file may
    // have reached the server (the last one failed, or it is the first push
    // since gridlet started, which may have been killed during one).
    bool in_doubt = false;
};
std::string encode_queued(const QueuedFile& f);
Expected<QueuedFile> decode_queued(const store::OutboxEntry& e);

// Adds `f` to the target's queue. Already the newest entry (same export,
// name and bytes): nothing added. A full queue: unavailable, with how many
// files wait.
Status enqueue_file(store::Outbox& outbox, const TargetConfig& t, const QueuedFile& f);

// What a target's state says (`gridlet export --outbox`).
struct TargetState {
    int attempts = 0;  // failures in a row
    std::string last_error;
    int64_t last_try_ms = 0, last_sent_ms = 0;
};
TargetState read_target_state(const store::StateStore& state, const std::string& target);

class OutboxSender {
public:
    // How a file is pushed (transport.h's push_file in gridlet; tests give
    // their own). `cancel` is true once gridlet is stopping.
    using Push = std::function<Status(const TargetConfig&, const QueuedFile&, const std::function<bool()>& cancel)>;

    OutboxSender(std::vector<TargetConfig> targets, store::Outbox& outbox, store::StateStore& state,
                 alarm::AlarmTable* alarms, Push push);

    // Reads each target's failures in a row (so that the alarm counts across
    // restarts).
    Status start(int64_t now_ms);

    // Pushes what waits, target by target, for up to `budget_ms` in all (so
    // that the component's thread comes back to its stop check).
    void poll(int64_t now_ms, const std::function<bool()>& cancel, int64_t budget_ms = 5'000,
              const std::function<int64_t()>& clock = nullptr);

    struct Counters {
        uint64_t sent = 0;      // files the servers took
        uint64_t failures = 0;  // attempts that failed
        uint64_t waiting = 0;   // files in the outboxes
    };
    Counters counters() const;

private:
    struct State {
        TargetState saved;
        int64_t next_try_ms = 0;
        bool pushed_since_start = false;
    };
    void failed(const TargetConfig& t, State& s, int64_t now_ms, const Status& st, const QueuedFile* f);
    void save(const TargetConfig& t, const State& s);

    std::vector<TargetConfig> targets_;
    store::Outbox& outbox_;
    store::StateStore& state_;
    alarm::AlarmTable* alarms_;
    Push push_;
    std::map<std::string, State> states_;
    std::atomic<uint64_t> sent_{0}, failures_{0}, waiting_{0};
};

}  // namespace gridlet::exporter

#include "export/outbox_sender.h"

#include <algorithm>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace gridlet::exporter {

namespace {
constexpr int64_t kSendMaxRetryMs = 600'000;
constexpr int kSendFailuresBeforeAlarm = 3;

std::string delivery_alarm_key(const std::string& target) { return "system/export_delivery_failed|" + target; }
}  // namespace

// An entry: one line of JSON (what the file is), '\n', the file's bytes.
std::string encode_queued(const QueuedFile& f) {
    const nlohmann::json head = {{"export", f.export_name},
                                 {"file", f.file_name},
                                 {"period_end_ms", f.period_end_ms},
                                 {"queued_ms", f.queued_ms}};
    return head.dump() + "\n" + f.bytes;
}

Expected<QueuedFile> decode_queued(const store::OutboxEntry& e) {
    const size_t nl = e.payload.find('\n');
    if (nl == std::string::npos) return Status::corruption("export outbox entry " + std::to_string(e.seq) + ": no header");
    QueuedFile f;
    try {
        const auto head = nlohmann::json::parse(e.payload.substr(0, nl));
        f.export_name = head.at("export").get<std::string>();
        f.file_name = head.at("file").get<std::string>();
        f.period_end_ms = head.value("period_end_ms", int64_t{0});
        f.queued_ms = head.value("queued_ms", int64_t{0});
    } catch (const std::exception& x) {
        return Status::corruption("export outbox entry " + std::to_string(e.seq) + ": " + x.what());
    }
    f.bytes = e.payload.substr(nl + 1);
    f.seq = e.seq;
    return f;
}

Status enqueue_file(store::Outbox& outbox, const TargetConfig& t, const QueuedFile& f) {
    const std::string queue = outbox_queue(t.name);
    auto last = outbox.last(queue);
    if (!last) return last.status();
    if (*last) {
        auto had = decode_queued(**last);
        if (had && had->export_name == f.export_name && had->file_name == f.file_name && had->bytes == f.bytes)
            return Status::ok();  // queued before a crash, the state not yet written
    }
    auto waiting = outbox.size(queue);
    if (!waiting) return waiting.status();
    if (*waiting >= t.max_files)
        return Status::unavailable("the outbox of target '" + t.name + "' is full (" + std::to_string(*waiting) +
                                   " files wait, max_files = " + std::to_string(t.max_files) + ")");
    auto seq = outbox.append(queue, encode_queued(f));
    return seq ? Status::ok() : seq.status();
}

TargetState read_target_state(const store::StateStore& state, const std::string& target) {
    TargetState s;
    auto v = state.get(kTargetStateNamespace, target);
    if (!v || !*v) return s;
    try {
        const auto j = nlohmann::json::parse(**v);
        s.attempts = j.value("attempts", 0);
        s.last_error = j.value("last_error", "");
        s.last_try_ms = j.value("last_try_ms", int64_t{0});
        s.last_sent_ms = j.value("last_sent_ms", int64_t{0});
    } catch (const std::exception&) {
        // A state that does not parse counts as none: the counts restart.
    }
    return s;
}

OutboxSender::OutboxSender(std::vector<TargetConfig> targets, store::Outbox& outbox, store::StateStore& state,
                           alarm::AlarmTable* alarms, Push push)
    : targets_(std::move(targets)), outbox_(outbox), state_(state), alarms_(alarms), push_(std::move(push)) {}

Status OutboxSender::start(int64_t now_ms) {
    uint64_t waiting = 0;
    for (const TargetConfig& t : targets_) {
        State s;
        s.saved = read_target_state(state_, t.name);
        // After a restart, try at once: the server may be back.
        s.next_try_ms = now_ms;
        auto n = outbox_.size(outbox_queue(t.name));
        if (!n) return n.status().with_context("export target '" + t.name + "'");
        waiting += *n;
        if (*n > 0)
            spdlog::info("export target '{}': {} file(s) wait in its outbox{}", t.name, *n,
                         s.saved.last_error.empty() ? "" : " (last error: " + s.saved.last_error + ")");
        states_[t.name] = s;
    }
    waiting_ = waiting;
    return Status::ok();
}

void OutboxSender::save(const TargetConfig& t, const State& s) {
    const nlohmann::json j = {{"attempts", s.saved.attempts},
                              {"last_error", s.saved.last_error},
                              {"last_try_ms", s.saved.last_try_ms},
                              {"last_sent_ms", s.saved.last_sent_ms}};
    if (Status st = state_.put(kTargetStateNamespace, t.name, j.dump()); !st)
        spdlog::warn("export target '{}': cannot record its state: {}", t.name, st.message());
}

void OutboxSender::failed(const TargetConfig& t, State& s, int64_t now_ms, const Status& st, const QueuedFile* f) {
    ++failures_;
    ++s.saved.attempts;
    s.saved.last_error = st.message();
    s.saved.last_try_ms = now_ms;
    save(t, s);
    const int64_t delay = std::min(kSendMaxRetryMs, t.retry_ms << std::min(s.saved.attempts - 1, 20));
    s.next_try_ms = now_ms + delay;
    auto waiting = outbox_.size(outbox_queue(t.name));
    const uint64_t n = waiting ? *waiting : 0;
    spdlog::warn("export target '{}': {} not delivered ({} failure(s) in a row): {}; {} file(s) wait, next try in {} s",
                 t.name, f ? f->file_name : std::string("a file"), s.saved.attempts, st.message(), n, delay / 1000);
    if (s.saved.attempts >= kSendFailuresBeforeAlarm && alarms_ && !alarms_->active(delivery_alarm_key(t.name))) {
        alarm::RaiseRequest r =
            alarm::system_raise("export_delivery_failed", "kernel", "delivery", alarm::Criticality::critical, now_ms);
        r.key = delivery_alarm_key(t.name);
        r.message = "export target '" + t.name + "' does not take files (" + st.message() + "); " +
                    std::to_string(n) + " file(s) waited in its outbox when this was raised, all retried until "
                    "delivered (gridlet export --outbox shows them now)";
        r.detail = {{"target", t.name}, {"url", t.url}, {"error", st.message()}, {"waiting", n}};
        (void)alarms_->raise(r);
    }
}

void OutboxSender::poll(int64_t now_ms, const std::function<bool()>& cancel, int64_t budget_ms,
                        const std::function<int64_t()>& clock) {
    const auto now = [&] { return clock ? clock() : now_ms; };
    const int64_t until = now_ms + budget_ms;
    uint64_t waiting = 0;
    for (const TargetConfig& t : targets_) {
        State& s = states_[t.name];
        const std::string queue = outbox_queue(t.name);
        while (now_ms >= s.next_try_ms && now() < until && !(cancel && cancel())) {
            auto next = outbox_.read(queue, 0, 1);
            if (!next) {
                spdlog::warn("export target '{}': cannot read its outbox: {}", t.name, next.status().message());
                break;
            }
            if (next->empty()) break;
            auto f = decode_queued(next->front());
            if (!f) {
                // Not a file this version can send: kept out of the way, said once.
                spdlog::error("export target '{}': {}; the entry is dropped", t.name, f.status().message());
                (void)outbox_.ack(queue, next->front().seq);
                continue;
            }
            f->in_doubt = s.saved.attempts > 0 || !s.pushed_since_start;
            Status st = push_(t, *f, cancel);
            if (!st) {
                if (cancel && cancel()) break;  // stopping: not a failure of the server
                failed(t, s, now(), st, &*f);
                break;
            }
            if (Status a = outbox_.ack(queue, f->seq); !a) {
                spdlog::warn("export target '{}': {} delivered but not removed from the outbox ({}); it may be sent "
                             "again under the same name",
                             t.name, f->file_name, a.message());
                break;
            }
            ++sent_;
            s.pushed_since_start = true;
            spdlog::debug("export target '{}': {} delivered ({} bytes)", t.name, f->file_name, f->bytes.size());
            const bool recovered = s.saved.attempts > 0;
            s.saved.attempts = 0;
            s.saved.last_error.clear();
            s.saved.last_try_ms = s.saved.last_sent_ms = now();
            if (recovered) {
                spdlog::info("export target '{}': delivering again", t.name);
                save(t, s);
                if (alarms_ && alarms_->active(delivery_alarm_key(t.name)))
                    (void)alarms_->clear(delivery_alarm_key(t.name), now(), 0, "files delivered again");
            }
        }
        auto n = outbox_.size(queue);
        if (n) waiting += *n;
    }
    waiting_ = waiting;
}

OutboxSender::Counters OutboxSender::counters() const { return {sent_.load(), failures_.load(), waiting_.load()}; }

}  // namespace gridlet::exporter

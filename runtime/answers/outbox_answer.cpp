#include "answers/outbox_answer.h"

#include <algorithm>

#include "export/outbox_sender.h"

namespace gridlet::answers {

Expected<std::vector<OutboxTarget>> read_outboxes(store::Store& st, const std::vector<exporter::TargetConfig>& targets,
                                                  const std::string& only) {
    std::vector<OutboxTarget> out;
    for (const exporter::TargetConfig& t : targets)
        if (only.empty() || t.name == only) out.push_back({t.name, t.url, true, {}, 0, {}, 0, 0});
    if (only.empty()) {
        auto queues = st.outbox().queues("export/");
        if (!queues) return queues.status();
        for (const std::string& q : *queues)
            if (std::none_of(targets.begin(), targets.end(),
                             [&](const auto& t) { return exporter::outbox_queue(t.name) == q; }))
                out.push_back({q.substr(7), "", false, {}, 0, {}, 0, 0});
    }
    for (OutboxTarget& t : out) {
        const exporter::TargetState state = exporter::read_target_state(st.state(), t.name);
        t.last_error = state.last_error;
        t.last_try_ms = state.last_try_ms;
        t.failures_in_a_row = static_cast<uint64_t>(state.attempts);
        const std::string queue = exporter::outbox_queue(t.name);
        uint64_t after = 0;
        for (;;) {
            auto page = st.outbox().read(queue, after, 256);
            if (!page) return page.status();
            if (page->empty()) break;
            for (const store::OutboxEntry& entry : *page) {
                after = entry.seq;
                auto f = exporter::decode_queued(entry);
                if (!f) continue;
                t.bytes += f->bytes.size();
                t.files.push_back({f->file_name, f->export_name, f->queued_ms, f->bytes.size()});
            }
        }
    }
    return out;
}

nlohmann::json outbox_json(const std::vector<OutboxTarget>& targets, const TimeZone& zone) {
    nlohmann::json out = nlohmann::json::array();
    for (const OutboxTarget& t : targets) {
        nlohmann::json files = nlohmann::json::array();
        for (const OutboxFile& f : t.files)
            files.push_back({{"file", f.file_name},
                             {"export", f.export_name},
                             {"queued", zone.format_iso(f.queued_ms, true)},
                             {"queued_ms", f.queued_ms},
                             {"bytes", f.bytes}});
        out.push_back({{"target", t.name},
                       {"url", t.url},
                       {"configured", t.configured},
                       {"files", std::move(files)},
                       {"bytes", t.bytes},
                       {"last_error", t.last_error.empty() ? nlohmann::json() : nlohmann::json(t.last_error)},
                       {"last_try", t.last_try_ms ? nlohmann::json(zone.format_iso(t.last_try_ms, true)) : nlohmann::json()},
                       {"failures_in_a_row", t.failures_in_a_row}});
    }
    return out;
}

}  // namespace gridlet::answers

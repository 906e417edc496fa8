#include "kernel/rule_store_reads.h"

namespace gridlet::kernel {

Expected<std::vector<script::QueryRow>> read_for_rules(const store::Store& store, const TimeZone& zone,
                                                        const script::QuerySpec& spec) {
    if (Status st = store::check_query_range(spec.from_ms, spec.to_ms); !st) return st;  // as SimHost::query
    std::vector<script::QueryRow> rows;
    const store::QueryLimit bound{spec.max_rows, spec.meter};
    const store::QueryEngine& q = store.query();
    for (uint32_t id : spec.series) {
        if (!spec.aggregate) {
            auto raw = q.raw(id, spec.from_ms, spec.to_ms, bound, rows.size());
            if (!raw) return raw.status();
            for (const auto& s : *raw) rows.push_back({id, s.ts, s.value, s.quality});
            continue;
        }
        auto pts = spec.calendar ? q.calendar(id, spec.from_ms, spec.to_ms, *spec.calendar, zone, *spec.aggregate,
                                              nullptr, &bound, rows.size())
                   : spec.step_ms == 0  // one bucket [from, to)
                       ? q.total(id, spec.from_ms, spec.to_ms, *spec.aggregate, nullptr, &bound)
                       : q.downsample(id, spec.from_ms, spec.to_ms, spec.step_ms, *spec.aggregate, nullptr, &bound,
                                      rows.size());
        if (!pts) return pts.status();
        for (const auto& p : *pts) rows.push_back({id, p.ts, p.value, GL_QUALITY_GOOD});
        if (bound.max_rows && rows.size() > bound.max_rows) return bound.too_many_rows();
    }
    return rows;
}

}  // namespace gridlet::kernel

#include "register_plan.h"

#include <algorithm>

namespace gridlet::modbus {
namespace {

struct Span {
    int fc;
    uint32_t first, last;  // inclusive
    size_t point;
    bool scale;
};

}  // namespace

size_t RegisterPlan::registers_read() const {
    size_t n = 0;
    for (const ReadRequest& r : requests) n += r.count;
    return n;
}

RegisterPlan plan_reads(const Profile& profile) {
    std::vector<size_t> all(profile.points.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    return plan_reads(profile, all);
}

RegisterPlan plan_reads(const Profile& profile, const std::vector<size_t>& which) {
    std::vector<Span> spans;
    for (size_t i : which) {
        const Point& p = profile.points[i];
        int n = p.fc <= 2 ? 1 : register_count(p.type);
        spans.push_back({p.fc, p.address, p.address + n - 1, i, false});
        if (p.has_scale_register)
            spans.push_back({p.scale_register.fc, p.scale_register.address, p.scale_register.address, i, true});
    }
    std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
        return a.fc != b.fc ? a.fc < b.fc : a.first != b.first ? a.first < b.first : a.last < b.last;
    });
    RegisterPlan plan;
    plan.points.assign(profile.points.size(), Location{});
    plan.scales.assign(profile.points.size(), Location{});
    uint32_t cur_first = 0, cur_last = 0;
    int cur_fc = -1;
    auto flush = [&] {
        if (cur_fc >= 0)
            plan.requests.push_back({cur_fc, static_cast<uint16_t>(cur_first), static_cast<uint16_t>(cur_last - cur_first + 1)});
    };
    for (const Span& s : spans) {
        uint32_t limit = static_cast<uint32_t>(s.fc <= 2 ? profile.max_bits : profile.max_registers);
        bool merge = cur_fc == s.fc && s.first <= cur_last + 1 + static_cast<uint32_t>(profile.max_gap) &&
                     std::max(cur_last, s.last) - cur_first + 1 <= limit &&
                     profile.readable_span(s.fc, cur_first, std::max(cur_last, s.last));
        if (!merge) {
            flush();
            cur_fc = s.fc;
            cur_first = s.first;
            cur_last = s.last;
        } else {
            cur_last = std::max(cur_last, s.last);
        }
        Location loc{static_cast<int>(plan.requests.size()), static_cast<int>(s.first - cur_first)};
        (s.scale ? plan.scales : plan.points)[s.point] = loc;
    }
    flush();
    return plan;
}

}  // namespace gridlet::modbus

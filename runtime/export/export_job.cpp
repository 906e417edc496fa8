#include "export/export_job.h"

#include <algorithm>
#include <map>
#include <optional>
#include <thread>

namespace gridlet::exporter {

std::vector<std::pair<int64_t, int64_t>> export_periods(const ExportConfig& e, int64_t from, int64_t to,
                                                        const TimeZone& tz) {
    std::vector<std::pair<int64_t, int64_t>> out;
    if (e.calendar) {
        for (int64_t s = tz.start_of(*e.calendar, from); s < to;) {
            const int64_t end = tz.next_start(*e.calendar, s);
            if (s >= from && end <= to) out.emplace_back(s, end);
            s = end;
        }
        return out;
    }
    for (int64_t day = tz.start_of_day(from); day < to; day = tz.next_midnight(day)) {
        const int64_t next = tz.next_midnight(day);
        // Up to an hour: every `every` of elapsed time from midnight (the
        // 25-hour day has 25 hourly periods). Longer: at the local clock's
        // multiples of `every` (00:00 and 12:00; one period for 1d), so a
        // day of 23 or 25 hours keeps its periods on the clock.
        std::vector<int64_t> starts;
        if (e.every_ms <= 3'600'000) {
            for (int64_t s = day; s < next; s += e.every_ms) starts.push_back(s);
        } else {
            const CivilTime midnight = tz.to_local(day);
            for (int64_t k = 0; k * e.every_ms < 86'400'000; ++k) {
                CivilTime c = midnight;
                const int64_t secs = k * e.every_ms / 1000;
                c.hour = static_cast<int>(secs / 3600);
                c.minute = static_cast<int>(secs / 60 % 60);
                c.second = static_cast<int>(secs % 60);
                auto at = tz.from_local(c);
                if (at && *at < next && (starts.empty() || *at > starts.back())) starts.push_back(*at);
            }
        }
        for (size_t i = 0; i < starts.size(); ++i) {
            const int64_t s = starts[i], end = i + 1 < starts.size() ? starts[i + 1] : next;
            if (s >= from && end <= to) out.emplace_back(s, end);
        }
    }
    return out;
}

int64_t due_at(const ExportConfig& e, int64_t period_end, const TimeZone& tz) {
    const int64_t ready = period_end + e.delay_ms;
    if (e.at_minute < 0) return ready;
    int64_t day = tz.start_of_day(ready);
    for (int i = 0; i < 9; ++i, day = tz.next_midnight(day)) {
        if (e.at_weekday >= 0 && tz.weekday(day) != e.at_weekday) continue;
        CivilTime c = tz.to_local(day);
        c.hour = e.at_minute / 60;
        c.minute = e.at_minute % 60;
        c.second = c.millisecond = 0;
        auto t = tz.from_local(c);
        if (t && *t >= ready) return *t;
    }
    return ready;  // not reached: a day (a weekday) comes within 8 days
}

int64_t period_start_at(const ExportConfig& e, int64_t t, const TimeZone& tz) {
    if (e.calendar) return tz.start_of(*e.calendar, t);
    const int64_t day = tz.start_of_day(t);
    int64_t start = day;
    for (const auto& [s, end] : export_periods(e, day, tz.next_midnight(day), tz))
        if (s <= t) start = s;
    return start;
}

Expected<ExportFile> build_export_file(const ExportConfig& e, const store::QueryEngine& q,
                                       const SeriesRegistry& registry, int64_t from, int64_t to, const TimeZone& tz,
                                       const model::SiteModel* model, int64_t now_ms) {
    if (e.format == Format::legrand_report) {
        if (!model) return Status::internal("report '" + e.name + "': built without the site model");
        auto r = build_report(e.report, e.site_name, e.dialect, *model, q, registry, from, to, tz, now_ms);
        if (!r) return r.status().with_context("report '" + e.name + "'");
        return ExportFile{std::move(r->name), std::move(r->bytes), from, to, r->rows_with_data};
    }
    const Aggregate agg = e.data_type == socomec::DataType::index ? Aggregate::first : Aggregate::avg;
    // Per variable: (step start, value) for the steps with data.
    std::vector<std::vector<socomec::Reading>> readings(e.variables.size());
    for (size_t i = 0; i < e.variables.size(); ++i) {
        const auto id = registry.find(e.variables[i].series);
        if (!id) continue;
        auto points = q.downsample(*id, from, to, e.step_ms, agg);
        if (!points) return points.status().with_context("export '" + e.name + "': " + e.variables[i].series);
        for (const store::Point& p : *points) {
            // avg and load curves: whole steps only (a step cut by the period's end is not one).
            if (agg == Aggregate::avg && (p.ts < from || p.ts + e.step_ms > to)) continue;
            if (p.ts < from) continue;
            readings[i].push_back({p.ts, p.value, 192});
        }
    }
    ExportFile f;
    f.from_ms = from;
    f.to_ms = to;
    f.name = socomec::ems_file_name(e.site_name, e.server_name, e.device, e.data_type, to, tz);
    TextSink out(e.dialect);
    if (e.format == Format::socomec_ems) {
        socomec::EmsHeader h;
        h.type = e.data_type;
        h.time_zone = tz.name();
        h.transfer_cycle_s = e.every_ms / 1000;
        h.site = e.site_name;
        h.server = e.server_name;
        std::vector<socomec::EmsVariable> vars;
        for (const ExportVariable& x : e.variables) {
            socomec::EmsVariable v;
            v.type = x.type;
            v.name = x.name;
            v.fluid = x.ems_fluid;
            v.use = x.use;
            v.coef = x.coef;
            v.unit = x.unit;
            v.device_id = e.device_id;
            v.index = x.index;
            v.data_id = x.data_id;
            vars.push_back(std::move(v));
        }
        for (const auto& r : readings) f.data_rows += r.size();
        socomec::ems_rows(out, h, vars, readings, tz);
    } else {
        socomec::CsvDevice d{e.device, e.ip, e.modbus_address, from, to};
        std::vector<socomec::CsvColumn> cols;
        for (const ExportVariable& x : e.variables)
            cols.push_back({x.load_name, x.usage_name, x.csv_nature, x.quantity, x.unit, x.scale});
        // One line per step with a value: the steps are the store's grid of
        // buckets (aligned on the epoch, as downsample labels them).
        const int64_t base = from - ((from % e.step_ms) + e.step_ms) % e.step_ms;
        const size_t steps = static_cast<size_t>((to - base + e.step_ms - 1) / e.step_ms);
        std::vector<std::vector<std::optional<double>>> grid(steps);
        for (size_t i = 0; i < readings.size(); ++i)
            for (const socomec::Reading& r : readings[i]) {
                const size_t k = static_cast<size_t>((r.ts_ms - base) / e.step_ms);
                if (r.ts_ms < base || k >= steps) continue;
                auto& row = grid[k];
                if (row.empty()) row.resize(e.variables.size());
                row[i] = r.value;
            }
        std::vector<socomec::CsvLine> lines;
        for (size_t k = 0; k < steps; ++k)
            if (!grid[k].empty()) lines.push_back({base + static_cast<int64_t>(k) * e.step_ms, std::move(grid[k])});
        f.data_rows = lines.size();
        socomec::csv_rows(out, d, cols, std::move(lines), tz, e.dialect);
    }
    f.bytes = std::move(out.text);
    return f;
}

Status build_export_files(const ExportConfig& e, const store::QueryEngine& q, const SeriesRegistry& registry,
                          const std::vector<std::pair<int64_t, int64_t>>& periods, const TimeZone& tz,
                          const model::SiteModel* model, int64_t now_ms, unsigned threads,
                          const std::function<Status(ExportFile&)>& sink) {
    const size_t batch = std::max(1u, threads);
    for (size_t first = 0; first < periods.size(); first += batch) {
        const size_t n = std::min(batch, periods.size() - first);
        std::vector<std::optional<Expected<ExportFile>>> built(n);
        std::vector<std::thread> workers;
        for (size_t k = 1; k < n; ++k)
            workers.emplace_back([&, k] {
                const auto& [a, b] = periods[first + k];
                built[k] = build_export_file(e, q, registry, a, b, tz, model, now_ms);
            });
        built[0] = build_export_file(e, q, registry, periods[first].first, periods[first].second, tz, model, now_ms);
        for (std::thread& w : workers) w.join();
        for (size_t k = 0; k < n; ++k) {
            if (!*built[k]) return built[k]->status();
            if (Status st = sink(**built[k]); !st) return st;
        }
    }
    return Status::ok();
}

}  // namespace gridlet::exporter

#include "export/legrand_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "pdf/document.h"

namespace gridlet::exporter {

const char* report_type_name(ReportType t) { return t == ReportType::summary ? "summary" : "detailed"; }
const char* report_period_name(ReportPeriod p) { return p == ReportPeriod::monthly ? "monthly" : "yearly"; }
const char* report_format_name(ReportFormat f) { return f == ReportFormat::pdf ? "pdf" : "csv"; }

std::string report_file_name(const ReportSpec& r, int64_t period_start, const TimeZone& tz) {
    const CivilTime c = tz.to_local(period_start);
    char period[16];
    if (r.period == ReportPeriod::monthly) std::snprintf(period, sizeof period, "%04d-%02d", c.year, c.month);
    else std::snprintf(period, sizeof period, "%04d", c.year);
    return std::string(report_type_name(r.type)) + "-" + report_period_name(r.period) + "-report_" + period + "." +
           report_format_name(r.format);
}

namespace {

constexpr const char* kMonthNames[] = {"January", "February", "March",     "April",   "May",      "June",
                                       "July",    "August",   "September", "October", "November", "December"};

enum class Kind { consumption, equivalent, cost };

// One column of the report: a fluid's (or an item's) figure per period.
struct Figure {
    std::string fluid, fluid_label, item, item_label;
    Kind kind = Kind::consumption;
    std::string unit;
    std::vector<std::optional<double>> values;
    std::string csv_unit;  // the unit in ASCII (m3): spreadsheets read CSV files in many encodings
    std::optional<double> total, previous;
    bool complete = false, previous_complete = false;  // every day (month) with data
    int decimals() const { return kind == Kind::cost ? 2 : 3; }
    std::string header() const {
        std::string h = item.empty() ? fluid_label : item_label;
        if (kind == Kind::cost) h += " cost";
        if (kind == Kind::equivalent) h += " equivalent";
        return h + " (" + csv_unit + ")";
    }
};

std::string display_unit(const std::string& u) {
    if (u == "m3") return "m³";
    if (u == "dm3") return "dm³";
    return u;
}

std::string capitalized(std::string s) {
    if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
    for (char& c : s)
        if (c == '_') c = ' ';
    return s;
}

bool priced(const model::SiteModel& m, const model::Fluid& f) {
    if (m.currency.empty()) return false;
    return f.price || std::any_of(m.tariffs.begin(), m.tariffs.end(), [&](const model::Tariff& t) { return t.fluid == f.name; });
}

// A sum carries binary noise (290.685 is 290.68499999...): rounded to 9
// decimals first, so halves round away from zero as written.
double clean(double v) { return std::isfinite(v) && std::fabs(v) < 1e9 ? std::round(v * 1e9) / 1e9 : v; }

// "12 345.678": the value with `decimals`, thousands grouped by spaces.
std::string readable(double v, int decimals) {
    char buf[64];
    const double scale = std::pow(10.0, decimals);
    const double r = std::round(clean(v) * scale) / scale;
    std::snprintf(buf, sizeof buf, "%.*f", decimals, r == 0 ? 0.0 : r);
    std::string s = buf;
    const size_t sign = s[0] == '-' ? 1 : 0;
    size_t dot = s.find('.');
    if (dot == std::string::npos) dot = s.size();
    for (size_t i = dot; i > sign + 3; i -= 3) s.insert(i - 3, " ");
    return s;
}

struct Data {
    std::vector<int64_t> starts;  // the periods (days or months)
    int64_t to = 0;
    int64_t now = 0;            // the figures' end: `to`, or earlier for a period in progress
    bool in_progress = false;
    std::vector<Figure> figures;
    std::vector<std::string> notes;
};

Status collect(const ReportSpec& r, const model::SiteModel& model, const store::QueryEngine& query,
               const SeriesRegistry& registry, int64_t from, int64_t to, const TimeZone& tz, Data& d) {
    model::ConsumptionEngine engine(model, query, registry, tz);
    const model::Period sub = r.period == ReportPeriod::monthly ? model::Period::day : model::Period::month;
    const CalendarUnit whole = r.period == ReportPeriod::monthly ? CalendarUnit::month : CalendarUnit::year;
    const int64_t previous_from = tz.start_of(whole, from - 1);
    d.to = to;
    const auto note = [&](const std::vector<std::string>& notes) {
        for (const std::string& n : notes)
            if (std::find(d.notes.begin(), d.notes.end(), n) == d.notes.end()) d.notes.push_back(n);
    };
    for (const model::Fluid& fl : model.fluids) {
        if (std::none_of(model.points.begin(), model.points.end(), [&](const model::Point& p) { return p.fluid == fl.name; }))
            continue;
        if (r.type == ReportType::detailed && r.by == model::Breakdown::load && fl.name != "electricity") continue;
        std::vector<Kind> kinds = {Kind::consumption};
        if (fl.kwh_per_unit > 0 && fl.unit != "kWh") kinds.push_back(Kind::equivalent);
        if (priced(model, fl)) kinds.push_back(Kind::cost);
        // Figures of this fluid, item by item (consumption, then its
        // equivalent and cost next to it).
        std::vector<Figure> of_fluid;
        for (size_t k = 0; k < kinds.size(); ++k) {
            model::ConsumptionRequest q;
            q.by = r.type == ReportType::summary ? model::Breakdown::total : r.by;
            q.period = sub;
            q.from = from;
            q.to = to;
            q.fluid = fl.name;
            q.cost = kinds[k] == Kind::cost;
            q.equivalent_kwh = kinds[k] == Kind::equivalent;
            auto t = engine.table(q);
            if (!t) return t.status().with_context(std::string(report_type_name(r.type)) + " report, " + fl.name);
            note(t->notes);
            if (d.starts.empty()) d.starts = t->starts;
            std::optional<model::ConsumptionTable> prev;
            if (r.type == ReportType::summary) {
                // The previous period day by day (month by month): its total
                // and whether every one of them had data.
                model::ConsumptionRequest p = q;
                p.from = previous_from;
                p.to = from;
                auto pt = engine.table(p);
                if (!pt) return pt.status().with_context("summary report, previous period, " + fl.name);
                prev = std::move(*pt);
            }
            size_t slot = 0;
            for (size_t c = r.type == ReportType::summary ? 0 : 1; c < t->columns.size(); ++c) {
                if (r.type == ReportType::summary && c > 0) break;
                const model::Column& col = t->columns[c];
                if (!r.items.empty() && std::find(r.items.begin(), r.items.end(), col.name) == r.items.end()) continue;
                Figure f;
                f.fluid = fl.name;
                f.fluid_label = capitalized(fl.name);
                if (r.type == ReportType::detailed) {
                    f.item = col.name;
                    f.item_label = col.label.empty() ? col.name : col.label;
                }
                f.kind = kinds[k];
                f.unit = kinds[k] == Kind::cost ? model.currency : kinds[k] == Kind::equivalent ? "kWh" : display_unit(fl.unit);
                f.csv_unit = kinds[k] == Kind::consumption ? fl.unit : f.unit;
                for (const auto& row : t->rows) f.values.push_back(c < row.size() ? row[c].value : std::nullopt);
                f.total = model::column_total(*t, c);
                f.complete = std::all_of(f.values.begin(), f.values.end(), [](const auto& v) { return v.has_value(); });
                if (prev) {
                    f.previous = model::column_total(*prev, 0);
                    f.previous_complete = !prev->rows.empty() && std::all_of(prev->rows.begin(), prev->rows.end(), [](const auto& row) {
                        return !row.empty() && row[0].value.has_value();
                    });
                }
                if (k == 0) of_fluid.push_back(std::move(f));
                else of_fluid.insert(of_fluid.begin() + static_cast<std::ptrdiff_t>(slot * (k + 1) + k), std::move(f));
                ++slot;
            }
        }
        for (Figure& f : of_fluid) d.figures.push_back(std::move(f));
    }
    if (d.starts.empty()) {  // no fluid has points: the periods alone
        auto edges = engine.edges(sub, from, to);
        if (!edges) return edges.status();
        d.starts.assign(edges->begin(), edges->end() - (edges->empty() ? 0 : 1));
    }
    return Status::ok();
}

std::string period_label(const ReportSpec& r, int64_t start, const TimeZone& tz, bool short_form) {
    const CivilTime c = tz.to_local(start);
    char b[32];
    if (r.period == ReportPeriod::monthly) {
        if (short_form) std::snprintf(b, sizeof b, "%d", c.day);
        else std::snprintf(b, sizeof b, "%04d-%02d-%02d", c.year, c.month, c.day);
    } else {
        if (short_form) return std::string(kMonthNames[c.month - 1]).substr(0, 3);
        std::snprintf(b, sizeof b, "%04d-%02d", c.year, c.month);
    }
    return b;
}

// The change from the previous period, when both are complete (every day,
// or month, with data) and the period has ended: a part against a whole
// says nothing.
std::optional<double> change_of(const Figure& f, const Data& d) {
    if (d.in_progress || !f.complete || !f.previous_complete || !f.total || !f.previous || *f.previous == 0)
        return std::nullopt;
    return (*f.total - *f.previous) / std::fabs(*f.previous) * 100;
}

std::string csv_bytes(const ReportSpec& r, const Data& d, const TimeZone& tz, const CsvDialect& dialect) {
    CellMatrix m;
    CsvRow header = {"Date"};
    for (const Figure& f : d.figures) header.push_back(f.header());
    m.push_back(std::move(header));
    for (size_t i = 0; i < d.starts.size(); ++i) {
        CsvRow row = {period_label(r, d.starts[i], tz, false)};
        for (const Figure& f : d.figures)
            row.push_back(i < f.values.size() && f.values[i] ? format_fixed(clean(*f.values[i]), f.decimals(), dialect) : "");
        m.push_back(std::move(row));
    }
    CsvRow total = {"Total"};
    for (const Figure& f : d.figures) total.push_back(f.total ? format_fixed(clean(*f.total), f.decimals(), dialect) : "");
    m.push_back(std::move(total));
    if (r.type == ReportType::detailed) {
        CsvRow with = {r.period == ReportPeriod::monthly ? "Days with data" : "Months with data"};
        for (const Figure& f : d.figures)
            with.push_back(std::to_string(std::count_if(f.values.begin(), f.values.end(), [](const auto& v) { return v.has_value(); })));
        m.push_back(std::move(with));
    }
    if (r.type == ReportType::summary) {
        CsvRow previous = {r.period == ReportPeriod::monthly ? "Previous month" : "Previous year"};
        CsvRow change = {"Change (%)"};
        for (const Figure& f : d.figures) {
            previous.push_back(f.previous ? format_fixed(clean(*f.previous), f.decimals(), dialect) : "");
            const auto c = change_of(f, d);
            change.push_back(c ? format_fixed(*c, 1, dialect) : "");
        }
        m.push_back(std::move(previous));
        m.push_back(std::move(change));
    }
    return write_csv(m, dialect);
}

std::string title_period(const ReportSpec& r, int64_t from, const TimeZone& tz) {
    const CivilTime c = tz.to_local(from);
    if (r.period == ReportPeriod::yearly) return std::to_string(c.year);
    return std::string(kMonthNames[c.month - 1]) + " " + std::to_string(c.year);
}

// The periods (days, months) that have not begun (a period in progress).
size_t upcoming(const Data& d) {
    return static_cast<size_t>(std::count_if(d.starts.begin(), d.starts.end(), [&](int64_t s) { return s >= d.now; }));
}

std::string cell(const std::optional<double>& v, int decimals) { return v ? readable(*v, decimals) : "–"; }

std::string pdf_date(int64_t utc_ms) {
    const CivilTime c = TimeZone::utc().to_local(utc_ms);
    char b[32];
    std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02dZ", c.year, c.month, c.day, c.hour, c.minute, c.second);
    return b;
}

Expected<std::string> pdf_bytes(const ReportSpec& r, const std::string& site, const Data& d, int64_t from,
                                const TimeZone& tz) {
    pdf::Document doc;
    const std::string kind = r.type == ReportType::summary ? "Summary" : "Detailed";
    doc.title = kind + " report — " + title_period(r, from, tz);
    const std::string per = r.period == ReportPeriod::monthly ? "day" : "month";
    const auto local = [&](int64_t t) {
        std::string s = tz.format_iso(t).substr(0, 16);
        s[10] = ' ';
        return s;
    };
    doc.subtitle = "Site " + site + " · from " + local(from) + " to " + local(d.to) + " (" + tz.name() + ")";
    if (d.in_progress) doc.subtitle += "\nIn progress: the figures up to " + local(d.now);
    if (r.type == ReportType::detailed) {
        std::string items;
        for (const std::string& i : r.items) items += (items.empty() ? "" : ", ") + i;
        doc.subtitle += "\n" + capitalized(model::breakdown_name(r.by)) + "s: " +
                        (items.empty() ? "all" : items);
    }
    doc.footer = report_file_name(r, from, tz) + " · gridlet · missing or faulty data are left out, never interpolated";
    doc.date = pdf_date(d.now);
    const std::string previous = r.period == ReportPeriod::monthly ? "Previous month" : "Previous year";
    if (d.figures.empty()) doc.blocks.push_back(pdf::Paragraph{"The site model has no points: nothing to report."});

    // Fluids in order of appearance.
    std::vector<std::string> fluids;
    for (const Figure& f : d.figures)
        if (std::find(fluids.begin(), fluids.end(), f.fluid) == fluids.end()) fluids.push_back(f.fluid);

    if (r.type == ReportType::summary && !d.figures.empty()) {
        doc.blocks.push_back(pdf::Heading{"Overall consumption"});
        pdf::Table t;
        t.header = {"Fluid", "Unit", "Consumption", previous, "Change"};
        t.widths = {3, 1.2, 2.2, 2.2, 1.4};
        t.numbers_from = 2;
        for (const Figure& f : d.figures) {
            std::string change = "–";
            if (const auto c = change_of(f, d)) {
                char b[32];
                std::snprintf(b, sizeof b, "%+.1f %%", *c);
                change = b;
            }
            const std::string what = f.fluid_label + (f.kind == Kind::cost ? " cost" : f.kind == Kind::equivalent ? " equivalent" : "");
            t.rows.push_back({what, f.unit, cell(f.total, f.decimals()), cell(f.previous, f.decimals()), change});
        }
        doc.blocks.push_back(std::move(t));
    }
    for (const std::string& fl : fluids) {
        std::vector<const Figure*> figs;
        for (const Figure& f : d.figures)
            if (f.fluid == fl) figs.push_back(&f);
        doc.blocks.push_back(pdf::Heading{figs.front()->fluid_label});
        if (r.type == ReportType::summary) {
            pdf::BarChart c;
            c.title = figs.front()->fluid_label + " per " + per;
            c.unit = figs.front()->unit;
            for (int64_t s : d.starts) c.labels.push_back(period_label(r, s, tz, true));
            c.values = figs.front()->values;
            c.upcoming = upcoming(d);
            doc.blocks.push_back(std::move(c));
            pdf::Table t;
            t.header = {r.period == ReportPeriod::monthly ? "Day" : "Month"};
            for (const Figure* f : figs)
                t.header.push_back(std::string(f->kind == Kind::cost ? "Cost" : f->kind == Kind::equivalent ? "Equivalent" : "Consumption") +
                                   " (" + f->unit + ")");
            for (size_t i = 0; i < d.starts.size(); ++i) {
                std::vector<std::string> row = {period_label(r, d.starts[i], tz, false)};
                for (const Figure* f : figs) row.push_back(cell(f->values[i], f->decimals()));
                t.rows.push_back(std::move(row));
            }
            std::vector<std::string> total = {"Total"};
            for (const Figure* f : figs) total.push_back(cell(f->total, f->decimals()));
            t.rows.push_back(std::move(total));
            t.last_row_total = true;
            doc.blocks.push_back(std::move(t));
            continue;
        }
        // Detailed: a table of the items, then the largest items' charts.
        pdf::Table t;
        t.header = {capitalized(model::breakdown_name(r.by))};
        std::vector<const Figure*> main;
        for (const Figure* f : figs)
            if (f->kind == Kind::consumption) main.push_back(f);
        t.header.push_back("Consumption (" + main.front()->unit + ")");
        bool has_eq = false, has_cost = false;
        for (const Figure* f : figs) {
            has_eq |= f->kind == Kind::equivalent;
            has_cost |= f->kind == Kind::cost;
        }
        if (has_eq) t.header.push_back("Equivalent (kWh)");
        if (has_cost) t.header.push_back("Cost (" + std::string(figs.back()->unit) + ")");
        t.header.push_back("With data");
        t.widths.assign(t.header.size(), 1.8);
        t.widths[0] = 2.4;
        for (const Figure* m : main) {
            std::vector<std::string> row = {m->item_label, cell(m->total, 3)};
            for (const Figure* f : figs)
                if (f->item == m->item && f->kind == Kind::equivalent) row.push_back(cell(f->total, 3));
            for (const Figure* f : figs)
                if (f->item == m->item && f->kind == Kind::cost) row.push_back(cell(f->total, 2));
            size_t with = 0;
            for (const auto& v : m->values) with += v.has_value();
            row.push_back(std::to_string(with) + " of " + std::to_string(m->values.size() - upcoming(d)));
            t.rows.push_back(std::move(row));
        }
        doc.blocks.push_back(std::move(t));
        constexpr size_t kCharts = 12;
        std::vector<const Figure*> largest = main;
        std::stable_sort(largest.begin(), largest.end(), [](const Figure* a, const Figure* b) {
            return a->total.value_or(-INFINITY) > b->total.value_or(-INFINITY);
        });
        if (largest.size() > kCharts) {
            largest.resize(kCharts);
            doc.blocks.push_back(pdf::Paragraph{"Charts of the " + std::to_string(kCharts) + " largest of " +
                                                std::to_string(main.size()) +
                                                "; the table above and the report's CSV format hold every one."});
        }
        for (const Figure* m : largest) {
            pdf::BarChart c;
            c.title = m->item_label + " per " + per;
            c.unit = m->unit;
            for (int64_t s : d.starts) c.labels.push_back(period_label(r, s, tz, true));
            c.values = m->values;
            c.upcoming = upcoming(d);
            doc.blocks.push_back(std::move(c));
        }
    }
    std::string notes;
    bool costs = false;
    for (const Figure& f : d.figures) costs |= f.kind == Kind::cost;
    if (costs)
        notes += "Costs are consumption × the fluid's average price (or its tariffs): an approximation, for "
                 "statistics only.\n";
    if (r.type == ReportType::summary &&
        std::any_of(d.figures.begin(), d.figures.end(), [&](const Figure& f) { return f.total && !change_of(f, d); }))
        notes += "A change from the previous period is shown only between two ended periods with data on every " +
                 std::string(r.period == ReportPeriod::monthly ? "day" : "month") + ".\n";
    if (r.type == ReportType::detailed && r.by == model::Breakdown::group)
        notes += "A point in several groups counts fully in each: the groups do not add up to the site's total.\n";
    for (const std::string& n : d.notes) notes += n + "\n";
    if (!notes.empty()) {
        doc.blocks.push_back(pdf::Heading{"Notes"});
        notes.pop_back();
        doc.blocks.push_back(pdf::Paragraph{notes});
    }
    return pdf::render(doc);
}

}  // namespace

Expected<ReportFile> build_report(const ReportSpec& r, const std::string& site, const CsvDialect& dialect,
                                  const model::SiteModel& model, const store::QueryEngine& query,
                                  const SeriesRegistry& registry, int64_t from, int64_t to, const TimeZone& tz,
                                  int64_t now_ms) {
    Data d;
    d.now = std::min(to, now_ms);
    d.in_progress = now_ms < to;
    if (Status st = collect(r, model, query, registry, from, to, tz, d); !st) return st;
    ReportFile f;
    f.name = report_file_name(r, from, tz);
    for (size_t i = 0; i < d.starts.size(); ++i)
        if (std::any_of(d.figures.begin(), d.figures.end(),
                        [&](const Figure& x) { return i < x.values.size() && x.values[i].has_value(); }))
            ++f.rows_with_data;
    if (r.format == ReportFormat::csv) {
        f.bytes = csv_bytes(r, d, tz, dialect);
    } else {
        auto bytes = pdf_bytes(r, site, d, from, tz);
        if (!bytes) return bytes.status().with_context(f.name);
        f.bytes = std::move(*bytes);
    }
    return f;
}

}  // namespace gridlet::exporter

// `gridlet consumption`: the site model's consumption (model/consumption.h)
// by point, load, group, usage, area, panel board, node or fluid, per local
// hour / day / week / month / year, as a table with the Socomec Total and
// Average rows, CSV for pandas, or JSON; --compare previous adds the same
// table for the period before. Reads the store read-only (beside a running
// gridlet). CLI thread.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/store_access.h"
#include "kernel/site_plan.h"
#include "model/consumption.h"
#include "answers/consumption_answer.h"
#include "model/consumption_json.h"
#include "store/time_spec.h"

namespace gridlet::cli {

namespace {

struct ConsumptionArgs {
    std::string config, by = "total", period = "day", from, to, fluid = "electricity", node, compare, format = "table";
    bool cost = false, kwh = false;
};

// The label of a period row: "Mon 2019-06-10", "2019-06-10 14:00", "2019-W24", "2019-06", "2019".
std::string period_label(model::Period p, int64_t start, const TimeZone& tz) {
    const CivilTime c = tz.to_local(start);
    char buf[48];
    static const char* wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    switch (p) {
    case model::Period::quarter_hour:
    case model::Period::hour: {
        // With the offset: the autumn day has two 02:00 (+02:00 and +01:00).
        std::string iso = tz.format_iso(start);  // 2026-10-25T02:00:00+02:00
        iso[10] = ' ';
        return iso.substr(0, 16) + iso.substr(19);
    }
    case model::Period::day:
        std::snprintf(buf, sizeof buf, "%s %04d-%02d-%02d", wd[tz.weekday(start)], c.year, c.month, c.day);
        break;
    case model::Period::week: std::snprintf(buf, sizeof buf, "week of %04d-%02d-%02d", c.year, c.month, c.day); break;
    case model::Period::month: std::snprintf(buf, sizeof buf, "%04d-%02d", c.year, c.month); break;
    case model::Period::year: std::snprintf(buf, sizeof buf, "%04d", c.year); break;
    }
    return buf;
}

std::string cell_text(const model::Cell& c) {
    if (!c.value) return "-";
    std::string s = model::format_amount(*c.value);
    if (c.negative) s += "!";
    if (c.missing > 0) s += "*";
    return s;
}

void print_table(const model::ConsumptionTable& t, const TimeZone& tz, const std::string& title) {
    std::vector<std::vector<std::string>> lines;
    // Units in the title; a column's only when it differs (by fluid).
    std::vector<std::string> head = {""};
    const std::string unit = t.columns.empty() ? "" : t.columns[0].unit;
    for (const auto& c : t.columns) head.push_back(c.label + (c.unit.empty() || c.unit == unit ? "" : " " + c.unit));
    lines.push_back(head);
    std::vector<std::string> total = {"Total"}, average = {"Average"};
    bool partial_totals = false;
    for (size_t c = 0; c < t.columns.size(); ++c) {
        const auto tot = model::column_total(t, c);
        const auto avg = model::column_average(t, c);
        const bool partial = tot && model::column_partial(t, c);
        partial_totals |= partial;
        total.push_back(tot ? model::format_amount(*tot) + (partial ? "*" : "") : "-");
        average.push_back(avg ? model::format_amount(*avg) + (partial ? "*" : "") : "-");
    }
    lines.push_back(total);
    lines.push_back(average);
    bool flagged = false, partial = false;
    for (size_t i = 0; i < t.rows.size(); ++i) {
        std::vector<std::string> line = {period_label(t.period, t.starts[i], tz)};
        for (const auto& c : t.rows[i]) {
            line.push_back(cell_text(c));
            flagged |= c.negative;
            partial |= c.missing > 0 && c.value;
        }
        lines.push_back(line);
    }
    std::vector<size_t> width(head.size(), 0);
    for (const auto& l : lines)
        for (size_t k = 0; k < l.size(); ++k) width[k] = std::max(width[k], l[k].size());
    std::printf("%s\n", title.c_str());
    for (const auto& l : lines) {
        std::string out;
        for (size_t k = 0; k < l.size(); ++k) {
            std::string cell = l[k];
            if (k == 0) cell.resize(width[k], ' ');
            else cell = std::string(width[k] - cell.size(), ' ') + cell;
            out += (k ? "  " : "") + cell;
        }
        std::printf("%s\n", out.c_str());
    }
    if (flagged) std::printf("! a non-measured point below zero (kept as computed: meters or wiring to check)\n");
    if (partial) std::printf("* some of its points have no data in that period (the sum of the others)\n");
    if (partial_totals)
        std::printf("* in Total and Average: some periods of the column have no data, or a partial sum (the average is over every period)\n");
}

void run_consumption(const ConsumptionArgs& a) {
    const char* cmd = "consumption";
    if (a.config.empty()) fail(cmd, 2, "--config <site.toml> is required: the site model is in it ([model])");
    if (a.format != "table" && a.format != "csv" && a.format != "json") fail(cmd, 2, "--format must be table, csv or json");
    config::Diagnostics diags;
    SiteConfig site = load_site_config(a.config, kernel::section_schemas(), diags);
    model::SiteModel m;
    if (diags.empty() && site.root) m = model::parse_site_model(*site.root, site.path, site.timezone, diags);
    if (!diags.empty())
        fail(cmd, 2, diags.front().to_string() + (diags.size() > 1 ? " (and more: gridlet check lists every problem)" : ""));
    if (m.points.empty()) fail(cmd, 2, a.config + ": the site has no [[model.points]] (see runtime/model/README.md)");
    auto tz = TimeZone::load(site.timezone);
    if (!tz) fail(cmd, 2, tz.status().message());
    answers::ConsumptionQuestion q;
    q.by = a.by;
    q.period = a.period;
    q.from = a.from;
    q.to = a.to;
    q.fluid = a.fluid;
    q.node = a.node;
    q.compare = a.compare;
    q.cost = a.cost;
    q.kwh = a.kwh;
    auto plan = answers::plan_consumption(q, *tz, SystemClock::instance().now_ms(), "--");
    if (!plan) fail(cmd, 2, plan.status().message());
    auto loc = locate_store(cmd, "", a.config);
    auto st = open_store_read_only(cmd, loc.path);
    auto answer = answers::answer_consumption(*plan, m, st->query(), st->registry(), *tz);
    if (!answer) fail(cmd, answer.status().code() == StatusCode::invalid_argument ? 2 : 1, answer.status().message());
    const model::ConsumptionTable* t = &answer->table;
    const std::optional<model::ConsumptionTable>& prev = answer->previous;
    for (const std::string& n : t->notes) std::fprintf(stderr, "gridlet consumption: %s\n", n.c_str());
    auto title = [&](const model::ConsumptionTable& x) {
        std::string unit = x.columns.empty() ? "" : x.columns[0].unit;
        if (x.by == model::Breakdown::fluid && !unit.empty()) unit = "costs in " + unit;
        return std::string("Consumption by ") + model::breakdown_name(x.by) + (x.by == model::Breakdown::fluid ? "" : ", " + x.fluid) +
               (unit.empty() ? "" : " (" + unit + ")") + ", per " + model::period_name(x.period) + ", " +
               tz->format_iso(x.starts.front()).substr(0, 16) + " to " + tz->format_iso(x.to).substr(0, 16) + " (" + tz->name() + ")";
    };
    if (a.format == "json") {
        std::printf("%s\n", answers::consumption_answer_json(*answer, *tz).dump(2).c_str());
    } else if (a.format == "csv") {
        answers::write_consumption_csv(*answer, *tz, [](std::string_view text) {
            return std::fwrite(text.data(), 1, text.size(), stdout) == text.size();
        });
    } else {
        print_table(*t, *tz, title(*t));
        if (prev) {
            std::printf("\n");
            print_table(*prev, *tz, "Previous: " + title(*prev));
            std::printf("\nChange:");
            for (size_t c = 0; c < t->columns.size() && c < prev->columns.size(); ++c) {
                const auto now_total = model::column_total(*t, c), before = model::column_total(*prev, c);
                std::string change = "-";
                if (now_total && before && *before != 0)
                    change = (*now_total >= *before ? "+" : "") + model::format_amount((*now_total - *before) / *before * 100) + " %";
                std::printf("  %s %s", t->columns[c].label.c_str(), change.c_str());
            }
            std::printf("\n");
        }
    }
}

}  // namespace

void register_consumption_command(CLI::App& app) {
    auto a = std::make_shared<ConsumptionArgs>();
    auto* cmd = app.add_subcommand("consumption", "Consumption of the site model: by load, group, usage, area, node, point, fluid");
    cmd->add_option("--config", a->config, "Site file: its [model] and its store (required)");
    cmd->add_option("--by", a->by, "total (default), point (or device), load, group, usage, area, panel_board, node, fluid");
    cmd->add_option("--period", a->period, "15m, hour, day (default), week (Monday), month, year: local, in the site's zone");
    cmd->add_option("--from", a->from, "Start: a local date 2026-11-01, -7d, today, @epoch_ms (default: this month's start)");
    cmd->add_option("--to", a->to, "End, exclusive (default now); the range is widened to whole periods");
    cmd->add_option("--fluid", a->fluid, "electricity (default), gas, water or the site's own");
    cmd->add_option("--node", a->node, "--by node: \"hierarchy\" or \"hierarchy/node\" (default: the fluid's first hierarchy)");
    cmd->add_flag("--cost", a->cost, "In the currency: consumption x the fluid's average price ([[model.fluids]] price)");
    cmd->add_flag("--kwh", a->kwh, "A volume fluid (gas) in equivalent kWh (its kwh_per_unit)");
    cmd->add_option("--compare", a->compare, "previous: also the same length of time just before");
    cmd->add_option("--format", a->format, "table (default), csv, json");
    cmd->footer(
        "The table has the Total and Average rows of the Socomec consumption table (average = total over\n"
        "the periods, truncated to 3 decimals). A cell '-' has no data; '!' a non-measured point below zero\n"
        "(kept, never clamped); '*' a sum some of whose points had no data. CSV: header 'start,total,<columns>'\n"
        "(with --compare a first column 'range', current or previous), empty cell = no data.\n"
        "Examples:\n"
        "  gridlet consumption --config site.toml --by load --period day --from 2026-11-01 --to 2026-12-01\n"
        "  gridlet consumption --config site.toml --by node --node elec/floor1 --period month --from 2026-01-01\n"
        "  gridlet consumption --config site.toml --by fluid --cost --period month --compare previous\n"
        "Exit status: 0 ok; 1 store error; 2 bad arguments or site model.");
    on_run(cmd, "consumption", [a] { run_consumption(*a); });
}

}  // namespace gridlet::cli

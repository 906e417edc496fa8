// `gridlet series`: list the series of a site's store with their metadata and
// latest sample (read-only; also while gridlet runs).
#include <CLI/CLI.hpp>

#include <charconv>
#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "answers/series_answer.h"
#include "cli/commands.h"
#include "cli/store_access.h"
#include "store/site_file.h"
#include "store/store.h"

namespace gridlet::cli {

namespace {
struct SeriesArgs {
    std::string pattern, tags, format = "table", db, config;
};

std::string tags_text(const SeriesMeta& m) {
    std::string s;
    for (const auto& [k, v] : m.tags) s += (s.empty() ? "" : ";") + k + "=" + v;
    return s;
}

// "0=off,1=on": what parse_states() reads.
std::string states_text(const SeriesMeta& m) {
    std::string s;
    for (const auto& [v, label] : m.states) s += (s.empty() ? "" : ",") + std::to_string(v) + "=" + label;
    return s;
}

// The label of a state series' value ("" when it has none).
std::string state_label(const SeriesMeta& m, double value) {
    if (m.kind != SeriesKind::state || !(value >= -9.2e18 && value <= 9.2e18) || value != static_cast<int64_t>(value))
        return "";
    auto it = m.states.find(static_cast<int64_t>(value));
    return it == m.states.end() ? "" : it->second;
}

void run_series(const SeriesArgs& a) {
    StoreLocation loc = locate_store("series", a.db, a.config);
    if (a.format != "table" && a.format != "csv" && a.format != "json") cli::fail("series", 2, "--format must be table, csv or json");
    auto st = open_store_read_only("series", loc.path);
    auto sel = st->registry().select(a.pattern, a.tags);
    if (!sel) cli::fail("series", 2, sel.status().message());
    const TimeZone utc = TimeZone::utc();
    nlohmann::json out = nlohmann::json::array();
    if (a.format == "csv") std::printf("id,name,kind,unit,tags,last_time,last_value,description,states\n");
    if (a.format == "table")
        std::printf("%6s  %-40s %-8s %-6s %-24s %s %s\n", "id", "name", "kind", "unit", "last time (UTC)", "last value",
                    "tags");
    for (const SeriesMeta& m : *sel) {
        auto last = st->query().last(m.id);
        std::string lt, lv, label;
        if (last && *last) {
            lt = utc.format_iso((*last)->ts, true);
            lv = format_number((*last)->value);
            label = state_label(m, (*last)->value);
        }
        if (a.format == "json") {
            out.push_back(answers::series_json(m, last && *last ? std::optional<store::Sample>(**last) : std::nullopt));
        } else if (a.format == "csv") {
            // RFC 4180: a field with a comma, a quote or a line break is
            // quoted, its quotes doubled (`gridlet import --series` reads it).
            const auto q = [](const std::string& v) {
                if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
                std::string out = "\"";
                for (char c : v) out += c == '"' ? std::string("\"\"") : std::string(1, c);
                return out + "\"";
            };
            std::printf("%u,%s,%s,%s,%s,%s,%s,%s,%s\n", m.id, m.name.c_str(), series_kind_name(m.kind),
                        q(m.unit).c_str(), q(tags_text(m)).c_str(), lt.c_str(), lv.c_str(), q(m.description).c_str(),
                        q(states_text(m)).c_str());
        } else {
            // A state series shows its label: "2 (charging)".
            if (!label.empty()) lv += " (" + label + ")";
            std::printf("%6u  %-40s %-8s %-6s %-24s %s %s\n", m.id, m.name.c_str(), series_kind_name(m.kind),
                        m.unit.c_str(), lt.empty() ? "-" : lt.c_str(), lv.empty() ? "-" : lv.c_str(),
                        tags_text(m).c_str());
        }
    }
    if (a.format == "json") std::printf("%s\n", out.dump(2).c_str());
    if (a.format == "table") std::fprintf(stderr, "%zu series\n", sel->size());
}
}  // namespace

void register_series_command(CLI::App& app) {
    auto a = std::make_shared<SeriesArgs>();
    auto* cmd = app.add_subcommand("series", "List the series in the store with their metadata and latest sample");
    cmd->add_option("pattern", a->pattern, "Series name, prefix or glob (default: all)");
    cmd->add_option("--tags", a->tags, "Tag selector k=v,k=v");
    cmd->add_option("--format", a->format, "table (default), csv or json");
    add_store_options(cmd, a->db, a->config);
    cmd->footer("Works on a running gridlet (read-only secondary instance) and on a stopped one.\n"
                "Exit status: 0 ok; 1 store error; 2 bad arguments.");
    on_run(cmd, "series", [a] { run_series(*a); });
}

}  // namespace gridlet::cli

// `gridlet state show RULE` and `gridlet state clear RULE`: a rule's
// persistent state (gridlet.state) in the store. `show` is read-only and
// works beside a running gridlet; `clear` needs the store to itself, since a
// running rule keeps its state in memory and would write it back. CLI thread.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>

#include "cli/commands.h"
#include "cli/store_access.h"
#include "core/text.h"
#include "store/site_file.h"

namespace gridlet::cli {

namespace {

struct StateArgs {
    std::string rule, db, config;
    bool json = false;
};

void run_show(const StateArgs& a) {
    StoreLocation loc = locate_store("state show", a.db, a.config);
    auto store = open_store_read_only("state show", loc.path);
    auto items = store->state().list(a.rule);
    if (!items) fail("state show", 1, items.status().message());
    nlohmann::json out = nlohmann::json::object();
    size_t bytes = 0;
    for (const auto& [key, value] : *items) {
        bytes += key.size() + value.size();
        auto v = nlohmann::json::parse(value, nullptr, false);
        out[key] = v.is_discarded() ? nlohmann::json(value) : v;  // stored as JSON by the script layer
    }
    if (a.json) {
        std::printf("%s\n", dump_json(out, 2).c_str());
        return;
    }
    std::printf("rule %s: %zu keys, %zu bytes of state\n", a.rule.c_str(), items->size(), bytes);
    for (const auto& [key, value] : out.items()) std::printf("  %s = %s\n", key.c_str(), dump_json(value).c_str());
}

void run_clear(const StateArgs& a) {
    StoreLocation loc = locate_store("state clear", a.db, a.config);
    store::StoreOptions o;
    if (!a.config.empty()) {
        auto site = store::read_site_store(a.config);
        if (!site) fail("state clear", 2, site.status().message());
        o = site->options;
    } else {
        o.path = loc.path;
        o.apply_retention = false;  // the site's retention is not known: nothing expires meanwhile
    }
    o.create_if_missing = false;
    auto opened = store::Store::open(o);
    if (!opened) {
        const Status& st = opened.status();
        fail("state clear", st.code() == StatusCode::not_found ? 2 : 1,
             st.message() + (st.code() == StatusCode::unavailable
                                 ? " (a running rule keeps its state in memory and would write it back: stop gridlet, "
                                   "clear, start it)"
                                 : ""));
    }
    auto items = (*opened)->state().list(a.rule);
    if (!items) fail("state clear", 1, items.status().message());
    if (items->empty()) {
        std::printf("rule %s: no state to clear\n", a.rule.c_str());
        return;
    }
    if (Status st = (*opened)->state().erase_all(a.rule); !st) fail("state clear", 1, st.message());
    if (Status st = (*opened)->sync(); !st) fail("state clear", 1, st.message());
    std::printf("rule %s: %zu keys of state cleared\n", a.rule.c_str(), items->size());
}

}  // namespace

void register_state_command(CLI::App& app) {
    CLI::App* state = app.add_subcommand("state", "Show or clear a rule's persistent state (gridlet.state)");
    state->require_subcommand(1);
    auto args = std::make_shared<StateArgs>();

    CLI::App* show = state->add_subcommand("show", "Print a rule's state (read-only; also while gridlet runs)");
    show->add_option("rule", args->rule, "The rule's name ([[rules]] name)")->required();
    add_store_options(show, args->db, args->config);
    show->add_flag("--json", args->json, "One JSON object, key -> value");
    on_run(show, "state show", [args] { run_show(*args); });

    CLI::App* clear = state->add_subcommand(
        "clear", "Remove a rule's state, e.g. one too large to load again (gridlet stopped; the rule starts afresh)");
    clear->add_option("rule", args->rule, "The rule's name ([[rules]] name)")->required();
    add_store_options(clear, args->db, args->config);
    clear->footer("Exit status: 0 cleared (or nothing to clear); 1 the store failed or a gridlet has it open; "
                  "2 bad arguments or no store.");
    on_run(clear, "state clear", [args] { run_clear(*args); });
}

}  // namespace gridlet::cli

// The site model ([model] of a site file, model/site_model.h): what it reads,
// and every malformed entry refused with file:line.
#include <gtest/gtest.h>

#include <toml++/toml.h>

#include "model/site_model.h"

using namespace gridlet;
using namespace gridlet::model;

namespace {

SiteModel parse(const std::string& text, config::Diagnostics& diags) {
    toml::table root = toml::parse(text, std::string("site.toml"));
    return parse_site_model(root, "site.toml", "Europe/Paris", diags);
}

const char* kGood = R"([model]
currency = "EUR"
[[model.fluids]]
name = "electricity"
price = 0.18
[[model.fluids]]
name = "gas"
kwh_per_unit = 11.2
price = 0.9
[[model.loads]]
name = "it"
label = "IT rooms"
[[model.usages]]
name = "process"
external_key = "Process"
[[model.groups]]
name = "north"
[[model.groups]]
name = "office"
[[model.panel_boards]]
name = "tgbt"
[[model.areas]]
name = "hq"
kind = "building"
[[model.areas]]
name = "floor1"
kind = "floor"
parent = "hq"
[[model.points]]
name = "main"
energy = "panel1/mains/kwh"
power = "panel1/mains/kw"
panel_board = "tgbt"
exclude_from_totals = true
[[model.points]]
name = "lights"
energy = "panel1/branch01/kwh"
load = "lighting"
usage = "indoor_lighting"
groups = ["north", "office"]
area = "floor1"
[[model.points]]
name = "servers"
load = "it"
energy_history = [ { series = "old/kwh", to = "2026-03-15 10:00" }, { series = "new/kwh", from = "2026-03-15 10:00" } ]
[[model.points]]
name = "boiler"
fluid = "gas"
energy = "gasmeter/m3"
[[model.virtual]]
name = "lights_and_servers"
plus = ["lights", "servers"]
[[model.hierarchies]]
name = "elec"
[[model.hierarchies.nodes]]
name = "building"
meter = "main"
points = ["lights"]
[[model.hierarchies.nodes]]
name = "it_room"
parent = "building"
points = ["servers"]
)";

}  // namespace

TEST(SiteModel, ReadsEveryKind) {
    config::Diagnostics diags;
    SiteModel m = parse(kGood, diags);
    ASSERT_TRUE(diags.empty()) << diags.front().to_string();
    EXPECT_EQ(m.currency, "EUR");
    ASSERT_TRUE(m.fluid("gas"));
    EXPECT_DOUBLE_EQ(m.fluid("gas")->kwh_per_unit, 11.2);
    EXPECT_EQ(m.fluid("gas")->unit, "m3");
    EXPECT_EQ(*m.fluid("electricity")->price, 0.18);
    EXPECT_EQ(m.loads.size(), predefined_loads().size() + 1);
    EXPECT_EQ(m.usages.back().external_key, "Process");
    ASSERT_EQ(m.points.size(), 5u);
    const Point* lights = m.point("lights");
    ASSERT_TRUE(lights);
    EXPECT_EQ(lights->groups, (std::vector<std::string>{"north", "office"}));
    EXPECT_EQ(lights->area, "floor1");
    EXPECT_TRUE(m.point("main")->exclude_from_totals);
    const Point* servers = m.point("servers");
    ASSERT_EQ(servers->energy.size(), 2u);
    EXPECT_EQ(servers->energy[0].to_ms, servers->energy[1].from_ms);
    EXPECT_EQ(servers->energy[1].from_ms, 1773565200000) << "2026-03-15 10:00 in Paris (UTC+1) is 09:00 UTC";
    EXPECT_TRUE(m.point("lights_and_servers")->is_virtual);
    ASSERT_EQ(m.hierarchies.size(), 1u);
    EXPECT_EQ(m.hierarchies[0].nodes.front().name, "building") << "the root first";
}

// Each malformed entry: refused naming file:line and what is wrong.
TEST(SiteModel, EveryMalformedEntryIsRefusedWithItsLine) {
    struct Case {
        std::string text;
        uint32_t line;
        std::string message;
    };
    const std::string pt = "[[model.points]]\nname = \"a\"\nenergy = \"m/a\"\n";  // lines 2-4 after [model]
    const std::vector<Case> cases = {
        {"[model]\ncurrency = \"euro\"\n", 1, "[model] currency: 'euro' is not an ISO 4217 currency code"},
        {"[model]\ncurrency = \"XYZ\"\n", 1, "[model] currency: 'XYZ' is not an ISO 4217 currency code"},
        // A fresh retest found these accepted (the first silently dropped the point).
        {"[model]\n[[model.points]]\nname = \"\"\nenergy = \"m/a\"\n", 2, "name '' may use only letters"},
        {"[model]\n[[model.points]]\nname = \"total\"\nenergy = \"m/a\"\n", 2, "the name 'total' is one of the columns consumption adds"},
        {"[model]\n[[model.loads]]\nname = \"others\"\n", 2, "the name 'others' is one of the columns consumption adds"},
        {"[model]\n[[model.usages]]\nname = \"undefined\"\n", 2, "the name 'undefined' is one of the columns consumption adds"},
        {"[model]\n[[model.fluids]]\nname = \"steam\"\nunit = \"bananas\"\n", 2, "unit 'bananas' is not one consumption converts"},
        {"[model]\n[[model.points]]\nname = \"a\"\nenergy_history = [ { series = \"m/1\", to = \"2026-03-29 02:30\" }, { series = \"m/2\", from = \"2026-03-29 02:30\" } ]\n",
         4, "'2026-03-29 02:30' does not exist in Europe/Paris (the clocks go forward then)"},
        {"[model]\n[[model.points]]\nname = \"a\"\nenergy_history = [ { series = \"m/1\", to = \"2026-10-25 02:30\" }, { series = \"m/2\", from = \"2026-10-25T02:30+01:00\" } ]\n",
         4, "'2026-10-25 02:30' happens twice in Europe/Paris (the clocks go back then): give its offset, e.g. \"2026-10-25T02:30+02:00\""},
        {"[model]\ncolour = 1\n", 2, "unknown key 'colour' in [model]"},
        {"[model]\n[[model.points]]\nname = \"a b\"\nenergy = \"m/a\"\n", 2, "name 'a b' may use only letters"},
        {"[model]\n" + pt + pt, 5, "[[model.points]]: 'a' is declared twice"},
        {"[model]\n[[model.points]]\nname = \"a\"\n", 2, "give its counter as energy = \"device/point\""},
        {"[model]\n[[model.points]]\nname = \"a\"\nenergy = \"nodevice\"\n", 2, "energy series 'nodevice' must be \"device/point\""},
        {"[model]\n[[model.points]]\nname = \"a\"\nenergy = \"m/a\"\nload = \"kitchen\"\n", 2, "load 'kitchen' is not a load type"},
        {"[model]\n[[model.points]]\nname = \"a\"\nenergy = \"m/a\"\nfluid = \"steam\"\n", 2, "fluid 'steam' is not a fluid"},
        {"[model]\n[[model.points]]\nname = \"a\"\nenergy = \"m/a\"\ngroups = [\"g\"]\n", 2, "group 'g' is not a [[model.groups]]"},
        {"[model]\n[[model.points]]\nname = \"a\"\nenergy = \"m/a\"\narea = \"x\"\n", 2, "area 'x' is not a [[model.areas]]"},
        {"[model]\n[[model.areas]]\nname = \"f\"\nkind = \"floor\"\n[[model.areas]]\nname = \"b\"\nkind = \"building\"\nparent = \"f\"\n", 5,
         "a building cannot be in a floor ('f'): site > building > floor > space"},
        {"[model]\n[[model.areas]]\nname = \"f\"\nkind = \"attic\"\n", 4, "'kind' is \"attic\"; expected one of: site, building, floor, space"},
        {"[model]\n[[model.loads]]\nname = \"heating\"\n", 2, "[[model.loads]]: 'heating' is pre-defined"},
        {"[model]\n[[model.fluids]]\nname = \"steam\"\n", 2, "a fluid of the site's own needs its unit"},
        {"[model]\n[[model.fluids]]\nname = \"electricity\"\nkwh_per_unit = 2\n", 2, "this fluid is in kWh already"},
        {"[model]\n[[model.fluids]]\nname = \"gas\"\nprice = 1\n", 2, "a price needs [model] currency"},
        {"[model]\n" + pt + "[[model.virtual]]\nname = \"v\"\nplus = [\"a\", \"zz\"]\n", 5, "[[model.virtual]] 'v': 'zz' is not a point"},
        {"[model]\n" + pt + "[[model.virtual]]\nname = \"v\"\nminus = [\"a\"]\n", 5, "'plus' must name at least one point"},
        {"[model]\n" + pt + "[[model.virtual]]\nname = \"v\"\nplus = [\"a\", \"w\"]\n[[model.virtual]]\nname = \"w\"\nplus = [\"v\"]\n", 8,
         "[[model.virtual]] 'w': a cycle through 'v'"},
        {"[model]\n" + pt + "[[model.points]]\nname = \"g\"\nenergy = \"m/g\"\nfluid = \"gas\"\n[[model.virtual]]\nname = \"v\"\nplus = [\"a\", \"g\"]\n",
         9, "[[model.virtual]] 'v' (electricity): 'g' measures gas: a virtual point adds one fluid"},
        {"[model]\n" + pt + "[[model.hierarchies]]\nname = \"h\"\n[[model.hierarchies.nodes]]\nname = \"n\"\nmeter = \"a\"\npoints = [\"a\"]\n", 7,
         "'a' is already in hierarchy 'h' (a point has one place in a hierarchy)"},
        {"[model]\n" + pt + "[[model.hierarchies]]\nname = \"h\"\n[[model.hierarchies.nodes]]\nname = \"n\"\nmeter = \"a\"\n"
         "[[model.hierarchies.nodes]]\nname = \"m\"\nparent = \"n\"\npoints = [\"a\"]\n", 10, "'a' is already in hierarchy 'h'"},
        {"[model]\n" + pt + "[[model.points]]\nname = \"g\"\nenergy = \"m/g\"\nfluid = \"gas\"\n[[model.hierarchies]]\nname = \"h\"\n"
         "[[model.hierarchies.nodes]]\nname = \"n\"\nmeter = \"a\"\npoints = [\"g\"]\n", 11,
         "'g' measures gas; hierarchy 'h' is electricity (one fluid per hierarchy)"},
        {"[model]\n[[model.hierarchies]]\nname = \"h\"\n[[model.hierarchies.nodes]]\nname = \"a\"\nparent = \"b\"\n"
         "[[model.hierarchies.nodes]]\nname = \"b\"\nparent = \"a\"\n", 2, "0 nodes without a parent; a hierarchy has exactly one root"},
        {"[model]\n[[model.hierarchies]]\nname = \"h\"\n[[model.hierarchies.nodes]]\nname = \"r\"\n[[model.hierarchies.nodes]]\nname = \"a\"\n"
         "parent = \"b\"\n[[model.hierarchies.nodes]]\nname = \"b\"\nparent = \"a\"\n", 6, "node 'a': its parents make a cycle"},
        {"[model]\n[[model.hierarchies]]\nname = \"h\"\n[[model.hierarchies.nodes]]\nname = \"r\"\nparent = \"x\"\n", 4,
         "parent 'x' is not a node of this hierarchy"},
        {"[model]\n[[model.hierarchies]]\nname = \"h\"\nparent = \"k/r\"\n[[model.hierarchies.nodes]]\nname = \"r\"\n[[model.hierarchies]]\n"
         "name = \"k\"\nparent = \"h/r\"\n[[model.hierarchies.nodes]]\nname = \"r\"\n", 2, "[[model.hierarchies]] 'h': its parents make a cycle"},
        {"[model]\n[[model.hierarchies]]\nname = \"h\"\nparent = \"nope/r\"\n[[model.hierarchies.nodes]]\nname = \"r\"\n", 2,
         "parent 'nope/r' is not \"hierarchy/node\""},
        {"[model]\n[[model.hierarchies]]\nname = \"h\"\n", 2, "no nodes"},
        {"[model]\n[[model.points]]\nname = \"a\"\nenergy_history = [ { series = \"m/1\", to = \"2026-03-15\" }, { series = \"m/2\", from = \"2026-03-14\" } ]\n",
         2, "'m/2' starts before 'm/1' ends"},
        {"[model]\n[[model.points]]\nname = \"a\"\nenergy_history = [ { series = \"m/1\", to = \"the ides of March\" } ]\n", 4,
         "energy_history: 'to'"},
        {"[model]\n[[model.tariffs]]\nname = \"peak\"\nprice = 0.3\n", 2, "[[model.tariffs]] 'peak': a price needs [model] currency"},
        {"[model]\ncurrency = \"EUR\"\n[[model.tariffs]]\nname = \"peak\"\nprice = 0.3\nfrom = \"08:00\"\nto = \"08:00\"\n", 3,
         "from and to are the same time: it would never apply"},
        {"[model]\ncurrency = \"EUR\"\n[[model.tariffs]]\nname = \"peak\"\nprice = 0.3\ndays = \"mon-fryday\"\n", 3,
         "days 'mon-fryday' must be days such as"},
        {"[model]\ncurrency = \"EUR\"\n[[model.tariffs]]\nname = \"peak\"\nprice = 0.3\nfrom = \"8h\"\n", 3,
         "from and to must be local times \"HH:MM\""},
        {"[model]\ncurrency = \"EUR\"\n[[model.tariffs]]\nname = \"peak\"\nprice = 0.3\nvalid_from = \"2026-07-01\"\nvalid_to = \"2026-06-01\"\n",
         3, "valid_from must be before valid_to"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.text);
        config::Diagnostics diags;
        parse(c.text, diags);
        ASSERT_FALSE(diags.empty()) << "accepted";
        bool found = false;
        for (const auto& d : diags) found |= d.message.find(c.message) != std::string::npos && d.line == c.line;
        std::string all;
        for (const auto& d : diags) all += d.to_string() + "\n";
        EXPECT_TRUE(found) << "wanted line " << c.line << ": " << c.message << "\ngot:\n" << all;
    }
}

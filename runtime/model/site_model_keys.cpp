// The key schemas and small parsers of the site model (site_model_keys.h).
#include "model/site_model_keys.h"

#include "store/time_spec.h"

#include <algorithm>
#include <cstdlib>

#include "model/site_model.h"

namespace gridlet::model::detail {

using config::Diagnostics;
using config::KeySpec;
using config::ValueType;

// Names: what a column, a CSV header and an API path can carry unquoted.
bool good_name(const std::string& s) {
    if (s.empty() || s.size() > 64) return false;
    if (!std::isalnum(static_cast<unsigned char>(s[0])) && s[0] != '_') return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
    });
}

bool good_series(const std::string& s) {
    const size_t slash = s.find('/');
    return slash != std::string::npos && slash > 0 && slash + 1 < s.size() && s.find_first_of(" \t*?[") == std::string::npos;
}

const std::vector<KeySpec>& model_keys() {
    static const std::vector<KeySpec> k = {
        config::key("currency", ValueType::string, std::nullopt, "ISO 4217 code of the prices (EUR, USD, GBP)"),
        config::key("fluids", ValueType::array, std::nullopt, "[[model.fluids]]"),
        config::key("loads", ValueType::array, std::nullopt, "[[model.loads]]"),
        config::key("usages", ValueType::array, std::nullopt, "[[model.usages]]"),
        config::key("groups", ValueType::array, std::nullopt, "[[model.groups]]"),
        config::key("panel_boards", ValueType::array, std::nullopt, "[[model.panel_boards]]"),
        config::key("areas", ValueType::array, std::nullopt, "[[model.areas]]"),
        config::key("points", ValueType::array, std::nullopt, "[[model.points]]"),
        config::key("virtual", ValueType::array, std::nullopt, "[[model.virtual]]"),
        config::key("hierarchies", ValueType::array, std::nullopt, "[[model.hierarchies]]"),
        config::key("tariffs", ValueType::array, std::nullopt, "[[model.tariffs]]"),
    };
    return k;
}

const std::vector<KeySpec>& tariff_keys() {
    static const std::vector<KeySpec> k = {
        config::required_key("name", ValueType::string, "its name (peak, off_peak, ...)"),
        config::key("fluid", ValueType::string, "\"electricity\"", "the fluid it prices"),
        config::required_key("price", ValueType::number, "price per unit of the fluid, in [model] currency"),
        config::key("days", ValueType::string, "\"*\"", "mon-fri, sat,sun or * (every day)"),
        config::key("from", ValueType::string, "\"00:00\"", "local time it starts, HH:MM"),
        config::key("to", ValueType::string, "\"24:00\"", "local time it ends, HH:MM (before from: across midnight)"),
        config::key("valid_from", ValueType::string, std::nullopt, "the first local date it applies"),
        config::key("valid_to", ValueType::string, std::nullopt, "the local date it stops applying"),
    };
    return k;
}

// "mon-fri", "sat,sun", "*" -> bit set of weekdays (bit 0 Sunday); nullopt if bad.
std::optional<uint8_t> parse_days(const std::string& text) {
    if (text == "*") return uint8_t{0x7F};
    static const char* names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
    auto day = [](std::string s) -> int {
        while (!s.empty() && s.front() == ' ') s.erase(s.begin());
        while (!s.empty() && s.back() == ' ') s.pop_back();
        for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        for (int d = 0; d < 7; ++d)
            if (s == names[d]) return d;
        return -1;
    };
    uint8_t set = 0;
    size_t at = 0;
    while (at <= text.size()) {
        const size_t comma = std::min(text.find(',', at), text.size());
        const std::string part = text.substr(at, comma - at);
        const size_t dash = part.find('-');
        const int a = day(part.substr(0, dash));
        const int b = dash == std::string::npos ? a : day(part.substr(dash + 1));
        if (a < 0 || b < 0) return std::nullopt;
        for (int d = a;; d = (d + 1) % 7) {
            set |= static_cast<uint8_t>(1u << d);
            if (d == b) break;
        }
        at = comma + 1;
    }
    return set ? std::optional<uint8_t>(set) : std::nullopt;
}

// "HH:MM" (00:00..24:00) -> minutes; nullopt if bad.
std::optional<int> parse_hhmm(const std::string& t) {
    if (t.size() != 5 || t[2] != ':' || !std::isdigit(static_cast<unsigned char>(t[0])) ||
        !std::isdigit(static_cast<unsigned char>(t[1])) || !std::isdigit(static_cast<unsigned char>(t[3])) ||
        !std::isdigit(static_cast<unsigned char>(t[4])))
        return std::nullopt;
    const int h = (t[0] - '0') * 10 + (t[1] - '0'), m = (t[3] - '0') * 10 + (t[4] - '0');
    if (h > 24 || m > 59 || (h == 24 && m > 0)) return std::nullopt;
    return h * 60 + m;
}

const std::vector<KeySpec>& fluid_keys() {
    static const std::vector<KeySpec> k = {
        config::required_key("name", ValueType::string, "electricity, gas, water or a fluid of the site's own"),
        config::key("unit", ValueType::string, std::nullopt, "the unit consumption is given in (kWh, m3, ...)"),
        config::key("kwh_per_unit", ValueType::number, std::nullopt, "gas: kWh per m³, the supplier's conversion factor", 0),
        config::key("price", ValueType::number, std::nullopt, "average price per unit, in [model] currency", 0),
    };
    return k;
}

const std::vector<KeySpec>& category_keys(bool usage) {
    static const std::vector<KeySpec> plain = {
        config::required_key("name", ValueType::string, "its name, as points refer to it"),
        config::key("label", ValueType::string, std::nullopt, "its name for display"),
        config::key("description", ValueType::string, std::nullopt, "description or location"),
    };
    static const std::vector<KeySpec> with_key = [] {
        auto k = plain;
        k.push_back(config::key("external_key", ValueType::string, std::nullopt, "the key exports use (Socomec)"));
        return k;
    }();
    return usage ? with_key : plain;
}

const std::vector<KeySpec>& area_keys() {
    static const std::vector<KeySpec> k = {
        config::required_key("name", ValueType::string, "its name"),
        [] {
            KeySpec s = config::required_key("kind", ValueType::string, "site, building, floor or space");
            s.one_of = {"site", "building", "floor", "space"};
            return s;
        }(),
        config::key("parent", ValueType::string, std::nullopt, "the area it is in"),
    };
    return k;
}

const std::vector<KeySpec>& point_keys(bool is_virtual) {
    static const std::vector<KeySpec> common = {
        config::required_key("name", ValueType::string, "its name"),
        config::key("fluid", ValueType::string, "\"electricity\"", "the fluid it measures"),
        config::key("load", ValueType::string, std::nullopt, "its load type (none: others)"),
        config::key("usage", ValueType::string, std::nullopt, "its usage"),
        config::key("groups", ValueType::array, std::nullopt, "the measure groups it is in"),
        config::key("panel_board", ValueType::string, std::nullopt, "the panel board it is in"),
        config::key("area", ValueType::string, std::nullopt, "the area it is in"),
        config::key("exclude_from_totals", ValueType::boolean, "false", "left out of totals (still in details)"),
        config::key("description", ValueType::string, std::nullopt, "description"),
    };
    static const std::vector<KeySpec> real = [] {
        auto k = common;
        k.push_back(config::key("energy", ValueType::string, std::nullopt, "its energy counter series, device/point"));
        k.push_back(config::key("energy_history", ValueType::array, std::nullopt,
                                "its counters over time: [{series, from, to}] (a meter replaced)"));
        k.push_back(config::key("power", ValueType::string, std::nullopt, "its power series, device/point"));
        return k;
    }();
    static const std::vector<KeySpec> virt = [] {
        auto k = common;
        k.push_back(config::key("plus", ValueType::array, std::nullopt, "points added"));
        k.push_back(config::key("minus", ValueType::array, std::nullopt, "points subtracted"));
        return k;
    }();
    return is_virtual ? virt : real;
}

const std::vector<KeySpec>& hierarchy_keys() {
    static const std::vector<KeySpec> k = {
        config::required_key("name", ValueType::string, "its name"),
        config::key("fluid", ValueType::string, "\"electricity\"", "its one fluid"),
        config::key("parent", ValueType::string, std::nullopt, "\"hierarchy/node\" it hangs under"),
        config::key("nodes", ValueType::array, std::nullopt, "[[model.hierarchies.nodes]]"),
    };
    return k;
}

const std::vector<KeySpec>& node_keys() {
    static const std::vector<KeySpec> k = {
        config::required_key("name", ValueType::string, "its name"),
        config::key("parent", ValueType::string, std::nullopt, "the node above it (none: the root)"),
        config::key("meter", ValueType::string, std::nullopt, "the point that feeds it"),
        config::key("points", ValueType::array, std::nullopt, "the points it feeds"),
    };
    return k;
}

// The array of tables `key` of `t` (each with its line); a problem named.
std::vector<const toml::table*> tables_of(const toml::table& t, const std::string& key, const std::string& where,
                                          const std::string& file, Diagnostics& diags) {
    std::vector<const toml::table*> out;
    const toml::node* n = t.get(key);
    if (!n || !n->is_array()) return out;  // a wrong type is said by validate_table
    for (const toml::node& e : *n->as_array()) {
        if (!e.is_table()) {
            diags.push_back({file, config::line_of(e), "each " + where + " entry must be a table: [[" + where + "]]"});
            continue;
        }
        out.push_back(e.as_table());
    }
    return out;
}

std::vector<std::string> strings(const nlohmann::json& j, const std::string& key, const std::string& where, uint32_t line,
                                 const std::string& file, Diagnostics& diags) {
    std::vector<std::string> out;
    if (!j.contains(key)) return out;
    for (const auto& e : j[key]) {
        if (!e.is_string()) {
            diags.push_back({file, line, where + ": '" + key + "' must be an array of names (strings)"});
            return {};
        }
        out.push_back(e.get<std::string>());
    }
    return out;
}

std::string str(const nlohmann::json& j, const char* key) { return j.contains(key) ? j[key].get<std::string>() : ""; }

// The active ISO 4217 currency codes (2024 list, funds and metals left out).
bool iso4217(const std::string& code) {
    static const std::string codes =
        " AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF"
        " CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG"
        " HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA"
        " MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD"
        " RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX"
        " USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL ";
    return code.size() == 3 && codes.find(" " + code + " ") != std::string::npos;
}

// A unit consumption converts (an energy or a volume).
bool known_unit(const std::string& u) { return !u.empty() && (unit_factor(u, "kWh") || unit_factor(u, "m3")); }

// A local time of the site's zone that exists once (store/time_spec.h: the
// one check the CLI and the API use too).
Expected<int64_t> local_instant(const TimeZone& zone, const std::string& text) { return store::parse_iso_once(text, zone); }

}  // namespace gridlet::model::detail

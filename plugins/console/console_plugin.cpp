// console: a north plugin that shows live values on standard output.
//
// It subscribes to the configured series patterns, keeps the last value of
// each matching series, and every `every_ms` prints one line per pattern
// group: "HH:MM:SS  name=value name=value ...", values with `digits`
// decimals; a bad-quality value prints as "bad". For demos and commissioning;
// the store keeps the data.
#include <gridlet/glob.hpp>
#include <gridlet/plugin.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <string>
#include <vector>

class ConsolePlugin : public gridlet::Plugin {
public:
    static constexpr gridlet::PluginInfo info{"console", "0.1.0", GL_KIND_NORTH,
                                              "Prints the last values of chosen series on standard output"};
    static constexpr gl_config_key config_schema[] = {
        {"series", GL_CFG_ARRAY, "[\"**\"]",
         "series patterns (globs over device/point names); one printed line each", 0},
        {"every_ms", GL_CFG_INT, "2000", "how often to print", 0},
        {"digits", GL_CFG_INT, "1", "decimals printed", 0},
        {"max_values", GL_CFG_INT, "8", "values printed per line (the first by name)", 0},
    };

    // The config, checked; throws gridlet::Error. Used by validate()
    // (`gridlet check`) and by the constructor (`gridlet run`) alike.
    struct Settings {
        std::vector<std::string> patterns;
        int64_t every_ms = 2000;
        int digits = 1;
        size_t max_values = 8;
    };
    static Settings parse(const std::string& json) {
        auto cfg = nlohmann::json::parse(json);
        Settings out;
        for (const auto& p : cfg.at("series")) {
            if (!p.is_string() || p.get<std::string>().empty())
                throw gridlet::Error(GL_ERR_INVALID, "console: every entry of 'series' must be a non-empty string");
            const std::string text = p.get<std::string>();
            if (!gridlet::plausible_series_pattern(text))
                throw gridlet::Error(GL_ERR_INVALID, "console: series pattern '" + text + "' can never match: " +
                                                         gridlet::kSeriesPatternRule);
            out.patterns.push_back(text);
        }
        out.every_ms = cfg.at("every_ms").get<int64_t>();
        const int64_t digits = cfg.at("digits").get<int64_t>();
        const int64_t max_values = cfg.at("max_values").get<int64_t>();
        if (out.every_ms < 100 || out.every_ms > 86'400'000)
            throw gridlet::Error(GL_ERR_INVALID, "console: every_ms must be 100..86400000, not " + std::to_string(out.every_ms));
        if (digits < 0 || digits > 9) throw gridlet::Error(GL_ERR_INVALID, "console: digits must be 0..9");
        if (max_values < 1 || max_values > 10'000) throw gridlet::Error(GL_ERR_INVALID, "console: max_values must be 1..10000");
        out.digits = static_cast<int>(digits);
        out.max_values = static_cast<size_t>(max_values);
        return out;
    }

    static void validate(const gridlet::Host& h) {
        try {
            parse(h.config_json());
        } catch (const std::exception& e) {
            h.config_problem("", e.what());
        }
    }

    explicit ConsolePlugin(gridlet::Host h) : Plugin(h) {
        Settings s = parse(host().config_json());
        for (std::string& p : s.patterns) groups_.push_back({std::move(p), {}});
        every_ms_ = s.every_ms;
        digits_ = s.digits;
        max_values_ = s.max_values;
    }

    void start() override {
        for (const Group& g : groups_) host().subscribe(("data/" + g.pattern).c_str());
        host().add_timer(static_cast<uint64_t>(every_ms_), true);
    }

    void on_samples(const char*, const gl_sample* s, size_t n) override {
        for (size_t i = 0; i < n; ++i) {
            const std::string& name = name_of(s[i].series_id);
            for (Group& g : groups_)
                if (matches_[s[i].series_id] & (1u << (&g - groups_.data())))
                    g.last[name] = s[i].quality == GL_QUALITY_BAD ? NAN : s[i].value;
        }
    }

    void on_timer(uint64_t) override {
        std::time_t t = static_cast<std::time_t>(host().now_ms() / 1000);
        std::tm tm{};
        localtime_r(&t, &tm);
        char when[16];
        std::strftime(when, sizeof when, "%H:%M:%S", &tm);
        for (const Group& g : groups_) {
            std::string line = std::string(when) + " ";
            size_t shown = 0;
            for (const auto& [name, v] : g.last) {
                if (shown++ == max_values_) {
                    line += " (+" + std::to_string(g.last.size() - max_values_) + " more)";
                    break;
                }
                char buf[64];
                if (std::isnan(v)) std::snprintf(buf, sizeof buf, "bad");
                else std::snprintf(buf, sizeof buf, "%.*f", digits_, v);
                line += " " + name + "=" + buf;
            }
            if (g.last.empty()) line += " " + g.pattern + ": no data yet";
            std::printf("%s\n", line.c_str());
        }
        std::fflush(stdout);
    }

private:
    struct Group {
        std::string pattern;
        std::map<std::string, double> last;
    };

    // Name of a series and which groups it belongs to, resolved once.
    const std::string& name_of(uint32_t id) {
        auto it = names_.find(id);
        if (it != names_.end()) return it->second;
        char buf[256];
        std::string name = host().api()->series_name(host().ctx(), id, buf, sizeof buf) == GL_OK ? buf : "?";
        uint32_t mask = 0;
        for (size_t i = 0; i < groups_.size() && i < 32; ++i)
            if (gridlet::glob_match(groups_[i].pattern, name)) mask |= 1u << i;
        matches_[id] = mask;
        return names_.emplace(id, name).first->second;
    }


    std::vector<Group> groups_;
    std::map<uint32_t, std::string> names_;
    std::map<uint32_t, uint32_t> matches_;
    int64_t every_ms_ = 2000;
    int digits_ = 1;
    size_t max_values_ = 8;
};

GRIDLET_PLUGIN(ConsolePlugin)

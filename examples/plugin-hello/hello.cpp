// plugin-hello: the smallest complete gridlet driver, built out of tree
// against the installed SDK. Each device it drives is a counter that grows
// by `step` every `interval_ms`; writing to <device>/count sets it.
//
// Shows: config and device schemas, series registration, publishing on a
// timer, handling commands with one reply, emitting events.
#include <gridlet/plugin.hpp>
#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

class HelloPlugin : public gridlet::Plugin {
public:
    static constexpr gridlet::PluginInfo info{"hello", "1.0.0", GL_KIND_DRIVER,
                                              "Counts up on each device; a write sets the count"};
    static constexpr gl_config_key config_schema[] = {
        {"interval_ms", GL_CFG_INT, "1000", "how often every device publishes", 0},
        {"greeting", GL_CFG_STRING, "\"hello\"", "logged at start", 0},
    };
    static constexpr gl_config_key device_schema[] = {
        {"start", GL_CFG_DOUBLE, "0.0", "first value of the count", 0},
        {"step", GL_CFG_DOUBLE, "1.0", "added at each interval", 0},
    };

    explicit HelloPlugin(gridlet::Host h) : Plugin(h) {
        interval_ms_ = host().config_int("interval_ms");
        if (interval_ms_ < 10) throw gridlet::Error(GL_ERR_INVALID, "interval_ms must be at least 10");
        for (const auto& d : nlohmann::json::parse(host().devices_json())) {
            Device dev;
            dev.name = d.at("name").get<std::string>();
            dev.count = d.at("start").get<double>();
            dev.step = d.at("step").get<double>();
            devices_.push_back(dev);
        }
    }

    void start() override {
        for (Device& d : devices_) {
            gridlet::SeriesSpec s(d.name + "/count", "", GL_SERIES_COUNTER);
            s.description = "hello counter";
            s.tags = "usage=demo";
            d.series = host().register_series(s);
            host().subscribe(("cmd/" + d.name + "/").c_str());  // we handle this device's commands
        }
        host().add_timer(static_cast<uint64_t>(interval_ms_), true);
        host().info(host().config_string("greeting") + " from " + host().name() + ", driving " +
                    std::to_string(devices_.size()) + " device(s)");
    }

    void on_timer(uint64_t) override {
        std::vector<gl_sample> batch;
        const int64_t now = host().now_ms();
        for (Device& d : devices_) {
            d.count += d.step;
            gl_sample s{};
            s.series_id = d.series;
            s.ts_ms = now;
            s.value = d.count;
            s.quality = GL_QUALITY_GOOD;
            batch.push_back(s);
        }
        host().publish(batch.data(), batch.size());  // GL_ERR_FULL is counted by the host
    }

    void on_command(const gl_command& cmd) override {
        std::string target = cmd.target;
        for (Device& d : devices_) {
            if (target == d.name + "/count") {
                if (cmd.value < 0) {
                    host().reply_command(cmd.request_id, GL_ERR_INVALID, "count cannot be negative");
                    return;
                }
                d.count = cmd.value;
                host().reply_command(cmd.request_id, GL_OK);
                host().emit_event("count_set", GL_SEV_INFO,
                                  nlohmann::json{{"device", d.name}, {"value", cmd.value}, {"by", cmd.sender}}.dump());
                return;
            }
        }
        host().reply_command(cmd.request_id, GL_ERR_NOT_FOUND, "no writable point '" + target + "'");
    }

private:
    struct Device {
        std::string name;
        double count = 0;
        double step = 1;
        uint32_t series = 0;
    };
    int64_t interval_ms_ = 1000;
    std::vector<Device> devices_;
};

GRIDLET_PLUGIN(HelloPlugin)

// mqtt: MQTT for gridlet on libmosquitto (MQTT 5 or 3.1.1, TLS).
//
// North: the samples and events chosen by `north.series` / `north.events`
// go to the broker from the plugin's feed in the store (see forwarder.h):
// nothing is lost while the broker is away or gridlet is killed, within the
// feed's disk budget. Configuration: plugins/mqtt/README.md.
//
// Threads: create/start/stop/on_timer run on the plugin thread; the
// Forwarder has its own.
#include <gridlet/plugin.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "forwarder.h"
#include "install_paths.h"
#include "settings.h"
#include "south.h"
#include "topic.h"

namespace gridlet::mqtt {

class MqttPlugin : public gridlet::Plugin {
public:
    static constexpr gridlet::PluginInfo info{"mqtt", "0.1.0", GL_KIND_NORTH,
                                              "MQTT north: samples, events and alarms to a broker, stored and "
                                              "forwarded with nothing lost"};
    static constexpr gl_config_key config_schema[] = {
        {"broker", GL_CFG_STRING, "\"mqtt://127.0.0.1:1883\"", "mqtt://host:port, or mqtts://host:port for TLS", 0},
        {"client_id", GL_CFG_STRING, "\"\"", "MQTT client id (\"\": gridlet-<site>-<instance>)", 0},
        {"username", GL_CFG_STRING, nullptr, "user name for the broker", 0},
        {"password_env", GL_CFG_STRING, nullptr, "the environment variable holding the password", 0},
        {"keepalive_s", GL_CFG_INT, "30", "keepalive, seconds", 0},
        {"protocol", GL_CFG_STRING, "\"5\"", "\"5\" (MQTT 5) or \"3.1.1\"", 0},
        {"ca_file", GL_CFG_STRING, nullptr, "CA certificates (PEM) to trust; implies TLS", 0},
        {"cert_file", GL_CFG_STRING, nullptr, "client certificate (PEM), with key_file", 0},
        {"key_file", GL_CFG_STRING, nullptr, "client private key (PEM)", 0},
        {"tls_min_version", GL_CFG_STRING, "\"1.2\"", "lowest TLS version accepted: \"1.2\" or \"1.3\"", 0},
        {"reconnect_min_ms", GL_CFG_INT, "500", "first wait before reconnecting", 0},
        {"reconnect_max_ms", GL_CFG_INT, "30000", "longest wait between attempts (doubling)", 0},
        {"status_topic", GL_CFG_STRING, "\"gridlet/{site}/status\"",
         "retained online/offline topic, also the last will (\"\": none)", 0},
        {"north", GL_CFG_TABLE, nullptr, "what goes to the broker (see the plugin's README)", 0},
        {"south", GL_CFG_TABLE, nullptr, "south options: qos of the subscriptions", 0},
        {"commands", GL_CFG_TABLE, nullptr, "writes to device points over MQTT: topic, allow, timeout_ms", 0},
        {"fleet", GL_CFG_TABLE, nullptr, "aggregator: stores other gateways' north topics under their names", 0},
        {"profiles_dir", GL_CFG_STRING, "\"\"",
         "folder (or ':'-separated list) searched first for sensor profiles <name>.toml", 0},
    };
    // South: each device is a sensor on a topic, decoded by a sensor profile.
    static constexpr gl_config_key device_schema[] = {
        {"profile", GL_CFG_STRING, nullptr, "sensor profile: a name (config/profiles/<name>.toml) or a .toml path", 1},
        {"topic", GL_CFG_STRING, nullptr, "MQTT topic filter of its messages ('+' one level, '#' the rest)", 1},
        {"tags", GL_CFG_STRING, "\"\"", "tags of its series: \"site=..,building=..,floor=..,space=..\"", 0},
        {"gateway", GL_CFG_STRING, "\"\"", "the device that is its gateway: offline with it", 0},
        {"offline_after_s", GL_CFG_INT, nullptr, "offline after this long without a message (default: the profile's)", 0},
    };

    static std::vector<std::string> profile_dirs(const Settings& s) {
        return gridlet::profile_search_dirs(s.south.profiles_dir, reinterpret_cast<const void*>(&profile_dirs));
    }

    static Settings parse(const gridlet::Host& h, std::vector<std::string>& problems) {
        nlohmann::json cfg;
        try {
            cfg = nlohmann::json::parse(h.config_json());
        } catch (const std::exception& e) {
            problems.push_back(std::string("config does not parse: ") + e.what());
            return {};
        }
        return parse_settings(cfg, problems);
    }

    static void validate(const gridlet::Host& h) {
        std::vector<std::string> problems;
        const Settings s = parse(h, problems);
        const gl_host_api* api = h.api();
        if (s.north.enabled && problems.empty() && GL_HAS_FIELD(api, gl_host_api, feed_open) && api->feed_open &&
            api->feed_open(h.ctx(), nullptr) == GL_ERR_UNSUPPORTED)
            problems.push_back("north needs the store's outbox to keep what waits for the broker: add a [store] to the site");
        for (const std::string& p : problems) h.config_problem("", p);
        const nlohmann::json listed = nlohmann::json::parse(h.devices_json(), nullptr, false);
        if (problems.empty() && !s.north.enabled && !s.commands.enabled && !s.fleet.enabled &&
            (!listed.is_array() || listed.empty()))
            h.warn("nothing to do: no [plugins.config.north] (or it is not enabled), no sensor [[devices]], no commands, "
                   "no fleet");
        if (problems.empty() && !s.south.profiles_dir.empty() && !std::filesystem::is_directory(s.south.profiles_dir))
            h.config_problem("", "profiles_dir: '" + s.south.profiles_dir + "' is not a folder (a relative path is "
                                 "taken from the folder gridlet runs in)");
        nlohmann::json devices = nlohmann::json::parse(h.devices_json(), nullptr, false);
        build_devices(devices, profile_dirs(s),
                      [&](const std::string& device, const std::string& what) { h.config_problem(device, what); },
                      [&](const std::string& what) { h.warn(what); });
    }

    explicit MqttPlugin(gridlet::Host h) : Plugin(h) {
        std::vector<std::string> problems;
        settings_ = parse(host(), problems);
        if (!problems.empty()) throw gridlet::Error(GL_ERR_INVALID, "mqtt: " + problems.front());
        std::string device_problem;
        auto devices = build_devices(nlohmann::json::parse(host().devices_json(), nullptr, false), profile_dirs(settings_),
                                     [&](const std::string&, const std::string& what) {
                                         if (device_problem.empty()) device_problem = what;
                                     });
        if (!device_problem.empty()) throw gridlet::Error(GL_ERR_INVALID, device_problem);
        if (!devices.empty()) {
            south_ = std::make_unique<South>(host(), std::move(devices), settings_.south.qos);
            south_->register_series();
        }
        const gl_host_api* api = host().api();
        const std::string site = GL_HAS_FIELD(api, gl_host_api, site_name) && api->site_name ? api->site_name(host().ctx()) : "";
        if (settings_.commands.enabled) {
            std::string topic;
            TopicTemplate(settings_.commands.topic, {"site", "instance"}).expand({site, host().name()}, topic);
            commands_ = std::make_unique<CommandQueue>(host(), settings_.commands, topic);
        }
        if (settings_.fleet.enabled) fleet_ = std::make_unique<Fleet>(host(), settings_.fleet, site);
        if (!settings_.north.enabled) {
            if (south_ || commands_ || fleet_)
                forwarder_ = std::make_unique<Forwarder>(host(), settings_, site, host().name(), south_.get(),
                                                         commands_.get(), fleet_.get());
            return;
        }
        if (!GL_HAS_FIELD(api, gl_host_api, site_name) || !api->feed_open)
            throw gridlet::Error(GL_ERR_UNSUPPORTED, "mqtt: this gridlet is too old for MQTT north (ABI 1.2 needed)");
        std::vector<const char*> series, events;
        for (const std::string& s : settings_.north.series) series.push_back(s.c_str());
        for (const std::string& e : settings_.north.events) events.push_back(e.c_str());
        gl_feed_spec spec{};
        spec.struct_size = sizeof spec;
        spec.series = series.data();
        spec.series_count = series.size();
        spec.events = events.data();
        spec.events_count = events.size();
        spec.max_bytes = settings_.north.max_backlog_bytes;
        // Opened here, in create(): north plugins start before drivers, so
        // the feed holds every sample from the first one.
        if (api->feed_open(host().ctx(), &spec) != GL_OK)
            throw gridlet::Error(GL_ERR_UNSUPPORTED,
                                 "mqtt: north needs the store's outbox to keep what waits: add a [store] to the site");
        forwarder_ = std::make_unique<Forwarder>(host(), settings_, site, host().name(), south_.get(), commands_.get(),
                                                 fleet_.get());
        refused_series_ = host().register_series(gridlet::SeriesSpec(host().name() + "/north/refused", "", GL_SERIES_COUNTER));
    }

    void start() override {
        if (!forwarder_) {
            host().info("no north table (or north.enabled = false) and no sensor devices: nothing to do");
            return;
        }
        forwarder_->start();
        if (settings_.north.enabled) status_timer_ = host().add_timer(60'000, true);
        if (commands_) commands_timer_ = host().add_timer(20, true);
    }

    void stop() override {
        if (forwarder_) forwarder_->stop();
    }

    // Once a minute, while a backlog waits or the broker is away: say so.
    void on_timer(uint64_t id) override {
        if (id == commands_timer_) {
            commands_->drain();  // send_command must be called on this thread
            return;
        }
        const ForwarderCounters& c = forwarder_->counters();
        // Messages the broker refused (ACL, size): a counter series.
        const gl_sample refused{host().now_ms(), static_cast<double>(c.refused.load()), refused_series_, GL_QUALITY_GOOD,
                                {0, 0, 0}};
        host().publish(&refused, 1);
        gl_feed_stats st{};
        st.struct_size = sizeof st;
        if (host().api()->feed_stats(host().ctx(), &st) != GL_OK) return;
        if (st.entries == 0 && c.connected.load() && st.dropped_samples == 0 && c.refused.load() == 0) return;
        host().info(std::string(c.connected.load() ? "connected" : "broker away") + "; waiting in the store: " +
                    std::to_string(st.entries) + " entries (~" + std::to_string(st.bytes >> 10) + " KB); sent " +
                    std::to_string(c.samples.load()) + " samples (" + std::to_string(c.resent_samples.load()) +
                    " from the backlog), dropped by the budget " + std::to_string(st.dropped_samples) + " samples" +
                    (c.refused.load() ? ", refused by the broker " + std::to_string(c.refused.load()) + " messages" : ""));
    }

private:
    Settings settings_;
    std::unique_ptr<South> south_;          // before forwarder_: destroyed after it
    std::unique_ptr<CommandQueue> commands_;
    std::unique_ptr<Fleet> fleet_;
    uint64_t status_timer_ = 0, commands_timer_ = 0;
    uint32_t refused_series_ = 0;
    std::unique_ptr<Forwarder> forwarder_;
};

}  // namespace gridlet::mqtt

GRIDLET_PLUGIN(gridlet::mqtt::MqttPlugin)

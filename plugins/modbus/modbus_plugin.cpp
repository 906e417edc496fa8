// The "modbus" driver plugin: devices from [[devices]] (see README.md),
// profiles from config/profiles, polling through Poller, commands on
// cmd/<device>/<point> written with read-back.
#include "device_config.h"
#include "install_paths.h"
#include "poller.h"
#include "profile.h"

#include <gridlet/plugin.hpp>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>


namespace gridlet::modbus {
namespace {

class HostSink : public Sink {
public:
    explicit HostSink(const Host& h) : h_(h) {}
    uint32_t register_series(const SeriesDef& d) override {
        SeriesSpec s(d.name, d.unit, d.kind);
        s.description = d.description;
        s.tags = d.tags;
        s.states = d.states;
        return h_.register_series(s);
    }
    void publish(const gl_sample* s, size_t n) override {
        if (h_.publish(s, n) != GL_OK) dropped_ += n;  // the host counts and logs the drop
    }
    void event(const std::string& device, const std::string& type, gl_severity sev, const std::string& body) override {
        h_.emit_event(type, sev, body, device.c_str());
    }
    void log(gl_log_level level, const std::string& msg) override { h_.log(level, msg); }
    int64_t now_ms() override { return h_.now_ms(); }

private:
    Host h_;
    std::atomic<uint64_t> dropped_{0};
};

std::vector<std::string> split_dirs(const std::string& s) {
    std::vector<std::string> out;
    size_t at = 0;
    while (at <= s.size()) {
        size_t c = s.find(':', at);
        std::string part = s.substr(at, c == std::string::npos ? std::string::npos : c - at);
        if (!part.empty()) out.push_back(part);
        if (c == std::string::npos) break;
        at = c + 1;
    }
    return out;
}

class ModbusPlugin : public Plugin {
public:
    static constexpr PluginInfo info{"modbus", "0.1.0", GL_KIND_DRIVER,
                                     "Modbus TCP/RTU driver: profile-driven polling, writes with read-back"};
    static constexpr gl_config_key config_schema[] = {
        {"profiles_dir", GL_CFG_STRING, "\"\"",
         "Directory (or ':'-separated list) searched first for <profile>.toml; then $GRIDLET_PROFILE_DIR, "
         "./config/profiles and the installed profiles",
         0},
        {"comm_stats", GL_CFG_BOOL, "true", "Publish <device>/comm/* counters (requests, timeouts, ...) every poll", 0},
    };
    static constexpr gl_config_key device_schema[] = {
        {"profile", GL_CFG_STRING, nullptr, "Profile name (config/profiles/<name>.toml) or path to a .toml file", 1},
        {"address", GL_CFG_STRING, nullptr, "\"host:port\" (Modbus TCP) or \"rtu:/dev/ttyUSB0\" (Modbus RTU)", 1},
        {"unit_id", GL_CFG_INT, "1", "Modbus unit id (slave address) 0..247", 0},
        {"poll_ms", GL_CFG_INT, "1000", "Poll period in ms (fixed grid, no drift)", 0},
        {"timeout_ms", GL_CFG_INT, "1000", "Response timeout per request in ms", 0},
        {"retries", GL_CFG_INT, "1", "Extra attempts after a timeout, malformed reply or transient exception", 0},
        {"offline_after", GL_CFG_INT, "3", "Failed polls in a row before the device is reported offline", 0},
        {"offline_poll_ms", GL_CFG_INT, "30000",
         "Poll period of an offline device that shares its connection (gateway, RS-485 bus), so the others keep theirs",
         0},
        {"gap_ms", GL_CFG_INT, "0", "Silence between requests on the device's connection (shared bus/gateway)", 0},
        {"reconnect_min_ms", GL_CFG_INT, "500", "First reconnect delay; doubles after each failure", 0},
        {"reconnect_max_ms", GL_CFG_INT, "30000", "Cap of the reconnect delay", 0},
        {"baud", GL_CFG_INT, "19200", "RTU: baud rate", 0},
        {"parity", GL_CFG_STRING, "\"N\"", "RTU: parity N, E or O", 0},
        {"data_bits", GL_CFG_INT, "8", "RTU: data bits 5..8", 0},
        {"stop_bits", GL_CFG_INT, "1", "RTU: stop bits 1 or 2", 0},
    };

    // The profile folders: profiles_dir, $GRIDLET_PROFILE_DIR, ./config/profiles, the installed ones.
    static std::vector<std::string> profile_dirs(const nlohmann::json& cfg) {
        const std::string configured = cfg.is_object() && cfg.contains("profiles_dir") && cfg["profiles_dir"].is_string()
                                           ? cfg["profiles_dir"].get<std::string>()
                                           : std::string();
        return gridlet::profile_search_dirs(configured, reinterpret_cast<const void*>(&split_dirs));
    }

    // Every device as create() would take it: its keys, its address and its
    // profile (read and checked). `problem(device, message)` for each fault.
    template <class OnDevice, class OnProblem>
    static void each_device(const Host& h, OnDevice&& on_device, OnProblem&& problem) {
        auto cfg = nlohmann::json::parse(h.config_json(), nullptr, false);
        std::vector<std::string> dirs = profile_dirs(cfg);
        auto devs = nlohmann::json::parse(h.devices_json(), nullptr, false);
        if (devs.is_discarded() || !devs.is_array()) return problem("", "devices are not a JSON array");
        std::map<std::string, std::shared_ptr<const Profile>> profiles;
        std::map<std::string, std::string> profile_errors;
        for (const auto& j : devs) {
            std::string name = j.is_object() && j.contains("name") && j["name"].is_string() ? j["name"].get<std::string>() : "";
            try {
                DeviceConfig dc = parse_device(j);
                auto err = profile_errors.find(dc.profile);
                if (err != profile_errors.end()) throw ConfigError(err->second);
                auto& prof = profiles[dc.profile];
                if (!prof) {
                    try {
                        prof = std::make_shared<const Profile>(load_profile(resolve(dc.profile, dirs)));
                    } catch (const std::exception& e) {
                        profiles.erase(dc.profile);
                        profile_errors[dc.profile] = e.what();
                        throw;
                    }
                }
                on_device(std::move(dc), prof);
            } catch (const std::exception& e) {
                std::string msg = e.what();
                // parse_device says "device 'x': ..."; the host names the device already.
                const std::string prefix = "device '" + name + "': ";
                if (msg.rfind(prefix, 0) == 0) msg = msg.substr(prefix.size());
                problem(name, msg);
            }
        }
    }

    // ABI 1.1: `gridlet check` and `gridlet run` call this before create().
    static void validate(const Host& h) {
        // A folder given in profiles_dir that is not there is a typo or an
        // unmounted disk: a profile would silently come from elsewhere.
        auto cfg = nlohmann::json::parse(h.config_json(), nullptr, false);
        if (cfg.is_object() && cfg.contains("profiles_dir") && cfg["profiles_dir"].is_string()) {
            std::error_code ec;
            for (const std::string& d : split_dirs(cfg["profiles_dir"].get<std::string>()))
                if (!std::filesystem::is_directory(d, ec))
                    h.config_problem("", "profiles_dir: '" + d + "' is not a folder");
        }
        // Two devices on one unit of one connection: two profiles of one
        // meter are fine, a copy-paste slip is not; say so, once per pair.
        std::map<std::pair<std::string, int>, std::string> polled_by;
        each_device(
            h,
            [&](DeviceConfig dc, const std::shared_ptr<const Profile>&) {
                const std::string where = dc.link.kind == LinkConfig::Kind::Tcp ? dc.link.host + ":" + dc.link.port
                                                                                 : dc.link.device;
                auto [it, fresh] = polled_by.emplace(std::make_pair(where, dc.unit_id), dc.name);
                if (!fresh)
                    h.warn("devices '" + it->second + "' and '" + dc.name + "' both poll unit " +
                           std::to_string(dc.unit_id) + " at " + where +
                           " (right for two profiles of one meter; otherwise check unit_id)");
            },
            [&](const std::string& device, const std::string& msg) { h.config_problem(device, msg); });
    }

    explicit ModbusPlugin(Host h) : Plugin(h), sink_(h) {
        auto cfg = nlohmann::json::parse(h.config_json(), nullptr, false);
        bool comm_stats = !(cfg.is_object() && cfg.contains("comm_stats") && cfg["comm_stats"].is_boolean() &&
                            !cfg["comm_stats"].get<bool>());
        std::vector<Poller::Device> list;
        // A device that cannot run is left out (the host's validate() call
        // normally refused it already); the others run.
        each_device(
            h,
            [&](DeviceConfig dc, const std::shared_ptr<const Profile>& prof) {
                for (const auto& other : devices_)
                    if (other == dc.name) throw ConfigError("duplicate device name '" + dc.name + "'");
                devices_.push_back(dc.name);
                list.push_back({std::move(dc), prof});
            },
            [&](const std::string& device, const std::string& msg) {
                if (device.empty()) throw Error(GL_ERR_INVALID, "modbus: " + msg);
                h.error("modbus: device '" + device + "' left out: " + msg);
                h.emit_event("device_refused", GL_SEV_ERROR,
                             nlohmann::json{{"device", device}, {"error", msg}}.dump(-1, ' ', false,
                                                                                     nlohmann::json::error_handler_t::replace),
                             device.c_str());
            });
        poller_ = std::make_unique<Poller>(std::move(list), sink_, comm_stats);
        if (devices_.empty()) h.warn("modbus: no [[devices]] use this plugin instance");
    }

    void start() override {
        for (const auto& d : devices_) host().subscribe(("cmd/" + d + "/").c_str());
        poller_->start();
        host().info("modbus: polling " + std::to_string(devices_.size()) + " device(s) on " +
                    std::to_string(poller_->worker_count()) + " connection(s)");
    }

    void stop() override { poller_->stop(); }

    void on_command(const gl_command& cmd) override {
        std::string target = cmd.target ? cmd.target : "";
        auto slash = target.find('/');
        Host h = host();
        uint64_t id = cmd.request_id;
        if (slash == std::string::npos) {
            h.reply_command(id, GL_ERR_INVALID, "modbus: target '" + target + "' is not device/point");
            return;
        }
        poller_->command(target.substr(0, slash), target.substr(slash + 1), cmd.value, cmd.text ? cmd.text : "",
                         [h, id](gl_status st, const std::string& err) { h.reply_command(id, st, err); });
    }

private:
    static std::string resolve(const std::string& profile, const std::vector<std::string>& dirs) {
        namespace fs = std::filesystem;
        if (profile.find('/') != std::string::npos || profile.ends_with(".toml")) return profile;
        for (const auto& d : dirs) {
            fs::path p = fs::path(d) / (profile + ".toml");
            std::error_code ec;
            if (fs::is_regular_file(p, ec)) return p.string();
        }
        std::string tried;
        for (const auto& d : dirs) tried += (tried.empty() ? "" : ", ") + d;
        throw ConfigError("profile '" + profile + "' not found (looked in: " + tried + ")");
    }

    HostSink sink_;
    std::vector<std::string> devices_;
    std::unique_ptr<Poller> poller_;
};

}  // namespace
}  // namespace gridlet::modbus

GRIDLET_PLUGIN(gridlet::modbus::ModbusPlugin)

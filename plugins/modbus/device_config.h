// Device and connection settings of the Modbus driver, parsed from the JSON
// the host hands over (host.devices_json(), one object per [[devices]]).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <stdexcept>
#include <string>

namespace gridlet::modbus {

struct LinkConfig {
    enum class Kind { Tcp, Rtu };
    Kind kind = Kind::Tcp;
    std::string host, port = "502";      // TCP
    std::string device;                  // RTU serial device
    int baud = 19200;
    char parity = 'N';                   // N, E, O
    int data_bits = 8, stop_bits = 1;
    int gap_ms = 0;                      // silence between requests on this link
    int reconnect_min_ms = 500, reconnect_max_ms = 30000;

    // Devices with the same key share one connection and are serialised.
    std::string key() const { return kind == Kind::Tcp ? "tcp:" + host + ":" + port : "rtu:" + device; }
};

struct DeviceConfig {
    std::string name;
    std::string profile;   // profile name (config/profiles/<name>.toml) or a path to a .toml file
    LinkConfig link;
    int unit_id = 1;
    int poll_ms = 1000;    // 0 = back to back (programmatic use only; config requires >= 10)
    int timeout_ms = 1000; // response timeout per request
    int retries = 1;       // extra attempts after a timeout, malformed reply or transient exception
    int offline_after = 3; // failed polls in a row before the device is reported offline
    int offline_poll_ms = 30000;  // poll period of an offline device that shares its connection
};

class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Parses "host:port", "tcp://host:port", "[v6]:port", "rtu:/dev/ttyS0" or "/dev/ttyS0".
LinkConfig parse_address(const std::string& address);
// One device object; throws ConfigError("device 'x': what is wrong").
DeviceConfig parse_device(const nlohmann::json& j);

}  // namespace gridlet::modbus

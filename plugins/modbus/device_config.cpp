#include "device_config.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include <arpa/inet.h>

namespace gridlet::modbus {
namespace {

template <class T>
T get(const nlohmann::json& j, const char* key, T def, const std::string& dev) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return def;
    try {
        return it->get<T>();
    } catch (const std::exception&) {
        throw ConfigError("device '" + dev + "': key '" + key + "' has the wrong type");
    }
}

int ranged(const nlohmann::json& j, const char* key, int def, int lo, int hi, const std::string& dev) {
    int64_t v = get<int64_t>(j, key, def, dev);
    if (v < lo || v > hi)
        throw ConfigError("device '" + dev + "': " + key + " = " + std::to_string(v) + " is out of range " +
                          std::to_string(lo) + ".." + std::to_string(hi));
    return static_cast<int>(v);
}

}  // namespace

LinkConfig parse_address(const std::string& a) {
    LinkConfig l;
    std::string s = a;
    if (a.find_first_of(" \t\r\n") != std::string::npos)
        throw ConfigError("address '" + a + "': contains a space or a line break");
    if (const size_t scheme = s.find("://"); scheme != std::string::npos && s.rfind("tcp://", 0) != 0)
        throw ConfigError("address '" + a + "': unknown scheme '" + s.substr(0, scheme) +
                          "://' (use host:port or tcp://host:port for Modbus TCP, rtu:/dev/... for RTU)");
    if (s.rfind("rtu:", 0) == 0 || (!s.empty() && s[0] == '/')) {
        l.kind = LinkConfig::Kind::Rtu;
        l.device = s.rfind("rtu:", 0) == 0 ? s.substr(4) : s;
        if (l.device.empty()) throw ConfigError("address '" + a + "': serial device path is empty");
        if (l.device[0] != '/') throw ConfigError("address '" + a + "': the serial device must be a full path (rtu:/dev/ttyUSB0)");
        return l;
    }
    if (s.rfind("tcp://", 0) == 0) s = s.substr(6);
    if (!s.empty() && s[0] == '[') {
        auto close = s.find(']');
        if (close == std::string::npos) throw ConfigError("address '" + a + "': missing ']'");
        l.host = s.substr(1, close - 1);
        if (close + 1 < s.size()) {
            if (s[close + 1] != ':') throw ConfigError("address '" + a + "': expected ':' after ']'");
            l.port = s.substr(close + 2);
        }
    } else {
        if (std::count(s.begin(), s.end(), ':') > 1)  // "::1:502": is 502 a port or part of the address?
            throw ConfigError("address '" + a + "': an IPv6 address needs brackets: [addr]:port, e.g. [::1]:502");
        auto colon = s.rfind(':');
        l.host = colon == std::string::npos ? s : s.substr(0, colon);
        if (colon != std::string::npos) l.port = s.substr(colon + 1);
    }
    if (l.host.empty()) throw ConfigError("address '" + a + "': host is empty");
    if (l.host.find_first_not_of("0123456789.") == std::string::npos) {  // looks like IPv4: must be one
        in_addr ip{};
        if (::inet_pton(AF_INET, l.host.c_str(), &ip) != 1)
            throw ConfigError("address '" + a + "': '" + l.host + "' is not a valid IPv4 address");
    } else if (l.host.find(':') != std::string::npos) {
        in6_addr ip{};
        if (::inet_pton(AF_INET6, l.host.c_str(), &ip) != 1)
            throw ConfigError("address '" + a + "': '" + l.host + "' is not a valid IPv6 address (write it as [addr]:port)");
    }
    if (l.port.empty() || l.port.find_first_not_of("0123456789") != std::string::npos || std::stol(l.port) < 1 ||
        std::stol(l.port) > 65535)
        throw ConfigError("address '" + a + "': port must be 1..65535");
    return l;
}

DeviceConfig parse_device(const nlohmann::json& j) {
    if (!j.is_object()) throw ConfigError("device entry is not an object");
    DeviceConfig d;
    d.name = get<std::string>(j, "name", "", "?");
    if (d.name.empty()) throw ConfigError("device without a name");
    d.profile = get<std::string>(j, "profile", "", d.name);
    if (d.profile.empty()) throw ConfigError("device '" + d.name + "': 'profile' is required");
    std::string address = get<std::string>(j, "address", "", d.name);
    if (address.empty()) throw ConfigError("device '" + d.name + "': 'address' is required");
    try {
        d.link = parse_address(address);
    } catch (const ConfigError& e) {
        throw ConfigError("device '" + d.name + "': " + e.what());
    }
    d.unit_id = ranged(j, "unit_id", 1, 0, 247, d.name);
    d.poll_ms = ranged(j, "poll_ms", 1000, 10, 86400000, d.name);
    d.timeout_ms = ranged(j, "timeout_ms", 1000, 1, 60000, d.name);
    d.retries = ranged(j, "retries", 1, 0, 10, d.name);
    d.offline_after = ranged(j, "offline_after", 3, 1, 1000, d.name);
    d.offline_poll_ms = ranged(j, "offline_poll_ms", 30000, 10, 86400000, d.name);
    d.link.gap_ms = ranged(j, "gap_ms", 0, 0, 10000, d.name);
    d.link.reconnect_min_ms = ranged(j, "reconnect_min_ms", 500, 1, 3600000, d.name);
    d.link.reconnect_max_ms = ranged(j, "reconnect_max_ms", 30000, 1, 3600000, d.name);
    if (d.link.reconnect_max_ms < d.link.reconnect_min_ms)
        throw ConfigError("device '" + d.name + "': reconnect_max_ms is below reconnect_min_ms");
    d.link.baud = ranged(j, "baud", 19200, 300, 4000000, d.name);
    std::string parity = get<std::string>(j, "parity", "N", d.name);
    if (parity != "N" && parity != "E" && parity != "O" && parity != "none" && parity != "even" && parity != "odd")
        throw ConfigError("device '" + d.name + "': parity must be \"N\", \"E\" or \"O\"");
    d.link.parity = parity == "none" ? 'N' : parity == "even" ? 'E' : parity == "odd" ? 'O' : parity[0];
    d.link.data_bits = ranged(j, "data_bits", 8, 5, 8, d.name);
    d.link.stop_bits = ranged(j, "stop_bits", 1, 1, 2, d.name);
    return d;
}

}  // namespace gridlet::modbus

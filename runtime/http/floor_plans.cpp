#include "http/floor_plans.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>

#include <gridlet/glob.hpp>

#include "http/users.h"

namespace gridlet::http {

namespace fs = std::filesystem;

namespace {

bool valid_id(const std::string& id) {
    if (id.size() < 4 || id.size() > 40 || id.rfind("fp_", 0) != 0) return false;
    return std::all_of(id.begin() + 3, id.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

Status write_whole(const fs::path& path, const std::string& bytes) {
    const std::string tmp = path.string() + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()) && ::fsync(fd) == 0;
    if (fd >= 0) ::close(fd);
    ok = ok && std::rename(tmp.c_str(), path.c_str()) == 0;
    return ok ? Status::ok() : Status::io_error("cannot write " + path.string());
}

std::string read_whole(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

bool short_text(const nlohmann::json& j, size_t max) { return j.is_string() && j.get<std::string>().size() <= max; }

}  // namespace

std::string FloorPlans::image_type(const std::string& b) {
    if (b.size() >= 8 && b.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0) return "image/png";
    if (b.size() >= 3 && static_cast<unsigned char>(b[0]) == 0xFF && static_cast<unsigned char>(b[1]) == 0xD8 &&
        static_cast<unsigned char>(b[2]) == 0xFF)
        return "image/jpeg";
    if (b.size() >= 12 && b.compare(0, 4, "RIFF") == 0 && b.compare(8, 4, "WEBP") == 0) return "image/webp";
    return "";
}

fs::path FloorPlans::path_of(const std::string& id, const char* ext) const { return dir_ / (id + ext); }

Expected<nlohmann::json> FloorPlans::read_locked(const std::string& id) {
    if (!valid_id(id)) return Status::not_found("no floor plan '" + id + "'");
    std::error_code ec;
    if (!fs::exists(path_of(id, ".json"), ec)) return Status::not_found("no floor plan '" + id + "'");
    nlohmann::json j = nlohmann::json::parse(read_whole(path_of(id, ".json")), nullptr, false);
    if (!j.is_object()) return Status::corruption(path_of(id, ".json").string() + " does not parse");
    return j;
}

Status FloorPlans::write_locked(const nlohmann::json& plan) {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) return Status::io_error("cannot make " + dir_.string() + ": " + ec.message());
    return write_whole(path_of(plan["id"].get<std::string>(), ".json"), plan.dump(1) + "\n");
}

Expected<nlohmann::json> FloorPlans::list() {
    std::lock_guard g(mu_);
    nlohmann::json out = nlohmann::json::array();
    std::error_code ec;
    if (!fs::is_directory(dir_, ec)) return out;
    for (const auto& e : fs::directory_iterator(dir_, ec)) {
        const std::string leaf = e.path().filename().string();
        if (!leaf.ends_with(".json")) continue;
        auto plan = read_locked(leaf.substr(0, leaf.size() - 5));
        if (plan) out.push_back(std::move(*plan));
    }
    std::sort(out.begin(), out.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
        return a.value("name", std::string()) < b.value("name", std::string());
    });
    return out;
}

Expected<nlohmann::json> FloorPlans::add(const std::string& name, int64_t now_ms) {
    if (name.empty() || name.size() > 100) return Status::invalid("name: 1 to 100 characters");
    auto all = list();
    if (!all) return all.status();
    if (all->size() >= kMaxPlans) return Status::invalid("already " + std::to_string(kMaxPlans) + " floor plans");
    std::lock_guard g(mu_);
    // 64 random bits in hex (random_token is base64: hashed into hex digits).
    nlohmann::json plan = {{"id", "fp_" + sha256_hex(random_token(16)).substr(0, 16)},
                           {"name", name},
                           {"image_type", nullptr},
                           {"updated_ms", now_ms},
                           {"items", nlohmann::json::array()}};
    if (Status st = write_locked(plan); !st) return st;
    return plan;
}

Expected<nlohmann::json> FloorPlans::update(const std::string& id, const nlohmann::json& body, int64_t now_ms) {
    if (!body.is_object()) return Status::invalid("the body must be a JSON object");
    for (const auto& [k, v] : body.items())
        if (k != "name" && k != "items") return Status::invalid("unknown field '" + k + "' (known: name, items)");
    std::lock_guard g(mu_);
    auto plan = read_locked(id);
    if (!plan) return plan.status();
    if (body.contains("name")) {
        if (!short_text(body["name"], 100) || body["name"].get<std::string>().empty())
            return Status::invalid("name: 1 to 100 characters");
        (*plan)["name"] = body["name"];
    }
    if (body.contains("items")) {
        const nlohmann::json& items = body["items"];
        if (!items.is_array()) return Status::invalid("items: must be an array");
        if (items.size() > kMaxItems) return Status::invalid("items: at most " + std::to_string(kMaxItems));
        nlohmann::json clean = nlohmann::json::array();
        for (size_t i = 0; i < items.size(); ++i) {
            const nlohmann::json& it = items[i];
            const std::string at = "items[" + std::to_string(i) + "]";
            if (!it.is_object()) return Status::invalid(at + ": must be an object");
            for (const auto& [k, v] : it.items())
                if (k != "x" && k != "y" && k != "kind" && k != "series" && k != "device" && k != "label")
                    return Status::invalid(at + ": unknown field '" + k + "' (known: x, y, kind, series, device, label)");
            for (const char* k : {"x", "y"})
                if (!it.contains(k) || !it[k].is_number() || !std::isfinite(it[k].get<double>()) || it[k].get<double>() < 0 ||
                    it[k].get<double>() > 1)
                    return Status::invalid(at + "." + k + ": must be a number from 0 to 1 (a fraction of the image)");
            const std::string kind = it.value("kind", std::string());
            if (kind != "value" && kind != "device" && kind != "sensor")
                return Status::invalid(at + ".kind: value, device or sensor");
            nlohmann::json item = {{"x", it["x"]}, {"y", it["y"]}, {"kind", kind}};
            if (kind == "device") {
                if (!short_text(it.value("device", nlohmann::json()), 100) || it["device"].get<std::string>().empty())
                    return Status::invalid(at + ".device: the device's name");
                item["device"] = it["device"];
            } else {
                if (!short_text(it.value("series", nlohmann::json()), 200) ||
                    it["series"].get<std::string>().find('/') == std::string::npos ||
                    !plausible_series_pattern(it["series"].get<std::string>()))
                    return Status::invalid(at + ".series: a series name, device/point");
                item["series"] = it["series"];
            }
            if (it.contains("label")) {
                if (!short_text(it["label"], 100)) return Status::invalid(at + ".label: at most 100 characters");
                item["label"] = it["label"];
            }
            clean.push_back(std::move(item));
        }
        (*plan)["items"] = std::move(clean);
    }
    (*plan)["updated_ms"] = now_ms;
    if (Status st = write_locked(*plan); !st) return st;
    return plan;
}

Status FloorPlans::set_image(const std::string& id, const std::string& bytes, int64_t now_ms) {
    const std::string type = image_type(bytes);
    if (type.empty()) return Status::invalid("the image must be PNG, JPEG or WebP (SVG is not accepted)");
    std::lock_guard g(mu_);
    auto plan = read_locked(id);
    if (!plan) return plan.status();
    if (Status st = write_whole(path_of(id, ".image"), bytes); !st) return st;
    (*plan)["image_type"] = type;
    (*plan)["updated_ms"] = now_ms;
    return write_locked(*plan);
}

Expected<std::pair<std::string, std::string>> FloorPlans::image(const std::string& id) {
    std::lock_guard g(mu_);
    auto plan = read_locked(id);
    if (!plan) return plan.status();
    if (!(*plan)["image_type"].is_string()) return Status::not_found("floor plan '" + id + "' has no image yet");
    return std::make_pair(read_whole(path_of(id, ".image")), (*plan)["image_type"].get<std::string>());
}

Status FloorPlans::remove(const std::string& id) {
    std::lock_guard g(mu_);
    auto plan = read_locked(id);
    if (!plan) return plan.status();
    std::error_code ec;
    fs::remove(path_of(id, ".image"), ec);
    if (!fs::remove(path_of(id, ".json"), ec)) return Status::io_error("cannot remove " + path_of(id, ".json").string());
    return Status::ok();
}

}  // namespace gridlet::http

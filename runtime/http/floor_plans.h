// Floor plans (the Socomec Photoview, the Building-IoT floor plans): an
// image of a floor or a panel with items placed on it, each showing a live
// value, a device's state or a sensor's state. Kept in
// <data_dir>/floorplans/: <id>.json (name and items) and <id>.image (the
// picture: PNG, JPEG or WebP, recognised by its first bytes; SVG is refused,
// it can carry scripts), each written whole (a temporary file renamed).
//
// Shapes (JSON): {"id","name","image_type","updated_ms","items":[{"x","y",
// "kind","series","device","label"}]}; x and y are fractions of the image's
// width and height (0..1, from its top left corner); kind "value" (a series'
// latest value), "device" (its state, a link to it) or "sensor" (a series
// read with its state labels: occupancy, tamper, ...; offline with its
// device).
//
// Threads: any (one mutex); the HTTP server's pool calls it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace gridlet::http {

class FloorPlans {
public:
    static constexpr size_t kMaxItems = 500;
    static constexpr size_t kMaxPlans = 100;

    explicit FloorPlans(std::filesystem::path data_dir) : dir_(std::move(data_dir) / "floorplans") {}

    // Every plan, by name. Errors: io_error.
    Expected<nlohmann::json> list();
    // A new plan without image nor items; its id ("fp_..."). Errors:
    // invalid_argument (the name: 1..100 characters), resource_exhausted-like
    // invalid_argument over kMaxPlans, io_error.
    Expected<nlohmann::json> add(const std::string& name, int64_t now_ms);
    // Its name and items, checked: every problem names the item
    // ("items[3].x: must be 0..1"). Errors: not_found, invalid_argument.
    Expected<nlohmann::json> update(const std::string& id, const nlohmann::json& body, int64_t now_ms);
    // The image's bytes and media type. Errors: not_found (no plan, or no
    // image yet), invalid_argument (not PNG, JPEG or WebP).
    Status set_image(const std::string& id, const std::string& bytes, int64_t now_ms);
    Expected<std::pair<std::string, std::string>> image(const std::string& id);
    Status remove(const std::string& id);

    // "image/png", "image/jpeg", "image/webp" from the first bytes; "" for
    // anything else.
    static std::string image_type(const std::string& bytes);

private:
    Expected<nlohmann::json> read_locked(const std::string& id);
    Status write_locked(const nlohmann::json& plan);
    std::filesystem::path path_of(const std::string& id, const char* ext) const;

    std::filesystem::path dir_;
    std::mutex mu_;
};

}  // namespace gridlet::http

#include "store/keys.h"

namespace gridlet::store {

const char* resolution_name(Resolution r) noexcept {
    switch (r) {
        case Resolution::min1: return "1m";
        case Resolution::min15: return "15m";
        case Resolution::hour1: return "1h";
        case Resolution::day1: return "1d";
    }
    return "1m";
}

std::string prefix_end(std::string_view prefix) {
    std::string end(prefix);
    while (!end.empty()) {
        auto& c = reinterpret_cast<unsigned char&>(end.back());
        if (c != 0xff) {
            ++c;
            return end;
        }
        end.pop_back();
    }
    return end;
}

}  // namespace gridlet::store

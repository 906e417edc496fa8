#include "topic.h"

#include <algorithm>

namespace gridlet::mqtt {

namespace {
std::vector<std::string_view> topic_levels(std::string_view t) {
    std::vector<std::string_view> out;
    size_t start = 0;
    while (true) {
        const size_t end = t.find('/', start);
        out.push_back(t.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
        if (end == std::string_view::npos) return out;
        start = end + 1;
    }
}
}  // namespace

bool valid_topic_filter(std::string_view f) {
    if (f.empty() || f.size() > 65535 || f.find('\0') != std::string_view::npos) return false;
    const std::vector<std::string_view> levels = topic_levels(f);
    for (size_t i = 0; i < levels.size(); ++i) {
        if (levels[i].find_first_of("+#") != std::string_view::npos && levels[i].size() != 1) return false;
        if (levels[i] == "#" && i + 1 != levels.size()) return false;
    }
    return true;
}

bool topic_filters_overlap(std::string_view a, std::string_view b) {
    // Level by level, without allocating (a site may have thousands of sensors).
    size_t i = 0, k = 0;
    while (true) {
        const size_t ie = std::min(a.find('/', i), a.size()), ke = std::min(b.find('/', k), b.size());
        const std::string_view x = i <= a.size() ? a.substr(i, ie - i) : std::string_view();
        const std::string_view y = k <= b.size() ? b.substr(k, ke - k) : std::string_view();
        const bool x_done = i > a.size(), y_done = k > b.size();
        // '#' matches the rest, also nothing ("a/#" matches "a").
        if ((!x_done && x == "#") || (!y_done && y == "#")) return true;
        if (x_done || y_done) return x_done && y_done;
        if (x != "+" && y != "+" && x != y) return false;
        i = ie + 1;
        k = ke + 1;
    }
}

std::vector<std::string> topic_placeholders(std::string_view tmpl) {
    std::vector<std::string> out;
    for (size_t i = 0; i < tmpl.size(); ++i) {
        if (tmpl[i] != '{') continue;
        const size_t end = tmpl.find('}', i);
        if (end == std::string_view::npos) break;
        out.emplace_back(tmpl.substr(i + 1, end - i - 1));
        i = end;
    }
    return out;
}

std::string topic_template_problem(std::string_view tmpl, const std::vector<std::string>& allowed) {
    if (tmpl.empty()) return "is empty";
    if (tmpl.size() > 65535) return "is longer than 65535 bytes";
    if (tmpl.find('\0') != std::string_view::npos) return "holds a NUL character";
    if (tmpl.find_first_of("+#") != std::string_view::npos)
        return "'" + std::string(tmpl) + "' holds '+', '#' or NUL: wildcards are for subscriptions, not for topics";
    int depth = 0;
    for (char c : tmpl) {
        if (c == '{') ++depth;
        if (c == '}') --depth;
        if (depth < 0 || depth > 1) return "'" + std::string(tmpl) + "': unbalanced braces";
    }
    if (depth != 0) return "'" + std::string(tmpl) + "': unbalanced braces";
    for (const std::string& p : topic_placeholders(tmpl))
        if (std::find(allowed.begin(), allowed.end(), p) == allowed.end()) {
            std::string names;
            for (const std::string& a : allowed) names += (names.empty() ? "{" : ", {") + a + "}";
            return "'" + std::string(tmpl) + "': unknown placeholder {" + p + "} (known here: " + names + ")";
        }
    return {};
}

TopicTemplate::TopicTemplate(std::string_view tmpl, const std::vector<std::string>& names) {
    Part cur;
    for (size_t i = 0; i < tmpl.size(); ++i) {
        if (tmpl[i] != '{') {
            cur.literal += tmpl[i];
            continue;
        }
        const size_t end = tmpl.find('}', i);
        const std::string_view name = tmpl.substr(i + 1, end - i - 1);
        auto it = std::find(names.begin(), names.end(), name);
        cur.value = it == names.end() ? -1 : static_cast<int>(it - names.begin());
        parts_.push_back(std::move(cur));
        cur = Part{};
        i = end;
    }
    if (!cur.literal.empty()) parts_.push_back(std::move(cur));
}

void TopicTemplate::expand(const std::vector<std::string_view>& values, std::string& out) const {
    out.clear();
    for (const Part& p : parts_) {
        out += p.literal;
        if (p.value >= 0 && static_cast<size_t>(p.value) < values.size()) out += values[static_cast<size_t>(p.value)];
    }
}

}  // namespace gridlet::mqtt

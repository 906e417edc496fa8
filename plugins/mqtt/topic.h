// Topic templates: "gridlet/{site}/{device}/{point}" and the like. A
// template is literal text and placeholders in braces; each placeholder is
// replaced by a value that never contains '+', '#' or NUL (series names are
// [A-Za-z0-9_.-] segments joined by '/'). Pure functions; any thread.
//
// Placeholders: {site}, {instance}; for samples {device} (a series name's
// first segment), {point} (the rest) and {series} (the whole name); for
// events {source} and {type}.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace gridlet::mqtt {

// What is wrong with `tmpl` as a publish topic with these placeholders
// allowed, or "" (MQTT 3.1.1 §4.7: no wildcard in a topic name; 1..65535
// bytes; no empty template).
std::string topic_template_problem(std::string_view tmpl, const std::vector<std::string>& allowed);

// Whether `f` is a valid subscription filter (MQTT 3.1.1 §4.7: '+' a whole
// level, '#' alone as the last level; 1..65535 bytes, no NUL).
bool valid_topic_filter(std::string_view f);

// Whether some topic name matches both filters (each valid), e.g.
// "site/+/co2" and "site/room1/#".
bool topic_filters_overlap(std::string_view a, std::string_view b);

// The placeholders a template uses, in order.
std::vector<std::string> topic_placeholders(std::string_view tmpl);

// A compiled template: literal parts and placeholder indexes, for the hot
// path (one expansion per message).
class TopicTemplate {
public:
    TopicTemplate() = default;
    // `names`: the placeholder names in the order values are given to expand().
    TopicTemplate(std::string_view tmpl, const std::vector<std::string>& names);
    // Appends the topic to `out` (cleared first).
    void expand(const std::vector<std::string_view>& values, std::string& out) const;

private:
    struct Part {
        std::string literal;
        int value = -1;  // index into values, or -1
    };
    std::vector<Part> parts_;
};

}  // namespace gridlet::mqtt

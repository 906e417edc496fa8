// The north payloads and topic templates, byte for byte (plugins/mqtt/payload.h, topic.h).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "payload.h"
#include "topic.h"

using namespace gridlet::mqtt;

TEST(MqttPayload, OneSampleAsJson) {
    std::string out;
    append_json_sample(out, {"branch07/current", "A", 1764680400000, 12.5, 192}, false);
    EXPECT_EQ(out, R"({"ts":1764680400000,"value":12.5,"unit":"A","quality":192,"resent":false})");
    out.clear();
    append_json_sample(out, {"mains/kwh", "kWh", 7, 1.5, 192, "counter"}, false);
    EXPECT_EQ(out, R"({"ts":7,"value":1.5,"unit":"kWh","kind":"counter","quality":192,"resent":false})");
    out.clear();
    append_json_sample(out, {"desk1/status", "", 7, 1, 192, "state", "0=unknown,1=online,2=offline"}, false);
    EXPECT_EQ(out, R"({"ts":7,"value":1,"kind":"state","states":"0=unknown,1=online,2=offline","quality":192,"resent":false})");
    out.clear();
    append_json_sample(out, {"count", "", -5, std::numeric_limits<double>::quiet_NaN(), 0}, true);
    EXPECT_EQ(out, R"({"ts":-5,"value":null,"quality":0,"resent":true})");
}

TEST(MqttPayload, ValuesReadBackExactly) {
    for (double v : {0.1, 1e-300, 123456789.123456789, -0.0, 6553.5, 1.0 / 3.0}) {
        std::string out;
        append_json_sample(out, {"p", "", 0, v, 192}, false);
        EXPECT_EQ(nlohmann::json::parse(out)["value"].get<double>(), v) << out;
    }
}

TEST(MqttPayload, BatchOfOneDevice) {
    const SampleView s[] = {{"mains/kw", "kW", 1000, 3.25, 192}, {"mains/kwh", "kWh", 1000, 100, 192}};
    std::string out;
    append_json_batch(out, "panel1", s, true);
    EXPECT_EQ(out, R"({"device":"panel1","resent":true,"samples":[{"point":"mains/kw","ts":1000,"value":3.25,"unit":"kW","quality":192},)"
                   R"({"point":"mains/kwh","ts":1000,"value":100,"unit":"kWh","quality":192}]})");
    EXPECT_TRUE(nlohmann::json::accept(out));
}

TEST(MqttPayload, BatchOfEveryDeviceNamesWholeSeries) {
    const SampleView s[] = {{"panel1/mains/kw", "kW", 1000, 3.25, 192}, {"ev1/current", "A", 1000, 16, 192}};
    std::string out;
    append_json_batch(out, "", s, false);
    EXPECT_EQ(out, R"({"resent":false,"samples":[{"series":"panel1/mains/kw","ts":1000,"value":3.25,"unit":"kW","quality":192},)"
                   R"({"series":"ev1/current","ts":1000,"value":16,"unit":"A","quality":192}]})");
}

TEST(MqttPayload, LineProtocolEscapesTagsAndLeavesOutNonFiniteValues) {
    const SampleView s[] = {{"t", "deg C", 1000, 21.5, 192},
                            {"t", "", 2000, std::numeric_limits<double>::infinity(), 0}};
    std::string out;
    append_line_protocol(out, "gridlet", "my,site", "room=1", s, false);
    EXPECT_EQ(out,
              "gridlet,site=my\\,site,device=room\\=1,point=t,unit=deg\\ C value=21.5,quality=192i 1000000000\n"
              "gridlet,site=my\\,site,device=room\\=1,point=t quality=0i 2000000000\n");
    out.clear();
    append_line_protocol(out, "m", "s", "d", std::span(s, 1), true);
    EXPECT_EQ(out, "m,site=s,device=d,point=t,unit=deg\\ C value=21.5,quality=192i,resent=true 1000000000\n");
}

TEST(MqttPayload, EventsCarryTheirBodyAndEscapedNames) {
    gl_event e{};
    e.struct_size = sizeof e;
    e.ts_ms = 7;
    e.source = "dev\"1";
    e.type = "alarm";
    e.severity = GL_SEV_CRITICAL;
    const std::string body = R"({"message":"line\none"})";
    e.body_json = body.data();
    e.body_len = body.size();
    std::string out;
    append_json_event(out, e, false);
    auto j = nlohmann::json::parse(out);
    EXPECT_EQ(j["source"], "dev\"1");
    EXPECT_EQ(j["severity"], "critical");
    EXPECT_EQ(j["body"]["message"], "line\none");
    e.body_len = 0;
    out.clear();
    append_json_event(out, e, true);
    EXPECT_EQ(nlohmann::json::parse(out)["body"], nlohmann::json::object());
}

TEST(MqttTopic, TemplatesExpandAndRefuseWildcards) {
    TopicTemplate t("gridlet/{site}/{device}/{point}", {"site", "instance", "device", "point", "series"});
    std::string out;
    t.expand({"demo", "north", "panel1", "branch07/current", "panel1/branch07/current"}, out);
    EXPECT_EQ(out, "gridlet/demo/panel1/branch07/current");
    EXPECT_EQ(topic_template_problem("a/{device}", {"device"}), "");
    EXPECT_NE(topic_template_problem("a/+/{device}", {"device"}).find("wildcards"), std::string::npos);
    EXPECT_NE(topic_template_problem("a/#", {"device"}).find("wildcards"), std::string::npos);
    EXPECT_NE(topic_template_problem("a/{nope}", {"device"}).find("unknown placeholder {nope}"), std::string::npos);
    EXPECT_NE(topic_template_problem("a/{device", {"device"}).find("unbalanced"), std::string::npos);
    EXPECT_NE(topic_template_problem("", {"device"}).find("empty"), std::string::npos);
}

TEST(MqttTopic, FiltersAndTheirOverlaps) {
    for (const char* ok : {"a", "a/b", "+", "#", "a/+/c", "a/#", "+/+", "a//b", "/a"}) EXPECT_TRUE(valid_topic_filter(ok)) << ok;
    for (const char* bad : {"", "a/#/b", "a+", "a/b#", "##"}) EXPECT_FALSE(valid_topic_filter(bad)) << bad;
    EXPECT_TRUE(topic_filters_overlap("site/+/co2", "site/room1/#"));
    EXPECT_TRUE(topic_filters_overlap("a/#", "a"));
    EXPECT_TRUE(topic_filters_overlap("a/b", "a/b"));
    EXPECT_TRUE(topic_filters_overlap("+/b", "a/+"));
    EXPECT_TRUE(topic_filters_overlap("#", "x/y/z"));
    EXPECT_FALSE(topic_filters_overlap("a", "a/b"));
    EXPECT_FALSE(topic_filters_overlap("a/+", "a/b/c"));
    EXPECT_FALSE(topic_filters_overlap("sensors/desk1", "sensors/desk2"));
    EXPECT_FALSE(topic_filters_overlap("a/", "a"));
    EXPECT_TRUE(topic_filters_overlap("a/", "a/+"));
}

// Commands over MQTT (plugins/mqtt/commands.h): requests parsed and
// refused with a reason, allow patterns, replies; the fleet's topic split.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "fleet.h"

using namespace gridlet::mqtt;

TEST(MqttCommands, RequestsParseOrSayWhy) {
    std::string why, id;
    auto r = parse_request(R"({"target":"bldg/relay1","value":1,"id":"r-42"})", &why, &id);
    ASSERT_TRUE(r) << why;
    EXPECT_EQ(r->target, "bldg/relay1");
    EXPECT_EQ(r->value, 1);
    EXPECT_EQ(r->id_json, "\"r-42\"");
    r = parse_request(R"({"target":"bcpm/reset","text":"kwh","id":7,"value":true})", &why, &id);
    ASSERT_TRUE(r) << why;
    EXPECT_EQ(r->text, "kwh");
    EXPECT_EQ(r->value, 1);
    EXPECT_EQ(r->id_json, "7");
    const std::pair<const char*, const char*> bad[] = {
        {"{nope", "not valid JSON"},
        {"[1]", "not a JSON object"},
        {R"({"value":1})", "\"target\""},
        {R"({"target":"norelay","value":1})", "device/point"},
        {R"({"target":"a/b c","value":1})", "device/point"},
        {R"({"target":"a/b"})", "a \"value\""},
        {R"({"target":"a/b","value":"1"})", "finite number"},
        {R"({"target":"a/b","text":5})", "\"text\" must be a string"},
        {R"({"target":"a/b","value":1,"id":{}})", "\"id\""},
    };
    for (const auto& [payload, what] : bad) {
        EXPECT_FALSE(parse_request(payload, &why, &id)) << payload;
        EXPECT_NE(why.find(what), std::string::npos) << payload << ": " << why;
    }
    EXPECT_FALSE(parse_request(R"({"id":"x1","target":5})", &why, &id));
    EXPECT_EQ(id, "\"x1\"") << "the id of a refused request still comes back";
    std::string target;
    EXPECT_FALSE(parse_request(R"({"id":"x2","target":"bldg/relay1"})", &why, &id, &target));
    EXPECT_EQ(target, "bldg/relay1") << "and its target, when it reads";
    EXPECT_FALSE(parse_request(R"({"target":"a/b","value":1e400})", &why, &id));
    EXPECT_NE(why.find("out of range"), std::string::npos) << why;
}

TEST(MqttCommands, OnlyAllowedTargetsAndTheReplyShape) {
    const std::vector<std::string> allow{"bldg/relay*", "ev?/current_limit"};
    EXPECT_TRUE(command_allowed(allow, "bldg/relay3"));
    EXPECT_TRUE(command_allowed(allow, "ev4/current_limit"));
    EXPECT_FALSE(command_allowed(allow, "bldg/relay3/x"));
    EXPECT_FALSE(command_allowed(allow, "ev10/current_limit"));
    EXPECT_FALSE(command_allowed({}, "bldg/relay1")) << "nothing by default";
    const auto j = nlohmann::json::parse(reply_payload("\"r-42\"", "bldg/relay1", "error", "exception 02"));
    EXPECT_EQ(j["id"], "r-42");
    EXPECT_EQ(j["status"], "error");
    EXPECT_EQ(j["error"], "exception 02");
    EXPECT_TRUE(nlohmann::json::parse(reply_payload("null", "", "invalid", "x"))["id"].is_null());
}

TEST(MqttFleet, TheGatewayIsTheConfiguredTopicLevel) {
    std::string site, rest;
    ASSERT_TRUE(Fleet::split("gridlet/gw-a/panel1/mains/kw", 2, &site, &rest));
    EXPECT_EQ(site, "gw-a");
    EXPECT_EQ(rest, "panel1/mains/kw");
    ASSERT_TRUE(Fleet::split("fleet/eu/gw-b/status", 3, &site, &rest));
    EXPECT_EQ(site, "gw-b");
    EXPECT_EQ(rest, "status");
    ASSERT_TRUE(Fleet::split("gridlet/gw-c", 2, &site, &rest));
    EXPECT_EQ(rest, "");
    EXPECT_FALSE(Fleet::split("gridlet", 2, &site, &rest));
}

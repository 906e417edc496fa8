// Sessions (idle and absolute ends, logout, a user's sessions ended at once),
// the table of rights, and the live clients' hub (runtime/http/sessions.h,
// roles.h, live_hub.h).
#include <gtest/gtest.h>

#include "http/live_hub.h"
#include "http/roles.h"
#include "http/sessions.h"

using namespace gridlet::http;

TEST(Sessions, EndWhenIdleOrTooOldOrClosed) {
    SessionTable t(/*idle*/ 1000, /*max*/ 5000);
    User alice;
    alice.name = "alice";
    alice.role = Role::operator_role;
    Session s;
    const std::string secret = t.open(alice, 0, &s);
    EXPECT_EQ(s.csrf.size(), 32u);
    EXPECT_NE(secret, s.csrf);
    ASSERT_TRUE(t.use(secret, 900));
    ASSERT_TRUE(t.use(secret, 1800)) << "each use moves the idle end";
    EXPECT_FALSE(t.use(secret, 2801)) << "idle for more than 1 s";
    const std::string old = t.open(alice, 0);
    for (int64_t now = 900; now < 5000; now += 900) ASSERT_TRUE(t.use(old, now));
    EXPECT_FALSE(t.use(old, 5001)) << "older than 5 s, used or not";
    const std::string a = t.open(alice, 10'000), b = t.open(alice, 10'000);
    t.close(a);
    EXPECT_FALSE(t.use(a, 10'001));
    EXPECT_TRUE(t.use(b, 10'001));
    t.close_user("alice");
    EXPECT_FALSE(t.use(b, 10'002));
    EXPECT_FALSE(t.use("", 10'002));
}

TEST(Roles, TheTableOfRights) {
    const Role all[] = {Role::viewer, Role::operator_role, Role::admin, Role::security_officer};
    for (Role r : all) EXPECT_TRUE(may(r, Right::read));
    EXPECT_FALSE(may(Role::viewer, Right::operate));
    EXPECT_TRUE(may(Role::operator_role, Right::operate));
    EXPECT_TRUE(may(Role::admin, Right::operate));
    EXPECT_FALSE(may(Role::security_officer, Right::operate));
    EXPECT_TRUE(may(Role::admin, Right::configure));
    EXPECT_FALSE(may(Role::operator_role, Right::configure));
    EXPECT_TRUE(may(Role::security_officer, Right::manage_users));
    EXPECT_FALSE(may(Role::operator_role, Right::manage_users));
    EXPECT_TRUE(may(Role::security_officer, Right::security));
    EXPECT_FALSE(may(Role::admin, Right::security));
    EXPECT_TRUE(may_manage(Role::admin, Role::admin));
    EXPECT_FALSE(may_manage(Role::admin, Role::security_officer));
    EXPECT_TRUE(may_manage(Role::security_officer, Role::security_officer));
    EXPECT_FALSE(may_manage(Role::operator_role, Role::viewer));
    for (Role r : all) EXPECT_EQ(parse_role(role_name(r)), r);
    EXPECT_FALSE(parse_role("root"));
}

// LiveHub (runtime/http/live_hub.h): each client gets what its patterns
// select, in order; one that does not read is dropped when its queue is
// full, and the others go on.
TEST(LiveHub, PatternsOrderAndASlowClientDropped) {
    LiveHub hub([](uint32_t id) { return id == 1 ? std::string("d1/count") : id == 2 ? std::string("d2/count") : ""; });
    EXPECT_FALSE(hub.wanted());
    auto fast = hub.add({"d1/*"}, {"*/alarm*"}, 1 << 20);
    auto slow = hub.add({"**"}, {}, 4096);
    EXPECT_TRUE(hub.wanted());
    std::string text;
    for (int round = 0; round < 200; ++round) {
        const gl_sample s[] = {{1000 + round, double(round), 1, 192, {0, 0, 0}}, {1000 + round, 0.5, 2, 0, {0, 0, 0}}};
        hub.on_samples(s, 2);
        ASSERT_TRUE(fast->next(text, 0));
        EXPECT_EQ(text, "event: sample\ndata: {\"series\":\"d1/count\",\"ts\":" + std::to_string(1000 + round) +
                            ",\"value\":" + std::to_string(round) + ",\"quality\":192}\n\n");
    }
    EXPECT_TRUE(slow->dropped()) << "200 rounds of two samples do not fit in 4 KB";
    EXPECT_FALSE(slow->next(text, 0));
    EXPECT_NE(slow->drop_reason().find("did not read fast enough"), std::string::npos);
    EXPECT_EQ(hub.dropped_clients(), 1u);
    gl_event e{};
    e.ts_ms = 5;
    e.source = "alarms";
    e.type = "alarm_raised";
    e.severity = GL_SEV_WARNING;
    const std::string body = "{\"a\":\n1}";
    e.body_json = body.data();
    e.body_len = body.size();
    hub.on_event(e);
    ASSERT_TRUE(fast->next(text, 0));
    EXPECT_EQ(text, "event: event\ndata: {\"ts\":5,\"source\":\"alarms\",\"type\":\"alarm_raised\",\"severity\":\"warning\","
                    "\"body\":{\"a\": 1}}\n\n")
        << "one data line: the body's line break is a space";
    hub.remove(fast);
    hub.remove(slow);
    EXPECT_EQ(hub.clients(), 0u);
}

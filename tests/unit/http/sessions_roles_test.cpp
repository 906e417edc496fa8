// Sessions (idle and absolute ends, logout, a user's sessions ended at once)
// and the table of rights (runtime/http/sessions.h, roles.h).
#include <gtest/gtest.h>

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

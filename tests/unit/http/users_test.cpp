// The API's accounts and tokens (runtime/http/users.h): Argon2id hashes,
// the password policy, lockout and unlock, tokens' scope, expiry and
// revocation, and two stores on one file losing none of each other's changes.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "http/users.h"

using namespace gridlet;
using namespace gridlet::http;
namespace fs = std::filesystem;

namespace {

struct Users : ::testing::Test {
    fs::path dir = fs::path("/tmp") / ("gridlet-users-" + std::to_string(getpid()) + "-" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    void SetUp() override { fs::remove_all(dir); }
    void TearDown() override { fs::remove_all(dir); }
};

TEST_F(Users, PasswordsAreArgon2idHashesAndThePolicyIsSaid) {
    UserStore s(dir);
    EXPECT_EQ(s.password_problem("alice", "short"), "a password has at least 12 characters");
    EXPECT_EQ(s.password_problem("alice_alice1", "alice_alice1"), "the password must not be the user name");
    EXPECT_EQ(s.password_problem("alice", "aaaaaaaaaaaaaa"), "the password must not repeat one character");
    EXPECT_EQ(s.password_problem("alice", "a good long one"), "");
    ASSERT_TRUE(s.add_user("alice", Role::admin, "a good long one", false, 1000));
    EXPECT_EQ(s.add_user("alice", Role::viewer, "a good long one", false, 1000).code(), StatusCode::already_exists);
    EXPECT_EQ(s.add_user("bad name", Role::viewer, "a good long one", false, 1000).code(), StatusCode::invalid_argument);
    auto u = s.user("alice");
    ASSERT_TRUE(u && *u);
    EXPECT_EQ((*u)->hash.rfind("$argon2id$", 0), 0u) << (*u)->hash;
    std::ifstream in(s.file());
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text.find("a good long one"), std::string::npos) << "the file holds no password";
    struct stat st {};
    ASSERT_EQ(::stat(s.file().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_TRUE(verify_password((*u)->hash, "a good long one"));
    EXPECT_FALSE(verify_password((*u)->hash, "a good long onE"));
}

TEST_F(Users, LockoutAfterFailuresInARowAndUnlock) {
    UserStore s(dir, PasswordPolicy{}, Lockout{3, 60'000});
    ASSERT_TRUE(s.add_user("bob", Role::viewer, "bob's long password", false, 0));
    using R = UserStore::LoginResult;
    EXPECT_EQ(s.login("bob", "wrong", 1000)->result, R::wrong);
    EXPECT_EQ(s.login("bob", "bob's long password", 1500)->result, R::ok) << "a success resets the count";
    EXPECT_EQ(s.login("bob", "wrong", 2000)->result, R::wrong);
    EXPECT_EQ(s.login("bob", "wrong", 3000)->result, R::wrong);
    auto third = s.login("bob", "wrong", 4000);
    EXPECT_EQ(third->result, R::locked);
    EXPECT_EQ(third->locked_until_ms, 64'000);
    EXPECT_EQ(s.login("bob", "bob's long password", 5000)->result, R::locked) << "locked: the right password too";
    EXPECT_EQ(s.login("bob", "bob's long password", 64'001)->result, R::ok) << "the lock ends";
    for (int64_t t : {70'000, 71'000, 72'000}) ASSERT_TRUE(s.login("bob", "wrong", t));
    EXPECT_EQ(s.login("bob", "bob's long password", 73'000)->result, R::locked);
    ASSERT_TRUE(s.unlock("bob"));
    EXPECT_EQ(s.login("bob", "bob's long password", 74'000)->result, R::ok);
    ASSERT_TRUE(s.set_disabled("bob", true));
    EXPECT_EQ(s.login("bob", "bob's long password", 75'000)->result, R::disabled);
    EXPECT_EQ(s.login("nobody", "bob's long password", 75'000)->result, R::wrong);
}

TEST_F(Users, TokensHaveAScopeAnExpiryAndCanBeRevoked) {
    UserStore s(dir);
    ASSERT_TRUE(s.add_user("op", Role::operator_role, "operator password", false, 0));
    ASSERT_TRUE(s.add_user("adm", Role::admin, "admin password!", false, 0));
    EXPECT_EQ(s.add_token("x", Role::admin, "op", 0, 0).status().code(), StatusCode::invalid_argument)
        << "no more rights than the owner";
    EXPECT_EQ(s.add_token("x", Role::viewer, "ghost", 0, 0).status().code(), StatusCode::not_found);
    EXPECT_TRUE(s.add_token("ops", Role::operator_role, "adm", 0, 0)) << "an admin may hand out operator rights";
    auto t = s.add_token("script", Role::viewer, "op", 10'000, 0);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->first.rfind("glt_", 0), 0u);
    auto found = s.check_token(t->first, 5000);
    ASSERT_TRUE(found);
    EXPECT_EQ(found->role, Role::viewer);
    EXPECT_EQ(found->owner, "op");
    EXPECT_FALSE(s.check_token(t->first, 10'000)) << "expired";
    EXPECT_FALSE(s.check_token(t->first + "x", 5000));
    EXPECT_FALSE(s.check_token("not a token", 5000));
    ASSERT_TRUE(s.remove_token(t->second.id));
    EXPECT_FALSE(s.check_token(t->first, 5000)) << "revoked";
    EXPECT_EQ(s.remove_token(t->second.id).code(), StatusCode::not_found);
    // Removing a user revokes its tokens.
    auto u = s.add_token("mine", Role::viewer, "op", 0, 0);
    ASSERT_TRUE(s.remove_user("op"));
    EXPECT_FALSE(s.check_token(u->first, 1));
}

TEST_F(Users, TwoStoresOnOneFileLoseNothing) {
    // The CLI and the server are two processes; here two objects, each with
    // its own cache, changing the file from two threads.
    UserStore a(dir), b(dir);
    std::thread ta([&] {
        for (int i = 0; i < 4; ++i) ASSERT_TRUE(a.add_token("a" + std::to_string(i), Role::viewer, "", 0, 0));
    });
    std::thread tb([&] {
        for (int i = 0; i < 4; ++i) ASSERT_TRUE(b.add_token("b" + std::to_string(i), Role::viewer, "", 0, 0));
    });
    ta.join();
    tb.join();
    EXPECT_EQ(a.tokens()->size(), 8u);
    EXPECT_EQ(UserStore(dir).tokens()->size(), 8u);
}

TEST_F(Users, ANewerOrDamagedFileIsRefusedNotOverwritten) {
    fs::create_directories(dir);
    std::ofstream(dir / "users.json") << R"({"format":9,"users":[]})";
    UserStore s(dir);
    EXPECT_EQ(s.users().status().code(), StatusCode::unsupported);
    EXPECT_FALSE(s.add_user("alice", Role::admin, "a good long one", false, 0));
    std::ofstream(dir / "users.json") << "{not json";
    UserStore t(dir);
    EXPECT_EQ(t.users().status().code(), StatusCode::corruption);
    EXPECT_FALSE(t.add_user("alice", Role::admin, "a good long one", false, 0));
    std::ifstream in(dir / "users.json");
    EXPECT_EQ(std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()), "{not json");
}

}  // namespace

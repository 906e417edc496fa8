// Roles and their rights (README "HTTP API": the table, and how they map to
// the Socomec and Legrand profiles). Pure; any thread.
//
//   right        viewer  operator  admin  security_officer
//   read           x        x        x           x        site, series, query, alarms, events
//   operate                 x        x                    acknowledge alarms, overrides, commands
//   configure                        x                    reload, backup
//   manage_users                     x           x        users (admin: not security officers), tokens of others
//   security                                     x        security policy, certificates
#pragma once

#include <optional>
#include <string>

namespace gridlet::http {

enum class Role { viewer, operator_role, admin, security_officer };
enum class Right { read, operate, configure, manage_users, security };

const char* role_name(Role r) noexcept;
const char* right_name(Right r) noexcept;
std::optional<Role> parse_role(const std::string& name);
bool may(Role role, Right right) noexcept;
// Whether a user of role `by` may create, change or remove an account (or a
// token) of role `target`.
bool may_manage(Role by, Role target) noexcept;

}  // namespace gridlet::http

#include "http/roles.h"

namespace gridlet::http {

const char* role_name(Role r) noexcept {
    switch (r) {
        case Role::viewer: return "viewer";
        case Role::operator_role: return "operator";
        case Role::admin: return "admin";
        case Role::security_officer: return "security_officer";
    }
    return "viewer";
}

const char* right_name(Right r) noexcept {
    switch (r) {
        case Right::read: return "read";
        case Right::operate: return "operate";
        case Right::configure: return "configure";
        case Right::manage_users: return "manage_users";
        case Right::security: return "security";
    }
    return "read";
}

std::optional<Role> parse_role(const std::string& name) {
    if (name == "viewer") return Role::viewer;
    if (name == "operator") return Role::operator_role;
    if (name == "admin") return Role::admin;
    if (name == "security_officer") return Role::security_officer;
    return std::nullopt;
}

bool may(Role role, Right right) noexcept {
    switch (right) {
        case Right::read: return true;
        case Right::operate: return role == Role::operator_role || role == Role::admin;
        case Right::configure: return role == Role::admin;
        case Right::manage_users: return role == Role::admin || role == Role::security_officer;
        case Right::security: return role == Role::security_officer;
    }
    return false;
}

bool may_manage(Role by, Role target) noexcept {
    if (by == Role::security_officer) return true;
    return by == Role::admin && target != Role::security_officer;
}

}  // namespace gridlet::http

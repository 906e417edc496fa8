// Config keys of the rule engine, for the kernel's site-config validation.
//
//   [rule_engine]                   engine settings (rules_engine_keys())
//   lib_dirs = ["scripts/lib"]
//   watch = true
//   instructions = 20000000         default budgets of every rule
//   time_ms = 250
//   memory_mb = 16
//
//   [[rules]]                       one per rule (rule_keys())
//   name = "ev"
//   file = "scripts/rules/greenup.lua"
//   params = { meter = "main/current", max_current = 80 }
//   enabled = true
//   instructions = 50000000         optional: this rule's budgets
//   time_ms = 500
//   memory_mb = 32
//
// Pure functions; any thread.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config_schema.h"
#include "script/engine_core.h"
#include "script/rule.h"

namespace gridlet::script {

std::vector<config::KeySpec> rules_engine_keys();
std::vector<config::KeySpec> rule_keys();

// From a table validated against rules_engine_keys() (defaults filled).
// Relative lib_dirs are taken from `base_dir` (the site file's folder).
EngineOptions engine_options_from_json(const nlohmann::json& table, const std::string& base_dir);

// From a table validated against rule_keys(). Relative `file` is taken from
// `base_dir`; budgets not given come from `defaults`.
RuleConfig rule_config_from_json(const nlohmann::json& table, const std::string& base_dir, const Budgets& defaults);

}  // namespace gridlet::script

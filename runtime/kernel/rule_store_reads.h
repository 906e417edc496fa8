// The rules' store reads: script::RuleHost::query answered from a Store, with
// the engine's bounds (QuerySpec::max_rows and meter, enforced while reading:
// store::QueryLimit). The rules plugin uses it; so does
// tests/bench/rule_isolation_bench, so that its figures are the kernel's.
//
// Threads: any thread that may query the Store (QueryEngine is thread-safe).
#pragma once

#include "core/timezone.h"
#include "script/rule_host.h"
#include "store/store.h"

namespace gridlet::kernel {

// Rows ordered by series (in spec.series order), then time; raw samples keep
// their quality, buckets are good. Errors: the range checks of
// store::check_query_range, "more than N rows; ..." past spec.max_rows, or
// the meter's Status (the rule's budget).
Expected<std::vector<script::QueryRow>> read_for_rules(const store::Store& store, const TimeZone& zone,
                                                        const script::QuerySpec& spec);

}  // namespace gridlet::kernel
